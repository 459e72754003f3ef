package inspect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/disputed/disputed/docs"
	"github.com/disputed/disputed/internal/scenario"
	"github.com/disputed/disputed/rules"
)

// replayStore is a read side holding the states every scenario story ends
// in: disputes of every status, with rulings, deadlines and timelines.
type replayStore struct {
	states map[string]rules.State
	fail   bool // every call fails, as an unreachable Redis
}

var errDown = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func newReplayStore(t *testing.T) *replayStore {
	t.Helper()
	all, err := scenario.All()
	if err != nil {
		t.Fatal(err)
	}
	r := rules.NewReplay(rules.DefaultPolicy())
	orders := map[string]bool{}
	for _, s := range all {
		for _, line := range s.Lines() {
			e, err := rules.Decode(line)
			if err != nil {
				continue
			}
			if _, err := r.Apply(e); err == nil {
				orders[e.OrderID] = true
			}
		}
	}
	st := &replayStore{states: map[string]rules.State{}}
	for o := range orders {
		st.states[o] = r.State(o)
	}
	return st
}

func (s *replayStore) Find(_ context.Context, order string, _ int) (rules.State, int, bool, error) {
	if s.fail {
		return rules.State{}, 0, false, errDown
	}
	st, ok := s.states[order]
	return st, 3, ok, nil
}

func (s *replayStore) List(_ context.Context, statuses []rules.Status, _ int, after string, limit int) ([]rules.Summary, string, error) {
	if s.fail {
		return nil, "", errDown
	}
	if after == "bad" {
		return nil, "", fmt.Errorf("list: %w", rules.ErrBadCursor)
	}
	var out []rules.Summary
	for _, o := range slices.Sorted(mapKeys(s.states)) {
		st := s.states[o]
		if slices.Contains(statuses, st.Status) && len(out) < limit {
			sum := rules.SummaryOf(st)
			sum.Partition, sum.Since = 3, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
			out = append(out, sum)
		}
	}
	next := ""
	if len(out) == limit {
		next = "next-page"
	}
	return out, next, nil
}

func (s *replayStore) Held(_ context.Context, order string, _ int) ([]rules.Held, error) {
	st := s.states[order]
	if len(st.Rulings) == 0 {
		return nil, nil
	}
	r := st.Rulings[0]
	data, _ := json.Marshal(r)
	return []rules.Held{{CommandID: r.CommandID + "-again", Subject: rules.SubjectRuling + "." + order, Data: data,
		Reason: "the guard holds another final ruling of the order", At: time.Date(2026, 3, 9, 9, 0, 0, 0, time.UTC)}}, nil
}

