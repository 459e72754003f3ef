// Package layout holds a test that keeps the project's imports pointing
// inward (docs/architecture.md): cmd may use everything, the adapters
// (consumer, state, producer, inspect) only rules and their own drivers,
// never one another, and rules only the standard library; and the bench's
// packages, whose files depend on one another one way only.
package layout
