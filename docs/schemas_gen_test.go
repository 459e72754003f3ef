package docs

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/disputed/disputed/rules"
)

// This file generates docs/schemas/*.json from the contract's tables below
// (docs/events.md in code): go test ./docs -run TestSchemasUpToDate -update.
// The tables are written from the documentation, not from the decoder; the
// tests in contract_test.go then hold the decoder and the schemas to the
// same verdicts.

var update = flag.Bool("update", false, "rewrite docs/schemas/*.json from the contract's tables")

// obj is a JSON object that keeps its keys in the order written, so that
// the schemas read top-down: title, description, type, properties.
type obj []kv

type kv struct {
	k string
	v any
}

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := marshal(f.k)
		v, err := marshal(f.v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.k, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal is json.Marshal without the escapes of <, > and & for HTML: the
// descriptions say <order_id>.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// with returns o with more keys.
func (o obj) with(kvs ...kv) obj { return append(slices.Clip(o), kvs...) }

func describe(s obj, d string) obj { return obj{{"description", d}}.with(s...) }

const draft = "https://json-schema.org/draft/2020-12/schema"

// Value shapes of the contract.
var (
	orderIDPattern = `^[A-Za-z0-9_:@+=#~-]{1,128}$`

	// timePattern is RFC 3339 as the decoder reads it: a valid date in the
	// years 1970 to 8999 (leap years included), 'T', a two-digit hour, a
	// fraction of a second after '.', and Z or an offset up to ±23:59.
	timePattern = func() string {
		year := `(?:19[7-9][0-9]|[2-8][0-9]{3})`
		leap := `(?:19(?:7[26]|8[048]|9[26])|[2-8][0-9](?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[357][26])00)`
		date := `(?:` + year + `-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))|` + leap + `-02-29)`
		clock := `T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?`
		zone := `(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])`
		return `^` + date + clock + zone + `$`
	}()

	timeSchema = obj{{"type", "string"}, {"format", "date-time"}, {"pattern", timePattern}}

	// idSchema: 1 to 256 bytes without control characters.
	idSchema = obj{{"type", "string"}, {"minLength", 1}, {"maxLength", rules.MaxIDLen}, {"pattern", `^[^\x00-\x1F\x7F]*$`}}

	textSchema = obj{{"type", "string"}, {"maxLength", rules.MaxTextLen}}

	moneySchema    = obj{{"type", "integer"}, {"minimum", 0}, {"maximum", int64(math.MaxInt64)}}
	positiveMoney  = obj{{"type", "integer"}, {"minimum", 1}, {"maximum", int64(math.MaxInt64)}}
	currencySchema = obj{{"type", "string"}, {"pattern", `^[A-Z]{3}$`}}
	citationSchema = obj{{"enum", rules.Citations()}}
	partySchema    = obj{{"enum", wordsOf(rules.Parties())}}
	articlesSchema = obj{{"type", "array"}, {"items", citationSchema}}
)

// wordsOf returns the words of an enumeration.
func wordsOf[S ~string](vs []S) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// nullable lets an optional field be null, which the decoder reads as
// absent.
func nullable(s obj) obj {
	out := obj{}
	for _, f := range s {
		switch f.k {
		case "type":
			out = append(out, kv{"type", []string{f.v.(string), "null"}})
		case "enum":
			var vals []any
			for _, v := range f.v.([]string) {
				vals = append(vals, v)
			}
			out = append(out, kv{"enum", append(vals, nil)})
		default:
			out = append(out, f)
		}
	}
	return out
}

// field is one data field of an event type.
type field struct {
	name     string
	required bool
	schema   obj
	doc      string
}

// eventType is one event type: its data fields, and a constraint between
// them where there is one.
type eventType struct {
	typ    rules.Type
	doc    string
	fields []field
	extra  []kv // added to the data schema (if/then)
}

// eventTypes are the contract's event types, from its table (rules.Specs):
// the schemas say what the decoder reads because both read that table.
var eventTypes = func() []eventType {
	var out []eventType
	for _, s := range rules.Specs() {
		et := eventType{typ: s.Type, doc: s.Doc + " Topic `" + s.Topic + "`."}
		for _, f := range s.Fields {
			et.fields = append(et.fields, field{f.Name, f.Required, kindSchema(f), f.Doc})
			if on := f.RequiredIf; on[0] != "" {
				et.extra = append(et.extra,
					kv{"if", obj{{"properties", obj{{on[0], obj{{"const", on[1]}}}}}, {"required", []string{on[0]}}}},
					kv{"then", obj{{"required", []string{f.Name}}, {"properties", obj{{f.Name, obj{{"type", f.Kind.JSONType()}}}}}}})
			}
		}
		out = append(out, et)
	}
	return out
}()

// kindSchema is the schema of a field's value, by its kind.
func kindSchema(f rules.FieldSpec) obj {
	switch f.Kind {
	case rules.KindID:
		return idSchema
	case rules.KindText:
		return textSchema
	case rules.KindCurrency:
		return currencySchema
	case rules.KindMoney:
		return moneySchema
	case rules.KindPositive:
		return positiveMoney
	case rules.KindRange:
		return obj{{"type", "integer"}, {"minimum", int(f.Min)}, {"maximum", int(f.Max)}}
	case rules.KindBool:
		return obj{{"type", "boolean"}}
	case rules.KindTime:
		return timeSchema
	case rules.KindEnum:
		return obj{{"enum", f.Values}}
	case rules.KindCitations:
		return articlesSchema.with(kv{"maxItems", rules.MaxArticles})
	}
	panic(fmt.Sprintf("no schema for the kind of field %s", f.Name))
}

// wireFields are every data field the contract names, with their JSON
// types. The decoder reads them all whatever the event's type, so a field
// of another type is ignored only if it has its type (or is null).
func wireFields() obj {
	names, types := rules.WireFields()
	byName := map[string]string{}
	for i, n := range names {
		byName[n] = types[i]
	}
	props := obj{}
	for _, name := range slices.Sorted(mapKeys(byName)) {
		s := obj{{"type", []string{byName[name], "null"}}}
		switch byName[name] {
		case "integer":
			s = s.with(kv{"minimum", int64(math.MinInt64)}, kv{"maximum", int64(math.MaxInt64)})
		case "array":
			s = s.with(kv{"items", obj{{"type", []string{"string", "null"}}}})
		}
		props = append(props, kv{name, s})
	}
	return obj{
		{"description", "Every data field contract v1 names, with its JSON type. A field of another event type is ignored, but the decoder reads it all the same: it must have its type, or be null."},
		{"properties", props},
	}
}

func (o obj) get(k string) any {
	for _, f := range o {
		if f.k == k {
			return f.v
		}
	}
	return nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// cannot is what the event schemas cannot say and the decoder checks.
const cannot = "What a JSON Schema cannot say, and the decoder checks: " +
	"(1) lengths are in bytes of UTF-8 (IDs at most 256, text and notes at most 16384, the whole message at most 1 MiB), while maxLength counts characters, so a non-ASCII string can pass here and be refused; " +
	"(2) integers are written without a fraction or an exponent (100, not 100.0 or 1e2); " +
	"(3) JSON is read one way: a member given twice in one object (also in two letter cases), a member of the contract in another letter case, and text that is not valid UTF-8 (or a lone surrogate escaped) are refused; " +
	"(4) a time on 1970-01-01 or 8999-12-31 whose offset moves it, in UTC, out of the years 1970 to 8999 is refused, and so is an order.paid whose delivery_due is not after its time; " +
	"(5) what depends on the order or on the stream: an event other than order.paid for an order never paid, a message key other than the subject, an event stamped more than the skew (default 5 minutes) ahead of the processor's clock (those are dead-lettered), and what the rules do not allow (rejected, not dead-lettered)."

// envelope is the CloudEvents envelope, with the type given.
func envelope(typ obj) obj {
	return obj{
		{"specversion", describe(obj{{"const", "1.0"}}, "CloudEvents version")},
		{"id", describe(idSchema, "unique per event: an id already applied to the same order is a duplicate and has no effect")},
		{"source", describe(idSchema, "the sending system; recorded, not interpreted")},
		{"type", typ},
		{"time", describe(timeSchema, "when it happened (RFC 3339, in the years 1970 to 8999 in UTC); deadlines are computed from it")},
		{"subject", describe(obj{{"type", "string"}, {"pattern", orderIDPattern}}, "the order ID, and the dispute key: 1 to 128 ASCII letters, digits and - _ : @ + = # ~. It must also be the Kafka message key")},
		{"datacontenttype", describe(obj{{"type", []string{"string", "null"}}, {"pattern", `^(?:application/json(?:[ \t]*;[\s\S]*)?)?$`}}, "absent, empty or application/json (parameters allowed)")},
	}
}

var envelopeRequired = []string{"specversion", "id", "source", "type", "time", "subject"}

// dataSchema is the data of one event type, with its $ref to the wire
// fields at ref.
func dataSchema(et eventType, ref string) (obj, bool) {
	props := obj{}
	var required []string
	for _, f := range et.fields {
		s := f.schema
		if !f.required {
			s = nullable(s)
		} else {
			required = append(required, f.name)
		}
		props = append(props, kv{f.name, describe(s, f.doc)})
	}
	needed := len(required) > 0
	s := obj{{"$ref", ref}}
	if needed {
		s = s.with(kv{"type", "object"})
	} else {
		s = s.with(kv{"type", []string{"object", "null"}})
	}
	if len(props) > 0 {
		s = s.with(kv{"properties", props})
	}
	if needed {
		s = s.with(kv{"required", required})
	}
	s = s.with(et.extra...)
	if !needed {
		return describe(s, "no field is required: data may be left out or null"), false
	}
	return s, true
}

// eventSchema is the self-contained schema of one event type.
func eventSchema(et eventType) obj {
	data, needed := dataSchema(et, "#/$defs/knownFields")
	required := slices.Clone(envelopeRequired)
	if needed {
		required = append(required, "data")
	}
	return obj{
		{"$schema", draft},
		{"title", "disputed event " + string(et.typ)},
		{"description", "A CloudEvents 1.0 event of type " + string(et.typ) + " as disputed reads it (structured mode; in binary mode the attributes are ce_ headers, datacontenttype the content-type header and data the message value). " +
			et.doc + " Other attributes (CloudEvents extensions) and other data fields are ignored. " + cannot},
		{"type", "object"},
		{"required", required},
		{"properties", envelope(obj{{"const", string(et.typ)}}).with(kv{"data", data})},
		{"$defs", obj{{"knownFields", wireFields()}}},
	}
}

// anyEventSchema is the schema of an event of any type.
func anyEventSchema() obj {
	var types []string
	var allOf []obj
	defs := obj{{"knownFields", wireFields()}}
	for _, et := range eventTypes {
		types = append(types, string(et.typ))
		data, needed := dataSchema(et, "#/$defs/knownFields")
		then := obj{{"properties", obj{{"data", data}}}}
		if needed {
			then = then.with(kv{"required", []string{"data"}})
		}
		defs = append(defs, kv{string(et.typ), describe(then, et.doc)})
		allOf = append(allOf, obj{
			{"if", obj{{"properties", obj{{"type", obj{{"const", string(et.typ)}}}}}, {"required", []string{"type"}}}},
			{"then", obj{{"$ref", "#/$defs/" + string(et.typ)}}},
		})
	}
	return obj{
		{"$schema", draft},
		{"title", "disputed event"},
		{"description", "A CloudEvents 1.0 event of any type of contract v1, as disputed reads it; the schema of each type is also published on its own (order.paid.json, ...). Other attributes (CloudEvents extensions) and other data fields are ignored. " + cannot},
		{"type", "object"},
		{"required", envelopeRequired},
		{"properties", envelope(describe(obj{{"enum", types}}, "the event type"))},
		{"allOf", allOf},
		{"$defs", defs},
	}
}

// Commands.

var (
	commandIDDoc = "stable across retries, restarts and replays: the JetStream Nats-Msg-Id, and the consumers' idempotency key"
	orderIDProp  = describe(obj{{"type", "string"}, {"pattern", orderIDPattern}}, "the order ID; the subject ends in it")
	idString     = obj{{"type", "string"}, {"minLength", 1}}
	sentence     = obj{{"type", "string"}}
)

// generated returns every schema file by name.
func generated() map[string]obj {
	out := map[string]obj{"event.json": anyEventSchema()}
	for _, et := range eventTypes {
		out[string(et.typ)+".json"] = eventSchema(et)
	}
	cmds := map[string]obj{"ruling": rulingSchema(), "transfer": transferSchema(), "notice": noticeSchema(), "rejected": rejectedSchema()}
	for name, s := range cmds {
		out[name+".json"] = s
	}
	out["command.json"] = commandLineSchema(cmds)
	return out
}

func encodeSchema(t *testing.T, s obj) []byte {
	t.Helper()
	b, err := marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// TestSchemasUpToDate: docs/schemas holds exactly what the tables above
// generate; -update writes it.
func TestSchemasUpToDate(t *testing.T) {
	gen := generated()
	if len(eventTypes) != len(rules.Types()) {
		t.Fatalf("the tables have %d event types, the contract %d", len(eventTypes), len(rules.Types()))
	}
	for i, et := range eventTypes {
		if et.typ != rules.Types()[i] {
			t.Fatalf("event type %d is %s, want %s", i, et.typ, rules.Types()[i])
		}
	}
	if *update {
		old, _ := filepath.Glob("schemas/*.json")
		for _, f := range old {
			if _, ok := gen[filepath.Base(f)]; !ok {
				os.Remove(f)
			}
		}
		for name, s := range gen {
			if err := os.WriteFile(filepath.Join("schemas", name), encodeSchema(t, s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, s := range gen {
		got, err := os.ReadFile(filepath.Join("schemas", name))
		if err != nil {
			t.Errorf("%v (go test ./docs -run TestSchemasUpToDate -update writes it)", err)
			continue
		}
		if !bytes.Equal(got, encodeSchema(t, s)) {
			t.Errorf("schemas/%s is not what the contract's tables generate: go test ./docs -run TestSchemasUpToDate -update", name)
		}
	}
	on, _ := filepath.Glob("schemas/*.json")
	if len(on) != len(gen) {
		t.Errorf("schemas/ holds %d files, the tables generate %d", len(on), len(gen))
	}
	if names := Schemas(); len(names) != len(gen) {
		t.Errorf("%d schemas embedded, %d generated", len(names), len(gen))
	}
}
