package producer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/disputed/disputed/rules"
)

// The guard is the second line of defence on the money: whatever the store
// of record went through, an order is paid by one final ruling at most.
//
// Before the final ruling of an order is published, a guard message naming
// it and its amounts is written to disputed.guard.<order ID> of the guard
// stream, which keeps one message per subject, for ever, and refuses a new
// one (discard-new per subject). The ruling is published only if the guard
// holds it: the same ruling retried (within the duplicate window or after
// it) finds its own guard; a different final ruling of the same order, from
// a state that went back in time and decided again, is refused by JetStream
// itself. A transfer is published only if the guard holds its ruling and
// gives its party that amount.

// guardRecord is a guard message: the order's final ruling and what it pays.
type guardRecord struct {
	OrderID        string        `json:"order_id"`
	RulingID       string        `json:"ruling_id"`
	CommandID      string        `json:"command_id"`
	Outcome        rules.Outcome `json:"outcome"`
	Currency       string        `json:"currency"`
	RefundAmount   int64         `json:"refund_amount"`
	ProviderAmount int64         `json:"provider_amount"`
}

func (g guardRecord) same(o guardRecord) bool {
	return g.RulingID == o.RulingID && g.Outcome == o.Outcome && g.Currency == o.Currency &&
		g.RefundAmount == o.RefundAmount && g.ProviderAmount == o.ProviderAmount
}

func (g guardRecord) String() string {
	return fmt.Sprintf("ruling %s (%s: customer %d, provider %d %s)", g.RulingID, g.Outcome, g.RefundAmount, g.ProviderAmount, g.Currency)
}

// refusedPerSubject reports whether JetStream refused a message because its
// subject has its one message. The server answers with its generic
// store-failure code, 10077, which other store failures (a full disk)
// share, so the description tells them apart.
func refusedPerSubject(err error) bool {
	var api *jetstream.APIError
	return errors.As(err, &api) && api.ErrorCode == 10077 && api.Description == "maximum messages per subject exceeded"
}

// guard returns the commands that may be published, in their order, and the
// refusals of those that may not.
func (n *NATS) guard(ctx context.Context, cmds []rules.Command) ([]rules.Command, []rules.Refusal, error) {
	type pending struct {
		rec guardRecord
		f   jetstream.PubAckFuture
	}
	var writes []pending
	for _, c := range cmds {
		r, ok := c.Body.(*rules.Ruling)
		if !ok || !r.Outcome.Final() {
			continue
		}
		rec := recordOf(r)
		body, err := json.Marshal(rec)
		if err != nil {
			return nil, nil, err
		}
		msg := &nats.Msg{Subject: guardPrefix + r.OrderID, Data: body, Header: nats.Header{}}
		fut, err := n.js.PublishMsgAsync(msg, jetstream.WithMsgID("guard/"+c.ID), jetstream.WithStallWait(n.cfg.AckTimeout))
		if err != nil {
			return nil, nil, fmt.Errorf("guard %s: %w", c.ID, err)
		}
		writes = append(writes, pending{rec, fut})
	}

	// What the guard holds per order, as far as this run needs it.
	held := make(map[string]*guardRecord)
	for _, w := range writes {
		select {
		case <-w.f.Ok():
			held[w.rec.OrderID] = &w.rec
		case err := <-w.f.Err():
			if !refusedPerSubject(err) {
				return nil, nil, fmt.Errorf("guard %s: %w", w.rec.CommandID, err)
			}
			// The order has its guard: this ruling's, written before (a
			// retry after the duplicate window), or another's.
			rec, err := n.held(ctx, w.rec.OrderID)
			if err != nil {
				return nil, nil, err
			}
			held[w.rec.OrderID] = rec
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("guard: %w", ctx.Err())
		}
	}

	var pass []rules.Command
	var refused []rules.Refusal
	for _, c := range cmds {
		switch b := c.Body.(type) {
		case *rules.Ruling:
			if !b.Outcome.Final() {
				break
			}
			if g, mine := held[b.OrderID], recordOf(b); g != nil && !g.same(mine) {
				refused = append(refused, rules.Refusal{Command: c, Reason: fmt.Sprintf(
					"order %s already has its final ruling on record, %s; this %s was not published", b.OrderID, g, mine)})
				continue
			}
		case *rules.Transfer:
			g, ok := held[b.OrderID]
			if !ok {
				rec, err := n.held(ctx, b.OrderID)
				if err != nil {
					return nil, nil, err
				}
				held[b.OrderID], g = rec, rec
			}
			if reason := transferRefused(b, g); reason != "" {
				refused = append(refused, rules.Refusal{Command: c, Reason: reason})
				continue
			}
		}
		pass = append(pass, c)
	}
	return pass, refused, nil
}

// recordOf is the guard message of a final ruling.
func recordOf(r *rules.Ruling) guardRecord {
	return guardRecord{OrderID: r.OrderID, RulingID: r.RulingID, CommandID: r.CommandID, Outcome: r.Outcome,
		Currency: r.Currency, RefundAmount: r.RefundAmount, ProviderAmount: r.ProviderAmount}
}

// transferRefused says why a transfer may not be paid under the guard g
// (nil: the order has none), or "".
func transferRefused(t *rules.Transfer, g *guardRecord) string {
	if g == nil {
		return fmt.Sprintf("transfer of %d %s to the %s of order %s: the guard holds no final ruling for the order, so nothing may be paid", t.Amount, t.Currency, t.To, t.OrderID)
	}
	share := g.ProviderAmount
	if t.To == rules.Customer {
		share = g.RefundAmount
	}
	if g.RulingID != t.RulingID || share != t.Amount || g.Currency != t.Currency {
		return fmt.Sprintf("transfer of %d %s to the %s of order %s under ruling %s: the order's final ruling on record is %s; not paid",
			t.Amount, t.Currency, t.To, t.OrderID, t.RulingID, g)
	}
	return ""
}

// held reads the order's guard message; nil when it has none.
func (n *NATS) held(ctx context.Context, order string) (*guardRecord, error) {
	s, err := n.js.Stream(ctx, n.cfg.GuardStream)
	if err != nil {
		return nil, fmt.Errorf("guard stream %s: %w", n.cfg.GuardStream, err)
	}
	m, err := s.GetLastMsgForSubject(ctx, guardPrefix+order)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the guard of order %s: %w", order, err)
	}
	var rec guardRecord
	if err := json.Unmarshal(m.Data, &rec); err != nil {
		return nil, fmt.Errorf("read the guard of order %s: %w", order, err)
	}
	return &rec, nil
}
