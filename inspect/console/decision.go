package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"time"

	"github.com/disputed/disputed/inspect"
	"github.com/disputed/disputed/rules"
)

// decision is the decision form: what the reviewer decided. The browser
// draws the event ID once per form and sends it again with every preview
// and retry, so that one decision is one event however often it is sent:
// the engine takes an event ID once per order.
type decision struct {
	EventID      string   `json:"event_id"`
	RefundAmount *int64   `json:"refund_amount"`
	Articles     []string `json:"articles"`
	Note         string   `json:"note"`
}

// eventIDRE is the form of a decision's event ID: "console-" and 128
// random bits in hex. Nothing else is taken, so a decision can never reuse
// an upstream event's ID (it would be a duplicate, and decide nothing).
var eventIDRE = regexp.MustCompile(`^console-[0-9a-f]{32}$`)

// maxDecisionBody bounds a decision's body: a note is at most 16 KiB.
const maxDecisionBody = 64 << 10

// sourceOf is the CloudEvents source of a reviewer's decisions: the contract
// has no field for who decided, and the source is the attribute that says
// who sent an event.
func sourceOf(reviewer string) string { return "console/" + reviewer }

// readDecision reads and checks the order in the path and the form, and
// encodes its event for the order, by the reviewer, at now. The event is
// checked by the engine's own decoder, so what is written is never
// dead-lettered.
func readDecision(w http.ResponseWriter, r *http.Request, reviewer string, now time.Time) (order string, d decision, ev []byte, e *inspect.Error) {
	if order, e = orderOf(r); e != nil {
		return "", d, nil, e
	}
	if e = jsonBody(r); e != nil {
		return "", d, nil, e
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxDecisionBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return "", d, nil, inspect.Errorf(http.StatusBadRequest, "bad_request", "the body must be a decision {\"event_id\", \"refund_amount\", \"articles\", \"note\"}: %v", err)
	}
	if !eventIDRE.MatchString(d.EventID) {
		return "", d, nil, inspect.Errorf(http.StatusBadRequest, "bad_event_id", "event_id must be \"console-\" and 32 lower-case hex digits, drawn once per decision")
	}
	if d.RefundAmount == nil || *d.RefundAmount < 0 {
		return "", d, nil, inspect.Errorf(http.StatusBadRequest, "bad_refund_amount", "refund_amount must be given, in minor units, 0 or more")
	}
	arts := make([]string, 0, len(d.Articles))
	for _, a := range d.Articles {
		if !rules.ValidCitation(a) {
			return "", d, nil, inspect.Errorf(http.StatusBadRequest, "bad_article", "%q is not a citation of the rules text", a)
		}
		if !slices.Contains(arts, a) {
			arts = append(arts, a)
		}
	}
	if len(arts) == 0 {
		arts = nil
	}
	b := rules.EncodeEvent(rules.Event{
		ID: d.EventID, Source: sourceOf(reviewer), Type: rules.TypeReviewDecided, Time: now, OrderID: order,
		Data: rules.Data{RefundAmount: *d.RefundAmount, Articles: arts, Note: d.Note},
	})
	if _, err := rules.Decode(b); err != nil {
		return "", d, nil, inspect.Errorf(http.StatusBadRequest, "invalid_event", "%v", err)
	}
	return order, d, b, nil
}

func orderOf(r *http.Request) (string, *inspect.Error) {
	order := r.PathValue("order_id")
	if err := rules.ValidOrderID(order); err != nil {
		return "", inspect.Errorf(http.StatusBadRequest, "bad_order_id", "%v", err)
	}
	return order, nil
}

// preview answers what the decision would do now, without sending it: the
// API's preview of the very event a submission would write (but for its
// time).
func (c *Console) preview(w http.ResponseWriter, r *http.Request, s session) {
	order, _, ev, e := readDecision(w, r, s.Reviewer, c.cfg.Now())
	if e != nil {
		writeError(w, e)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL = &url.URL{Path: "/v1/disputes/" + order + "/preview"}
	r2.RequestURI = ""
	r2.Body = io.NopCloser(bytes.NewReader(ev))
	r2.ContentLength = int64(len(ev))
	c.api.ServeHTTP(w, r2)
}

// submitted is the answer of a decision sent.
type submitted struct {
	EventID string `json:"event_id"`
	Source  string `json:"source"`
	// Status is "written" (the event is in Kafka; the ruling follows once
	// the processor has read it), or "already_applied" (the engine has
	// taken this event ID: a retry of a decision that got through).
	Status    string `json:"status"`
	Partition int    `json:"partition"`
}

// reviewable are the statuses a review.decided rules on (rules.md).
var reviewable = []rules.Status{rules.StatusUnderReview, rules.StatusEscalated}

// decide writes the decision as a review.decided event to the order's
// partition of the refund-requests topic, keyed by the order ID.
func (c *Console) decide(w http.ResponseWriter, r *http.Request, s session) {
	order, d, ev, e := readDecision(w, r, s.Reviewer, c.cfg.Now())
	if e != nil {
		writeError(w, e)
		return
	}
	ctx := r.Context()
	n, err := c.partitions(ctx)
	if err != nil {
		writeError(w, inspect.Errorf(http.StatusServiceUnavailable, "unavailable", "%v", err))
		return
	}
	st, p, ok, err := c.orders.Find(ctx, order, n)
	if err != nil {
		writeError(w, inspect.Errorf(http.StatusServiceUnavailable, "unavailable", "%v", err))
		return
	}
	if !ok {
		writeError(w, inspect.Errorf(http.StatusNotFound, "not_found", "no order %s", order))
		return
	}
	answer := submitted{EventID: d.EventID, Source: sourceOf(s.Reviewer), Partition: p}
	if applied(st, d.EventID) {
		answer.Status = "already_applied"
		writeJSON(w, http.StatusOK, answer)
		return
	}
	if !slices.Contains(reviewable, st.Status) {
		writeError(w, inspect.Errorf(http.StatusConflict, "not_reviewable", "order %s is %s; a reviewer decides only a dispute under review or escalated", order, statusName(st.Status)))
		return
	}
	if err := c.submit.WriteEvent(ctx, rules.TypeReviewDecided, p, order, ev); err != nil {
		c.log.Warn("review decision not written; the reviewer may retry it", "key", order, "event_id", d.EventID, "reviewer", s.Reviewer, "partition", p, "err", err)
		status := http.StatusServiceUnavailable
		if errors.Is(err, ctx.Err()) {
			status = http.StatusGatewayTimeout
		}
		writeError(w, inspect.Errorf(status, "unavailable", "the decision may not have been written (retry it: it is the same event): %v", err))
		return
	}
	c.log.Info("review decision written", "key", order, "event_id", d.EventID, "reviewer", s.Reviewer,
		"refund_amount", *d.RefundAmount, "articles", d.Articles, "partition", p)
	answer.Status = "written"
	writeJSON(w, http.StatusAccepted, answer)
}

// applied reports whether the order's timeline holds the event.
func applied(st rules.State, id string) bool {
	return slices.ContainsFunc(st.Log, func(l rules.LogEntry) bool {
		return l.ID == id && l.Kind == string(rules.TypeReviewDecided)
	})
}

func statusName(s rules.Status) string {
	if s == rules.StatusNew {
		return "not paid"
	}
	return fmt.Sprint(s)
}
