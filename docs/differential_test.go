package docs

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/disputed/disputed/rules"
)

// The decoder and the schemas must give the same verdict on any event. The
// events below are drawn from the contract's tables (eventTypes), valid,
// then broken in the ways the contract names: a field dropped or null, a
// wrong JSON type, a bad enumeration value, negative or overflowing money,
// a time out of range or not RFC 3339, a string too long or with a control
// character, data that is not an object, another event type's fields with
// wrong types, another type altogether.
//
// Excluded from the draws, because the schemas cannot express them (each
// is pinned in TestSchemaKnownDifferences and named in the schemas'
// descriptions): non-ASCII strings near a byte limit, integers written with
// a fraction or an exponent, field names in other letter cases, messages
// over 1 MiB, and times on the first or last day of the range whose offset
// moves them out of it.

// goodTimes are valid in both; badTimes in neither.
var (
	goodTimes = []string{"2026-03-01T10:00:00Z", "2026-03-01T18:00:00+08:00", "2026-03-01T10:00:00.5Z", "2026-03-01T10:00:00.123456789123-05:30",
		"1970-01-01T00:00:00Z", "1970-01-01T00:00:00-00:30", "8999-12-31T23:59:59.999999999Z", "8999-12-31T23:59:59+01:00",
		"2024-02-29T12:00:00Z", "2000-02-29T12:00:00Z", "1972-02-29T00:00:00Z", "2026-12-31T23:59:59Z", "2026-04-30T00:00:00+23:59"}
	badTimes = []string{"", "yesterday", "2026-03-01", "2026-03-01T10:00:00", "2026-03-01 10:00:00Z", "2026-03-01t10:00:00Z", "2026-03-01T10:00:00z",
		"2026-03-01T9:00:00Z", "2026-03-01T10:00:00,5Z", "2026-03-01T10:00:00.Z", "2026-03-01T24:00:00Z", "2026-03-01T10:60:00Z",
		"2026-12-31T23:59:60Z", "2026-03-01T10:00:00+24:00", "2026-03-01T10:00:00+01:60", "2026-03-01T10:00:00+0100", "2026-02-29T10:00:00Z",
		"2100-02-29T10:00:00Z", "2026-04-31T10:00:00Z", "2026-13-01T10:00:00Z", "2026-00-10T10:00:00Z", "1969-12-31T23:59:59Z",
		"9000-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "+2026-03-01T10:00:00Z", "12026-03-01T10:00:00Z"}
)

// oddValues are what a field is set to, to break it or not.
var oddValues = func() []any {
	v := []any{nil, "", "x", "Customer", "provider", "platform", "customer", "valid", "video", "not_delivered", "escalated",
		-1, 0, 1, 3650, 3651, 10000, 10001,
		json.Number("9223372036854775807"), json.Number("9223372036854775808"), json.Number("-9223372036854775808"), json.Number("-9223372036854775809"),
		1.5, -0.5, true, false, []any{}, []any{"c2.a9"}, []any{"c9.a9"}, []any{nil}, []any{1}, map[string]any{}, map[string]any{"a": 1},
		strings.Repeat("x", 256), strings.Repeat("x", 257), strings.Repeat("x", rules.MaxTextLen), strings.Repeat("x", rules.MaxTextLen+1),
		"a\x01b", "a\x7fb", "tab\tinside", "café", "EUR", "eur", "EU", "EURO",
		"ord/1", "ord.1", strings.Repeat("o", 128), strings.Repeat("o", 129), "o#~=+@:_-1",
		"1.0", "0.3", "application/json", "application/json; charset=utf-8", "application/json\t;x", "application/jsonx", "text/plain",
		"deadline", "order.shipped", "ORDER.PAID",
	}
	for _, ty := range rules.Types() {
		v = append(v, string(ty))
	}
	for _, tm := range append(slices.Clone(goodTimes), badTimes...) {
		v = append(v, tm)
	}
	return v
}()

// sample draws a valid value for a field's schema.
func sample(t *rapid.T, label string, s obj) any {
	if e, ok := s.get("enum").([]string); ok {
		return rapid.SampledFrom(e).Draw(t, label)
	}
	if c := s.get("const"); c != nil {
		return c
	}
	switch s.get("type") {
	case "boolean":
		return rapid.Bool().Draw(t, label)
	case "integer":
		lo, hi := int64(s.get("minimum").(int)), int64(0)
		switch m := s.get("maximum").(type) {
		case int:
			hi = int64(m)
		case int64:
			hi = m
		}
		return rapid.SampledFrom([]int64{lo, hi, lo + (hi-lo)/2, min(lo+1, hi)}).Draw(t, label)
	case "array":
		c := rules.Citations()
		n := rapid.SampledFrom([]int{0, 1, 3, 64}).Draw(t, label+" count")
		out := make([]string, n)
		for i := range out {
			out[i] = c[(i*7)%len(c)]
		}
		return out
	case "string":
		switch p, _ := s.get("pattern").(string); p {
		case timePattern:
			return rapid.SampledFrom(goodTimes).Draw(t, label)
		case `^[A-Z]{3}$`:
			return rapid.SampledFrom([]string{"EUR", "CNY", "USD"}).Draw(t, label)
		}
		if max, _ := s.get("maxLength").(int); max == rules.MaxTextLen {
			return rapid.SampledFrom([]string{"", "where is my delivery?", "café ✓", strings.Repeat("x", rules.MaxTextLen)}).Draw(t, label)
		}
		return rapid.SampledFrom([]string{"x", "cus-1", "café", strings.Repeat("i", rules.MaxIDLen), "with space / slash"}).Draw(t, label)
	}
	panic(fmt.Sprintf("no sample for %v", s))
}

// drawValid draws a valid event of the type from the tables.
func drawValid(t *rapid.T, et eventType) map[string]any {
	data := map[string]any{}
	for _, f := range et.fields {
		if f.required || rapid.Bool().Draw(t, f.name+" present") {
			data[f.name] = sample(t, f.name, f.schema)
		}
	}
	if et.typ == rules.TypeServiceTerminated && data["by"] == "platform" {
		data["cause"] = rapid.SampledFrom([]string{"customer", "provider"}).Draw(t, "cause")
	}
	env := map[string]any{
		"specversion": "1.0", "id": sample(t, "id", idSchema), "source": sample(t, "source", idSchema), "type": string(et.typ),
		"time":    rapid.SampledFrom(goodTimes).Draw(t, "time"),
		"subject": rapid.SampledFrom([]string{"ord-1001", "o", strings.Repeat("o", 128), "Ab-9_:@+=#~"}).Draw(t, "subject"),
	}
	if due, ok := data["delivery_due"].(string); ok && et.typ == rules.TypeOrderPaid {
		// The decoder refuses a delivery date not after the payment,
		// which a schema cannot say (a known difference, below).
		at, _ := time.Parse(time.RFC3339Nano, env["time"].(string))
		if d, _ := time.Parse(time.RFC3339Nano, due); !d.After(at) {
			delete(data, "delivery_due")
		}
	}
	if len(data) > 0 || rapid.Bool().Draw(t, "empty data") {
		env["data"] = data
	}
	if rapid.Bool().Draw(t, "extension") {
		env["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	}
	return env
}

// breakEvent changes the event once, in one of the ways the contract names.
func breakEvent(t *rapid.T, env map[string]any) {
	data, _ := env["data"].(map[string]any)
	wire := wireFields().get("properties").(obj)
	var wireNames []string
	for _, f := range wire {
		wireNames = append(wireNames, f.k)
	}
	switch rapid.IntRange(0, 5).Draw(t, "fault") {
	case 0: // drop an attribute or a field
		keys := slices.Sorted(mapKeys(env))
		if data != nil {
			for k := range data {
				keys = append(keys, "data."+k)
			}
			slices.Sort(keys)
		}
		k := rapid.SampledFrom(keys).Draw(t, "drop")
		if f, ok := strings.CutPrefix(k, "data."); ok {
			delete(data, f)
		} else {
			delete(env, k)
		}
	case 1: // an attribute
		k := rapid.SampledFrom([]string{"specversion", "id", "source", "type", "time", "subject", "datacontenttype", "traceparent"}).Draw(t, "attribute")
		env[k] = rapid.SampledFrom(oddValues).Draw(t, "attribute value")
	case 2, 3: // a data field, of the type or of another, or unknown
		if data == nil {
			data = map[string]any{}
			env["data"] = data
		}
		k := rapid.SampledFrom(append(wireNames, "unknown_field")).Draw(t, "field")
		data[k] = rapid.SampledFrom(oddValues).Draw(t, "field value")
	case 4: // data that is not an object
		env["data"] = rapid.SampledFrom([]any{nil, 5, "x", []any{}, true, []any{map[string]any{}}}).Draw(t, "data")
	case 5: // another type, the data unchanged
		env["type"] = string(rapid.SampledFrom(rules.Types()).Draw(t, "other type"))
	}
}

func TestSchemasAgreeWithDecoder(t *testing.T) {
	for _, et := range eventTypes {
		t.Run(string(et.typ), func(t *testing.T) {
			valid := 0
			rapid.Check(t, func(rt *rapid.T) {
				env := drawValid(rt, et)
				faults := rapid.IntRange(0, 2).Draw(rt, "faults")
				for range faults {
					breakEvent(rt, env)
				}
				b, err := json.Marshal(env)
				if err != nil {
					rt.Fatal(err)
				}
				derr := agree(rt, b)
				if faults == 0 && derr != nil {
					rt.Fatalf("a valid draw does not decode: %v\n%s", derr, b)
				}
				if derr == nil {
					valid++
				}
			})
			if valid == 0 {
				t.Errorf("no draw of %s was valid", et.typ)
			}
		})
	}
}

// agree fails the draw when the decoder and the schemas disagree on b, and
// returns the decoder's error.
func agree(t *rapid.T, b []byte) error {
	_, derr := rules.Decode(b)
	serr := valid(t, "event.json", b)
	if (derr == nil) != (serr == nil) {
		t.Fatalf("the decoder says %v, event.json says %v:\n%s", orOK(derr), orOK(serr), clip(b))
	}
	var head struct{ Type string }
	if json.Unmarshal(b, &head) == nil && rules.Type(head.Type).Topic() != "" {
		if terr := valid(t, head.Type+".json", b); (terr == nil) != (serr == nil) {
			t.Fatalf("event.json says %v, %s.json says %v:\n%s", orOK(serr), head.Type, orOK(terr), clip(b))
		}
	}
	return derr
}

// TestSchemaKnownDifferences pins where the decoder is stricter or looser
// than JSON Schema can say, as the schemas' descriptions state; a change to
// either side that closes a gap shows here.
func TestSchemaKnownDifferences(t *testing.T) {
	ev := func(patch func(map[string]any)) []byte {
		env := map[string]any{"specversion": "1.0", "id": "evt-1", "source": "s", "type": "chat.message", "time": "2026-03-01T10:00:00Z",
			"subject": "ord-1", "data": map[string]any{"from": "customer", "text": "hi"}}
		patch(env)
		b, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	paid := func(amount string) []byte {
		return []byte(`{"specversion":"1.0","id":"e","source":"s","type":"order.paid","time":"2026-03-01T10:00:00Z","subject":"o",` +
			`"data":{"customer_id":"c","provider_id":"p","category":"other","amount":` + amount + `,"currency":"EUR"}}`)
	}
	tests := []struct {
		name            string
		in              []byte
		schema, decoder bool // valid?
	}{
		{"an ID of 129 two-byte characters: 258 bytes", ev(func(m map[string]any) { m["id"] = strings.Repeat("é", 129) }), true, false},
		{"a text of 8193 two-byte characters: 16386 bytes", ev(func(m map[string]any) { m["data"].(map[string]any)["text"] = strings.Repeat("é", 8193) }), true, false},
		{"a message over 1 MiB", ev(func(m map[string]any) { m["traceparent"] = strings.Repeat("x", rules.MaxEventSize) }), true, false},
		{"an integer written with a fraction", paid("100.0"), true, false},
		{"an integer written with an exponent", paid("1e2"), true, false},
		{"a member given twice", paid(`100,"amount":200`), true, false},
		{"an order's delivery date not after its payment", paid(`100,"delivery_due":"2026-03-01T10:00:00Z"`), true, false},
		{"1970-01-01 with an offset that makes it 1969 in UTC", ev(func(m map[string]any) { m["time"] = "1970-01-01T00:30:00+01:00" }), true, false},
		{"8999-12-31 with an offset that makes it 9000 in UTC", ev(func(m map[string]any) { m["time"] = "8999-12-31T23:30:00-01:00" }), true, false},
		// Not differences: the same verdict, for contrast.
		{"an ID of 256 ASCII bytes", ev(func(m map[string]any) { m["id"] = strings.Repeat("i", 256) }), true, true},
		{"an integer", paid("100"), true, true},
		{"a field name in another letter case", ev(func(m map[string]any) { m["ID"] = m["id"]; delete(m, "id") }), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, derr := rules.Decode(tt.in)
			serr := valid(t, "event.json", tt.in)
			if (serr == nil) != tt.schema || (derr == nil) != tt.decoder {
				t.Errorf("schema %s, decoder %s; want schema valid %v, decoder valid %v", orOK(serr), orOK(derr), tt.schema, tt.decoder)
			}
		})
	}
}
