// Package chaos holds the chaos runs of the real binary: `disputed run`
// child processes under continuous load while they are SIGKILLed and
// restarted, members join and leave the group, and their servers fail. The
// single-node run restarts Redis and NATS and restores Redis from an older
// snapshot; the cluster run (three Kafka brokers, a Redis Cluster with a
// replica per primary, three NATS servers) stops partition leaders, fails
// Redis primaries over and kills them, and kills NATS servers. At the end
// JetStream must hold exactly the commands `disputed replay` gives for what
// was produced, each once. The runs are its tests: TestChaosShort and
// TestClusterChaosShort in `make test`, TestChaos in `make chaos`,
// TestClusterChaos in `make cluster-chaos`.
package chaos
