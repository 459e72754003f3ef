package testserver

import (
	"log/slog"

	"github.com/disputed/disputed/state"
)

// The Redis client library logs connection failures on stderr by default;
// the tests restart servers on purpose, and what matters reaches them as
// errors. A service started by a test sets its own logger.
func init() { state.SetLogger(slog.New(slog.DiscardHandler)) }
