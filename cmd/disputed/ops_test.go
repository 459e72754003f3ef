package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/internal/opsmetrics"
	"github.com/disputed/disputed/internal/testevent"
	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/rules"
)

// disputeView is what the test reads of GET /v1/disputes/{order_id}.
type disputeView struct {
	Status      rules.Status       `json:"status"`
	Obligations []rules.Obligation `json:"obligations"`
	Timeline    []struct {
		Kind string `json:"kind"`
		Type string `json:"type"`
	} `json:"timeline"`
	State rules.State `json:"state"`
}

// TestOperations runs disputed against real servers, drives a few stories
// and checks what SREs and reviewers see: /readyz, /metrics and the /v1 API.
func TestOperations(t *testing.T) {
	kf := testserver.StartKafka(t, 2, "orders", "deliveries", "chats", "refund-requests", "disputes.dlq")
	rd := testserver.StartRedis(t)
	ns := testserver.StartNATS(t)
	const token = "s3cret-token"
	env := map[string]string{"DISPUTED_API_TOKEN": token}
	base := startRun(t, kf, rd, ns, env, io.Discard,
		"--evidence-window", "5s", "--idle", "300ms", "--redis-prefix", "ops", "--log-level", "warn")
	ctx := t.Context()
	waitHTTP(t, base+"/readyz", 200, 20*time.Second)

	now := time.Now().UTC()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339Nano) }
	ev := func(order, id, typ string, d time.Duration, data string) kafka.Message {
		return testevent.Message(id, "test", rules.Type(typ), now.Add(d), order, data)
	}
	paid := `{"customer_id":"mer-1","provider_id":"sp-1","category":"software_app","amount":10000,"currency":"CNY"}`
	kf.Produce(ctx, t,
		// A: under review, the provider must prove delivery.
		ev("ord-a", "a1", "order.paid", -time.Hour, paid),
		ev("ord-a", "a2", "refund.requested", -50*time.Minute, `{"reason":"not_delivered"}`),
		ev("ord-a", "a3", "intervention.requested", -time.Second, `{"by":"customer"}`),
		// B: settled.
		ev("ord-b", "b1", "order.paid", -time.Hour, paid),
		ev("ord-b", "b2", "refund.requested", -50*time.Minute, `{"reason":"quality"}`),
		ev("ord-b", "b3", "settlement.agreed", -40*time.Minute, `{"refund_amount":2500}`),
		// C: only reference evidence by the deadline: escalated.
		ev("ord-c", "c1", "order.paid", -time.Hour, paid),
		ev("ord-c", "c2", "refund.requested", -50*time.Minute, `{"reason":"quality"}`),
		ev("ord-c", "c3", "intervention.requested", -40*time.Minute, `{"by":"customer"}`),
		ev("ord-c", "c4", "evidence.submitted", -40*time.Minute, `{"party":"customer","kind":"reference"}`),
		// Malformed: dead-lettered.
		kafka.Message{Topic: "orders", Key: []byte("ord-x"), Value: []byte(`{"specversion":"1.0"`)},
	)
	// A chat message on the orders topic: dead-lettered (v2: a topic's
	// writer sends only its own types), and counted as misrouted.
	misrouted := ev("ord-b", "b4", "chat.message", -30*time.Minute, `{"from":"customer","text":"thanks"}`)
	misrouted.Topic = "orders"
	kf.Produce(ctx, t, misrouted)

	t.Run("auth", func(t *testing.T) {
		for _, h := range []string{"", "Bearer wrong", "Basic " + token, token} {
			if code, body := apiGet(t, base+"/v1/disputes/ord-a", h); code != http.StatusUnauthorized || !strings.Contains(body, `"code": "unauthorized"`) {
				t.Errorf("Authorization %q: %d %s, want 401 with a JSON error", h, code, body)
			}
		}
		if code, _ := apiGet(t, base+"/metrics", ""); code != 200 {
			t.Errorf("/metrics without a token: %d, want 200", code)
		}
	})

	bearer := "Bearer " + token
	var view disputeView
	testserver.WaitUntil(t, 20*time.Second, "dispute A under review", func() bool {
		code, body := apiGet(t, base+"/v1/disputes/ord-a", bearer)
		return code == 200 && json.Unmarshal([]byte(body), &view) == nil && view.Status == rules.StatusUnderReview
	})

	t.Run("obligations and timeline", func(t *testing.T) {
		if len(view.Obligations) == 0 || view.Obligations[0].Party != rules.Provider || view.Obligations[0].Due == nil ||
			!slices.Contains(view.Obligations[0].Articles, rules.C1S4A3) {
			t.Errorf("obligations = %+v, want the provider's evidence, with a due time, citing c1.s4.a3", view.Obligations)
		}
		var kinds []string
		for _, e := range view.Timeline {
			kinds = append(kinds, e.Kind+":"+e.Type)
		}
		want := "event:order.paid,event:refund.requested,event:intervention.requested,command:"
		if strings.Join(kinds, ",") != want {
			t.Errorf("timeline = %v, want %s", kinds, want)
		}
		if code, _ := apiGet(t, base+"/v1/disputes/ord-nope", bearer); code != 404 {
			t.Errorf("unknown order: %d, want 404", code)
		}
		if code, _ := apiGet(t, base+"/v1/disputes/bad.id", bearer); code != 400 {
			t.Errorf("bad order ID: %d, want 400", code)
		}
	})

	t.Run("preview changes nothing", func(t *testing.T) {
		evidence := fmt.Sprintf(`{"specversion":"1.0","id":"a4","source":"test","type":"evidence.submitted","time":%q,"subject":"ord-a","data":{"party":"provider","kind":"valid"}}`, at(0))
		code, body := apiPost(t, base+"/v1/disputes/ord-a/preview", bearer, evidence)
		var pv struct {
			Commands []struct {
				Subject string
				Data    rules.Ruling
			}
			StatusAfter rules.Status `json:"status_after"`
		}
		if code != 200 || json.Unmarshal([]byte(body), &pv) != nil {
			t.Fatalf("preview: %d %s", code, body)
		}
		if pv.StatusAfter != rules.StatusRuled || len(pv.Commands) == 0 || pv.Commands[0].Data.Outcome != rules.Release {
			t.Errorf("preview = %s, want a release", body)
		}
		var after disputeView
		_, body = apiGet(t, base+"/v1/disputes/ord-a", bearer)
		json.Unmarshal([]byte(body), &after)
		if after.Status != rules.StatusUnderReview || after.State.Version != view.State.Version {
			t.Errorf("after a preview: status %s version %d, want under_review version %d", after.Status, after.State.Version, view.State.Version)
		}
		if code, _ := apiPost(t, base+"/v1/disputes/ord-b/preview", bearer, evidence); code != 400 {
			t.Errorf("preview with another order's event: %d, want 400", code)
		}
		if code, _ := apiPost(t, base+"/v1/disputes/ord-a/preview", bearer, strings.Repeat("x", 1<<20+10)); code != 413 && code != 400 {
			t.Errorf("oversized preview: %d, want 413", code)
		}
	})

	t.Run("reviewers' queue", func(t *testing.T) {
		var list struct{ Items []rules.Summary }
		testserver.WaitUntil(t, 20*time.Second, "dispute C escalated", func() bool {
			code, body := apiGet(t, base+"/v1/disputes?status=escalated", bearer)
			return code == 200 && json.Unmarshal([]byte(body), &list) == nil && len(list.Items) == 1
		})
		if it := list.Items[0]; it.OrderID != "ord-c" || it.Reason != rules.ReasonQuality || it.Awaiting == nil || it.Awaiting.Party != rules.Platform {
			t.Errorf("escalated queue = %+v, want ord-c awaiting the platform", list.Items)
		}
		if code, _ := apiGet(t, base+"/v1/disputes?status=ruled", bearer); code != 400 {
			t.Errorf("list of a closed status: %d, want 400", code)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		var body string
		testserver.WaitUntil(t, 20*time.Second, "the dead letter is counted", func() bool {
			_, body = apiGet(t, base+"/metrics", "")
			return strings.Contains(body, `result="dead_lettered"`)
		})
		for _, want := range []string{
			`disputed_open_disputes{status="under_review"} 1`,
			`disputed_open_disputes{status="escalated"} 1`,
			`disputed_rulings_total{category="software_app",outcome="settled"} 1`,
			`disputed_transfer_amount_minor_total{currency="CNY",to="customer"} 2500`,
			`disputed_events_total{result="applied",topic="` + kf.Topic("orders") + `",type="order.paid"} 3`,
			`disputed_api_requests_total{code="401",route="get_dispute"} 4`,
			`disputed_partitions_owned 2`,
			"disputed_build_info{",
			"disputed_deadline_lateness_seconds_count",
			"go_goroutines",
			"process_cpu_seconds_total",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})

	t.Run("every metric of the alerts and the dashboard is served", func(t *testing.T) {
		used, err := opsmetrics.UsedMetrics("../..")
		if err != nil {
			t.Fatal(err)
		}
		var body string
		testserver.WaitUntil(t, 20*time.Second, "the misrouted event is counted", func() bool {
			_, body = apiGet(t, base+"/metrics", "")
			return strings.Contains(body, "disputed_events_misrouted_total{")
		})
		// The chat on the orders topic, and nothing else: the topics are
		// named by flags (prefixed on the real broker), and an event on
		// its type's configured topic is not misrouted, whatever the
		// default names are.
		var misrouted []string
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, "disputed_events_misrouted_total{") {
				misrouted = append(misrouted, line)
			}
		}
		if want := `disputed_events_misrouted_total{topic="` + kf.Topic("orders") + `",type="chat.message"} 1`; len(misrouted) != 1 || misrouted[0] != want {
			t.Errorf("misrouted series %q, want only %s", misrouted, want)
		}
		served := make(map[string]bool)
		for _, line := range strings.Split(body, "\n") {
			if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
				served[strings.Fields(name)[0]] = true
			}
		}
		for _, name := range used {
			if !served[name] {
				t.Errorf("deploy/ uses %s, which disputed does not serve", name)
			}
		}
		if len(used) < 20 {
			t.Errorf("deploy/ uses only %d metrics: the scan looks broken", len(used))
		}
	})

	if code, body := apiGet(t, base+"/readyz", ""); code != 200 {
		t.Errorf("/readyz = %d %s at the end", code, body)
	}
}

