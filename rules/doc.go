// Package rules is disputed's decision engine: it turns the service market's
// dispute-resolution rules (the 2018-03-12 text) into rulings, transfers,
// notices and rejections.
//
// The package is pure. Everything it needs is an argument: a dispute's State,
// an Event (or a fired deadline, which is an Event too) and the time. Policy.Apply
// returns a Decision: the new state, the commands to publish and the deadlines
// to arm or disarm. It reads no clock, does no I/O, draws no random numbers and
// logs nothing, so the same events give the same commands byte for byte in the
// stream processor and in `disputed replay`.
//
// Every decision cites the articles it rests on (see Citations) and carries a
// one-sentence reason; a split of money shows its arithmetic. IDs of rulings,
// transfers and commands are derived from the order and the input that caused
// them, so a retry or a replay produces the same IDs.
package rules
