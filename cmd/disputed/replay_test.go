package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/disputed/disputed/internal/scenario"
	"github.com/disputed/disputed/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files of internal/scenario/stories")

// noEnv is an environment with nothing set, so the machine's DISPUTED_*
// variables cannot change a golden.
func noEnv(string) string { return "" }

// envOf returns a getenv reading only m.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// result is what one run of the command did.
type result struct {
	stdout, stderr []byte
	err            error
	code           int // the exit status main would give
}

func runCLI(t *testing.T, ctx context.Context, args []string, getenv func(string) string, stdin io.Reader) result {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errOut bytes.Buffer
	err := run(ctx, args, getenv, stdin, &out, &errOut)
	r := result{stdout: out.Bytes(), stderr: errOut.Bytes(), err: err}
	if err != nil {
		r.code = exitCode(err)
	}
	return r
}

// storyCase is one story of internal/scenario with its goldens on disk.
type storyCase struct {
	name string
	file string   // NAME.jsonl
	args []string // from NAME.args, before the file
}

func (s storyCase) path(ext string) string {
	return filepath.Join(storyDir, s.name+ext)
}

func (s storyCase) cmdline() []string {
	return append(append([]string{"replay"}, s.args...), s.file)
}

var storyDir = scenario.Dir()

func scenarios(t *testing.T) []storyCase {
	t.Helper()
	all, err := scenario.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 16 {
		t.Fatalf("found %d scenarios in %s, want at least 16", len(all), storyDir)
	}
	var out []storyCase
	for _, s := range all {
		out = append(out, storyCase{name: s.Name, file: s.File(), args: s.Args})
	}
	return out
}

// TestScenarios replays each whole dispute story and compares stdout, and
// stderr and the exit status where the scenario has malformed lines, with
// the goldens. Run with -update to rewrite them, then read every change.
func TestScenarios(t *testing.T) {
	for _, s := range scenarios(t) {
		t.Run(s.name, func(t *testing.T) {
			r := runCLI(t, t.Context(), s.cmdline(), noEnv, nil)
			if r.err != nil && !errors.Is(r.err, errReported) {
				t.Fatalf("run %v: %v\nstderr:\n%s", s.cmdline(), r.err, r.stderr)
			}
			if *update {
				writeGolden(t, s.path(".golden"), r.stdout)
				if len(r.stderr) > 0 {
					writeGolden(t, s.path(".stderr"), r.stderr)
				} else if err := os.Remove(s.path(".stderr")); err != nil && !errors.Is(err, os.ErrNotExist) {
					t.Fatal(err)
				}
			}

			compareGolden(t, "stdout", s.path(".golden"), r.stdout)
			wantStderr, err := os.ReadFile(s.path(".stderr"))
			switch {
			case errors.Is(err, os.ErrNotExist):
				if len(r.stderr) > 0 || r.err != nil {
					t.Errorf("got stderr %q and error %v, want neither (no %s golden)", r.stderr, r.err, s.path(".stderr"))
				}
			case err != nil:
				t.Fatal(err)
			default:
				if !bytes.Equal(r.stderr, wantStderr) {
					t.Errorf("stderr differs from %s\ngot:\n%s\nwant:\n%s", s.path(".stderr"), r.stderr, wantStderr)
				}
				// A scenario with a stderr golden has malformed lines:
				// they make the exit status 1 once everything else is done.
				if !errors.Is(r.err, errReported) || r.code != 1 {
					t.Errorf("got error %v (exit %d), want the reported-lines error and exit 1", r.err, r.code)
				}
			}
			checkCommands(t, r.stdout)
		})
	}
}

func writeGolden(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func compareGolden(t *testing.T, what, path string, got []byte) {
	t.Helper()
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(gl), len(wl)) {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s differs from %s at line %d\ngot:  %s\nwant: %s", what, path, i+1, g, w)
		}
	}
}

