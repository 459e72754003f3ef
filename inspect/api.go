package inspect

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/disputed/disputed/rules"
)

// Config of the API.
type Config struct {
	// Token is the bearer token every /v1 request must carry. Without one
	// the API answers 403, unless Open.
	Token string
	// Open serves the API without a token: only for the embedded default,
	// which listens on loopback.
	Open bool
}

// API serves /v1: the state of a dispute, a preview of an event, and the
// reviewers' queue. It never writes.
type API struct {
	store      Disputes
	policy     rules.Policy
	partitions Partitions
	cfg        Config
	requests   *prometheus.CounterVec
}

// maxBody bounds a request body (a preview's event).
const maxBody = 1 << 20

// Page sizes of the queue: a page costs at most maxLimit summaries.
const (
	defaultLimit = 50
	maxLimit     = 100
)

// NewAPI returns the API on the store's read side. It registers its request
// counter and the disputed_open_disputes gauge (read from the store at
// scrape time) on reg.
func NewAPI(store Disputes, policy rules.Policy, partitions Partitions, cfg Config, reg prometheus.Registerer) *API {
	a := &API{store: store, policy: policy, partitions: partitions, cfg: cfg}
	a.requests = promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
		Name: "disputed_api_requests_total",
		Help: "Inspection API requests, by route and status code.",
	}, []string{"route", "code"})
	if reg != nil {
		reg.MustRegister(newOpenDisputes(store, partitions))
	}
	return a
}

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) { a.register(mux, true) }

// Trusted serves the same routes, at the same /v1 paths and with the same
// answers, without the bearer check: for a front end that authenticates its
// callers itself and mounts it behind that check (the reviewers' console,
// by session). Never mount it on a listener of its own.
func (a *API) Trusted() http.Handler {
	mux := http.NewServeMux()
	a.register(mux, false)
	return mux
}

func (a *API) register(mux *http.ServeMux, bearer bool) {
	mux.Handle("GET /v1/disputes/{order_id}", a.route("get_dispute", bearer, a.getDispute))
	mux.Handle("POST /v1/disputes/{order_id}/preview", a.route("preview", bearer, a.preview))
	mux.Handle("GET /v1/disputes", a.route("list_disputes", bearer, a.list))
	// The contract's documents are public: no token (contract.go).
	mux.Handle("GET /v1/openapi.json", a.document("openapi", openAPIDocument))
	mux.Handle("GET /v1/schemas/{name}", a.document("schema", contractSchema))
}

// Error is an error answer of the API, and of the console that shares its
// form: the HTTP status, a stable code for programs and a message for
// people.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an Error with the message formatted as fmt.Sprintf does.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// route wraps a handler with authentication (the bearer token, unless the
// caller checked its own), the body limit, JSON encoding of answers and
// errors, and the request counter.
func (a *API) route(name string, bearer bool, h func(*http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := http.StatusOK
		var body any
		if err := a.authorize(r, bearer); err != nil {
			status, body = err.Status, err
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="disputed"`)
			}
		} else {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			v, err := h(r)
			var ae *Error
			switch {
			case err == nil:
				body = v
			case errors.As(err, &ae):
				status, body = ae.Status, ae
			default:
				status, body = http.StatusServiceUnavailable, Errorf(http.StatusServiceUnavailable, "unavailable", "%v", err)
			}
		}
		a.requests.WithLabelValues(name, strconv.Itoa(status)).Inc()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(body)
	})
}

func (a *API) authorize(r *http.Request, bearer bool) *Error {
	if !bearer {
		return nil
	}
	if a.cfg.Token == "" {
		if a.cfg.Open {
			return nil
		}
		return Errorf(http.StatusForbidden, "forbidden", "the API is disabled: set DISPUTED_API_TOKEN to enable it")
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(a.cfg.Token)) != 1 {
		return Errorf(http.StatusUnauthorized, "unauthorized", "a valid bearer token is required")
	}
	return nil
}

// disputeView is the answer of GET /v1/disputes/{order_id}.
type disputeView struct {
	OrderID     string             `json:"order_id"`
	Partition   int                `json:"partition"`
	Status      rules.Status       `json:"status"`
	Obligations []rules.Obligation `json:"obligations"`
	Timeline    []timelineEntry    `json:"timeline"`
	Rulings     []rules.Ruling     `json:"rulings"`
	// Held are commands of the order the guard refused (a second final
	// ruling, or a transfer not of the final ruling on record): never
	// published, waiting for a person.
	Held  []rules.Held `json:"held"`
	State rules.State  `json:"state"`
}

type timelineEntry struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"` // event, deadline or command
	Type string    `json:"type,omitempty"`
	ID   string    `json:"id"`
}

func timelineOf(s rules.State) []timelineEntry {
	out := make([]timelineEntry, 0, len(s.Log))
	for _, l := range s.Log {
		e := timelineEntry{At: l.At, ID: l.ID}
		switch l.Kind {
		case rules.LogCommand:
			e.Kind = "command"
		case string(rules.TypeDeadline):
			e.Kind = "deadline"
		default:
			e.Kind, e.Type = "event", l.Kind
		}
		out = append(out, e)
	}
	return out
}

func (a *API) find(r *http.Request) (rules.State, int, error) {
	order := r.PathValue("order_id")
	if err := rules.ValidOrderID(order); err != nil {
		return rules.State{}, 0, Errorf(http.StatusBadRequest, "bad_order_id", "%v", err)
	}
	n, err := a.partitions(r.Context())
	if err != nil {
		return rules.State{}, 0, err
	}
	s, p, ok, err := a.store.Find(r.Context(), order, n)
	if err != nil {
		return rules.State{}, 0, err
	}
	if !ok {
		return rules.State{OrderID: order}, 0, Errorf(http.StatusNotFound, "not_found", "no order %s", order)
	}
	return s, p, nil
}

func (a *API) getDispute(r *http.Request) (any, error) {
	s, p, err := a.find(r)
	if err != nil {
		return nil, err
	}
	held, err := a.store.Held(r.Context(), s.OrderID, p)
	if err != nil {
		return nil, err
	}
	return disputeView{
		OrderID: s.OrderID, Partition: p, Status: s.Status,
		Obligations: nonNilSlice(rules.Obligations(s)), Timeline: timelineOf(s), Rulings: nonNilSlice(s.Rulings),
		Held: nonNilSlice(held), State: s,
	}, nil
}

// previewView is the answer of a preview: what the event would do now.
type previewView struct {
	Duplicate   bool               `json:"duplicate"`
	Commands    []rules.Command    `json:"commands"`
	StatusAfter rules.Status       `json:"status_after"`
	Obligations []rules.Obligation `json:"obligations_after"`
}

func (a *API) preview(r *http.Request) (any, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, Errorf(http.StatusRequestEntityTooLarge, "too_large", "the body is over %d bytes or unreadable: %v", maxBody, err)
	}
	e, err := rules.Decode(b)
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, "invalid_event", "%v", err)
	}
	if e.OrderID != r.PathValue("order_id") {
		return nil, Errorf(http.StatusBadRequest, "invalid_event", "the event's subject %q is not the order %q of the path", e.OrderID, r.PathValue("order_id"))
	}
	s, _, err := a.find(r)
	var ae *Error
	if errors.As(err, &ae) && ae.Code == "not_found" && e.Type == rules.TypeOrderPaid {
		s, err = rules.State{}, nil
	}
	if err != nil {
		return nil, err
	}
	d, err := a.policy.Apply(s, e, e.Time)
	if errors.Is(err, rules.ErrInvalidEvent) {
		return nil, Errorf(http.StatusUnprocessableEntity, "invalid_event", "%v", err)
	}
	if err != nil {
		return nil, err
	}
	return previewView{
		Duplicate: !d.Changed, Commands: nonNilSlice(d.Commands),
		StatusAfter: d.State.Status, Obligations: nonNilSlice(rules.Obligations(d.State)),
	}, nil
}

