// Command disputed runs the service market's dispute-resolution rules on
// event streams: `disputed run` is the stream processor, `disputed replay`
// decides a file of events offline with the same rules code.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
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
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

const usage = `usage: disputed <command> [flags]

commands:
  replay [--until TIME] [FILE]   decide events from FILE (or stdin), one JSON event a line,
                                 and print the commands as JSON lines
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
	case "replay":
		return replayCmd(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
}
