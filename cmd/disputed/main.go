// Command disputed runs the service market's dispute-resolution rules on
// event streams: `disputed run` is the stream processor, `disputed demo`
// shows it deciding a few sample disputes on in-process servers,
// `disputed replay` decides a file of events offline with the same rules
// code, and `disputed tail` follows the commands it publishes. The bench,
// which runs this binary under load, is a command of its own:
// cmd/disputed-bench.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
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

// buildVersion is stamped at link time (-ldflags "-X main.buildVersion=v1.2.3",
// as the Makefile's build target does with git describe, and the
// Dockerfile with its VERSION build argument); otherwise version falls
// back to what go build recorded.
var buildVersion string

// version is the running build's version, as `disputed version` prints it
// and disputed_build_info's version label shows it.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	return versionOf(buildVersion, bi, ok)
}

// versionOf is the version stamped at link time, else the main module's
// version go build recorded (a tag, or a pseudo-version of the commit:
// go build does so in a Git work tree), else the commit it was built from,
// else "unknown"; never Go's placeholder "(devel)".
func versionOf(stamped string, bi *debug.BuildInfo, ok bool) string {
	if stamped != "" {
		return stamped
	}
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "-dirty"
		}
	}
	if rev == "" {
		return "unknown"
	}
	return "rev-" + rev[:min(len(rev), 12)] + dirty
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
  tail [--from-start]            follow the commands disputed publishes (the DISPUTES and
                                 FINANCE streams) and print them one a line
  version                        print the version (also --version)
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
		return runCmd(ctx, args[1:], getenv, stdout, stderr)
	case "tail":
		return tailCmd(ctx, args[1:], getenv, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "disputed %s (%s %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	case "demo":
		return demoCmd(ctx, args[1:], getenv, stdout, stderr)
	case "replay":
		return replayCmd(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
}