// listView is the answer of GET /v1/disputes: a page of the queue.
type listView struct {
	Items      []rules.Summary `json:"items"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// list answers GET /v1/disputes?status=S[,S...]&category=C[,C...]&limit=N&cursor=C:
// open disputes in the statuses (and, if asked, the categories), longest in
// their status first, across the partitions, as summaries.
func (a *API) list(r *http.Request) (any, error) {
	q := r.URL.Query()
	var statuses []rules.Status
	for s := range strings.SplitSeq(q.Get("status"), ",") {
		st := rules.Status(strings.TrimSpace(s))
		if !st.Open() {
			return nil, Errorf(http.StatusBadRequest, "bad_status", "status must be one or more (comma-separated) of %s", openStatusList())
		}
		statuses = append(statuses, st)
	}
	var cats []rules.Category
	if v := q.Get("category"); v != "" {
		for c := range strings.SplitSeq(v, ",") {
			cat := rules.Category(strings.TrimSpace(c))
			if !slices.Contains(categories, cat) {
				return nil, Errorf(http.StatusBadRequest, "bad_category", "category must be one or more (comma-separated) of %s", categoryList())
			}
			cats = append(cats, cat)
		}
	}
	limit := defaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return nil, Errorf(http.StatusBadRequest, "bad_limit", "limit must be 1 to %d", maxLimit)
		}
		limit = n
	}
	n, err := a.partitions(r.Context())
	if err != nil {
		return nil, err
	}
	items, next, err := a.page(r.Context(), statuses, cats, n, q.Get("cursor"), limit)
	if errors.Is(err, rules.ErrBadCursor) {
		return nil, Errorf(http.StatusBadRequest, "bad_cursor", "%v", err)
	}
	if err != nil {
		return nil, err
	}
	return listView{Items: nonNilSlice(items), NextCursor: next}, nil
}

// maxScan bounds the summaries one page filtered by category reads: a rare
// category gives a short page, even an empty one, with the cursor to go on
// from, rather than a request that reads the whole queue.
const maxScan = 10 * maxLimit

// page reads a page of the queue; with categories, it reads on until it has
// limit disputes of those categories, the queue ends, or it has read maxScan.
func (a *API) page(ctx context.Context, statuses []rules.Status, cats []rules.Category, partitions int, cursor string, limit int) ([]rules.Summary, string, error) {
	if len(cats) == 0 {
		return a.store.List(ctx, statuses, partitions, cursor, limit)
	}
	var out []rules.Summary
	for scanned := 0; ; {
		items, next, err := a.store.List(ctx, statuses, partitions, cursor, limit-len(out))
		if err != nil {
			return nil, "", err
		}
		for _, s := range items {
			if slices.Contains(cats, s.Category) {
				out = append(out, s)
			}
		}
		scanned += len(items)
		cursor = next
		if next == "" || len(items) == 0 || len(out) == limit || scanned >= maxScan {
			return out, next, nil
		}
	}
}

// categories are contract v1's service categories.
var categories = rules.Categories()

func categoryList() string {
	var s []string
	for _, c := range categories {
		s = append(s, string(c))
	}
	return strings.Join(s, ", ")
}

func openStatusList() string {
	var s []string
	for _, st := range rules.OpenStatuses() {
		s = append(s, string(st))
	}
	return strings.Join(s, ", ")
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
