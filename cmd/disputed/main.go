// Command disputed runs the service market's dispute-resolution rules on
// event streams: `disputed run` is the stream processor, `disputed demo`
// shows it deciding a few sample disputes on in-process servers, and
// `disputed replay` decides a file of events offline with the same rules
// code.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/disputed/disputed/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "disputed:", err)
		}
		os.Exit(exitCode(err))
	}
}

// errReported is returned when the failure was already told on stderr.
var errReported = errors.New("reported")

// errUsage marks a command line that cannot be run; the exit status is 2.
var errUsage = errors.New("usage")

func exitCode(err error) int {
	if errors.Is(err, errUsage) || errors.Is(err, bench.ErrUsage) {
		return 2
	}
	return 1
}

// buildVersion is stamped at link time (-ldflags "-X main.buildVersion=v1.2.3",
// as the Makefile and the Dockerfile do); otherwise version falls back to
// the module version go build recorded.
var buildVersion string

func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "unknown"
}

const usage = `usage: disputed <command> [flags]

commands:
  run                            consume events from Kafka, keep state in Redis and publish
                                 commands to NATS JetStream; without --kafka-brokers,
                                 --redis-url and --nats-url it starts in-process servers
  demo                           run on in-process servers, feed them sample disputes
                                 and print the rulings and transfers as they are made
  replay [--until TIME] [FILE]   decide events from FILE (or stdin), one JSON event a line,
                                 and print the commands as JSON lines
  bench                          measure the processor under load against the ceilings of
                                 Kafka, Redis and JetStream on this machine
  help                           show this text

Run "disputed <command> -h" for a command's flags.
`

// run is main without the process: arguments, environment and streams are
// passed in, so tests can call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no command given", errUsage)
	}
	switch args[0] {
	case "run":
		return runCmd(ctx, args[1:], getenv, stderr)
	case "demo":
		return demoCmd(ctx, args[1:], getenv, stdout, stderr)
	case "replay":
		return replayCmd(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "bench":
		err := bench.Main(ctx, args[1:], stdout, stderr)
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
}
