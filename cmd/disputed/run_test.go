package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/disputed/disputed/internal/testserver"
	"github.com/segmentio/kafka-go"
)

// syncBuffer is what the service writes its log to while the test reads.
type syncBuffer struct{ testserver.Buffer }

// logLines returns the JSON log lines written so far.
func (s *syncBuffer) logLines() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.String()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// eventually calls f every 50ms until it returns nil or d passes, and
// returns its last error.
func eventually(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func get(url string) (int, string, error) {
	res, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// TestRunEmbedded runs `disputed run` on its in-process servers: it gets
// ready, counts an event it consumes, and shuts down cleanly when
// cancelled.
func TestRunEmbedded(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stderr syncBuffer
	const grace = 5 * time.Second
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--http-addr", "127.0.0.1:0", "--log-format", "json", "--shutdown-grace", grace.String()},
			env(nil), strings.NewReader(""), io.Discard, &stderr)
	}()

	var base, broker string
	err := eventually(20*time.Second, func() error {
		select {
		case err := <-done:
			return fmt.Errorf("run returned early: %v", err)
		default:
		}
		lines := stderr.logLines()
		if len(lines) == 0 {
			return errors.New("no log yet")
		}
		if !strings.Contains(lines[0]["msg"].(string), "embedded") || lines[0]["kafka_brokers"] == nil || lines[0]["nats_url"] == nil || lines[0]["redis_addr"] == nil {
			t.Fatalf("first log line does not give the embedded servers: %v", lines[0])
		}
		broker = lines[0]["kafka_brokers"].(string)
		for _, l := range lines {
			if a, ok := l["http_addr"].(string); ok {
				base = "http://" + a
				return nil
			}
		}
		return errors.New("no http_addr logged")
	})
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, stderr.String())
	}

	if code, body, err := get(base + "/healthz"); err != nil || code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q, %v", code, body, err)
	}
	err = eventually(20*time.Second, func() error {
		code, body, err := get(base + "/readyz")
		if err == nil && code != 200 {
			err = fmt.Errorf("/readyz = %d %s", code, body)
		}
		return err
	})
	if err != nil {
		t.Fatalf("not ready: %v\nlog:\n%s", err, stderr.String())
	}

	produce(t, broker, "orders", "ord-run-1", fmt.Sprintf(
		`{"specversion":"1.0","id":"evt-run-1","source":"test","type":"order.paid","time":%q,"subject":"ord-run-1",`+
			`"data":{"customer_id":"c","provider_id":"p","category":"other","amount":100,"currency":"CNY"}}`,
		time.Now().UTC().Format(time.RFC3339Nano)))
	err = eventually(20*time.Second, func() error {
		_, body, err := get(base + "/metrics")
		if err != nil {
			return err
		}
		for _, want := range []string{"disputed_build_info{", `disputed_events_total{result="applied",topic="orders",type="order.paid"} 1`} {
			if !strings.Contains(body, want) {
				return fmt.Errorf("/metrics has no %s", want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, stderr.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel = %v, want nil\nlog:\n%s", err, stderr.String())
		}
	case <-time.After(grace + time.Second):
		t.Fatalf("run did not return within the shutdown grace\nlog:\n%s", stderr.String())
	}
}

func produce(t *testing.T, broker, topic, key, value string) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(broker), Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	if err := w.WriteMessages(t.Context(), kafka.Message{Topic: topic, Key: []byte(key), Value: []byte(value)}); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// TestDemo runs `disputed demo` to its end.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()
	var stdout, stderr syncBuffer
	start := time.Now()
	if err := run(ctx, []string{"demo"}, env(nil), strings.NewReader(""), &stdout, &stderr); err != nil {
		t.Fatalf("demo = %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	t.Logf("demo took %v:\n%s", time.Since(start), out)
	for _, want := range []string{
		"  ruling    ord-demo-3  refund_full:", // the missed evidence deadline
		"  transfer  ord-demo-3  350.00 CNY to customer",
		"  ruling    ord-demo-5  escalated:",
		"  ruling    ord-demo-5  refund_partial:",
		"all 5 disputes decided",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output has no %q", want)
		}
	}
}

func TestRunPartialServersIsUsage(t *testing.T) {
	err := run(t.Context(), []string{"run", "--redis-url", "redis://r:6379"}, env(nil), strings.NewReader(""), io.Discard, io.Discard)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "missing --kafka-brokers, --nats-url") {
		t.Errorf("run = %v (exit %d), want a usage error naming the missing servers", err, exitCode(err))
	}
}
