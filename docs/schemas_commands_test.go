package docs

import (
	"strings"

	"github.com/disputed/disputed/rules"
)

func commandSchema(title, desc string, required []string, props obj, extra ...kv) obj {
	return obj{
		{"$schema", draft},
		{"title", title},
		{"description", desc + " Consumers must ignore fields they do not know: later versions may add some."},
		{"type", "object"},
		{"required", required},
		{"properties", props},
	}.with(extra...)
}

func rulingSchema() obj {
	zero := obj{{"const", 0}}
	positive := obj{{"minimum", 1}}
	outcome := func(o rules.Outcome, props obj) obj {
		return obj{{"if", obj{{"properties", obj{{"outcome", obj{{"const", string(o)}}}}}, {"required", []string{"outcome"}}}}, {"then", obj{{"properties", props}}}}
	}
	return commandSchema("disputed ruling", "The body of a disputes.ruling.<order_id> message: a dispute decided, settled or escalated. For every ruling that moves money, refund_amount + provider_amount == amount, and its transfers add up to the same (a sum JSON Schema cannot check).",
		[]string{"command_id", "ruling_id", "order_id", "outcome", "refund_amount", "provider_amount", "amount", "currency", "articles", "reason", "decided_at", "rule_set", "cause"},
		obj{
			{"command_id", describe(obj{{"type", "string"}, {"pattern", `^.+/ruling$`}}, "<ruling_id>/ruling; "+commandIDDoc)},
			{"ruling_id", describe(obj{{"type", "string"}, {"pattern", `^[A-Za-z0-9_:@+=#~-]{1,128}/(?:event|deadline):.+$`}}, "<order_id>/<cause>")},
			{"order_id", orderIDProp},
			{"outcome", describe(obj{{"enum", []string{"refund_full", "refund_partial", "release", "settled", "escalated"}}}, "refund_full: all to the customer; release: all to the provider; refund_partial: split; settled: the parties' agreement; escalated: a person must decide, no money moves")},
			{"refund_amount", describe(moneySchema, "to the customer, in minor units")},
			{"provider_amount", describe(moneySchema, "to the provider, in minor units")},
			{"amount", describe(positiveMoney, "the order amount the platform holds")},
			{"currency", currencySchema},
			{"articles", describe(articlesSchema.with(kv{"uniqueItems", true}), "the citations the ruling rests on, in the order relied on")},
			{"reason", describe(sentence, "one plain sentence")},
			{"arithmetic", describe(obj{{"type", "string"}}, "how the split was computed, for people; left out when escalated")},
			{"decided_at", describe(timeSchema, "the time of the event or deadline that caused the ruling (not the wall clock), in UTC")},
			{"rule_set", describe(obj{{"const", rules.RuleSet2018}}, "the rules text the order is decided under")},
			{"cause", describe(obj{{"type", "string"}, {"pattern", `^(?:event|deadline):.+$`}}, "event:<event id> or deadline:<timer id>")},
		},
		kv{"allOf", []obj{
			outcome(rules.Escalated, obj{{"refund_amount", zero}, {"provider_amount", zero}}),
			outcome(rules.RefundFull, obj{{"refund_amount", positive}, {"provider_amount", zero}}),
			outcome(rules.Release, obj{{"refund_amount", zero}, {"provider_amount", positive}}),
			outcome(rules.RefundPartial, obj{{"refund_amount", positive}, {"provider_amount", positive}}),
		}})
}

func transferSchema() obj {
	return commandSchema("disputed transfer", "The body of a finance.transfer.<order_id> message: one party's share of a ruling that moves money.",
		[]string{"command_id", "transfer_id", "ruling_id", "order_id", "to", "party_id", "amount", "currency"},
		obj{
			{"command_id", describe(obj{{"type", "string"}, {"pattern", `^.+/transfer/(?:customer|provider)$`}}, "equal to transfer_id; "+commandIDDoc)},
			{"transfer_id", describe(obj{{"type", "string"}, {"pattern", `^.+/transfer/(?:customer|provider)$`}}, "<ruling_id>/transfer/customer or <ruling_id>/transfer/provider")},
			{"ruling_id", describe(idString, "the ruling it pays out")},
			{"order_id", orderIDProp},
			{"to", obj{{"enum", []string{"customer", "provider"}}}},
			{"party_id", describe(idString, "customer_id or provider_id of order.paid")},
			{"amount", describe(positiveMoney, "in minor units, more than 0")},
			{"currency", currencySchema},
		})
}

