// Package story is the bench's load: what it writes to Kafka and what each
// event should cause. Orders run mixed dispute stories in real time (Kinds,
// told by Stories, whose commands are counted by replaying each kind once:
// CountCommands), hostile input is mixed in (Hostile), and every event is a
// CloudEvents JSON message made by EncodeEvent. An order's ID tells the run
// and the phase it belongs to (OrderPrefix, PhaseOf), so that the commands
// the processor publishes can be traced back to their causes.
package story
