package rules_test

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"

	"github.com/disputed/disputed/rules"
)

// binAttrs are the CloudEvents attributes a binary-mode message carries as
// ce_ headers, in the order they are written.
var binAttrs = []string{"specversion", "id", "source", "type", "time", "subject"}

// binCase is one event, drawn with its faults, in both content modes: a
// value of nil is an attribute left out; data nil is no data.
type binCase struct {
	attrs map[string]any // a string, or nil for JSON null (structured only)
	ct    *string        // datacontenttype / content-type
	data  any            // decValidData, broken or not; binNoData for none
	exts  map[string]string
}

// invalidUTF8 names an attribute whose value is not UTF-8, or "".
func (c binCase) invalidUTF8() string {
	for k, v := range c.attrs {
		if s, ok := v.(string); ok && !utf8.ValidString(s) {
			return k
		}
	}
	if c.ct != nil && !utf8.ValidString(*c.ct) {
		return "content-type"
	}
	return ""
}

type binNoDataT struct{}

var binNoData = binNoDataT{}

func drawBinCase(t *rapid.T) binCase {
	types := append(slices.Collect(func(yield func(string) bool) {
		for _, ty := range rules.Types() {
			if !yield(string(ty)) {
				return
			}
		}
	}), "deadline", "order.shipped", "")
	// pick returns the first value, a good one, most of the time.
	pick := func(label string, values ...string) any {
		// rapid draws small numbers more often: they are the good values.
		switch rapid.IntRange(0, 19).Draw(t, label+"/fault") {
		case 19:
			return binNoData // left out
		case 18:
			return nil // JSON null: left out in binary mode
		case 17, 16:
			return rapid.SampledFrom(values).Draw(t, label)
		}
		return values[0]
	}
	c := binCase{attrs: map[string]any{}, exts: map[string]string{}}
	c.attrs["specversion"] = pick("specversion", "1.0", "0.3", "")
	c.attrs["id"] = pick("id", "evt-1", "e", "", strings.Repeat("i", 256), strings.Repeat("i", 257), "a\x01b", "caf\xc3\xa9", "bad \xff byte")
	c.attrs["source"] = pick("source", "order-service", "", "s\x7f")
	typ := rapid.SampledFrom(types).Draw(t, "type")
	c.attrs["type"] = pick("type", typ)
	c.attrs["time"] = pick("time", "2026-03-01T10:00:00Z", "2026-03-01T18:00:00.123456789+08:00", "1969-12-31T23:59:59Z",
		"9000-01-01T00:00:00Z", "2026-02-29T10:00:00Z", "2026-03-01T1:00:00Z", "2026-03-01T10:00:00,5Z", "yesterday", "")
	c.attrs["subject"] = pick("subject", "ord-1001", "ord/1", "", strings.Repeat("o", 129), "o#~=+@:_-1")
	for k, v := range c.attrs {
		if v == binNoData {
			delete(c.attrs, k)
		}
	}
	if rapid.Bool().Draw(t, "has content type") {
		ct := rapid.SampledFrom([]string{"", "application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8", "text/plain", "application/jsonx"}).Draw(t, "content type")
		c.ct = &ct
	}
	if rapid.Bool().Draw(t, "has extension") {
		c.exts["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	}
	data := map[string]any(nil)
	if ty := rules.Type(typ); ty.Topic() != "" {
		data = maps.Clone(decValidData(ty))
	} else {
		data = map[string]any{}
	}
	switch rapid.IntRange(0, 9).Draw(t, "data fault") {
	case 9:
		c.data = binNoData
		return c
	case 8:
		c.data = rapid.SampledFrom([]any{nil, 5, "x", []any{}, true}).Draw(t, "data not an object")
		return c
	case 7, 6:
		if keys := slices.Sorted(maps.Keys(data)); len(keys) > 0 {
			delete(data, rapid.SampledFrom(keys).Draw(t, "dropped"))
		}
	case 5, 4:
		keys := append(slices.Sorted(maps.Keys(data)), "amount", "articles", "agreed", "by")
		data[rapid.SampledFrom(keys).Draw(t, "changed")] = rapid.SampledFrom([]any{nil, "x", 1.5, -3, 9223372036854775807, true, []any{1}, []any{"c2.a9", nil}, map[string]any{}, "platform", "c9.a9"}).Draw(t, "to")
	}
	c.data = data
	return c
}

// structured is the case as one JSON envelope.
func (c binCase) structured(t *rapid.T) []byte {
	m := map[string]any{}
	maps.Copy(m, c.attrs)
	if c.ct != nil {
		m["datacontenttype"] = *c.ct
	}
	for k, v := range c.exts {
		m[k] = v
	}
	if c.data != binNoData {
		m["data"] = c.data
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("marshal %v: %v", m, err)
	}
	return b
}

// binary is the case as ce_ headers and a value.
func (c binCase) binary(t *rapid.T) ([]rules.Header, []byte) {
	var h []rules.Header
	for _, a := range binAttrs {
		if v, ok := c.attrs[a].(string); ok {
			h = append(h, rules.Header{Key: "ce_" + a, Value: []byte(v)})
		}
	}
	if c.ct != nil {
		h = append(h, rules.Header{Key: "content-type", Value: []byte(*c.ct)})
	}
	for k, v := range c.exts {
		h = append(h, rules.Header{Key: "ce_" + k, Value: []byte(v)})
	}
	if c.data == binNoData {
		return h, nil
	}
	b, err := json.Marshal(c.data)
	if err != nil {
		t.Fatalf("marshal %v: %v", c.data, err)
	}
	return h, b
}

func sameDecode(t *rapid.T, what string, e1 rules.Event, err1 error, e2 rules.Event, err2 error) {
	t.Helper()
	if !reflect.DeepEqual(e1, e2) {
		t.Fatalf("%s: events differ:\n%+v\n%+v", what, e1, e2)
	}
	var f1, f2 *rules.FieldError
	switch {
	case (err1 == nil) != (err2 == nil):
		t.Fatalf("%s: errors differ: %v / %v", what, err1, err2)
	case err1 == nil:
	case !errors.As(err1, &f1) || !errors.As(err2, &f2) || *f1 != *f2:
		t.Fatalf("%s: errors differ:\n%#v\n%#v", what, err1, err2)
	}
}

// TestDecodeBinaryEqualsStructured: any event, good or broken, decodes in
// binary mode to what it decodes to in structured mode, error included; and
// DecodeMessage tells the two modes apart by their headers.
func TestDecodeBinaryEqualsStructured(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := drawBinCase(t)
		s := c.structured(t)
		h, v := c.binary(t)
		es, errS := rules.Decode(s)
		eb, errB := rules.DecodeBinary(h, v)
		if bad := c.invalidUTF8(); bad != "" {
			// JSON read one way: the binary event's text is not UTF-8, and
			// it is refused (its structured form here has U+FFFD instead,
			// as json.Marshal writes it: not the same bytes).
			if errB == nil || !strings.Contains(errB.Error(), "UTF-8") {
				t.Fatalf("binary mode with %s not UTF-8: %+v, %v", bad, eb, errB)
			}
			return
		}
		sameDecode(t, "structured / binary", es, errS, eb, errB)

		em, errM := rules.DecodeMessage(append(h[:len(h):len(h)], rules.Header{Key: "x-trace", Value: []byte("1")}), v)
		ce := slices.ContainsFunc(h, func(x rules.Header) bool { return strings.HasPrefix(x.Key, "ce_") })
		if _, ok := c.attrs["specversion"].(string); ok {
			sameDecode(t, "binary / DecodeMessage", eb, errB, em, errM)
		} else if ce && (errM == nil || !strings.Contains(errM.Error(), "neither")) {
			t.Fatalf("ce_ headers but no ce_specversion: DecodeMessage = %v, %v; want neither a structured nor a binary event", em, errM)
		}
		em, errM = rules.DecodeMessage([]rules.Header{{Key: "Content-Type", Value: []byte("application/cloudevents+json; charset=UTF-8")}}, s)
		sameDecode(t, "structured / DecodeMessage", es, errS, em, errM)
		em, errM = rules.DecodeMessage(nil, s)
		sameDecode(t, "structured / DecodeMessage without headers", es, errS, em, errM)
	})
}

