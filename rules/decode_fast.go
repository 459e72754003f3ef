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

// int reads an integer or null into *dst: digits only, as JSON writes
// them, within int64.
func (p *fastParser) int(dst **int64) bool {
	if p.null() {
		*dst = nil
		return true
	}
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
			return false
		}
		v = v*10 + d
		j++
	}
	n := j - start
	if n == 0 || (n > 1 && p.b[start] == '0') {
		return false
	}
	if j < len(p.b) {
		switch p.b[j] {
		case '.', 'e', 'E':
			return false // a float: encoding/json's error
		}
	}
	var x int64
	switch {
	case !neg && v <= math.MaxInt64:
		x = int64(v)
	case neg && v <= 1<<63:
		x = int64(-v)
	default:
		return false
	}
	p.i = j
	*dst = &x
	return true
}

func (p *fastParser) bool(dst **bool) bool {
	if p.null() {
		*dst = nil
		return true
	}
	switch {
	case p.lit("true"):
		v := true
		*dst = &v
	case p.lit("false"):
		v := false
		*dst = &v
	default:
		return false
	}
	return true
}

func (p *fastParser) strings(dst **[]string) bool {
	if p.null() {
		*dst = nil
		return true
	}
	out := []string{}
	if !p.array(func() bool {
		s, ok := p.plainString()
		out = append(out, s)
		return ok
	}) {
		return false
	}
	*dst = &out
	return true
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
		seen := p.seen
		p.seen = 0
		ok := p.object(func([]byte) bool { return p.skip(depth + 1) })
		p.seen = seen
		return ok
	case c == '[':
		return p.array(func() bool { return p.skip(depth + 1) })
	case c == '-' || (c >= '0' && c <= '9'):
		return p.skipNumber()
	default:
		return p.lit("true") || p.lit("false") || p.lit("null")
	}
}

func (p *fastParser) skipString() bool {
	for j := p.i + 1; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			p.i = j + 1
			return true
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

func (p *fastParser) envelopeField(key []byte, env *envelope) bool {
	switch string(key) {
	case "specversion":
		return p.once(0) && p.str(&env.SpecVersion)
	case "id":
		return p.once(1) && p.str(&env.ID)
	case "source":
		return p.once(2) && p.str(&env.Source)
	case "type":
		return p.once(3) && p.str(&env.Type)
	case "time":
		return p.once(4) && p.str(&env.Time)
	case "subject":
		return p.once(5) && p.str(&env.Subject)
	case "datacontenttype":
		return p.once(6) && p.str(&env.DataContentType)
	case "data":
		if !p.once(7) {
			return false
		}
		if p.null() {
			env.Data = nil
			return true
		}
		w := &wireData{}
		seen := p.seen
		p.seen = 0
		ok := p.object(func(key []byte) bool { return p.dataField(key, w) })
		p.seen = seen
		env.Data = w
		return ok
	}
	return p.skip(0)
}

func (p *fastParser) dataField(key []byte, w *wireData) bool {
	switch string(key) {
	case "customer_id":
		return p.once(0) && p.str(&w.CustomerID)
	case "provider_id":
		return p.once(1) && p.str(&w.ProviderID)
	case "category":
		return p.once(2) && p.str(&w.Category)
	case "amount":
		return p.once(3) && p.int(&w.Amount)
	case "currency":
		return p.once(4) && p.str(&w.Currency)
	case "delivery_due":
		return p.once(5) && p.str(&w.DeliveryDue)
	case "modification_days":
		return p.once(6) && p.int(&w.ModificationDays)
	case "custom_contract":
		return p.once(7) && p.bool(&w.CustomContract)
	case "promised_transaction_amount":
		return p.once(8) && p.bool(&w.PromisedTransactionAmount)
	case "by":
		return p.once(9) && p.str(&w.By)
	case "cause":
		return p.once(10) && p.str(&w.Cause)
	case "agreed":
		return p.once(11) && p.bool(&w.Agreed)
	case "delivery_no":
		return p.once(12) && p.str(&w.DeliveryNo)
	case "issue_id":
		return p.once(13) && p.str(&w.IssueID)
	case "objective":
		return p.once(14) && p.bool(&w.Objective)
	case "due":
		return p.once(15) && p.str(&w.Due)
	case "informed_in_advance":
		return p.once(16) && p.bool(&w.InformedInAdvance)
	case "from":
		return p.once(17) && p.str(&w.From)
	case "text":
		return p.once(18) && p.str(&w.Text)
	case "reason":
		return p.once(19) && p.str(&w.Reason)
	case "party":
		return p.once(20) && p.str(&w.Party)
	case "kind":
		return p.once(21) && p.str(&w.Kind)
	case "note":
		return p.once(22) && p.str(&w.Note)
	case "refund_amount":
		return p.once(23) && p.int(&w.RefundAmount)
	case "articles":
		return p.once(24) && p.strings(&w.Articles)
	case "value_ratio_bp":
		return p.once(25) && p.int(&w.ValueRatioBP)
	case "service_cost":
		return p.once(26) && p.int(&w.ServiceCost)
	case "unrealized_cost":
		return p.once(27) && p.int(&w.UnrealizedCost)
	}
	return p.skip(0)
}
