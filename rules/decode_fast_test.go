package rules

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/disputed/disputed/internal/scenario"
)

// decodeFast must agree with encoding/json wherever it answers.
func checkFast(t *testing.T, b []byte) (fast bool) {
	t.Helper()
	var got envelope
	if !decodeFast(b, &got) {
		return false
	}
	var want envelope
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("decodeFast accepted %q, which encoding/json refuses: %v", b, err)
	}
	if err := checkOneReading(b, "", knownNames); err != nil {
		t.Fatalf("decodeFast accepted %q, which can be read another way: %v", b, err)
	}
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		t.Fatalf("decodeFast and encoding/json differ on %q:\nfast %s\njson %s", b, gj, wj)
	}
	return true
}

func fastSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	lines, err := scenario.Lines()
	if err != nil {
		tb.Fatal(err)
	}
	extra := []string{
		`{"specversion":"1.0","id":"e1","source":"s","type":"order.paid","time":"2026-03-01T10:00:00Z","subject":"o1","data":{"customer_id":"c","provider_id":"p","category":"other","amount":100,"currency":"EUR"}}`,
		` { "id" : "x" , "data" : null , "extra" : [1, -2.5e+3, {"a": [true, false, null]}, "s"] } `,
		`{"id":"a","id":"b"}`,
		`{"specversion":"1.0","x":1,"x":2}`,
		`{"specversion":"1.0","data":{"zz":1,"zz":[2]}}`,
		`{"specversion":"1.0","zz":1,"data":{"zz":2}}`,
		`{"ID":"a"}`,
		`{"id":"\u0041"}`,
		`{"ſpecversion":"1.0"}`,
		`{"data":{"amount":1.0}}`,
		`{"data":{"amount":-0}}`,
		`{"data":{"amount":9223372036854775807}}`,
		`{"data":{"amount":-9223372036854775808}}`,
		`{"data":{"amount":9223372036854775808}}`,
		`{"data":{"articles":[]}}`,
		`{"data":{"articles":null}}`,
		`{"data":{"articles":["a",null]}}`,
		`{"data":{"agreed":true,"objective":null}}`,
		`{"text":"caf\xc3\xa9"}`,
		`{"text":"bad \xff"}`,
		`{"data":"x"}`,
		`{"data":{}} x`,
		`{"a":01}`,
		`{"a":1.}`,
		`{"a":tru}`,
	}
	for _, s := range extra {
		lines = append(lines, []byte(s))
	}
	return lines
}

// TestDecodeFastTakesTheContractsForm: every well-formed line of the
// stories, written as upstream systems write events, takes the fast path.
func TestDecodeFastTakesTheContractsForm(t *testing.T) {
	lines, err := scenario.Lines()
	if err != nil {
		t.Fatal(err)
	}
	fast, valid := 0, 0
	for _, l := range lines {
		var env envelope
		if json.Unmarshal(l, &env) != nil || strings.Contains(string(l), `\`) {
			continue
		}
		valid++
		if checkFast(t, l) {
			fast++
		}
	}
	if fast != valid {
		t.Errorf("decodeFast took %d of the %d well-formed lines without escapes", fast, valid)
	}
	for _, s := range fastSeeds(t) {
		checkFast(t, s)
	}
}

func FuzzDecodeFast(f *testing.F) {
	for _, s := range fastSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkFast(t, b) })
}
