package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The data members of an event as they arrive, read by the table of event
// types (spec.go): the names, their JSON types and where each goes in Data
// are the table's, so neither decoder lists them.

// wireKind is a data member's JSON type.
type wireKind uint8

const (
	wireString wireKind = iota
	wireInt
	wireBool
	wireStrings
)

func (k FieldKind) wire() wireKind {
	switch k {
	case KindMoney, KindPositive, KindRange:
		return wireInt
	case KindBool:
		return wireBool
	case KindCitations:
		return wireStrings
	}
	return wireString
}

// JSONType is the JSON Schema type of a field of the kind.
func (k FieldKind) JSONType() string { return k.wire().json() }

func (k wireKind) json() string {
	switch k {
	case wireInt:
		return "integer"
	case wireBool:
		return "boolean"
	case wireStrings:
		return "array"
	}
	return "string"
}

// wireField is one data member name of the contract. A name has one JSON
// type whatever the event type, so the decoder reads every member it knows
// whatever the event's type (a field of another type must have its type,
// or be null).
type wireField struct {
	name   string
	folded string // as encoding/json folds it, to match other letter cases
	kind   wireKind
}

var wireFields, wireIndex = func() ([]wireField, map[string]int) {
	var fields []wireField
	index := map[string]int{}
	for i := range eventSpecs {
		s := &eventSpecs[i]
		for j := range s.Fields {
			f := &s.Fields[j]
			k, ok := index[f.Name]
			if !ok {
				k = len(fields)
				index[f.Name] = k
				fields = append(fields, wireField{name: f.Name, folded: foldName(f.Name), kind: f.Kind.wire()})
			}
			if fields[k].kind != f.Kind.wire() {
				panic(fmt.Sprintf("rules: data field %s of %s has another JSON type than elsewhere", f.Name, s.Type))
			}
			f.wire = k
			f.path = "data." + f.Name
		}
		if name := s.Sender.Field; name != "" {
			if _, ok := s.Field(name); !ok {
				panic(fmt.Sprintf("rules: the sender field %s of %s is not one of its fields", name, s.Type))
			}
			if !senderFields[name] {
				panic(fmt.Sprintf("rules: the sender field %s of %s is not one Event.Sender reads", name, s.Type))
			}
		}
	}
	if len(fields) > 64 {
		panic("rules: more than 64 data field names; the fast decoder marks them in a uint64")
	}
	return fields, index
}()

// wireByLen lists the data members by the length of their names, for the
// fast decoder: a key is compared with the few names of its length (a map
// lookup cost it more than the rest of a member's reading).
var wireByLen = func() [][]int {
	var by [][]int
	for i, f := range wireFields {
		for len(by) <= len(f.name) {
			by = append(by, nil)
		}
		by[len(f.name)] = append(by[len(f.name)], i)
	}
	return by
}()

// lookupExact finds a data member by its exact name.
func lookupExact(key []byte) (int, bool) {
	if len(key) >= len(wireByLen) {
		return 0, false
	}
	for _, i := range wireByLen[len(key)] {
		if wireFields[i].name == string(key) {
			return i, true
		}
	}
	return 0, false
}

// WireFields lists every data member name of the contract with its JSON
// Schema type, in the table's order.
func WireFields() (names, types []string) {
	for _, f := range wireFields {
		names = append(names, f.name)
		types = append(types, f.kind.json())
	}
	return names, types
}