func TestDecodeMessageModes(t *testing.T) {
	structured := []byte(decRaw("refund.withdrawn", ""))
	want, err := rules.Decode(structured)
	if err != nil {
		t.Fatal(err)
	}
	binary := []rules.Header{
		{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte("evt-1")},
		{Key: "ce_source", Value: []byte("order-service")}, {Key: "ce_type", Value: []byte("refund.withdrawn")},
		{Key: "ce_time", Value: []byte("2026-03-01T10:00:00Z")}, {Key: "ce_subject", Value: []byte("ord-1001")},
	}
	tests := []struct {
		name    string
		headers []rules.Header
		value   string
		err     string // "" for want
	}{
		{"structured, no headers", nil, string(structured), ""},
		{"structured, leading space", nil, " \n" + string(structured), ""},
		{"structured, content-type", []rules.Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}}, string(structured), ""},
		{"structured wins over ce_ headers", append([]rules.Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}}, binary[:2]...), string(structured), ""},
		{"structured, other headers", []rules.Header{{Key: "traceparent", Value: []byte("00-1-2-01")}}, string(structured), ""},
		{"binary, no data", binary, "", ""},
		{"binary, null data", binary, "null", ""},
		{"binary, empty object", binary, "{}", ""},
		{"binary, data not an object", binary, "[]", "data: got a JSON array, want an object"},
		{"binary, data not JSON", binary, "withdrawn", "data: malformed JSON"},
		{"binary, attribute missing", binary[:5], "", "subject: missing"},
		{"binary, content-type not JSON", append(slices.Clone(binary), rules.Header{Key: "Content-Type", Value: []byte("text/plain")}), "", "datacontenttype: \"text/plain\" is not application/json"},
		{"ce_ headers without ce_specversion", binary[1:], string(structured), "neither a structured CloudEvent (JSON envelope) nor a binary one (ce_specversion header): it has ce_ headers"},
		{"not JSON, no headers", nil, "refund withdrawn", "neither a structured CloudEvent (JSON envelope) nor a binary one (ce_specversion header): its value starts with 'r'"},
		{"JSON array, no headers", nil, "[" + string(structured) + "]", "neither"},
		{"empty, no headers", nil, "", "neither a structured CloudEvent (JSON envelope) nor a binary one (ce_specversion header): its value is empty"},
		{"another event format", []rules.Header{{Key: "content-type", Value: []byte("application/cloudevents+avro")}}, string(structured), "only the JSON event format"},
		{"batched", []rules.Header{{Key: "content-type", Value: []byte("application/cloudevents-batch+json")}}, "[" + string(structured) + "]", "batched content mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rules.DecodeMessage(tt.headers, []byte(tt.value))
			if tt.err == "" {
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Fatalf("DecodeMessage = %+v, %v; want %+v", got, err, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, rules.ErrInvalidEvent) {
				t.Fatalf("DecodeMessage error = %v; want one saying %q", err, tt.err)
			}
		})
	}
}