// wireCommand is one line of replay's output.
type wireCommand struct {
	Subject string `json:"subject"`
	Data    struct {
		CommandID      string   `json:"command_id"`
		OrderID        string   `json:"order_id"`
		RulingID       string   `json:"ruling_id"`
		Outcome        string   `json:"outcome"`
		RefundAmount   *int64   `json:"refund_amount"`
		ProviderAmount *int64   `json:"provider_amount"`
		Amount         *int64   `json:"amount"`
		Currency       string   `json:"currency"`
		Articles       []string `json:"articles"`
		To             string   `json:"to"`
		PartyID        string   `json:"party_id"`
		TransferID     string   `json:"transfer_id"`
		Kind           string   `json:"kind"`
		EventID        string   `json:"event_id"`
	} `json:"data"`
}

// checkCommands checks what contract.md promises of every output, whatever
// the golden says: money adds up, transfers match their ruling, citations
// exist, command IDs are unique, subjects end in the order ID.
func checkCommands(t *testing.T, out []byte) {
	t.Helper()
	var cmds []wireCommand
	ids := map[string]bool{}
	for i, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var c wireCommand
		if err := json.Unmarshal(line, &c); err != nil {
			t.Fatalf("output line %d is not a command: %v: %s", i+1, err, line)
		}
		if c.Data.CommandID == "" || ids[c.Data.CommandID] {
			t.Errorf("output line %d: command_id %q is empty or repeated", i+1, c.Data.CommandID)
		}
		ids[c.Data.CommandID] = true
		if !strings.HasSuffix(c.Subject, "."+c.Data.OrderID) {
			t.Errorf("output line %d: subject %q does not end in order %q", i+1, c.Subject, c.Data.OrderID)
		}
		for _, a := range c.Data.Articles {
			if !rules.ValidCitation(a) {
				t.Errorf("output line %d: %q is not a citation of the rules text", i+1, a)
			}
		}
		cmds = append(cmds, c)
	}
	for i, c := range cmds {
		if !strings.HasPrefix(c.Subject, rules.SubjectRuling+".") {
			if strings.HasPrefix(c.Subject, rules.SubjectTransfer+".") && !slices.ContainsFunc(cmds[:i], func(r wireCommand) bool {
				return r.Data.RulingID == c.Data.RulingID && strings.HasPrefix(r.Subject, rules.SubjectRuling+".")
			}) {
				t.Errorf("output line %d: transfer %s comes before or without its ruling", i+1, c.Data.CommandID)
			}
			continue
		}
		d := c.Data
		if d.RefundAmount == nil || d.ProviderAmount == nil || d.Amount == nil || len(d.Articles) == 0 {
			t.Errorf("output line %d: ruling %s lacks amounts or articles", i+1, d.RulingID)
			continue
		}
		refund, provider, amount := *d.RefundAmount, *d.ProviderAmount, *d.Amount
		var transfers []wireCommand
		for _, x := range cmds[i+1:] {
			if strings.HasPrefix(x.Subject, rules.SubjectTransfer+".") && x.Data.RulingID == d.RulingID {
				transfers = append(transfers, x)
			}
		}
		if d.Outcome == string(rules.Escalated) {
			if refund != 0 || provider != 0 || len(transfers) != 0 {
				t.Errorf("output line %d: escalated ruling %s moves money", i+1, d.RulingID)
			}
			continue
		}
		if refund < 0 || provider < 0 || refund+provider != amount {
			t.Errorf("output line %d: ruling %s splits %d into %d + %d", i+1, d.RulingID, amount, refund, provider)
		}
		want := map[string]int64{}
		if refund > 0 {
			want["customer"] = refund
		}
		if provider > 0 {
			want["provider"] = provider
		}
		got := map[string]int64{}
		for _, x := range transfers {
			if x.Data.Amount == nil || *x.Data.Amount <= 0 || x.Data.Currency != d.Currency || x.Data.TransferID != x.Data.CommandID {
				t.Errorf("ruling %s: bad transfer %+v", d.RulingID, x.Data)
				continue
			}
			got[x.Data.To] += *x.Data.Amount
		}
		if len(got) != len(want) || got["customer"] != want["customer"] || got["provider"] != want["provider"] {
			t.Errorf("ruling %s (%d to the customer, %d to the provider): transfers %v", d.RulingID, refund, provider, got)
		}
		var byAmounts string
		switch refund {
		case amount:
			byAmounts = string(rules.RefundFull)
		case 0:
			byAmounts = string(rules.Release)
		default:
			byAmounts = string(rules.RefundPartial)
		}
		if d.Outcome != string(rules.Settled) && d.Outcome != byAmounts {
			t.Errorf("ruling %s: outcome %s, but the amounts make it %s", d.RulingID, d.Outcome, byAmounts)
		}
	}
}

