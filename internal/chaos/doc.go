// Package chaos holds the chaos runs of the real binary: `disputed run`
// child processes under continuous load while they are SIGKILLed and
// restarted, Redis and NATS are restarted and members join and leave the
// group. At the end JetStream must hold exactly the commands `disputed
// replay` gives for what was produced, each once. The runs are its tests:
// TestChaosShort in `make test`, TestChaos in `make chaos`.
package chaos
