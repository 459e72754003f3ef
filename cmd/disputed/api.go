package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/rules"
	"github.com/disputed/disputed/state"
)

// disputes is what the API reads from the store.
type disputes interface {
	Find(ctx context.Context, order string, partitions int) (rules.State, int, bool, error)
	List(ctx context.Context, status rules.Status, partitions int, cursor string, limit int) ([]state.Listed, string, error)
	OpenDisputes(ctx context.Context, partitions int) (map[rules.Status]int64, error)
}

// api serves /v1: the state of a dispute, a preview of an event, and the
// reviewers' queue. It never writes.
type api struct {
	store      disputes
	policy     rules.Policy
	partitions func(context.Context) (int, error)
	// token is the bearer token; "" refuses every request unless open.
	token    string
	open     bool // the embedded default: no token needed
	requests *prometheus.CounterVec
}

const maxBody = 1 << 20

func newAPI(store disputes, policy rules.Policy, partitions func(context.Context) (int, error), token string, open bool, reg prometheus.Registerer) *api {
	a := &api{store: store, policy: policy, partitions: partitions, token: token, open: open}
	a.requests = promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
		Name: "disputed_api_requests_total",
		Help: "Inspection API requests, by route and status code.",
	}, []string{"route", "code"})
	reg.MustRegister(&openDisputes{store: store, partitions: partitions, desc: prometheus.NewDesc(
		"disputed_open_disputes", "Open disputes by status (negotiating, under_review, escalated, suspended), read from the store at scrape time.",
		[]string{"status"}, nil)})
	return a
}

func (a *api) register(mux *http.ServeMux) {
	mux.Handle("GET /v1/disputes/{order_id}", a.route("get_dispute", a.getDispute))
	mux.Handle("POST /v1/disputes/{order_id}/preview", a.route("preview", a.preview))
	mux.Handle("GET /v1/disputes", a.route("list_disputes", a.list))
}

