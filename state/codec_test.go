package state

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/disputed/disputed/internal/scenario"
	"github.com/disputed/disputed/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fill sets every field reachable from v to a random value: strings from the
// rules' words or arbitrary text, times in UTC within the rules' range,
// slices nil, empty or of a few elements, pointers nil or set. A field added
// to rules.State and forgotten by the codec therefore fails the round trip.
func fill(rng *rand.Rand, v reflect.Value, order string) {
	switch v.Kind() {
	case reflect.String:
		switch rng.IntN(4) {
		case 0:
			v.SetString(symbols[rng.IntN(len(symbols))])
		case 1:
			v.SetString(order + "/" + randText(rng, 12))
		case 2:
			v.SetString("")
		default:
			v.SetString(randText(rng, 40))
		}
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 1)
	case reflect.Int, reflect.Int64:
		if v.Type() == reflect.TypeFor[time.Duration]() {
			v.SetInt(rng.Int64N(int64(240*time.Hour)) - int64(time.Hour))
			return
		}
		v.SetInt(rng.Int64N(1<<40) - 1<<20)
	case reflect.Pointer:
		if rng.IntN(3) == 0 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		fill(rng, p.Elem(), order)
		v.Set(p)
	case reflect.Slice:
		switch n := rng.IntN(5); n {
		case 0:
			v.SetZero()
		default:
			s := reflect.MakeSlice(v.Type(), n-1, n-1)
			for i := range n - 1 {
				fill(rng, s.Index(i), order)
			}
			v.Set(s)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(randTime(rng)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(rng, v.Field(i), order)
			}
		}
	default:
		panic("fill: no case for " + v.Type().String())
	}
}

func randText(rng *rand.Rand, max int) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789-/:. \tä→"
	r := []rune(chars)
	var b strings.Builder
	for range rng.IntN(max) {
		b.WriteRune(r[rng.IntN(len(r))])
	}
	return b.String()
}

func randTime(rng *rand.Rand) time.Time {
	switch rng.IntN(4) {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(rng.Int64N(4e9), 0).UTC()
	}
	return time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).UTC()
}

func randState(rng *rand.Rand) rules.State {
	var s rules.State
	fill(rng, reflect.ValueOf(&s).Elem(), "")
	s.Version = 0 // not part of the encoding
	if rng.IntN(4) > 0 {
		s.OrderID = "ord-" + randText(rng, 10)
		// Some IDs begin with the order's ID, as command IDs do.
		for i := range s.Log {
			if rng.IntN(2) == 0 {
				s.Log[i].ID = s.OrderID + "/" + s.Log[i].ID
			}
		}
	}
	return s
}

func TestStateCodecRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		s := randState(rng)
		b := encodeState(nil, &s)
		var got rules.State
		if err := decodeState(b, &got); err != nil {
			t.Fatalf("state %d: decode: %v", i, err)
		}
		if !reflect.DeepEqual(got, s) {
			gj, _ := json.Marshal(got)
			sj, _ := json.Marshal(s)
			t.Fatalf("state %d does not round-trip:\n got %s\nwant %s", i, gj, sj)
		}
	}
}

// TestStateCodecScenarios round-trips every state the scenario stories pass
// through, and checks the binary form is smaller than the JSON.
func TestStateCodecScenarios(t *testing.T) {
	all, err := scenario.All()
	if err != nil {
		t.Fatal(err)
	}
	var binSize, jsonSize int
	for _, sc := range all {
		r := rules.NewReplay(rules.DefaultPolicy())
		for _, line := range sc.Lines() {
			e, err := rules.Decode(line)
			if err != nil {
				continue
			}
			if _, err := r.Apply(e); err != nil {
				continue // the stories' malformed events
			}
			s := r.State(e.OrderID)
			b := encodeState(nil, &s)
			var got rules.State
			if err := decodeState(b, &got); err != nil {
				t.Fatalf("%s: %v", sc.Name, err)
			}
			s.Version = 0
			if !reflect.DeepEqual(got, s) {
				t.Fatalf("%s: state of %s after %s does not round-trip", sc.Name, e.OrderID, e.ID)
			}
			j, _ := json.Marshal(s)
			binSize += len(b)
			jsonSize += len(j)
		}
	}
	t.Logf("states of the scenarios: %d bytes binary, %d JSON (%.0f%%)", binSize, jsonSize, 100*float64(binSize)/float64(jsonSize))
	if binSize*2 > jsonSize {
		t.Errorf("binary states take %d bytes, more than half the JSON's %d", binSize, jsonSize)
	}
}

