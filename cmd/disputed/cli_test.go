package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/internal/demo"
	"github.com/disputed/disputed/internal/follow"
	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/producer"
	"github.com/disputed/disputed/rules"
)

func TestVersionOf(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	bi := func(v string, settings []debug.BuildSetting) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Path: "github.com/disputed/disputed", Version: v}, Settings: settings}
	}
	tests := []struct {
		name    string
		stamped string
		bi      *debug.BuildInfo
		ok      bool
		want    string
	}{
		{"stamped at link time", "v1.2.3", bi("v0.0.0-20261130085125-2561fdcd7d2b+dirty", nil), true, "v1.2.3"},
		{"a tagged build", "", bi("v1.2.3", nil), true, "v1.2.3"},
		{"a pseudo-version of the commit", "", bi("v0.0.0-20261130085125-2561fdcd7d2b+dirty", nil), true, "v0.0.0-20261130085125-2561fdcd7d2b+dirty"},
		{"(devel) with the commit", "", bi("(devel)", vcs("vcs", "git", "vcs.revision", "2561fdcd7d2b9a3e", "vcs.modified", "true")), true, "rev-2561fdcd7d2b-dirty"},
		{"(devel) with a clean commit", "", bi("(devel)", vcs("vcs.revision", "2561fdcd7d2b9a3e", "vcs.modified", "false")), true, "rev-2561fdcd7d2b"},
		{"(devel) alone", "", bi("(devel)", nil), true, "unknown"},
		{"no build info", "", nil, false, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionOf(tt.stamped, tt.bi, tt.ok); got != tt.want {
				t.Errorf("versionOf = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestVersionCommand: `disputed version` and `--version` print the version,
// and disputed_build_info shows the same.
func TestVersionCommand(t *testing.T) {
	old := buildVersion
	buildVersion = "v9.8.7-test"
	t.Cleanup(func() { buildVersion = old })
	for _, arg := range []string{"version", "--version"} {
		var out strings.Builder
		if err := run(t.Context(), []string{arg}, env(nil), strings.NewReader(""), &out, io.Discard); err != nil {
			t.Fatalf("%s: %v", arg, err)
		}
		if !strings.HasPrefix(out.String(), "disputed v9.8.7-test (go") {
			t.Errorf("%s printed %q", arg, out.String())
		}
	}
	reg := newRegistry()
	want := `
# HELP disputed_build_info Always 1; the labels say which build is running.
# TYPE disputed_build_info gauge
disputed_build_info{goversion="` + goVersion() + `",version="v9.8.7-test"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "disputed_build_info"); err != nil {
		t.Error(err)
	}
}

func goVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return bi.GoVersion
}

// TestVersionStampedInTheBinary builds the binary as the Makefile does, and
// as go build does without flags: neither says (devel).
func TestVersionStampedInTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	for _, tt := range []struct {
		name  string
		flags []string
		want  *regexp.Regexp
	}{
		{"ldflags", []string{"-ldflags", "-X main.buildVersion=v1.2.3-test"}, regexp.MustCompile(`^disputed v1\.2\.3-test \(go`)},
		// go build stamps a pseudo-version of the commit in a Git work
		// tree; outside one (a source archive) the version is unknown.
		{"plain go build", nil, regexp.MustCompile(`^disputed (v\S+|unknown) \(go`)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bin := filepath.Join(dir, tt.name)
			build := exec.Command("go", append(append([]string{"build"}, tt.flags...), "-o", bin, ".")...)
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			out, err := exec.Command(bin, "version").Output()
			if err != nil || !tt.want.Match(out) || strings.Contains(string(out), "(devel)") {
				t.Errorf("%s version = %q, %v; want %v", tt.name, out, err, tt.want)
			}
		})
	}
}

// TestBadFlagIsOneLine: a bad flag or value prints no list of flags, only
// the error and where the list is (the list is long, and would bury it).
func TestBadFlagIsOneLine(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--skew", "soon"},
		{"run", "--nope"},
		{"demo", "--max-batch", "lots"},
		{"replay", "--until"},
		{"tail", "--from-start=maybe"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stderr strings.Builder
			err := run(t.Context(), args, env(nil), strings.NewReader(""), io.Discard, &stderr)
			if exitCode(err) != 2 || !strings.Contains(err.Error(), `"disputed `+args[0]+` -h" lists the flags`) {
				t.Errorf("run = %v (exit %d), want a usage error pointing at -h", err, exitCode(err))
			}
			if stderr.Len() > 0 {
				t.Errorf("printed before the error:\n%s", stderr.String())
			}
		})
	}
	var stderr strings.Builder
	if err := run(t.Context(), []string{"run", "-h"}, env(nil), strings.NewReader(""), io.Discard, &stderr); err != nil {
		t.Fatalf("run -h = %v", err)
	}
	if !strings.Contains(stderr.String(), "usage: disputed run [flags]") || !strings.Contains(stderr.String(), "-embedded-kafka-port") {
		t.Errorf("run -h does not list the flags:\n%s", stderr.String())
	}
}

// TestQuickstartStoryIsTheREADMEs: the story `disputed run` prints to try
// it with is the README's, and the compose stack's in operations.md.
func TestQuickstartStoryIsTheREADMEs(t *testing.T) {
	for _, c := range []struct{ file, prefix string }{{"../../README.md", ""}, {"../../README.md", "ord-1|"}, {"../../docs/operations.md", "ord-1|"}} {
		b, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for line := range strings.Lines(string(b)) {
			line = strings.TrimSpace(line)
			if ev, ok := strings.CutPrefix(line, c.prefix); ok && strings.HasPrefix(ev, `{"specversion":"1.0","id":"e`) && strings.Contains(ev, `"subject":"ord-1"`) {
				got = append(got, ev)
			}
		}
		if !slices.Equal(got, demo.QuickstartStory) {
			t.Errorf("%s's story is\n%s\nnot\n%s", c.file, strings.Join(got, "\n"), strings.Join(demo.QuickstartStory, "\n"))
		}
	}
	for _, line := range demo.QuickstartStory {
		if _, err := rules.Decode([]byte(line)); err != nil {
			t.Errorf("%s: %v", line, err)
		}
	}
}

// TestFiveMinutePath follows what `disputed run` prints at its start on
// the embedded default, with its servers on the ports asked for: the kcat
// commands produce the README's story (here through kafka-go, as kcat would
// send it), the tail command prints the ruling, the curl command shows the
// dispute ruled.
func TestFiveMinutePath(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	kp, np, rp := testserver.FreePort(t), testserver.FreePort(t), testserver.FreePort(t)
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--embedded-kafka-port", fmt.Sprint(kp), "--embedded-nats-port", fmt.Sprint(np), "--embedded-redis-port", fmt.Sprint(rp),
			"--http-addr", "127.0.0.1:0", "--idle", "1s", "--shutdown-grace", "5s"}, env(nil), strings.NewReader(""), &stdout, &stderr)
	}()
	testserver.WaitUntil(t, 30*time.Second, "the commands to try it with", func() bool {
		select {
		case err := <-done:
			t.Fatalf("run returned: %v\n%s", err, stderr.String())
		default:
		}
		return strings.Contains(stdout.String(), "The reviewers' console")
	})
	out := stdout.String()
	t.Logf("printed:\n%s", out)
	broker, natsURL := fmt.Sprintf("127.0.0.1:%d", kp), fmt.Sprintf("nats://127.0.0.1:%d", np)
	for _, want := range []string{"\nkcat -P -b " + broker + " -t orders -K '|' <<'EOF'\n", "-t refund-requests", "nats --server " + natsURL + " sub 'disputes.>'",
		"tail --nats-url " + natsURL, "Redis 127.0.0.1:" + fmt.Sprint(rp)} {
		if !strings.Contains(out, want) {
			t.Errorf("the commands do not say %q", want)
		}
	}

	// kcat: each heredoc's lines, KEY|VALUE, to its topic.
	w := &kafka.Writer{Addr: kafka.TCP(broker), Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	// The heredocs are pasted as they are: their lines, EOF included,
	// must start at the first column.
	kcat := regexp.MustCompile(`(?m)^kcat -P -b (\S+) -t (\S+) -K '\|' <<'EOF'\n((?:ord-1\|.*\n)*?)EOF$`)
	sent := 0
	for _, m := range kcat.FindAllStringSubmatch(out, -1) {
		for line := range strings.Lines(m[3]) {
			key, value, _ := strings.Cut(strings.TrimSuffix(line, "\n"), "|")
			if err := w.WriteMessages(ctx, kafka.Message{Topic: m[2], Key: []byte(key), Value: []byte(value)}); err != nil {
				t.Fatalf("produce to %s: %v", m[2], err)
			}
			sent++
		}
	}
	if sent != len(demo.QuickstartStory) {
		t.Fatalf("the kcat commands send %d events, want the story's %d", sent, len(demo.QuickstartStory))
	}

	// disputed tail, as printed.
	tailArgs := strings.Fields(regexp.MustCompile(`(?m)^  .* tail (.*)$`).FindStringSubmatch(out)[1])
	var tailed syncBuffer
	tailDone := make(chan error, 1)
	go func() {
		tailDone <- run(ctx, append([]string{"tail"}, tailArgs...), env(nil), strings.NewReader(""), &tailed, io.Discard)
	}()
	testserver.WaitUntil(t, 30*time.Second, "tail prints the ruling and its transfers", func() bool {
		return strings.Contains(tailed.String(), "ruling    ord-1       refund_partial: customer 224.25 CNY, provider 74.75 CNY [c1.s4.a2 c1.s4.a3 c2.a9]") &&
			strings.Count(tailed.String(), "transfer  ord-1") == 2
	})
	if n := strings.Count(tailed.String(), "\n"); n != 4 {
		t.Errorf("tail printed %d lines, want the notice, the ruling and two transfers:\n%s", n, tailed.String())
	}

	// curl, as printed.
	url := regexp.MustCompile(`(?m)^  curl -s (http://\S+/v1/disputes/ord-1)$`).FindStringSubmatch(out)
	if url == nil {
		t.Fatalf("no curl command for the dispute in:\n%s", out)
	}
	code, body, err := get(url[1])
	var view struct{ Status string }
	if err != nil || code != 200 || json.Unmarshal([]byte(body), &view) != nil || view.Status != "ruled" {
		t.Errorf("GET %s = %d %s, %v; want the dispute ruled", url[1], code, body, err)
	}
	// Every curl printed answers: a command that 404s is a broken first
	// five minutes.
	curls := regexp.MustCompile(`(?m)^  curl -s '?(http://[^'\s]+)'?`).FindAllStringSubmatch(out, -1)
	if len(curls) < 3 {
		t.Errorf("%d curl commands printed, want the dispute, the queue and the OpenAPI document:\n%s", len(curls), out)
	}
	for _, c := range curls {
		if code, body, err := get(c[1]); err != nil || code != 200 {
			t.Errorf("printed curl %s = %d %.200s, %v; want 200", c[1], code, body, err)
		}
	}

	cancel()
	for _, c := range []chan error{done, tailDone} {
		select {
		case err := <-c:
			if err != nil {
				t.Errorf("after cancel: %v\n%s", err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Fatal("did not stop after cancel")
		}
	}
}

// TestTail: from the start, tail prints what the streams hold; from now,
// only what comes after it started; each command once.
func TestTail(t *testing.T) {
	n := testserver.StartNATS(t)
	pub, err := producer.NewNATS(n.Conn(), producer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.EnsureStreams(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := rules.NewReplay(rules.DefaultPolicy())
	var cmds []rules.Command
	sc := bufio.NewScanner(strings.NewReader(strings.Join(demo.QuickstartStory, "\n")))
	for sc.Scan() {
		e, err := rules.Decode(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		c, err := r.Apply(e)
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c...)
	}
	later, err := r.Advance(time.Date(2026, 3, 6, 0, 0, 0, 0, time.UTC))
	if err != nil || len(cmds) != 1 || len(later) != 3 {
		t.Fatalf("the story gives %d commands, then %d (%v); want the notice, then the ruling and two transfers", len(cmds), len(later), err)
	}
	if _, err := pub.Publish(t.Context(), cmds...); err != nil {
		t.Fatal(err)
	}
	streams := []string{"DISPUTES", "FINANCE"}

	follow := func(fromStart bool) (*syncBuffer, func()) {
		ctx, cancel := context.WithCancel(t.Context())
		var out syncBuffer
		done := make(chan error, 1)
		go func() { done <- follow.Tail(ctx, n.Conn(), streams, fromStart, &out, io.Discard) }()
		return &out, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("tail = %v", err)
			}
		}
	}
	all, stopAll := follow(true)
	now, stopNow := follow(false)
	js, err := jetstream.New(n.Conn())
	if err != nil {
		t.Fatal(err)
	}
	// Both tails have their consumers on both streams before more comes.
	testserver.WaitUntil(t, 10*time.Second, "the consumers of both tails", func() bool {
		for _, s := range streams {
			st, err := js.Stream(t.Context(), s)
			if err != nil {
				return false
			}
			info, err := st.Info(t.Context())
			if err != nil || info.State.Consumers < 2 {
				return false
			}
		}
		return true
	})
	if _, err := pub.Publish(t.Context(), append(later, cmds...)...); err != nil { // the notice again: printed once
		t.Fatal(err)
	}
	testserver.WaitUntil(t, 10*time.Second, "the ruling and its transfers", func() bool {
		return strings.Count(all.String(), "\n") == 4 && strings.Count(now.String(), "\n") == 3
	})
	stopAll()
	stopNow()
	if !strings.Contains(all.String(), "notice    ord-1       evidence_requested for provider, due 2026-03-05T12:00:00Z") {
		t.Errorf("from the start, tail printed:\n%s", all.String())
	}
	if strings.Contains(now.String(), "notice") || !strings.Contains(now.String(), "ruling    ord-1       refund_partial") {
		t.Errorf("from now, tail printed:\n%s", now.String())
	}
}
