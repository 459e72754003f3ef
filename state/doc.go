// Package state keeps disputed's store of record in Redis: each order's
// dispute state, each partition's deadlines, outbox of commands and applied
// offsets. Every write of a batch is one atomic Lua script over keys that
// share the partition's hash tag, so the same code runs on Redis Cluster.
package state
