// Package producer publishes disputed's commands to NATS JetStream, with the
// command ID as Nats-Msg-Id so that JetStream drops a repeat within its
// duplicate window, and creates the streams the commands land in.
package producer
