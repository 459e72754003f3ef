package rules_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/disputed/disputed/internal/scenario"
	"github.com/disputed/disputed/rules"
)

// TestScenarioGoldens runs every story of internal/scenario through the
// engine itself, as replay does, and expects its golden byte for byte. The
// CLI's own test (cmd/disputed) owns the goldens and rewrites them with
// -update; this one shows the engine alone gives them.
func TestScenarioGoldens(t *testing.T) {
	all, err := scenario.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		t.Run(s.Name, func(t *testing.T) {
			var until time.Time
			for i := 0; i < len(s.Args); i++ {
				switch a := s.Args[i]; {
				case a == "--until" && i+1 < len(s.Args):
					i++
					if until, err = time.Parse(time.RFC3339Nano, s.Args[i]); err != nil {
						t.Fatal(err)
					}
				case strings.HasPrefix(a, "--until="):
					if until, err = time.Parse(time.RFC3339Nano, strings.TrimPrefix(a, "--until=")); err != nil {
						t.Fatal(err)
					}
				default:
					t.Fatalf("argument %q: this test knows only --until", a)
				}
			}
			r := rules.NewReplay(rules.DefaultPolicy())
			var out bytes.Buffer
			write := func(cmds []rules.Command) {
				for _, c := range cmds {
					if r, ok := c.Body.(*rules.Rejection); ok && rules.RejectionCodeDoc(r.Code) == "" {
						t.Errorf("rejection %s has the code %q, which is not one of rules.RejectionCodes", c.ID, r.Code)
					}
					b, err := json.Marshal(c)
					if err != nil {
						t.Fatal(err)
					}
					out.Write(b)
					out.WriteByte('\n')
				}
			}
			for _, line := range s.Lines() {
				e, err := rules.Decode(line)
				if err != nil {
					continue // malformed: the CLI reports it on stderr
				}
				cmds, err := r.Apply(e)
				if err != nil && !errors.Is(err, rules.ErrInvalidEvent) {
					t.Fatal(err)
				}
				write(cmds)
			}
			if !until.IsZero() {
				cmds, err := r.Advance(until)
				if err != nil {
					t.Fatal(err)
				}
				write(cmds)
			}
			if !bytes.Equal(out.Bytes(), s.Golden) {
				t.Errorf("the engine's commands differ from %s.golden:\ngot:\n%s\nwant:\n%s", s.Name, out.Bytes(), s.Golden)
			}
		})
	}
}