// apiError is an error answer: a stable code and a message for people.
type apiError struct {
	status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return e.Message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// route wraps a handler with authentication, the body limit, JSON encoding
// of answers and errors, and the request counter.
func (a *api) route(name string, h func(*http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := http.StatusOK
		var body any
		if err := a.authorize(r); err != nil {
			status, body = err.status, err
		} else {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			v, err := h(r)
			var ae *apiError
			switch {
			case err == nil:
				body = v
			case errors.As(err, &ae):
				status, body = ae.status, ae
			default:
				status, body = http.StatusServiceUnavailable, errorf(http.StatusServiceUnavailable, "unavailable", "%v", err)
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

func (a *api) authorize(r *http.Request) *apiError {
	if a.token == "" {
		if a.open {
			return nil
		}
		return errorf(http.StatusForbidden, "forbidden", "the API is disabled: set DISPUTED_API_TOKEN to enable it")
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(a.token)) != 1 {
		return errorf(http.StatusUnauthorized, "unauthorized", "a valid bearer token is required")
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
	State       rules.State        `json:"state"`
}

type timelineEntry struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"` // event, deadline or command
	Type string    `json:"type,omitempty"`
	ID   string    `json:"id"`
}

func timelineOf(s rules.State) []timelineEntry {
	out := make([]timelineEntry, 0, len(s.Log))
	for _, line := range s.Log {
		l, err := rules.ParseLogEntry(line)
		if err != nil {
			continue
		}
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

func (a *api) find(r *http.Request) (rules.State, int, error) {
	order := r.PathValue("order_id")
	if err := rules.ValidOrderID(order); err != nil {
		return rules.State{}, 0, errorf(http.StatusBadRequest, "bad_order_id", "%v", err)
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
		return rules.State{OrderID: order}, 0, errorf(http.StatusNotFound, "not_found", "no order %s", order)
	}
	return s, p, nil
}

func (a *api) getDispute(r *http.Request) (any, error) {
	s, p, err := a.find(r)
	if err != nil {
		return nil, err
	}
	return disputeView{
		OrderID: s.OrderID, Partition: p, Status: s.Status,
		Obligations: nonNilSlice(rules.Obligations(s)), Timeline: timelineOf(s), Rulings: nonNilSlice(s.Rulings), State: s,
	}, nil
}

// previewView is the answer of a preview: what the event would do now.
type previewView struct {
	Duplicate   bool               `json:"duplicate"`
	Commands    []rules.Command    `json:"commands"`
	StatusAfter rules.Status       `json:"status_after"`
	Obligations []rules.Obligation `json:"obligations_after"`
}

func (a *api) preview(r *http.Request) (any, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, errorf(http.StatusRequestEntityTooLarge, "too_large", "the body is over %d bytes or unreadable: %v", maxBody, err)
	}
	e, err := rules.Decode(b)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "invalid_event", "%v", err)
	}
	if e.OrderID != r.PathValue("order_id") {
		return nil, errorf(http.StatusBadRequest, "invalid_event", "the event's subject %q is not the order %q of the path", e.OrderID, r.PathValue("order_id"))
	}
	s, _, err := a.find(r)
	var ae *apiError
	if errors.As(err, &ae) && ae.Code == "not_found" && e.Type == rules.TypeOrderPaid {
		s, err = rules.State{}, nil
	}
	if err != nil {
		return nil, err
	}
	d, err := a.policy.Apply(s, e, e.Time)
	if errors.Is(err, rules.ErrInvalidEvent) {
		return nil, errorf(http.StatusUnprocessableEntity, "invalid_event", "%v", err)
	}
	if err != nil {
		return nil, err
	}
	return previewView{
		Duplicate: !d.Changed, Commands: nonNilSlice(d.Commands),
		StatusAfter: d.State.Status, Obligations: nonNilSlice(rules.Obligations(d.State)),
	}, nil
}

// listView is the answer of GET /v1/disputes.
type listView struct {
	Items      []listItem `json:"items"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

type listItem struct {
	OrderID     string             `json:"order_id"`
	Status      rules.Status       `json:"status"`
	Since       time.Time          `json:"since"`
	Category    rules.Category     `json:"category"`
	Amount      int64              `json:"amount"`
	Currency    string             `json:"currency"`
	Reason      rules.Reason       `json:"reason,omitempty"`
	Obligations []rules.Obligation `json:"obligations"`
}

func (a *api) list(r *http.Request) (any, error) {
	q := r.URL.Query()
	status := rules.Status(q.Get("status"))
	switch status {
	case rules.StatusNegotiating, rules.StatusUnderReview, rules.StatusEscalated, rules.StatusSuspended:
	default:
		return nil, errorf(http.StatusBadRequest, "bad_status", "status must be negotiating, under_review, escalated or suspended")
	}
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return nil, errorf(http.StatusBadRequest, "bad_limit", "limit must be 1 to 500")
		}
		limit = n
	}
	n, err := a.partitions(r.Context())
	if err != nil {
		return nil, err
	}
	items, next, err := a.store.List(r.Context(), status, n, q.Get("cursor"), limit)
	if err != nil {
		if strings.Contains(err.Error(), "bad cursor") {
			return nil, errorf(http.StatusBadRequest, "bad_cursor", "%v", err)
		}
		return nil, err
	}
	out := listView{Items: []listItem{}, NextCursor: next}
	for _, it := range items {
		s := it.State
		li := listItem{OrderID: s.OrderID, Status: s.Status, Since: it.Since, Category: s.Order.Category,
			Amount: s.Order.Amount, Currency: s.Order.Currency, Obligations: nonNilSlice(rules.Obligations(s))}
		if s.Refund != nil {
			li.Reason = s.Refund.Reason
		}
		out.Items = append(out.Items, li)
	}
	return out, nil
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// openDisputes is the disputed_open_disputes gauge, read from the store at
// scrape time (within a second; nothing is reported when it cannot be read).
type openDisputes struct {
	store      disputes
	partitions func(context.Context) (int, error)
	desc       *prometheus.Desc
}

func (o *openDisputes) Describe(ch chan<- *prometheus.Desc) { ch <- o.desc }

func (o *openDisputes) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, err := o.partitions(ctx)
	if err != nil {
		return
	}
	counts, err := o.store.OpenDisputes(ctx, n)
	if err != nil {
		return
	}
	for _, st := range []rules.Status{rules.StatusNegotiating, rules.StatusUnderReview, rules.StatusEscalated, rules.StatusSuspended} {
		ch <- prometheus.MustNewConstMetric(o.desc, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
}

// partitionCount learns the number of partitions of the orders topic from
// Kafka once, and keeps it: the four topics are co-partitioned.
func partitionCount(brokers []string, topic string, transport kafka.RoundTripper) func(context.Context) (int, error) {
	var (
		mu sync.Mutex
		n  int
	)
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: transport, Timeout: 5 * time.Second}
	return func(ctx context.Context) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		if n > 0 {
			return n, nil
		}
		md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err != nil {
			return 0, fmt.Errorf("partitions of %s: %w", topic, err)
		}
		for _, t := range md.Topics {
			if t.Name == topic && t.Error == nil && len(t.Partitions) > 0 {
				n = len(t.Partitions)
				return n, nil
			}
		}
		return 0, fmt.Errorf("partitions of %s: the topic is unknown to the brokers", topic)
	}
}