// TestStateCodecJSON: a state stored as JSON by an earlier release still
// decodes.
func TestStateCodecJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		s := randState(rng)
		for i := range s.Log {
			s.Log[i].ID = strings.ReplaceAll(s.Log[i].ID, "\t", " ")
			s.Log[i].Kind = strings.ReplaceAll(s.Log[i].Kind, "\t", " ")
		}
		j, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var got rules.State
		if err := decodeState(j, &got); err != nil {
			t.Fatal(err)
		}
		gj, _ := json.Marshal(got)
		if !bytes.Equal(gj, j) {
			t.Fatalf("JSON state does not decode as it was:\n got %s\nwant %s", gj, j)
		}
	}
}

// TestStateCodecGolden pins the format: states already in Redis must decode
// after any change. A change that fails it needs a new version byte, not
// -update.
func TestStateCodecGolden(t *testing.T) {
	sc, err := scenario.Get("suspension_withdrawn_held_refund")
	if err != nil {
		t.Fatal(err)
	}
	r := rules.NewReplay(rules.DefaultPolicy())
	var order string
	for _, line := range sc[0].Lines() {
		e, err := rules.Decode(line)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Apply(e); err != nil {
			t.Fatal(err)
		}
		order = e.OrderID
	}
	s := r.State(order)
	s.Vouchers = append(s.Vouchers, rules.Voucher{EventID: "x", At: time.Unix(1, 5).UTC(), Party: "someone", Text: "ünïcode"})
	got := hex.EncodeToString(encodeState(nil, &s))
	path := filepath.Join("testdata", "state-v1.hex")
	if *update {
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != strings.TrimSpace(string(want)) {
		t.Errorf("the encoding of a state changed:\n got %s\nwant %s", got, want)
	}
	b, _ := hex.DecodeString(strings.TrimSpace(string(want)))
	var dec rules.State
	if err := decodeState(b, &dec); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dec, s) {
		t.Error("the golden state does not decode to the state it was made from")
	}
}

func FuzzDecodeState(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		s := randState(rng)
		f.Add(encodeState(nil, &s))
	}
	f.Add([]byte{stateV1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var s rules.State
		if err := decodeState(b, &s); err != nil || len(b) == 0 || b[0] != stateV1 {
			return
		}
		again := encodeState(nil, &s)
		var s2 rules.State
		if err := decodeState(again, &s2); err != nil {
			t.Fatalf("a decoded state does not decode once encoded again: %v", err)
		}
		if !reflect.DeepEqual(s, s2) {
			t.Fatal("a decoded state changes when encoded again")
		}
	})
}

// benchState is the state of a dispute in the middle of a typical story:
// paid, a refund request, an intervention, some chat and evidence.
func benchState(b *testing.B) rules.State {
	b.Helper()
	sc, err := scenario.Get("suspension_withdrawn_held_refund")
	if err != nil {
		b.Fatal(err)
	}
	r := rules.NewReplay(rules.DefaultPolicy())
	var order string
	for _, line := range sc[0].Lines() {
		e, err := rules.Decode(line)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Apply(e); err != nil {
			b.Fatal(err)
		}
		order = e.OrderID
	}
	return r.State(order)
}

func BenchmarkEncodeState(b *testing.B) {
	s := benchState(b)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = encodeState(buf[:0], &s)
	}
	b.ReportMetric(float64(len(buf)), "bytes")
}

func BenchmarkDecodeState(b *testing.B) {
	s := benchState(b)
	enc := encodeState(nil, &s)
	b.ReportAllocs()
	for b.Loop() {
		var got rules.State
		if err := decodeState(enc, &got); err != nil {
			b.Fatal(err)
		}
	}
}

// The JSON the store wrote before, for comparison.
func BenchmarkEncodeStateJSON(b *testing.B) {
	s := benchState(b)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		j, _ := json.Marshal(s)
		n = len(j)
	}
	b.ReportMetric(float64(n), "bytes")
}

func BenchmarkDecodeStateJSON(b *testing.B) {
	s := benchState(b)
	j, _ := json.Marshal(s)
	b.ReportAllocs()
	for b.Loop() {
		var got rules.State
		if err := json.Unmarshal(j, &got); err != nil {
			b.Fatal(err)
		}
	}
}
