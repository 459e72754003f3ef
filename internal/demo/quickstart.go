package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/disputed/disputed/consumer"
	"github.com/disputed/disputed/rules"
)

// QuickstartStory is the README's story ("Replay a story"): the software
// was never delivered, the provider does not prove delivery, and the refund
// is split by the assessment. TestQuickstartStoryIsTheREADMEs keeps the two
// the same.
var QuickstartStory = []string{
	`{"specversion":"1.0","id":"e1","source":"orders","type":"order.paid","time":"2026-03-01T10:00:00Z","subject":"ord-1","data":{"customer_id":"mer-7","provider_id":"sp-3","category":"software_app","amount":29900,"currency":"CNY"}}`,
	`{"specversion":"1.0","id":"e2","source":"refunds","type":"refund.requested","time":"2026-03-02T09:00:00Z","subject":"ord-1","data":{"reason":"not_delivered"}}`,
	`{"specversion":"1.0","id":"e3","source":"refunds","type":"intervention.requested","time":"2026-03-02T12:00:00Z","subject":"ord-1","data":{"by":"customer"}}`,
	`{"specversion":"1.0","id":"e4","source":"refunds","type":"assessment.recorded","time":"2026-03-03T08:00:00Z","subject":"ord-1","data":{"value_ratio_bp":2500}}`,
}

// Quickstart is what `disputed run` on its embedded default prints: commands
// to paste that use the servers' real addresses, to produce the README's
// story with kcat, watch the commands with `disputed tail` or the nats CLI,
// and ask the API with curl.
type Quickstart struct {
	Brokers, NATSURL, Redis string
	API                     string // the HTTP API's base URL
	Token                   bool   // the API wants a bearer token
	Topics                  consumer.Topics
	Idle                    time.Duration
	Self                    string // how to run disputed again
}

func (q Quickstart) auth() string {
	if q.Token {
		return ` -H "Authorization: Bearer $DISPUTED_API_TOKEN"`
	}
	return ""
}

// Print writes the commands to out.
func (q Quickstart) Print(out io.Writer) {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("")
	p("disputed is running on in-process servers (all in memory; everything is lost on exit).")
	p("Kafka %s, NATS %s, Redis %s, HTTP %s.", q.Brokers, q.NATSURL, q.Redis, q.API)
	p("")
	p("Watch the commands it publishes, in another terminal (or with the nats CLI):")
	p("")
	p("  %s tail --nats-url %s --from-start", q.Self, q.NATSURL)
	p("  nats --server %s sub 'disputes.>'    # and 'finance.>' for the transfers", q.NATSURL)
	p("")
	p("Produce the README's story with kcat (the message key is the order ID, before the '|'; the")
	p("lines are not indented, so that the shell ends each heredoc at its EOF):")
	p("")
	var topics []string
	byTopic := map[string][]string{}
	for _, line := range QuickstartStory {
		var head struct {
			Type    rules.Type `json:"type"`
			Subject string     `json:"subject"`
		}
		json.Unmarshal([]byte(line), &head) // a constant, decoded by TestQuickstart
		t := q.Topics.Of(head.Type)
		if !slices.Contains(topics, t) {
			topics = append(topics, t)
		}
		byTopic[t] = append(byTopic[t], head.Subject+"|"+line)
	}
	for _, t := range topics {
		p("kcat -P -b %s -t %s -K '|' <<'EOF'", q.Brokers, t)
		for _, l := range byTopic[t] {
			p("%s", l)
		}
		p("EOF")
	}
	p("")
	p("Its evidence deadline (2026-03-05T12:00Z) is long past: it fires once the partition has been")
	p("quiet for --idle (%v), and the ruling splits the refund (c2.a9). Then ask the API:", q.Idle)
	p("")
	p("  curl -s%s %s/v1/disputes/ord-1", q.auth(), q.API)
	p("  curl -s%s '%s/v1/disputes?status=negotiating,under_review,escalated,suspended'", q.auth(), q.API)
	p("  curl -s %s/v1/openapi.json    # the API's routes; the event and command schemas are at /v1/schemas/", q.API)
	p("")
	p("The reviewers' console: %s/console/", q.API)
	p("")
	io.WriteString(out, b.String())
}