// TestBinaryMalformedLines runs the built command as a process: the exit
// status of a file with malformed lines is 1, stderr names each line, and
// the other lines are still decided.
func TestBinaryMalformedLines(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH to build the binary")
	}
	bin := filepath.Join(t.TempDir(), "disputed")
	build := exec.CommandContext(t.Context(), gobin, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	s := storyCase{name: "malformed_lines", file: filepath.Join(storyDir, "malformed_lines.jsonl")}
	cmd := exec.CommandContext(t.Context(), bin, s.cmdline()...)
	cmd.Env = []string{} // no DISPUTED_* settings from the machine
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want exit status 1\nstderr:\n%s", err, errOut.Bytes())
	}
	for _, want := range []string{"line 2: ", "line 3: ", "line 5: ", "line 6: ", "4 malformed line(s) skipped"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.Bytes())
		}
	}
	for _, good := range []string{"line 1: ", "line 4: ", "line 7: ", "disputed: "} {
		if strings.Contains(errOut.String(), good) {
			t.Errorf("stderr has %q:\n%s", good, errOut.Bytes())
		}
	}
	compareGolden(t, "stdout", s.path(".golden"), out.Bytes())
}

// Events for the CLI tests.
const (
	evPaid    = `{"specversion":"1.0","id":"evt-c1","source":"order-service","type":"order.paid","time":"2026-03-01T00:00:00Z","subject":"ord-cli-1","data":{"customer_id":"mer-1","provider_id":"sp-1","category":"other","amount":10000,"currency":"EUR"}}`
	evRefund  = `{"specversion":"1.0","id":"evt-c2","source":"refund-service","type":"refund.requested","time":"2026-03-02T00:00:00Z","subject":"ord-cli-1","data":{"reason":"not_delivered"}}`
	evIntervn = `{"specversion":"1.0","id":"evt-c3","source":"refund-service","type":"intervention.requested","time":"2026-03-03T00:00:00Z","subject":"ord-cli-1","data":{"by":"customer"}}`
	evSettle  = `{"specversion":"1.0","id":"evt-c4","source":"refund-service","type":"settlement.agreed","time":"2026-03-04T00:00:00Z","subject":"ord-cli-1","data":{"refund_amount":2500}}`
)

func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

