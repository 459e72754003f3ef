// Package processor is the processors under test: each a child process
// running `disputed run` of the service binary (Child), the members of one
// consumer group (Fleet), what their /metrics say (Metrics, and a phase's
// figures from two scrapes: FillPhaseMetrics), and their profiles
// (Profiler).
package processor