// A malformed event whose type was read says its type, for the metrics.
func TestFieldErrorType(t *testing.T) {
	tests := []struct {
		in   string
		want rules.Type
	}{
		{decRaw("order.paid", `{"provider_id":"p","category":"video","amount":1,"currency":"EUR"}`), rules.TypeOrderPaid},
		{decRaw("order.paid", `{"customer_id":"c","provider_id":"p","category":"video","amount":"1","currency":"EUR"}`), rules.TypeOrderPaid},
		{strings.Replace(decRaw("chat.message", `{"from":"customer","text":""}`), `"ord-1001"`, `"ord/1"`, 1), rules.TypeChatMessage},
		{decRaw("order.shipped", `{}`), ""},
		{`{"type":"order.paid",`, ""},
	}
	for _, tt := range tests {
		_, err := rules.Decode([]byte(tt.in))
		var fe *rules.FieldError
		if !errors.As(err, &fe) || fe.Type != tt.want {
			t.Errorf("Decode(%s) = %#v; want a FieldError of type %q", tt.in, err, tt.want)
		}
	}
}

// FuzzDecodeBinary: on any attributes and value, binary mode decodes as the
// same event does in structured mode (where the value is JSON, and so can
// be its data), and never fails but with ErrInvalidEvent.
func FuzzDecodeBinary(f *testing.F) {
	f.Add("1.0", "evt-1", "refund.requested", "2026-03-01T10:00:00Z", "ord-1", "", []byte(`{"reason":"quality","amount":5}`))
	f.Add("1.0", "evt-1", "order.accepted", "2026-03-01T10:00:00+08:00", "ord-1", "application/json; charset=utf-8", []byte(nil))
	f.Add("1.0", "", "order.paid", "2026-03-01T10:00:00Z", "ord-1", "", []byte(`{"amount":"1"}`))
	f.Add("0.3", "e\xff", "chat.message", "2026-02-30T10:00:00Z", "o/1", "text/plain", []byte(`[1]`))
	f.Fuzz(func(t *testing.T, spec, id, typ, at, subject, ct string, value []byte) {
		h := []rules.Header{
			{Key: "ce_specversion", Value: []byte(spec)}, {Key: "ce_id", Value: []byte(id)}, {Key: "ce_source", Value: []byte("s")},
			{Key: "ce_type", Value: []byte(typ)}, {Key: "ce_time", Value: []byte(at)}, {Key: "ce_subject", Value: []byte(subject)},
		}
		if ct != "" {
			h = append(h, rules.Header{Key: "content-type", Value: []byte(ct)})
		}
		eb, errB := rules.DecodeMessage(h, value)
		if errB != nil && !errors.Is(errB, rules.ErrInvalidEvent) {
			t.Fatalf("DecodeMessage error %v does not wrap ErrInvalidEvent", errB)
		}
		if len(value) > 0 && !json.Valid(value) {
			return // cannot be the data of a structured event
		}
		for _, a := range []string{spec, id, typ, at, subject, ct, string(value)} {
			if !utf8.ValidString(a) {
				// Read one way: text that is not UTF-8 is refused in both
				// modes (json.Marshal would replace it in the structured
				// form, so that form is not the same event).
				if errB == nil {
					t.Fatalf("binary mode took invalid UTF-8 in %q: %+v", a, eb)
				}
				return
			}
		}
		m := map[string]any{"specversion": spec, "id": id, "source": "s", "type": typ, "time": at, "subject": subject}
		if ct != "" {
			m["datacontenttype"] = ct
		}
		if len(value) > 0 {
			m["data"] = json.RawMessage(value)
		}
		s, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		es, errS := rules.Decode(s)
		if !reflect.DeepEqual(es, eb) || (errS == nil) != (errB == nil) || (errS != nil && errS.Error() != errB.Error()) {
			t.Fatalf("structured %s: %+v, %v\nbinary: %+v, %v", s, es, errS, eb, errB)
		}
	})
}

// A header given twice could be read as two events (the first, or the
// last): it is malformed, whichever attribute it is.
func TestDecodeBinaryRefusesARepeatedHeader(t *testing.T) {
	base := []rules.Header{
		{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte("e1")}, {Key: "ce_source", Value: []byte("s")},
		{Key: "ce_type", Value: []byte("refund.withdrawn")}, {Key: "ce_time", Value: []byte("2026-03-01T10:00:00Z")}, {Key: "ce_subject", Value: []byte("o1")},
	}
	if _, err := rules.DecodeBinary(base, nil); err != nil {
		t.Fatalf("the event without repeats: %v", err)
	}
	for _, h := range []rules.Header{{Key: "ce_subject", Value: []byte("o2")}, {Key: "ce_id", Value: []byte("e1")}, {Key: "Content-Type", Value: []byte("application/json")}} {
		hs := append(slices.Clone(base), h)
		if h.Key == "Content-Type" {
			hs = append(hs, rules.Header{Key: "content-type", Value: []byte("application/json")})
		}
		if e, err := rules.DecodeBinary(hs, nil); err == nil || !strings.Contains(err.Error(), "given twice") {
			t.Errorf("%s twice: %+v, %v; want it refused", h.Key, e, err)
		}
	}
}
