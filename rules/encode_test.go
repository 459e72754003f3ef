package rules_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/disputed/disputed/rules"
)

// The encoder writes strings as encoding/json does (without its HTML
// escapes), so that every reader of the bytes reads the same text.
func FuzzEncodeString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote \" and \\ backslash", "\n\r\t\x00\x1f\x7f", "\xff\xfe bad", "\u2028\u2029", "日本語 <&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := rules.Event{ID: "e", Source: "s", Type: rules.TypeChatMessage, Time: time.Unix(0, 0).UTC(), OrderID: "o",
			Data: rules.Data{From: rules.Customer, Text: s}}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		got := rules.EncodeEvent(e)
		if !bytes.Contains(got, append([]byte(`"text":`), bytes.TrimSuffix(want.Bytes(), []byte("\n"))...)) {
			t.Fatalf("EncodeEvent wrote %s; encoding/json writes the text %s", got, want.Bytes())
		}
	})
}

// Every valid event of every type, encoded, decodes to itself, and the
// bytes are the same on every call.
func TestEncodeEventRoundTrip(t *testing.T) {
	for _, typ := range rules.Types() {
		b, err := json.Marshal(decEnv(string(typ), decValidData(typ)))
		if err != nil {
			t.Fatal(err)
		}
		e, err := rules.Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		enc := rules.EncodeEvent(e)
		again, err := rules.Decode(enc)
		if err != nil {
			t.Fatalf("%s: EncodeEvent wrote %s, which does not decode: %v", typ, enc, err)
		}
		if !reflect.DeepEqual(again, e) {
			t.Errorf("%s: encoded and decoded again:\n got %+v\nwant %+v", typ, again, e)
		}
		if !bytes.Equal(rules.EncodeEvent(e), enc) {
			t.Errorf("%s: EncodeEvent is not deterministic", typ)
		}
	}
	// A type without fields, and data with none of its optional fields, is
	// written without data.
	got := string(rules.EncodeEvent(rules.Event{ID: "e1", Source: "orders", Type: rules.TypeOrderAccepted, Time: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), OrderID: "o-1"}))
	if want := `{"specversion":"1.0","id":"e1","source":"orders","type":"order.accepted","time":"2026-03-01T10:00:00Z","subject":"o-1"}`; got != want {
		t.Errorf("order.accepted:\n got %s\nwant %s", got, want)
	}
}
