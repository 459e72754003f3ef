// Package testserver starts the real servers disputed's tests run against:
// a redis-server process on a free port (restartable, with its append-only
// file), an in-process NATS server with JetStream, and an in-process Kafka
// cluster (kfake) spoken to over TCP, or topics of the test's own on the run's
// real Kafka broker (EnvKafka). For the runs that fail servers of a cluster:
// a Kafka cluster of three nodes (deploy/local/kafka/kafka.sh), a Redis
// Cluster of three primaries with a replica each, and three nats-server
// processes routed to one another, each node of which the test can stop,
// kill and restart.
//
// A server that cannot be started fails the test when the CI environment
// variable is set, and skips it, saying why, otherwise: integration tests
// never skip silently in CI.
package testserver
