package flamegraph

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
)

const traces = `File: disputed
Type: cpu
-----------+-------------------------------------------------------
      30ms   runtime.memmove
             github.com/disputed/disputed/consumer.(*Session).Apply (inline)
             main.main
-----------+-------------------------------------------------------
      10ms   encoding/json.Unmarshal
             github.com/disputed/disputed/consumer.(*Session).Apply
             main.main
-----------+-------------------------------------------------------
     1.50MB   runtime.mallocgc
             main.main
`

func TestParseTraces(t *testing.T) {
	stacks, err := ParseTraces(strings.NewReader(traces))
	if err != nil {
		t.Fatal(err)
	}
	if len(stacks) != 3 {
		t.Fatalf("%d stacks, want 3", len(stacks))
	}
	if got := strings.Join(stacks[0].Frames, " > "); got != "main.main > github.com/disputed/disputed/consumer.(*Session).Apply > runtime.memmove" || stacks[0].Value != 30e6 {
		t.Errorf("first stack %q value %d", got, stacks[0].Value)
	}
	if stacks[2].Value != 1.5*(1<<20) {
		t.Errorf("size value %d", stacks[2].Value)
	}
}

func TestWriteIsWellFormedSVG(t *testing.T) {
	stacks, _ := ParseTraces(strings.NewReader(traces))
	var b bytes.Buffer
	if err := Write(&b, stacks, Options{Title: "a <test>", Highlight: "disputed/"}); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&b)
	rects := 0
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	// Background, all, main.main, Apply, memmove, Unmarshal, mallocgc.
	if rects != 7 {
		t.Errorf("%d rects, want 7:\n%s", rects, b.String())
	}
	if _, err := ParseTraces(strings.NewReader("-----------+\n  abc  x\n")); err == nil {
		t.Error("a bad value parsed")
	}
}
