package console

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/disputed/disputed/inspect"
	"github.com/disputed/disputed/internal/scenario"
	"github.com/disputed/disputed/internal/testserver"
	"github.com/disputed/disputed/rules"
)

// The test environment of the console: a read side with one order, a
// recording event writer, and an HTTP client with a cookie jar.

const (
	token = "t0ken-that-must-never-leak"
	order = "ord-20260306-1006"
	evtID = "console-0123456789abcdef0123456789abcdef"
)

var now = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// store is the read side: one order, in one partition, as the API and the
// console see it. It must be safe for concurrent use.
type store struct {
	mu        sync.Mutex
	st        rules.State
	partition int
	err       error
}

func (s *store) Find(_ context.Context, o string, _ int) (rules.State, int, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return rules.State{}, 0, false, s.err
	}
	if o != s.st.OrderID {
		return rules.State{}, 0, false, nil
	}
	return s.st, s.partition, true, nil
}

func (s *store) List(context.Context, []rules.Status, int, string, int) ([]rules.Summary, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return []rules.Summary{rules.SummaryOf(s.st)}, "", nil
}

func (s *store) Held(context.Context, string, int) ([]rules.Held, error) { return nil, nil }

func (s *store) OpenDisputes(context.Context, int) (map[rules.Status]int64, error) {
	return map[rules.Status]int64{}, nil
}

// written is one event the submitter was given.
type written struct {
	typ       rules.Type
	partition int
	key       string
	value     []byte
}

type submitter struct {
	mu   sync.Mutex
	got  []written
	fail error
}

func (s *submitter) WriteEvent(_ context.Context, typ rules.Type, partition int, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.got = append(s.got, written{typ, partition, key, bytes.Clone(value)})
	return nil
}

func (s *submitter) writes() []written {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// escalated is a real state: the story of reference evidence that ends
// escalated, without the reviewer's decision, as the engine leaves it.
func escalated(t *testing.T) rules.State {
	t.Helper()
	ss, err := scenario.Get("reference_evidence_escalated")
	if err != nil {
		t.Fatal(err)
	}
	r := rules.NewReplay(rules.DefaultPolicy())
	for _, l := range ss[0].Lines() {
		e, err := rules.Decode(l)
		if err != nil {
			t.Fatal(err)
		}
		if e.Type == rules.TypeReviewDecided {
			continue
		}
		if _, err := r.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Advance(time.Date(2026, 3, 13, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	st := r.State(order)
	if st.Status != rules.StatusEscalated {
		t.Fatalf("the story left %s %s, want escalated", order, st.Status)
	}
	return st
}

// env is a console on an httptest server, with its fakes and its log.
type env struct {
	srv  *httptest.Server
	st   *store
	sub  *submitter
	logs *testserver.Buffer // written by the console's goroutines while a test reads it
	cfg  Config
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	e := &env{st: &store{st: escalated(t), partition: 3}, sub: &submitter{}, logs: &testserver.Buffer{}}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return now }
	}
	e.cfg = cfg
	parts := func(context.Context) (int, error) { return 4, nil }
	api := inspect.NewAPI(e.st, rules.DefaultPolicy(), parts, inspect.Config{Token: cfg.Token, Open: cfg.Open}, nil)
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := New(cfg, api.Trusted(), e.st, parts, e.sub, log)
	mux := http.NewServeMux()
	c.Register(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// client is a browser: a cookie jar, no redirects followed.
func client(t *testing.T) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type answer struct {
	code   int
	header http.Header
	body   string
}

func (e *env) do(t *testing.T, c *http.Client, method, path, body string, headers ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, string(b)}
}

// login logs a reviewer in and returns the session's CSRF token.
func (e *env) login(t *testing.T, c *http.Client, reviewer string) string {
	t.Helper()
	a := e.do(t, c, "POST", "/console/api/login", `{"reviewer":"`+reviewer+`","token":"`+token+`"}`)
	if a.code != 200 {
		t.Fatalf("login: %d %s", a.code, a.body)
	}
	var s sessionView
	if err := json.Unmarshal([]byte(a.body), &s); err != nil || s.CSRFToken == "" || s.Reviewer != reviewer {
		t.Fatalf("login answered %s (%v)", a.body, err)
	}
	return s.CSRFToken
}

func decisionBody(refund int64, articles ...string) string {
	b, _ := json.Marshal(map[string]any{"event_id": evtID, "refund_amount": refund, "articles": articles, "note": "Two of five banners below the agreed resolution."})
	return string(b)
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
