package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/disputed/disputed/internal/bench/report"
)

// Main is `disputed-bench`: it parses args, runs the processor, `disputed
// run` of the service binary (--disputed), as child processes under load,
// prints the report as a table on stdout (and as JSON with --json), and
// logs its progress on stderr. It returns flag.ErrHelp for -h, and an error
// wrapping ErrUsage for a bad command line. `disputed-bench compare OLD NEW`
// compares two --json reports instead.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "compare" {
		return compareMain(args[1:], stdout, stderr)
	}
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if cfg.Quiet {
		log = slog.New(slog.DiscardHandler)
	}
	exe, err := findDisputed(cfg.Disputed)
	if err != nil {
		return err
	}
	rep, err := measure(ctx, cfg, exe, log)
	if rep != nil {
		rep.PrintTable(stdout)
		if cfg.JSON != "" {
			if jerr := rep.WriteJSON(cfg.JSON, stdout); jerr != nil {
				err = errors.Join(err, jerr)
			}
		}
	}
	return err
}

const compareUsage = `usage: disputed-bench compare OLD.json NEW.json

Compares two reports written by "disputed-bench --json": each figure of the
old run, the new one and the change. Exits with status 1 when a guarded
figure (marked with its tolerance) got worse by more than it tolerates.
`

// compareMain is `disputed-bench compare`: it reads the two reports and
// compares them (report.Compare).
func compareMain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, compareUsage) }
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return fmt.Errorf("%w: compare takes two report files, got %d", ErrUsage, fs.NArg())
	}
	old, err := report.Read(fs.Arg(0))
	if err != nil {
		return err
	}
	cur, err := report.Read(fs.Arg(1))
	if err != nil {
		return err
	}
	return report.Compare(stdout, old, cur)
}

// findDisputed returns the service binary the processors run: flagValue
// when given, else disputed in this binary's folder, else on PATH.
func findDisputed(flagValue string) (string, error) {
	if flagValue != "" {
		path, err := exec.LookPath(flagValue)
		if err != nil {
			return "", fmt.Errorf("%w: --disputed: %w", ErrUsage, err)
		}
		return path, nil
	}
	if self, err := os.Executable(); err == nil {
		next := filepath.Join(filepath.Dir(self), "disputed")
		if st, err := os.Stat(next); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return next, nil
		}
	}
	path, err := exec.LookPath("disputed")
	if err != nil {
		return "", fmt.Errorf("%w: no disputed binary next to this one or on PATH: build it (make build) or name it with --disputed", ErrUsage)
	}
	return path, nil
}
