package rules

import (
	"math"
	"unicode/utf8"
)

// decodeFast fills env from b as json.Unmarshal would, for the events
// upstream systems actually send: field names as the contract writes them,
// strings without escapes, integers, booleans, null. It reports false, and
// the caller decodes with encoding/json, at the first thing it is not sure
// of: an escape, a duplicate or differently cased field name, a number with
// a fraction or an exponent, a value of another type than the field's, deep
// nesting, invalid UTF-8 or any syntax error. So it is never wrong, only
// sometimes not used; FuzzDecodeFast holds it to that, comparing it with
// encoding/json on any input.
//
// encoding/json spent most of the processor's time on decoding events: it
// allocates a pointer per field, validates the whole message first, and
// matches field names by case folding.
func decodeFast(b []byte, env *envelope) bool {
	p := fastParser{b: b}
	p.ws()
	if !p.object(func(key []byte) bool { return p.envelopeField(key, env) }) {
		return false
	}
	p.ws()
	return p.i == len(p.b)
}

type fastParser struct {
	b    []byte
	i    int
	seen uint64 // fields of the object being read, to refuse duplicates

	// Names the contract does not know, of the objects being read (from
	// base on, the current one's), to refuse them twice too: JSON is read
	// one way. Past len(unknown) the slow path checks them.
	unknown        [8][]byte
	nunknown, base int
}

// unknownOnce records a member name the contract does not know, of the
// object being read, and reports whether it is its first.
func (p *fastParser) unknownOnce(key []byte) bool {
	for _, k := range p.unknown[p.base:p.nunknown] {
		if string(k) == string(key) {
			return false
		}
	}
	if p.nunknown == len(p.unknown) {
		return false
	}
	p.unknown[p.nunknown] = key
	p.nunknown++
	return true
}

func (p *fastParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// object reads an object, calling field for each key with the parser at
// the value; field reads the value and reports whether it could.
func (p *fastParser) object(field func(key []byte) bool) bool {
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return false
	}
	p.i++
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return true
	}
	for {
		key, ok := p.key()
		if !ok {
			return false
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return false
		}
		p.i++
		p.ws()
		if !field(key) {
			return false
		}
		p.ws()
		if p.i >= len(p.b) {
			return false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			p.ws()
		case '}':
			p.i++
			return true
		default:
			return false
		}
	}
}

// key reads an object key: lower-case ASCII without escapes only. Any other
// key might match a field by encoding/json's case folding.
func (p *fastParser) key() ([]byte, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false
	}
	start := p.i + 1
	for j := start; j < len(p.b); j++ {
		c := p.b[j]
		switch {
		case c == '"':
			p.i = j + 1
			return p.b[start:j], true
		case c < 0x20 || c == '\\' || c >= 0x80 || (c >= 'A' && c <= 'Z'):
			return nil, false
		}
	}
	return nil, false
}

// once marks field bit n seen and reports whether it was not before.
func (p *fastParser) once(n uint) bool {
	if p.seen&(1<<n) != 0 {
		return false
	}
	p.seen |= 1 << n
	return true
}

// str reads a string or null into *dst.
func (p *fastParser) str(dst **string) bool {
	if p.null() {
		*dst = nil
		return true
	}
	s, ok := p.plainString()
	if !ok {
		return false
	}
	*dst = &s
	return true
}

// plainString reads a string without escapes or control characters, of
// valid UTF-8.
func (p *fastParser) plainString() (string, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", false
	}
	start := p.i + 1
	ascii := true
	for j := start; j < len(p.b); j++ {
		c := p.b[j]
		switch {
		case c == '"':
			if !ascii && !utf8.Valid(p.b[start:j]) {
				return "", false // encoding/json would replace the bad bytes
			}
			p.i = j + 1
			return string(p.b[start:j]), true
		case c < 0x20 || c == '\\':
			return "", false
		case c >= 0x80:
			ascii = false
		}
	}
	return "", false
}

// int reads an integer: digits only, as JSON writes them, within int64.
func (p *fastParser) int() (int64, bool) {
	j := p.i
	neg := j < len(p.b) && p.b[j] == '-'
	if neg {
		j++
	}
	start := j
	var v uint64
	for j < len(p.b) && p.b[j] >= '0' && p.b[j] <= '9' {
		d := uint64(p.b[j] - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
		j++
	}
	n := j - start
	if n == 0 || (n > 1 && p.b[start] == '0') {
		return 0, false
	}
	if j < len(p.b) {
		switch p.b[j] {
		case '.', 'e', 'E':
			return 0, false // a float: encoding/json's error
		}
	}
	var x int64
	switch {
	case !neg && v <= math.MaxInt64:
		x = int64(v)
	case neg && v <= 1<<63:
		x = int64(-v)
	default:
		return 0, false
	}
	p.i = j
	return x, true
}

func (p *fastParser) bool() (bool, bool) {
	switch {
	case p.lit("true"):
		return true, true
	case p.lit("false"):
		return false, true
	}
	return false, false
}

// strings reads an array of strings; a null element is not read here
// (encoding/json makes it "").
func (p *fastParser) strings() ([]string, bool) {
	out := []string{}
	ok := p.array(func() bool {
		s, ok := p.plainString()
		out = append(out, s)
		return ok
	})
	return out, ok
}

// array reads an array, calling elem at each element, as object does at
// each field.
func (p *fastParser) array(elem func() bool) bool {
	if p.i >= len(p.b) || p.b[p.i] != '[' {
		return false
	}
	p.i++
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return true
	}
	for {
		if !elem() {
			return false
		}
		p.ws()
		if p.i >= len(p.b) {
			return false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			p.ws()
		case ']':
			p.i++
			return true
		default:
			return false
		}
	}
}

