// Package inspect serves disputed's HTTP surface: Prometheus metrics, the
// liveness and readiness probes, and the /v1 inspection API that SREs and the
// platform's reviewers read disputes through (a dispute's state, obligations,
// timeline and rulings; a preview of what an event would do; the queue of
// open disputes), with the contract's documents (its OpenAPI document, the
// JSON Schemas of the events and commands). It only reads: decisions are
// made by events on Kafka. The reviewers' console (package inspect/console)
// is served beside it and reads through it; a reviewer's decision becomes
// such an event.
package inspect