func TestCLI(t *testing.T) {
	dir := t.TempDir()
	settleFile := filepath.Join(dir, "settle.jsonl")
	if err := os.WriteFile(settleFile, []byte(lines(evPaid, evRefund, evSettle)), 0o644); err != nil {
		t.Fatal(err)
	}
	settled := runCLI(t, t.Context(), []string{"replay", settleFile}, noEnv, nil)
	if settled.err != nil || !bytes.Contains(settled.stdout, []byte(`"outcome":"settled"`)) {
		t.Fatalf("replay %s: %v\n%s%s", settleFile, settled.err, settled.stdout, settled.stderr)
	}
	// An evidence deadline of 72 hours from the intervention at 03-03.
	openFile := filepath.Join(dir, "open.jsonl")
	if err := os.WriteFile(openFile, []byte(lines(evPaid, evRefund, evIntervn)), 0o644); err != nil {
		t.Fatal(err)
	}
	tooLong := `{"specversion":"1.0","id":"evt-big","source":"chat-service","type":"chat.message","time":"2026-03-03T00:00:00Z","subject":"ord-cli-1","data":{"from":"customer","text":"` +
		strings.Repeat("x", rules.MaxEventSize) + `"}}`

	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		stdin      string
		wantCode   int
		noStdout   bool     // stdout must be empty
		sameAs     []byte   // stdout must equal these bytes
		stdoutHas  []string // substrings of stdout
		stdoutNot  []string
		stderrHas  []string
		stderrNone bool
		errHas     string // in the error main prints
	}{
		{name: "no command", args: nil, wantCode: 2, stderrHas: []string{"usage: disputed"}},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, stderrHas: []string{"usage: disputed"}},
		{name: "help", args: []string{"help"}, wantCode: 0, stdoutHas: []string{"replay [--until TIME] [FILE]"}},
		{name: "replay help", args: []string{"replay", "-h"}, wantCode: 0, stderrHas: []string{"usage: disputed replay"}},
		{name: "unknown flag", args: []string{"replay", "--frob", settleFile}, wantCode: 2, stderrNone: true, errHas: "flag provided but not defined: -frob"},
		{name: "bad until", args: []string{"replay", "--until", "next tuesday", settleFile}, wantCode: 2},
		{name: "until without zone", args: []string{"replay", "--until", "2026-03-20T00:00:00", settleFile}, wantCode: 2},
		{name: "two files", args: []string{"replay", settleFile, settleFile}, wantCode: 2},
		{name: "missing file", args: []string{"replay", filepath.Join(dir, "nope.jsonl")}, wantCode: 1},
		{name: "bad evidence window env", args: []string{"replay", settleFile}, env: map[string]string{"DISPUTED_EVIDENCE_WINDOW": "three days"}, wantCode: 2},
		{name: "zero modification window flag", args: []string{"replay", "--modification-window", "0s", settleFile}, wantCode: 2},
		{name: "stdin with dash", args: []string{"replay", "-"}, stdin: lines(evPaid, evRefund, evSettle), sameAs: settled.stdout, stderrNone: true},
		{name: "stdin without file", args: []string{"replay"}, stdin: lines(evPaid, evRefund, evSettle), sameAs: settled.stdout, stderrNone: true},
		{name: "empty input", args: []string{"replay", "-"}, stdin: "", noStdout: true, stderrNone: true},
		{
			name:   "blank lines skipped",
			args:   []string{"replay", "-"},
			stdin:  "\n" + evPaid + "\n\n   \n\t\r\n" + evRefund + "\r\n\n" + evSettle, // no final newline
			sameAs: settled.stdout, stderrNone: true,
		},
		{
			name:  "blank lines still count for line numbers",
			args:  []string{"replay", "-"},
			stdin: lines(evPaid, "", "", "{oops", evRefund, evSettle), wantCode: 1,
			sameAs: settled.stdout, stderrHas: []string{"line 4: invalid event", "1 malformed line(s) skipped"},
		},
		{
			name:  "line longer than MaxEventSize",
			args:  []string{"replay", "-"},
			stdin: lines(evPaid, evRefund, tooLong, evSettle), wantCode: 1,
			sameAs: settled.stdout, stderrHas: []string{"line 3: line too long", "1 malformed line(s) skipped"},
		},
		{
			name:  "long last line without newline",
			args:  []string{"replay", "-"},
			stdin: lines(evPaid, evRefund, evSettle) + tooLong, wantCode: 1,
			sameAs: settled.stdout, stderrHas: []string{"line 4: line too long"},
		},
		{
			name:      "until fires the evidence deadline",
			args:      []string{"replay", "--until", "2026-03-06T00:00:00Z", openFile},
			stdoutHas: []string{`"kind":"evidence_requested"`, `"outcome":"refund_full"`, `"decided_at":"2026-03-06T00:00:00Z"`},
		},
		{
			name:      "until just before the deadline fires nothing",
			args:      []string{"replay", "--until", "2026-03-05T23:59:59.999Z", openFile},
			stdoutHas: []string{`"kind":"evidence_requested"`}, stdoutNot: []string{`disputes.ruling`},
		},
		{
			name:      "evidence window flag",
			args:      []string{"replay", "--evidence-window", "24h", "--until", "2026-03-04T00:00:00Z", openFile},
			stdoutHas: []string{`"due":"2026-03-04T00:00:00Z"`, `"outcome":"refund_full"`},
		},
		{
			name:      "evidence window from the environment",
			args:      []string{"replay", "--until", "2026-03-04T00:00:00Z", openFile},
			env:       map[string]string{"DISPUTED_EVIDENCE_WINDOW": "24h"},
			stdoutHas: []string{`"due":"2026-03-04T00:00:00Z"`, `"outcome":"refund_full"`},
		},
		{
			name:      "flag beats the environment",
			args:      []string{"replay", "--evidence-window", "72h", "--until", "2026-03-04T00:00:00Z", openFile},
			env:       map[string]string{"DISPUTED_EVIDENCE_WINDOW": "24h"},
			stdoutHas: []string{`"due":"2026-03-06T00:00:00Z"`}, stdoutNot: []string{`disputes.ruling`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, t.Context(), tc.args, envOf(tc.env), strings.NewReader(tc.stdin))
			if r.code != tc.wantCode {
				t.Fatalf("exit %d (%v), want %d\nstderr:\n%.2000s", r.code, r.err, tc.wantCode, r.stderr)
			}
			if tc.wantCode == 2 && !errors.Is(r.err, errUsage) {
				t.Errorf("error %v does not wrap errUsage", r.err)
			}
			if tc.sameAs != nil && !bytes.Equal(r.stdout, tc.sameAs) {
				t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, tc.sameAs)
			}
			if (tc.noStdout || tc.wantCode == 2) && len(r.stdout) > 0 {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			for _, s := range tc.stdoutHas {
				if !bytes.Contains(r.stdout, []byte(s)) {
					t.Errorf("stdout lacks %s:\n%s", s, r.stdout)
				}
			}
			for _, s := range tc.stdoutNot {
				if bytes.Contains(r.stdout, []byte(s)) {
					t.Errorf("stdout has %s:\n%s", s, r.stdout)
				}
			}
			for _, s := range tc.stderrHas {
				if !bytes.Contains(r.stderr, []byte(s)) {
					t.Errorf("stderr lacks %q:\n%.2000s", s, r.stderr)
				}
			}
			if tc.stderrNone && len(r.stderr) > 0 {
				t.Errorf("stderr: %s", r.stderr)
			}
			if tc.errHas != "" && (r.err == nil || !strings.Contains(r.err.Error(), tc.errHas)) {
				t.Errorf("error %v, want one saying %q", r.err, tc.errHas)
			}
			if len(tc.args) > 0 && tc.args[0] == "replay" && len(r.stdout) > 0 {
				checkCommands(t, r.stdout)
			}
		})
	}
}

