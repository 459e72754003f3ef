package rules

import (
	"fmt"
	"math/bits"
)

// Split is how an amount is divided between the customer and the provider.
// Refund + Provider always equals the amount split.
type Split struct {
	Refund     int64    // to the customer
	Provider   int64    // to the provider
	Articles   []string // the articles the split rests on
	Arithmetic string   // the computation, for people
}

// AssessedSplit divides amount by a reviewer's assessment (rules.md, Money):
//
//   - nothing delivered, cost incurred: the provider gets min(cost, amount) (c2.a8);
//   - partly delivered: the provider gets floor(amount * ratio / 10000) (c2.a9);
//   - partly delivered, cost on the rest: the provider gets
//     min(amount, floor(amount * ratio / 10000) + unrealized cost) (c2.a10).
//
// The customer gets the rest. Rounding is down for the provider, never in its
// favour (c2.a2). Service cost counts at most the amount (c1.s2.service_cost).
// The arithmetic is exact for every non-negative int64 amount.
func AssessedSplit(amount int64, a Assessment) Split {
	var s Split
	switch {
	case a.ValueRatioBP == 0 && a.ServiceCost > 0:
		s.Provider = min(a.ServiceCost, amount)
		s.Articles = []string{C2A8}
		s.Arithmetic = fmt.Sprintf("provider = min(service cost %d, amount %d) = %d", a.ServiceCost, amount, s.Provider)
		if a.ServiceCost > amount {
			s.Articles = append(s.Articles, C1S2ServiceCost)
		}
	case a.ValueRatioBP > 0 && a.UnrealizedCost > 0:
		share := ratio(amount, a.ValueRatioBP)
		if a.UnrealizedCost >= amount-share {
			s.Provider = amount
		} else {
			s.Provider = share + a.UnrealizedCost
		}
		s.Articles = []string{C2A10}
		s.Arithmetic = fmt.Sprintf("provider = min(amount %d, floor(%d * %d / 10000) + unrealized cost %d) = %d",
			amount, amount, a.ValueRatioBP, a.UnrealizedCost, s.Provider)
	default:
		s.Provider = ratio(amount, a.ValueRatioBP)
		s.Articles = []string{C2A9}
		s.Arithmetic = fmt.Sprintf("provider = floor(%d * %d / 10000) = %d", amount, a.ValueRatioBP, s.Provider)
	}
	s.Refund = amount - s.Provider
	s.Arithmetic += fmt.Sprintf("; customer = %d - %d = %d", amount, s.Provider, s.Refund)
	return s
}

// ratio is floor(amount * bp / 10000) without overflow, for 0 <= bp <= 10000.
func ratio(amount, bp int64) int64 {
	hi, lo := bits.Mul64(uint64(amount), uint64(bp))
	q, _ := bits.Div64(hi, lo, 10000) // hi < 10000 because bp <= 10000
	return int64(q)
}

// capRefund keeps a refund within what the customer asked for; the rest goes
// to the provider.
func capRefund(s Split, amount, requested int64) Split {
	if requested <= 0 || s.Refund <= requested {
		return s
	}
	s.Arithmetic += fmt.Sprintf("; capped at the %d the customer requested: customer = %d; provider = %d - %d = %d",
		requested, requested, amount, requested, amount-requested)
	s.Refund = requested
	s.Provider = amount - requested
	s.Articles = append(s.Articles, C1S3A2)
	return s
}

// outcomeOf names a ruling that moves money by its amounts.
func outcomeOf(refund, amount int64) Outcome {
	switch refund {
	case amount:
		return RefundFull
	case 0:
		return Release
	}
	return RefundPartial
}
