package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/internal/scenario"
	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/rules"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write the reviewers' console's screenshots to docs/console")

// e2eDir holds the Playwright test of the console, its package.json and
// lockfile; `npm ci` there installs Playwright (no browser: it drives
// Debian's Chromium).
var e2eDir = filepath.Join("..", "..", "inspect", "console", "e2e")

// browserTools returns the Chromium to drive, or skips the test (fails it
// in CI) when a tool the browser test needs is missing.
func browserTools(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") != "" {
			t.Fatalf("CI runs the console's browser test: %s", msg)
		}
		t.Skipf("skipped: %s", msg)
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing("no Chromium at %s (apt-get install chromium, or set CHROMIUM; .ci/run installs it): %v", chromium, err)
	}
	if _, err := exec.LookPath("npx"); err != nil {
		missing("npx is not installed (Node.js and npm): %v", err)
	}
	if _, err := os.Stat(filepath.Join(e2eDir, "node_modules", "@playwright", "test", "package.json")); err != nil {
		missing("Playwright is not installed: run `npm ci` in inspect/console/e2e (.ci/run does)")
	}
	return chromium
}

// TestConsoleBrowser drives the reviewers' console in a real browser
// (Playwright and headless Chromium) through the whole path, on disputed
// running against real servers: log in, the queue, a dispute, a preview,
// the decision submitted, its ruling shown. The decision must then be on
// Kafka once, as a review.decided event from console/alice on the order's
// partition, and its ruling and transfers on JetStream.
func TestConsoleBrowser(t *testing.T) {
	chromium := browserTools(t)
	kf := testserver.StartKafka(t, 2, "orders", "deliveries", "chats", "refund-requests", "disputes.dlq")
	rd := testserver.StartRedis(t)
	ns := testserver.StartNATS(t)
	const token = "console-e2e-t0ken"
	env := map[string]string{"DISPUTED_API_TOKEN": token}
	var logs syncBuffer
	// Registered first, so it runs after startRun's cleanup has stopped
	// disputed and its log is whole.
	t.Cleanup(func() {
		if strings.Contains(logs.String(), token) {
			t.Errorf("the API token is in disputed's log")
		}
	})
	base := startRun(t, kf, rd, ns, env, &logs,
		"--idle", "300ms", "--redis-prefix", "console", "--log-format", "json", "--log-level", "debug")
	ctx := t.Context()
	waitHTTP(t, base+"/readyz", 200, 30*time.Second)

	// Stories that end escalated, without the reviewer's decision that
	// ends them in internal/scenario.
	const order = "ord-20260306-1006"
	var msgs []kafka.Message
	ss, err := scenario.Get("reference_evidence_escalated", "image_design_custom_contract", "video_customer_termination")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		for _, l := range s.Lines() {
			var e struct{ Type, Subject string }
			if err := json.Unmarshal(l, &e); err != nil {
				t.Fatal(err)
			}
			if e.Type != string(rules.TypeReviewDecided) {
				msgs = append(msgs, kafka.Message{Topic: rules.Type(e.Type).Topic(), Key: []byte(e.Subject), Value: l})
			}
		}
	}
	// And one whose parties wrote markup, which the console must show as
	// text.
	const xss = "ord-console-xss"
	at := func(d time.Duration) string { return time.Now().UTC().Add(-d).Format(time.RFC3339) }
	ev := func(id, typ string, ago time.Duration, data any) {
		b, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "test", "type": typ, "time": at(ago), "subject": xss, "data": data})
		msgs = append(msgs, kafka.Message{Topic: rules.Type(typ).Topic(), Key: []byte(xss), Value: b})
	}
	day := 24 * time.Hour
	ev("x1", "order.paid", 10*day, map[string]any{"customer_id": "mer-x", "provider_id": "sp-x", "category": "software_app", "amount": 9900, "currency": "CNY"})
	ev("x2", "refund.requested", 9*day, map[string]any{"reason": "quality"})
	ev("x3", "intervention.requested", 9*day, map[string]any{"by": "customer"})
	ev("x4", "chat.message", 8*day+time.Hour, map[string]any{"from": "provider", "text": `<script>window.__xss = 2</script>`})
	ev("x5", "evidence.submitted", 8*day, map[string]any{"party": "customer", "kind": "reference", "note": `<img id="xss-probe" src=x onerror="window.__xss = 1">`})
	kf.Produce(ctx, t, msgs...)

	bearer := "Bearer " + token
	testserver.WaitUntil(t, 60*time.Second, "four disputes escalated", func() bool {
		code, body := apiGet(t, base+"/v1/disputes?status=escalated", bearer)
		var list struct{ Items []rules.Summary }
		return code == 200 && json.Unmarshal([]byte(body), &list) == nil && len(list.Items) == 4
	})
	_, body := apiGet(t, base+"/v1/disputes/"+order, bearer)
	var view struct{ Partition int }
	json.Unmarshal([]byte(body), &view)

	shots := t.TempDir()
	if *updateScreenshots {
		shots = filepath.Join("..", "..", "docs", "console")
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	absShots, _ := filepath.Abs(shots)
	pctx, pcancel := context.WithTimeout(ctx, 3*time.Minute)
	defer pcancel()
	cmd := exec.CommandContext(pctx, "npx", "--no", "playwright", "test")
	cmd.Dir = e2eDir
	cmd.Env = append(os.Environ(),
		"DISPUTED_URL="+base, "DISPUTED_TOKEN="+token, "DISPUTED_ORDER="+order, "DISPUTED_XSS_ORDER="+xss,
		"SCREENSHOT_DIR="+absShots, "CHROMIUM="+chromium, "PLAYWRIGHT_OUTPUT_DIR="+t.TempDir(),
		"PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
	// Playwright starts Chromium and its helpers: all of them go when the
	// test gives up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("playwright took %v:\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) || pctx.Err() != nil {
			t.Fatalf("the browser test failed: %v", err)
		}
		t.Fatalf("npx playwright test: %v", err)
	}

	// The decision is one event on Kafka, on the order's partition, from
	// the reviewer.
	var decisions []kafka.Message
	for _, m := range kf.ReadAll(ctx, t, "refund-requests", 2) {
		e, err := rules.Decode(m.Value)
		if err == nil && e.Type == rules.TypeReviewDecided && e.OrderID == order {
			decisions = append(decisions, m)
		}
	}
	if len(decisions) != 1 {
		t.Fatalf("%d review.decided events for %s on Kafka, want 1 (one click, one event)", len(decisions), order)
	}
	m := decisions[0]
	e, _ := rules.Decode(m.Value)
	if string(m.Key) != order || m.Partition != view.Partition || e.Source != "console/alice" ||
		e.Data.RefundAmount != 15000 || strings.Join(e.Data.Articles, ",") != "c2.a3,c2.a9" {
		t.Errorf("the decision: key %q, partition %d (the order is in %d): %s", m.Key, m.Partition, view.Partition, m.Value)
	}
	// Its ruling and transfers are on JetStream.
	nc := ns.Conn()
	want := map[string]bool{
		order + "/event:" + e.ID + "/ruling":            false,
		order + "/event:" + e.ID + "/transfer/customer": false,
		order + "/event:" + e.ID + "/transfer/provider": false,
	}
	testserver.WaitUntil(t, 30*time.Second, "the ruling and transfers on JetStream", func() bool {
		for _, stream := range []string{"DISPUTES", "FINANCE"} {
			for _, msg := range testserver.Messages(ctx, t, nc, stream) {
				if _, ok := want[msg.MsgID]; ok {
					want[msg.MsgID] = true
				}
			}
		}
		for _, seen := range want {
			if !seen {
				return false
			}
		}
		return true
	})
}
