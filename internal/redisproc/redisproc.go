// Package redisproc says how the project runs a redis-server of its own,
// for the tests and for the bench alike: durable as disputed's default
// --redis-durability (fsync) requires.
package redisproc

import (
	"path/filepath"
	"strconv"
)

// Args is the command line of a redis-server on 127.0.0.1:port that keeps
// its data and its log in dir, in the foreground: an append-only file
// fsynced at every write and no snapshots, so that a kill and a restart
// lose nothing acknowledged, and disputed's start-up check passes.
func Args(port int, dir string) []string {
	return []string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--dir", dir, "--logfile", LogFile(dir), "--daemonize", "no",
	}
}

// LogFile is where a server started with Args in dir logs.
func LogFile(dir string) string { return filepath.Join(dir, "redis.log") }
