package follow

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/disputed/disputed/rules"
)

// Printer prints commands one a line, for people: what a ruling decided
// with its money and articles, a transfer's amount and payee, a notice, a
// rejection. The demo prints with it, and so does `disputed tail`. A
// Printer is not safe for concurrent use.
type Printer struct {
	Out io.Writer
	// Start, when set, is the clock the lines count from: each line starts
	// with the seconds since it, and due times are shown the same way (the
	// demo). Otherwise lines start with the time given, and due times are
	// shown in RFC 3339.
	Start time.Time

	seen map[string]bool // command IDs: a command published again prints once
}

// Print prints the command published on subject with body data, at time
// at, unless its command ID was printed before. It returns the decoded
// body (*rules.Ruling, *rules.Transfer, *rules.Notice or *rules.Rejection),
// or nil for a repeat or a message that is not a command.
func (p *Printer) Print(at time.Time, subject string, data []byte) rules.Body {
	var head struct {
		CommandID string `json:"command_id"`
	}
	if json.Unmarshal(data, &head) != nil || head.CommandID == "" || p.seen[head.CommandID] {
		return nil
	}
	c, err := rules.ReadCommand(head.CommandID, subject, data)
	if err != nil {
		return nil
	}
	if p.seen == nil {
		p.seen = make(map[string]bool)
	}
	p.seen[head.CommandID] = true
	switch b := c.Body.(type) {
	case *rules.Ruling:
		p.Line(at, "ruling", b.OrderID, "%s: customer %s, provider %s %v: %s",
			b.Outcome, money(b.RefundAmount, b.Currency), money(b.ProviderAmount, b.Currency), b.Articles, b.Reason)
	case *rules.Transfer:
		p.Line(at, "transfer", b.OrderID, "%s to %s %s", money(b.Amount, b.Currency), b.To, b.PartyID)
	case *rules.Notice:
		p.Line(at, "notice", b.OrderID, "%s%s %v: %s", b.Kind, p.noticeTail(*b), b.Articles, b.Message)
	case *rules.Rejection:
		p.Line(at, "rejected", b.OrderID, "%s %s: %s %v", b.EventType, b.EventID, b.Reason, b.Articles)
	}
	return c.Body
}

// Line prints a line of any kind: the demo's events too.
func (p *Printer) Line(at time.Time, kind, order, format string, args ...any) {
	if p.Start.IsZero() {
		fmt.Fprintf(p.Out, "%s  %-9s %-11s %s\n", at.UTC().Format(time.RFC3339), kind, order, fmt.Sprintf(format, args...))
		return
	}
	fmt.Fprintf(p.Out, "%+7.1fs  %-9s %-11s %s\n", at.Sub(p.Start).Seconds(), kind, order, fmt.Sprintf(format, args...))
}

func (p *Printer) noticeTail(n rules.Notice) string {
	var s string
	if n.Party != "" {
		s += " for " + string(n.Party)
	}
	switch {
	case n.Due == nil:
	case p.Start.IsZero():
		s += ", due " + n.Due.UTC().Format(time.RFC3339)
	default:
		s += fmt.Sprintf(", due at %+.1fs", n.Due.Sub(p.Start).Seconds())
	}
	return s
}

// money formats minor units with two decimals, which fits most currencies
// (CNY, EUR, USD); it is for display only.
func money(minor int64, currency string) string {
	return fmt.Sprintf("%d.%02d %s", minor/100, minor%100, currency)
}
