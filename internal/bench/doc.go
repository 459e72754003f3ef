// Package bench is `disputed-bench`: it puts the stream processor under
// realistic load and reports what it achieved against what its three servers
// can do alone:
//
//  1. load: many orders run mixed dispute stories in real time through
//     Kafka into a processor running as a child process (so that its CPU
//     and memory are its own), optionally with a share of hostile input;
//  2. deadlines: many orders get evidence deadlines due within seconds;
//  3. the processor's CPU and peak RSS, Redis memory per open dispute and
//     per pending deadline, and an oversized-message probe;
//  4. ceilings, in the same run: Kafka read alone, the store's atomic save
//     alone, JetStream publish alone.
//
// The files hold the parts: the command line (bench.go), the servers
// (servers.go), the processor as a child process (child.go) and its metrics
// (prom.go), the story generator (load.go), hostile input (hostile.go), the
// command observer (observe.go), the run and its producer (run.go), the
// phases (phases.go), the ceilings (ceilings.go), Redis measurements and
// preloading (redis.go), and the report (report.go).
package bench