func (p *fastParser) null() bool { return p.lit("null") }

func (p *fastParser) lit(s string) bool {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

// skip reads and discards a value of a field the contract does not name,
// checking its syntax as encoding/json would.
func (p *fastParser) skip(depth int) bool {
	if depth > 64 || p.i >= len(p.b) {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		return p.skipString()
	case c == '{':
		// An object the contract does not name: its member names are
		// checked on the slow path (a name twice, or in two letter cases).
		return false
	case c == '[':
		return p.array(func() bool { return p.skip(depth + 1) })
	case c == '-' || (c >= '0' && c <= '9'):
		return p.skipNumber()
	default:
		return p.lit("true") || p.lit("false") || p.lit("null")
	}
}

func (p *fastParser) skipString() bool {
	ascii := true
	for j := p.i + 1; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			if !ascii && !utf8.Valid(p.b[p.i+1:j]) {
				return false // invalid UTF-8: the slow path says where
			}
			p.i = j + 1
			return true
		case c >= 0x80:
			ascii = false
		case c < 0x20 || c == '\\':
			return false // escapes: encoding/json checks them
		}
	}
	return false
}

// skipNumber reads a number as JSON's grammar has it.
func (p *fastParser) skipNumber() bool {
	j := p.i
	digits := func() int {
		n := 0
		for j < len(p.b) && p.b[j] >= '0' && p.b[j] <= '9' {
			j++
			n++
		}
		return n
	}
	if p.b[j] == '-' {
		j++
	}
	start := j
	n := digits()
	if n == 0 || (n > 1 && p.b[start] == '0') {
		return false
	}
	if j < len(p.b) && p.b[j] == '.' {
		j++
		if digits() == 0 {
			return false
		}
	}
	if j < len(p.b) && (p.b[j] == 'e' || p.b[j] == 'E') {
		j++
		if j < len(p.b) && (p.b[j] == '+' || p.b[j] == '-') {
			j++
		}
		if digits() == 0 {
			return false
		}
	}
	p.i = j
	return true
}

// envelopeAttrs are the envelope's attributes, each a string or null; data
// follows them.
var envelopeAttrs = []struct {
	name string
	at   func(*envelope) **string
}{
	{"specversion", func(e *envelope) **string { return &e.SpecVersion }},
	{"id", func(e *envelope) **string { return &e.ID }},
	{"source", func(e *envelope) **string { return &e.Source }},
	{"type", func(e *envelope) **string { return &e.Type }},
	{"time", func(e *envelope) **string { return &e.Time }},
	{"subject", func(e *envelope) **string { return &e.Subject }},
	{"datacontenttype", func(e *envelope) **string { return &e.DataContentType }},
}

func (p *fastParser) envelopeField(key []byte, env *envelope) bool {
	for i, a := range envelopeAttrs {
		if len(key) == len(a.name) && string(key) == a.name {
			return p.once(uint(i)) && p.str(a.at(env))
		}
	}
	if string(key) != "data" {
		return p.unknownOnce(key) && p.skip(0)
	}
	if !p.once(uint(len(envelopeAttrs))) {
		return false
	}
	if p.null() {
		env.Data = nil
		return true
	}
	w := &wireData{}
	w.hits = w.buf[:0]
	seen, base, n := p.seen, p.base, p.nunknown
	p.seen, p.base = 0, n
	ok := p.object(func(key []byte) bool { return p.dataField(key, w) })
	p.seen, p.base, p.nunknown = seen, base, n
	env.Data = w
	return ok
}

// dataField reads a data member the table names into w; others are
// skipped.
func (p *fastParser) dataField(key []byte, w *wireData) bool {
	f, ok := lookupExact(key)
	if !ok {
		return p.unknownOnce(key) && p.skip(0)
	}
	if !p.once(uint(f)) {
		return false
	}
	if p.null() {
		w.drop(f)
		return true
	}
	var v wireValue
	switch wireFields[f].kind {
	case wireString:
		v.s, ok = p.plainString()
	case wireInt:
		v.i, ok = p.int()
	case wireBool:
		v.b, ok = p.bool()
	case wireStrings:
		v.ss, ok = p.strings()
	}
	if ok {
		w.put(f, v)
	}
	return ok
}
