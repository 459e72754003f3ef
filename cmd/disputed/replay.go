package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/disputed/disputed/rules"
)

func replayCmd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	until := fs.String("until", "", "after the last event, fire the deadlines due up to this RFC 3339 `time`")
	policy := rules.DefaultPolicy()
	e := &envDefaults{}
	e.policy(fs, &policy, getenv)
	if err := parseFlags(fs, args, stderr, func(w io.Writer) {
		fmt.Fprintln(w, "usage: disputed replay [--until TIME] [flags] [FILE]")
		fmt.Fprintln(w, "Decides the events of FILE (or stdin), one CloudEvents JSON event a line, in order,")
		fmt.Fprintln(w, "using each event's time as the clock, and prints each command as a JSON line.")
	}); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := e.check(fs); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	var untilT time.Time
	if *until != "" {
		t, err := time.Parse(time.RFC3339Nano, *until)
		if err != nil {
			return fmt.Errorf("%w: --until %q is not an RFC 3339 time", errUsage, *until)
		}
		untilT = t
	}
	if err := e.names(&policy).errors("", policy.Validate()); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	in := stdin
	switch fs.NArg() {
	case 0:
	case 1:
		if name := fs.Arg(0); name != "-" {
			f, err := os.Open(name)
			if err != nil {
				return fmt.Errorf("replay: %w", err)
			}
			defer f.Close()
			in = f
		}
	default:
		return fmt.Errorf("%w: replay takes at most one file, got %d", errUsage, fs.NArg())
	}
	return replay(ctx, policy, in, stdout, stderr, untilT)
}

// replay decides the events read from in and writes the commands to out. A
// malformed line is reported on errOut with its number and skipped; replay
// then returns an error once every other line is done.
func replay(ctx context.Context, p rules.Policy, in io.Reader, out, errOut io.Writer, until time.Time) (err error) {
	w := bufio.NewWriter(out)
	// Whatever ends the run, the lines written so far go out whole.
	defer func() {
		if ferr := w.Flush(); ferr != nil && err == nil {
			err = fmt.Errorf("replay: write: %w", ferr)
		}
	}()
	r := rules.NewReplay(p)
	write := func(cmds []rules.Command) error {
		for _, c := range cmds {
			b, err := json.Marshal(c)
			if err != nil {
				return fmt.Errorf("replay: encode command %s: %w", c.ID, err)
			}
			w.Write(b)
			w.WriteByte('\n')
		}
		return nil
	}
	lines := newLineReader(in, rules.MaxEventSize)
	bad := 0
	for n := 1; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		line, err := lines.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, errLineTooLong) {
			fmt.Fprintf(errOut, "line %d: %v\n", n, err)
			bad++
			continue
		}
		if err != nil {
			return fmt.Errorf("replay: read line %d: %w", n, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		e, err := rules.Decode(line)
		if err == nil {
			var cmds []rules.Command
			cmds, err = r.Apply(e)
			if werr := write(cmds); werr != nil {
				return werr
			}
		}
		if err != nil {
			if !errors.Is(err, rules.ErrInvalidEvent) {
				return fmt.Errorf("replay: line %d: %w", n, err)
			}
			fmt.Fprintf(errOut, "line %d: %v\n", n, err)
			bad++
		}
	}
	if !until.IsZero() {
		cmds, err := r.Advance(until)
		if err != nil {
			return fmt.Errorf("replay: fire deadlines until %s: %w", until.Format(time.RFC3339), err)
		}
		if err := write(cmds); err != nil {
			return err
		}
	}
	if bad > 0 {
		fmt.Fprintf(errOut, "replay: %d malformed line(s) skipped\n", bad)
		return errReported
	}
	return nil
}

var errLineTooLong = errors.New("line too long")

// lineReader reads newline-terminated lines of at most max bytes; a longer
// line is skipped whole and reported, and reading goes on.
type lineReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

func (l *lineReader) next() ([]byte, error) {
	l.buf = l.buf[:0]
	tooLong := false
	for {
		chunk, err := l.r.ReadSlice('\n')
		if !tooLong {
			if len(l.buf)+len(chunk) > l.max+2 { // the line and its "\r\n"
				tooLong = true
				l.buf = l.buf[:0]
			} else {
				l.buf = append(l.buf, chunk...)
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil && !errors.Is(err, io.EOF):
			return nil, err
		case errors.Is(err, io.EOF) && len(l.buf) == 0 && !tooLong:
			return nil, io.EOF
		}
		if tooLong {
			return nil, fmt.Errorf("%w: more than %d bytes", errLineTooLong, l.max)
		}
		return bytes.TrimRight(l.buf, "\r\n"), nil
	}
}
