// Package servers is the servers of a bench run: Kafka (kfake in process,
// or external brokers with topics of the run's own), NATS with JetStream
// (in process, or external), and Redis (a redis-server the bench starts, or
// an existing one under a fresh key prefix), with what the report says
// about each, and the Redis measurements the bench takes (memory, CPU).
package servers