// foldName folds a member name as encoding/json does to match a struct
// field in another letter case: ASCII letters to upper case, any other
// rune to the smallest of its case-folding set, so that two names fold
// alike exactly when strings.EqualFold says they match.
func foldName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		case r >= 0x80:
			for {
				r2 := unicode.SimpleFold(r)
				if r2 <= r {
					r = r2
					break
				}
				r = r2
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

// wireValue is a member's value; its kind says which part.
type wireValue struct {
	s  string
	i  int64
	b  bool
	ss []string
}

type wireHit struct {
	f int // index in wireFields
	v wireValue
}

// wireData is Data as it arrives: the members the contract names that the
// message holds, not null, in the order read. A member given twice keeps
// the last value, as encoding/json keeps it.
type wireData struct {
	hits []wireHit
	buf  [8]wireHit // hits' first array: most events have fewer members
	err  error      // the first member of a wrong JSON type (slow path)
}

func (w *wireData) put(f int, v wireValue) {
	for i := range w.hits {
		if w.hits[i].f == f {
			w.hits[i].v = v
			return
		}
	}
	w.hits = append(w.hits, wireHit{f, v})
}

func (w *wireData) drop(f int) {
	for i := range w.hits {
		if w.hits[i].f == f {
			w.hits = append(w.hits[:i], w.hits[i+1:]...)
			return
		}
	}
}

func (w *wireData) get(f int) (wireValue, bool) {
	for _, h := range w.hits {
		if h.f == f {
			return h.v, true
		}
	}
	return wireValue{}, false
}

// MarshalJSON shows the members read, for tests' messages.
func (w *wireData) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	for _, h := range w.hits {
		switch wireFields[h.f].kind {
		case wireString:
			m[wireFields[h.f].name] = h.v.s
		case wireInt:
			m[wireFields[h.f].name] = h.v.i
		case wireBool:
			m[wireFields[h.f].name] = h.v.b
		case wireStrings:
			m[wireFields[h.f].name] = h.v.ss
		}
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads data as encoding/json reads a struct of pointer
// fields with these names: members matched by name, else in another
// letter case; null as absent; unknown members checked for syntax only;
// the last of a repeated member counts. A member of a wrong JSON type is
// kept as the error (the first one) and reading goes on, as encoding/json
// goes on past a type error, so that an earlier attribute's error is the
// one reported. b is valid JSON: encoding/json checked the whole message
// before it called this.
func (w *wireData) UnmarshalJSON(b []byte) error {
	if w.hits == nil {
		w.hits = w.buf[:0]
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		if w.err == nil {
			w.err = &FieldError{Field: "data", Reason: fmt.Sprintf("got a JSON %s, want an object", jsonTokenKind(tok))}
		}
		return nil
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		f, ok := lookupMember(key)
		if !ok {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
			continue
		}
		if err := w.decodeMember(dec, f); err != nil {
			return err
		}
	}
	return nil
}

// lookupMember finds a member by name, else by encoding/json's folding.
func lookupMember(key string) (int, bool) {
	if f, ok := wireIndex[key]; ok {
		return f, true
	}
	folded := foldName(key)
	for i, f := range wireFields {
		if f.folded == folded {
			return i, true
		}
	}
	return 0, false
}

func (w *wireData) decodeMember(dec *json.Decoder, f int) error {
	var (
		v    wireValue
		null bool
		err  error
	)
	switch wireFields[f].kind {
	case wireString:
		var p *string
		err, null = dec.Decode(&p), p == nil
		if p != nil {
			v.s = *p
		}
	case wireInt:
		var p *int64
		err, null = dec.Decode(&p), p == nil
		if p != nil {
			v.i = *p
		}
	case wireBool:
		var p *bool
		err, null = dec.Decode(&p), p == nil
		if p != nil {
			v.b = *p
		}
	case wireStrings:
		var p *[]string
		err, null = dec.Decode(&p), p == nil
		if p != nil {
			v.ss = *p
		}
	}
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te):
		if w.err == nil {
			w.err = &FieldError{Field: "data." + wireFields[f].name, Reason: fmt.Sprintf("got a JSON %s, want %s", te.Value, jsonKind(te.Type.Kind().String()))}
		}
		return nil
	case err != nil:
		return err
	case null:
		w.drop(f)
	default:
		w.put(f, v)
	}
	return nil
}

func jsonTokenKind(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return "array"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "bool"
	}
	return "value"
}

// decodeData reads a JSON data object on its own (binary mode's value).
func decodeData(b []byte) (*wireData, error) {
	if json.Valid(b) {
		if err := checkOneReading(b, "data", knownNames); err != nil {
			return nil, err
		}
	}
	var w *wireData
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, jsonError("data.", err)
	}
	if w != nil && w.err != nil {
		return nil, w.err
	}
	return w, nil
}

// validateData checks the members of w against the type's row of the
// table and returns the event's Data.
func validateData(t Type, w *wireData) (Data, error) {
	var d Data
	s := specOf(t)
	if s == nil {
		return d, &FieldError{Field: "type", Reason: fmt.Sprintf("%q cannot be sent as an event", t)}
	}
	// Fields whose requirement depends on another go last, after it.
	for _, conditional := range []bool{false, true} {
		for i := range s.Fields {
			f := &s.Fields[i]
			if (f.RequiredIf[0] != "") != conditional {
				continue
			}
			if err := f.read(&d, w, s); err != nil {
				return d, err
			}
		}
	}
	return d, nil
}

// read checks one field's member and sets it in d.
func (f *FieldSpec) read(d *Data, w *wireData, s *EventSpec) error {
	field := f.path
	v, ok := w.get(f.wire)
	if !ok {
		if f.Required {
			return &FieldError{Field: field, Reason: "missing"}
		}
		if on := f.RequiredIf; on[0] != "" {
			if other, _ := s.Field(on[0]); otherValue(w, other).s == on[1] {
				return &FieldError{Field: field, Reason: fmt.Sprintf("missing: required when %s is %s", on[0], on[1])}
			}
		}
		if f.Default != "" {
			other, _ := s.Field(f.Default)
			if v, ok := w.get(other.wire); ok {
				f.set(d, v, time.Time{})
			}
		}
		return nil
	}
	t, err := f.check(field, &v)
	if err != nil {
		return err
	}
	f.set(d, v, t)
	return nil
}