func (s *replayStore) OpenDisputes(context.Context, int) (map[rules.Status]int64, error) {
	return map[rules.Status]int64{}, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// openAPIDoc is the OpenAPI document, read for its operations, and its
// schemas compiled on demand.
type openAPIDoc struct {
	raw struct {
		Paths      map[string]map[string]operation `json:"paths"`
		Components struct {
			Responses map[string]response `json:"responses"`
		} `json:"components"`
	}
	c *jsonschema.Compiler
}

type operation struct {
	OperationID string              `json:"operationId"`
	Security    *[]map[string]any   `json:"security"`
	Parameters  []map[string]any    `json:"parameters"`
	Responses   map[string]response `json:"responses"`
}

type response struct {
	Ref     string                     `json:"$ref"`
	Headers map[string]json.RawMessage `json:"headers"`
	Content map[string]json.RawMessage `json:"content"`
}

const docBase = "https://disputed.test/v1/"

func loadOpenAPI(t *testing.T) *openAPIDoc {
	t.Helper()
	d := &openAPIDoc{c: jsonschema.NewCompiler()}
	d.c.AssertFormat() // date-time, in the API's own views
	if err := json.Unmarshal(docs.OpenAPI(), &d.raw); err != nil {
		t.Fatal(err)
	}
	add := func(url string, b []byte) {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		if err := d.c.AddResource(url, doc); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
	}
	add(docBase+"openapi.json", docs.OpenAPI())
	for _, n := range docs.Schemas() {
		b, _ := docs.Schema(n)
		add(docBase+"schemas/"+n, b)
	}
	return d
}

// pointer escapes a JSON pointer token for a URL fragment.
func pointer(tokens ...string) string {
	var b strings.Builder
	for _, tok := range tokens {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
		b.WriteString("/" + url.PathEscape(tok))
	}
	return b.String()
}

// response returns the documented response of an operation for a status,
// its $ref resolved, and the JSON pointer of its object.
func (d *openAPIDoc) response(path, method string, status int) (response, []string, bool) {
	op, ok := d.raw.Paths[path][strings.ToLower(method)]
	if !ok {
		return response{}, nil, false
	}
	r, ok := op.Responses[fmt.Sprint(status)]
	if !ok {
		return response{}, nil, false
	}
	loc := []string{"paths", path, strings.ToLower(method), "responses", fmt.Sprint(status)}
	if name, found := strings.CutPrefix(r.Ref, "#/components/responses/"); found {
		r, loc = d.raw.Components.Responses[name], []string{"components", "responses", name}
	}
	return r, loc, true
}

// check validates an answer against the documented response of its route.
func (d *openAPIDoc) check(t *testing.T, path, method string, res *http.Response, body []byte) {
	t.Helper()
	what := fmt.Sprintf("%s %s: %d", method, path, res.StatusCode)
	r, loc, ok := d.response(path, method, res.StatusCode)
	if !ok {
		t.Errorf("%s is not documented: %s", what, body)
		return
	}
	for name, raw := range r.Headers {
		var h struct {
			Required bool `json:"required"`
		}
		json.Unmarshal(raw, &h)
		got := res.Header.Get(name)
		if h.Required && got == "" {
			t.Errorf("%s: no %s header", what, name)
			continue
		}
		d.validate(t, what+" header "+name, append(slices.Clone(loc), "headers", name, "schema"), []byte(strconvQuote(got)))
	}
	ct, _, _ := strings.Cut(res.Header.Get("Content-Type"), ";")
	if _, ok := r.Content[ct]; !ok {
		t.Errorf("%s: content type %q is not documented (%v)", what, ct, slices.Sorted(mapKeys(r.Content)))
		return
	}
	if ct == "text/plain" {
		body, _ = json.Marshal(string(body))
	}
	d.validate(t, what, append(slices.Clone(loc), "content", ct, "schema"), body)
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

func (d *openAPIDoc) validate(t *testing.T, what string, loc []string, body []byte) {
	t.Helper()
	s, err := d.c.Compile(docBase + "openapi.json#" + pointer(loc...))
	if err != nil {
		t.Fatalf("%s: compile the documented schema: %v", what, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Errorf("%s: the body is not JSON: %v\n%s", what, err, body)
		return
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("%s: the body does not match the document: %v\n%.2000s", what, err, body)
	}
}

// TestAPIMatchesOpenAPI calls every route of the API in every way the
// document says it answers, and checks each answer (status, headers,
// content type, body) against the document; every documented response is
// seen at least once.
func TestAPIMatchesOpenAPI(t *testing.T) {
	d := loadOpenAPI(t)
	store := newReplayStore(t)
	var ruled, open, unpaid string
	for _, o := range slices.Sorted(mapKeys(store.states)) {
		switch st := store.states[o]; {
		case st.Status == rules.StatusRuled && len(st.Rulings) > 0 && ruled == "":
			ruled = o
		case st.Status == rules.StatusUnderReview && open == "":
			open = o
		}
	}
	unpaid = "ord-never-paid"
	if ruled == "" || open == "" {
		t.Fatal("the stories hold no ruled or no open dispute")
	}
	event := func(typ, order, data string) string {
		return fmt.Sprintf(`{"specversion":"1.0","id":"preview-1","source":"test","type":%q,"time":"2026-12-01T10:00:00Z","subject":%q,"data":%s}`, typ, order, data)
	}
	paid := `{"customer_id":"c","provider_id":"p","category":"video","amount":100,"currency":"EUR"}`

	type call struct {
		cfg          Config
		fail         bool
		method, path string // path is the route's template
		url          string
		auth, body   string
	}
	ok := Config{Token: "t0ken"}
	bearer := "Bearer t0ken"
	calls := []call{
		{ok, false, "GET", "/v1/disputes/{order_id}", "/v1/disputes/" + ruled, bearer, ""},
		{ok, false, "GET", "/v1/disputes/{order_id}", "/v1/disputes/" + open, bearer, ""},
		{ok, false, "GET", "/v1/disputes/{order_id}", "/v1/disputes/ord.1", bearer, ""},
		{ok, false, "GET", "/v1/disputes/{order_id}", "/v1/disputes/" + unpaid, bearer, ""},
		{ok, false, "GET", "/v1/disputes/{order_id}", "/v1/disputes/" + open, "", ""},
		{ok, false, "GET", "/v1/disputes/{order_id}", "/v1/disputes/" + open, "Bearer wrong", ""},
		{Config{}, false, "GET", "/v1/disputes/{order_id}", "/v1/disputes/" + open, bearer, ""},
		{ok, true, "GET", "/v1/disputes/{order_id}", "/v1/disputes/" + open, bearer, ""},

		{ok, false, "POST", "/v1/disputes/{order_id}/preview", "/v1/disputes/" + open + "/preview", bearer, event("evidence.submitted", open, `{"party":"provider","kind":"valid"}`)},
		{ok, false, "POST", "/v1/disputes/{order_id}/preview", "/v1/disputes/" + ruled + "/preview", bearer, event("chat.message", ruled, `{"from":"customer","text":"and now?"}`)},
		{ok, false, "POST", "/v1/disputes/{order_id}/preview", "/v1/disputes/" + unpaid + "/preview", bearer, event("order.paid", unpaid, paid)},
		{ok, false, "POST", "/v1/disputes/{order_id}/preview", "/v1/disputes/" + open + "/preview", bearer, event("order.paid", open, `{"amount":"100"}`)},
		{ok, false, "POST", "/v1/disputes/{order_id}/preview", "/v1/disputes/" + unpaid + "/preview", bearer, event("refund.requested", unpaid, `{"reason":"quality"}`)},
		{ok, false, "POST", "/v1/disputes/{order_id}/preview", "/v1/disputes/" + open + "/preview", bearer, strings.Repeat(" ", maxBody+1)},
		{ok, false, "POST", "/v1/disputes/{order_id}/preview", "/v1/disputes/" + open + "/preview", "", ""},
		{Config{}, false, "POST", "/v1/disputes/{order_id}/preview", "/v1/disputes/" + open + "/preview", bearer, ""},
		{ok, true, "POST", "/v1/disputes/{order_id}/preview", "/v1/disputes/" + open + "/preview", bearer, event("chat.message", open, `{"from":"customer","text":"hi"}`)},

		{ok, false, "GET", "/v1/disputes", "/v1/disputes?status=negotiating,under_review,escalated,suspended&limit=2", bearer, ""},
		{ok, false, "GET", "/v1/disputes", "/v1/disputes?status=under_review&category=video,software_app", bearer, ""},
		{ok, false, "GET", "/v1/disputes", "/v1/disputes?status=ruled", bearer, ""},
		{ok, false, "GET", "/v1/disputes", "/v1/disputes?status=escalated&limit=0", bearer, ""},
		{ok, false, "GET", "/v1/disputes", "/v1/disputes?status=escalated&cursor=bad", bearer, ""},
		{ok, false, "GET", "/v1/disputes", "/v1/disputes?status=escalated&category=food", bearer, ""},
		{ok, false, "GET", "/v1/disputes", "/v1/disputes?status=escalated", "Bearer wrong", ""},
		{Config{}, false, "GET", "/v1/disputes", "/v1/disputes?status=escalated", bearer, ""},
		{ok, true, "GET", "/v1/disputes", "/v1/disputes?status=escalated", bearer, ""},

		{Config{}, false, "GET", "/v1/openapi.json", "/v1/openapi.json", "", ""},
		{Config{}, false, "GET", "/v1/schemas/{name}", "/v1/schemas/order.paid.json", "", ""},
		{ok, false, "GET", "/v1/schemas/{name}", "/v1/schemas/ruling.json", "", ""},
		{ok, false, "GET", "/v1/schemas/{name}", "/v1/schemas/order.shipped.json", "", ""},
	}
	seen := map[string]bool{} // path method status
	for _, c := range calls {
		store.fail = c.fail
		a := NewAPI(store, rules.DefaultPolicy(), func(context.Context) (int, error) { return 4, nil }, c.cfg, prometheus.NewRegistry())
		mux := http.NewServeMux()
		a.Register(mux)
		req := httptest.NewRequest(c.method, c.url, strings.NewReader(c.body))
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		res := rec.Result()
		body, _ := io.ReadAll(res.Body)
		d.check(t, c.path, c.method, res, body)
		seen[fmt.Sprint(c.path, " ", c.method, " ", res.StatusCode)] = true
	}
	store.fail = false

	// The probes and metrics, on the whole handler.
	ready := &Readiness{Joined: func() bool { return true }, Checks: map[string]func(context.Context) error{}}
	a := NewAPI(store, rules.DefaultPolicy(), func(context.Context) (int, error) { return 4, nil }, ok, prometheus.NewRegistry())
	for _, c := range []struct{ path, url string }{{"/healthz", "/healthz"}, {"/readyz", "/readyz"}, {"/metrics", "/metrics"}} {
		for _, joined := range []bool{true, false} {
			ready.Joined = func() bool { return joined }
			rec := httptest.NewRecorder()
			Handler(prometheus.NewRegistry(), ready, a, false).ServeHTTP(rec, httptest.NewRequest("GET", c.url, nil))
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)
			d.check(t, c.path, "GET", res, body)
			seen[fmt.Sprint(c.path, " GET ", res.StatusCode)] = true
		}
	}

	// Documented for safety, but not reachable through a store that holds
	// only orders that were paid.
	seen["/v1/disputes/{order_id}/preview POST 422"] = true // the engine refuses an event only for an order never paid, which is 404 first
	for path, ops := range d.raw.Paths {
		for method, op := range ops {
			for status := range op.Responses {
				if key := fmt.Sprint(path, " ", strings.ToUpper(method), " ", status); !seen[key] {
					t.Errorf("documented but never answered: %s (%s)", key, op.OperationID)
				}
			}
		}
	}
}

// TestOpenAPIDocumentsEveryRoute: every route the API and the HTTP handler
// register is in the document, with its parameters; the bearer routes say
// so and document 401 and 403, the public ones need no token.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	d := loadOpenAPI(t)
	route := regexp.MustCompile(`(?:Handle|HandleFunc)\("(GET|POST|PUT|PATCH|DELETE) (/[^"]*)"`)
	var routes []string
	for _, file := range []string{"api.go", "server.go"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range route.FindAllStringSubmatch(string(b), -1) {
			routes = append(routes, m[1]+" "+m[2])
		}
	}
	if len(routes) < 6 {
		t.Fatalf("found %d routes in api.go and server.go: %v", len(routes), routes)
	}
	public := []string{"/v1/openapi.json", "/v1/schemas/{name}", "/healthz", "/readyz", "/metrics"}
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		op, ok := d.raw.Paths[path][strings.ToLower(method)]
		if !ok {
			t.Errorf("%s is served but not in docs/openapi.json", r)
			continue
		}
		for _, p := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(path, -1) {
			if !slices.ContainsFunc(op.Parameters, func(x map[string]any) bool { return x["name"] == p[1] && x["in"] == "path" }) {
				t.Errorf("%s: path parameter %s not documented", r, p[1])
			}
		}
		isPublic := slices.Contains(public, path)
		if isPublic != (op.Security != nil && len(*op.Security) == 0) {
			t.Errorf("%s: public %v, but the document's security is %v", r, isPublic, op.Security)
		}
		if _, ok := op.Responses["401"]; ok == isPublic {
			t.Errorf("%s: public %v, but 401 documented %v", r, isPublic, ok)
		}
	}
}
