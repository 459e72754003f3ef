// Command disputed-bench measures the stream processor under load: it
// starts the service binary, disputed (--disputed, by default the one next
// to this binary, else the one on PATH), as child processes running
// `disputed run` beside Kafka, Redis and NATS, and reports what they
// achieved against what the three servers do alone. `disputed-bench compare
// OLD.json NEW.json` is the regression guard of `make bench`. The bench is
// internal/bench; this is its command line only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/disputed/disputed/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "disputed-bench:", err)
		os.Exit(exitCode(err))
	}
}

// run is main without the process, for the tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	err := bench.Main(ctx, args, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// exitCode is 2 for a command line that cannot be run, else 1.
func exitCode(err error) int {
	if errors.Is(err, bench.ErrUsage) {
		return 2
	}
	return 1
}