func otherValue(w *wireData, f FieldSpec) wireValue {
	v, _ := w.get(f.wire)
	return v
}

// check checks a present member's value for the field's kind; a
// KindTime field's time is returned parsed.
func (f *FieldSpec) check(field string, v *wireValue) (t time.Time, err error) {
	switch f.Kind {
	case KindID:
		_, err = requiredID(field, &v.s)
	case KindText:
		_, err = text(field, v.s)
	case KindCurrency:
		_, err = currency(field, &v.s)
	case KindMoney:
		_, err = money(field, &v.i, true)
	case KindPositive:
		if v.i <= 0 {
			reason := fmt.Sprintf("%d: must be more than 0", v.i)
			if f.Hint != "" {
				reason += " (" + f.Hint + ")"
			}
			return t, &FieldError{Field: field, Reason: reason}
		}
	case KindRange:
		if v.i < f.Min || v.i > f.Max {
			reason := fmt.Sprintf("%d: must be %d to %d", v.i, f.Min, f.Max)
			if f.Unit != "" {
				reason += " " + f.Unit
			}
			return t, &FieldError{Field: field, Reason: reason}
		}
	case KindTime:
		t, err = parseTime(field, v.s)
	case KindEnum:
		if !slices.Contains(f.Values, v.s) {
			if f.Unknown != "" {
				return t, &FieldError{Field: field, Reason: fmt.Sprintf(f.Unknown, truncate(v.s))}
			}
			return t, &FieldError{Field: field, Reason: fmt.Sprintf("%q is not one of %v", truncate(v.s), f.Values)}
		}
	case KindCitations:
		if len(v.ss) > MaxArticles {
			return t, &FieldError{Field: field, Reason: fmt.Sprintf("%d citations, more than %d", len(v.ss), MaxArticles)}
		}
		for i, a := range v.ss {
			if !ValidCitation(a) {
				return t, &FieldError{Field: field + "[" + strconv.Itoa(i) + "]", Reason: fmt.Sprintf("%q is not a citation of the rules text (e.g. c2.a5)", truncate(a))}
			}
		}
	}
	return t, err
}

// set stores a checked value in d (t: a KindTime field's, parsed).
func (f *FieldSpec) set(d *Data, v wireValue, t time.Time) {
	switch p := f.at(d).(type) {
	case *string:
		*p = v.s
	case *Party:
		*p = Party(v.s)
	case *Category:
		*p = Category(v.s)
	case *Reason:
		*p = Reason(v.s)
	case *EvidenceKind:
		*p = EvidenceKind(v.s)
	case *int64:
		*p = v.i
	case *int:
		*p = int(v.i)
	case *bool:
		*p = v.b
	case *time.Time:
		*p = t
	case *[]string:
		*p = v.ss
	default:
		panic(fmt.Sprintf("rules: field %s points at a %T", f.Name, p))
	}
}

// get reads the field from d, as the encoder writes it; zero reports a
// zero value, which an optional field leaves out.
func (f *FieldSpec) get(d *Data) (v wireValue, zero bool) {
	switch p := f.at(d).(type) {
	case *string:
		v.s = *p
	case *Party:
		v.s = string(*p)
	case *Category:
		v.s = string(*p)
	case *Reason:
		v.s = string(*p)
	case *EvidenceKind:
		v.s = string(*p)
	case *int64:
		v.i = *p
	case *int:
		v.i = int64(*p)
	case *bool:
		v.b = *p
		return v, !v.b
	case *time.Time:
		if p.IsZero() {
			return v, true
		}
		v.s = p.UTC().Format(time.RFC3339Nano)
	case *[]string:
		v.ss = *p
		return v, v.ss == nil
	default:
		panic(fmt.Sprintf("rules: field %s points at a %T", f.Name, p))
	}
	return v, v.s == "" && v.i == 0
}

// DecodeData decodes and checks the data of an event of type t, a JSON
// object (empty or null: no data), as Decode does an event's data member.
func DecodeData(t Type, b []byte) (Data, error) {
	w := &wireData{}
	w.hits = w.buf[:0]
	if len(b) > 0 {
		got, err := decodeData(b)
		if err != nil {
			return Data{}, withType(err, (*string)(&t))
		}
		if got != nil {
			w = got
		}
	}
	return validateData(t, w)
}