// TestReplayDeterministic replays the same input twice, each scenario and
// all of them in one stream, and wants the same bytes: command IDs and
// timers may depend on nothing but the input.
func TestReplayDeterministic(t *testing.T) {
	var all bytes.Buffer
	for _, s := range scenarios(t) {
		b, err := os.ReadFile(s.file)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	inputs := map[string][]byte{"all scenarios in one stream": all.Bytes()}
	for _, s := range scenarios(t) {
		b, err := os.ReadFile(s.file)
		if err != nil {
			t.Fatal(err)
		}
		inputs[s.name] = b
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			args := []string{"replay", "--until", "2026-06-01T00:00:00Z", "-"}
			first := runCLI(t, t.Context(), args, noEnv, bytes.NewReader(in))
			second := runCLI(t, t.Context(), args, noEnv, bytes.NewReader(in))
			if len(first.stdout) == 0 {
				t.Fatal("no output")
			}
			if !bytes.Equal(first.stdout, second.stdout) || !bytes.Equal(first.stderr, second.stderr) || first.code != second.code {
				t.Errorf("two replays of the same input differ:\n%s\n---\n%s", first.stdout, second.stdout)
			}
		})
	}
}

// TestReplayCancelled stops a long input when the context is cancelled.
func TestReplayCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	in := strings.Repeat("\n", 5000)
	r := runCLI(t, ctx, []string{"replay", "-"}, noEnv, strings.NewReader(in))
	if !errors.Is(r.err, context.Canceled) || r.code != 1 {
		t.Fatalf("got %v (exit %d), want context.Canceled (exit 1)", r.err, r.code)
	}
}
