// Package bench is `disputed-bench`: it puts the stream processor, `disputed
// run` of the service binary in child processes, under realistic load and
// reports what it achieved against what its three servers can do alone:
//
//  1. load: many orders run mixed dispute stories in real time through
//     Kafka into the processors (child processes, so that their CPU and
//     memory are their own), optionally with a share of hostile input, once
//     per member count of a scale-out;
//  2. deadlines: many orders get evidence deadlines due within seconds;
//  3. the processors' CPU and peak RSS, Redis memory per open dispute and
//     per pending deadline, and an oversized-message probe;
//  4. ceilings, in the same run: Kafka read alone, the store's atomic save
//     alone, JetStream publish alone.
//
// This package is the command line (bench.go, config.go) and the run's
// phases, one type each, which measure runs in order (measure.go): the
// preload (preload.go), the load's steps (scaleOut, scale.go) each a
// loadPhase (load.go) with its hostile input (badInput, badinput.go), the
// deadlines (deadlinePhase, deadlines.go) with the Redis memory they hold
// (redisMemory, memory.go), and the ceilings (ceilings.go, savebatches.go).
// The phases share the run (run.go): its servers, processors, producer
// (producer.go) and observer.
//
// The parts below the phases are packages of their own, which import
// nothing above them: report (the report's types, the table, the JSON, and
// compare, the regression guard), story (the events of the load), observe
// (the commands seen, traced to their causes), processor (the child
// processes, their group and their metrics), servers (Kafka, NATS, Redis)
// and host (/proc).
package bench