func apiGet(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	return do(t, http.MethodGet, url, auth, "")
}

func apiPost(t *testing.T, url, auth, body string) (int, string) {
	t.Helper()
	return do(t, http.MethodPost, url, auth, body)
}

func do(t *testing.T, method, url, auth, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func waitHTTP(t *testing.T, url string, want int, within time.Duration) {
	t.Helper()
	testserver.WaitUntil(t, within, url+" answers", func() bool {
		code, _ := apiGet(t, url, "")
		return code == want
	})
}

// startRun runs `disputed run` on the tests' servers, with its topics and
// group, the environment env and the flags given, until the test ends (it
// fails the test if run returns an error). It returns the base URL of its
// HTTP server, which may not answer yet.
func startRun(t *testing.T, kf *testserver.Kafka, rd *testserver.Redis, ns *testserver.NATS, env map[string]string, logs io.Writer, flags ...string) string {
	t.Helper()
	addr := freeAddr(t)
	args := append([]string{"run",
		"--kafka-brokers", strings.Join(kf.Brokers, ","), "--redis-url", "redis://" + rd.Addr, "--nats-url", ns.URL,
		"--topic-orders", kf.Topic("orders"), "--topic-deliveries", kf.Topic("deliveries"), "--topic-chats", kf.Topic("chats"),
		"--topic-refund-requests", kf.Topic("refund-requests"), "--topic-dlq", kf.Topic("disputes.dlq"), "--group", kf.Group("disputed"),
		"--http-addr", addr,
	}, flags...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, func(k string) string { return env[k] }, nil, io.Discard, logs)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run returned %v", err)
		}
	})
	return "http://" + addr
}

func freeAddr(t *testing.T) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(testserver.FreePort(t)))
}
