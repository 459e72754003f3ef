package rules

import "fmt"

// Per-order quotas keep an order flooded with events, by mistake or on
// purpose, to a small, known amount of memory and time, and keep one party's
// flood from using up the room the other party's rights need. Each party
// (customer, provider, and the platform with the parties jointly) has a
// quota of its own of chat messages, of evidence, and of other events: a
// customer who sends a thousand chats fills only its own chat quota, and the
// provider's evidence, the parties' settlement, the reviewer's decision, a
// suspension or its lift still have room. Deadline firings are never
// counted.
//
// An event over its quota is rejected (a disputes.rejected command naming
// the quota) and not recorded: the state stays as it was, and a redelivery
// is rejected again under the same command ID.

// Quota kinds.
const (
	quotaChat     = "chat messages"
	quotaEvidence = "pieces of evidence"
	quotaEvents   = "events"
)

// Counts are what an order's parties have used of their quotas.
type Counts struct {
	CustomerEvents   int `json:"customer_events,omitempty"`
	ProviderEvents   int `json:"provider_events,omitempty"`
	PlatformEvents   int `json:"platform_events,omitempty"`
	CustomerChats    int `json:"customer_chats,omitempty"`
	ProviderChats    int `json:"provider_chats,omitempty"`
	PlatformChats    int `json:"platform_chats,omitempty"`
	CustomerEvidence int `json:"customer_evidence,omitempty"`
	ProviderEvidence int `json:"provider_evidence,omitempty"`
	PlatformEvidence int `json:"platform_evidence,omitempty"`
}

// counter returns the count the event draws on, and the quota's kind.
func (c *Counts) counter(e Event) (*int, string) {
	class := QuotaEvents
	if s := specOf(e.Type); s != nil {
		class = s.Quota
	}
	party := e.Sender()
	switch class {
	case QuotaChats:
		return pick(party, &c.CustomerChats, &c.ProviderChats, &c.PlatformChats), quotaChat
	case QuotaEvidence:
		return pick(party, &c.CustomerEvidence, &c.ProviderEvidence, &c.PlatformEvidence), quotaEvidence
	}
	return pick(party, &c.CustomerEvents, &c.ProviderEvents, &c.PlatformEvents), quotaEvents
}

// pick is the count of the party: the customer's, the provider's, or the
// platform's (which the parties jointly also draw on).
func pick(p Party, customer, provider, platform *int) *int {
	switch p {
	case Customer:
		return customer
	case Provider:
		return provider
	}
	return platform
}

// quota is the size of a quota of the kind; 0 means none.
func (p Policy) quota(kind string) int {
	switch kind {
	case quotaChat:
		return p.MaxChats
	case quotaEvidence:
		return p.MaxEvidence
	}
	return p.MaxEvents
}

// QuotaReached ends the reason of every rejection for a quota, so that a
// reader of disputes.rejected can tell them from the rules' rejections.
const QuotaReached = "its limit; later ones are not kept"

// overQuota says why e is over its sender's quota, or "".
func (p Policy) overQuota(s State, e Event) string {
	n, kind := s.Counts.counter(e)
	if max := p.quota(kind); max > 0 && *n >= max {
		return fmt.Sprintf("the %s has sent %d %s on order %s, %s", e.Sender(), max, kind, e.OrderID, QuotaReached)
	}
	return ""
}