func noticeSchema() obj {
	return commandSchema("disputed notice", "The body of a disputes.notice.<order_id> message: a party must act or be told something.",
		[]string{"command_id", "order_id", "kind", "articles", "message"},
		obj{
			{"command_id", describe(obj{{"type", "string"}, {"pattern", `^.+/notice/[a-z_]+$`}}, "<order_id>/<cause>/notice/<kind>; "+commandIDDoc)},
			{"order_id", orderIDProp},
			{"kind", obj{{"enum", []string{rules.NoticeEvidenceRequested, rules.NoticeSuspended, rules.NoticeResumed, rules.NoticeDeadlineMissed}}}},
			{"party", describe(partySchema, "the party addressed; left out when the notice is for both")},
			{"due", describe(timeSchema, "left out when there is no deadline to state")},
			{"articles", articlesSchema},
			{"message", describe(sentence, "one or two plain sentences for people")},
		})
}

func rejectedSchema() obj {
	types := wordsOf(rules.Types())
	return commandSchema("disputed rejection", "The body of a disputes.rejected.<order_id> message: an event that is well-formed but not allowed by the rules.",
		[]string{"command_id", "order_id", "event_id", "event_type", "code", "reason", "articles"},
		obj{
			{"command_id", describe(obj{{"type", "string"}, {"pattern", `^.+/rejected$`}}, "<order_id>/event:<event id>/rejected; "+commandIDDoc)},
			{"order_id", orderIDProp},
			{"event_id", describe(idSchema, "the rejected event's id")},
			{"event_type", describe(obj{{"enum", types}}, "the rejected event's type")},
			{"code", describe(obj{{"enum", rules.RejectionCodes()}}, "why, in a word a program can match (contract v2); the reason says it in a sentence")},
			{"reason", describe(sentence, "one plain sentence")},
			{"articles", describe(articlesSchema, "the articles that forbid the event; empty (never absent) when no article is concerned")},
		})
}

// commandLineSchema is a command as replay prints it and the preview
// answers it: subject and data.
func commandLineSchema(cmds map[string]obj) obj {
	var allOf []obj
	defs := obj{}
	for _, c := range []struct{ prefix, name string }{
		{rules.SubjectRuling, "ruling"}, {rules.SubjectTransfer, "transfer"}, {rules.SubjectNotice, "notice"}, {rules.SubjectRejected, "rejected"},
	} {
		body := obj{}
		for _, f := range cmds[c.name] {
			if f.k != "$schema" {
				body = append(body, f)
			}
		}
		defs = append(defs, kv{c.name, body})
		allOf = append(allOf, obj{
			{"if", obj{{"properties", obj{{"subject", obj{{"pattern", `^` + strings.ReplaceAll(c.prefix, ".", `\.`) + `\.`}}}}}, {"required", []string{"subject"}}}},
			{"then", obj{{"properties", obj{{"data", obj{{"$ref", "#/$defs/" + c.name}}}}}}},
		})
	}
	return obj{
		{"$schema", draft},
		{"title", "disputed command"},
		{"description", "A command as `disputed replay` prints it (one a line) and the preview API returns it: the NATS subject and the message body."},
		{"type", "object"},
		{"required", []string{"subject", "data"}},
		{"properties", obj{
			{"subject", describe(obj{{"type", "string"}, {"pattern", `^(?:disputes\.(?:ruling|notice|rejected)|finance\.transfer)\.[A-Za-z0-9_:@+=#~-]{1,128}$`}}, "the subject, which ends in the order ID")},
			{"data", obj{{"type", "object"}}},
		}},
		{"allOf", allOf},
		{"$defs", defs},
	}
}
