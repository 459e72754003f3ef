// Package scenario holds whole dispute stories with the commands `disputed
// replay` gives for them (the goldens), for every test that checks a decider
// against them: the engine's own tests, the CLI's, and the stream tests that
// send the stories through Kafka and expect exactly the goldens on JetStream.
//
// Each story is stories/NAME.jsonl, one CloudEvents event a line, with
// NAME.golden (replay's stdout), NAME.stderr when some lines are malformed,
// and NAME.args when replay takes flags (e.g. --until).
package scenario

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

//go:embed stories
var stories embed.FS

// Scenario is one story.
type Scenario struct {
	Name   string
	Args   []string // replay's flags before the file, from NAME.args
	Events []byte   // NAME.jsonl
	Golden []byte   // replay's stdout
	Stderr []byte   // replay's stderr; nil when every line is well-formed
}

// Lines returns the story's non-blank lines.
func (s Scenario) Lines() [][]byte {
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(s.Events))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			out = append(out, slices.Clone(sc.Bytes()))
		}
	}
	return out
}

// File is the path of the story's events on disk, for tests that run a
// command on it, and Path that of another of its files (".golden", ".args").
// They exist only where the source tree does (under `go test`).
func (s Scenario) File() string           { return s.Path(".jsonl") }
func (s Scenario) Path(ext string) string { return filepath.Join(Dir(), s.Name+ext) }

// All returns every story, by name.
func All() ([]Scenario, error) {
	names, err := fs.Glob(stories, "stories/*.jsonl")
	if err != nil {
		return nil, err
	}
	out := make([]Scenario, 0, len(names))
	for _, n := range names {
		s, err := load(strings.TrimSuffix(path.Base(n), ".jsonl"))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Get returns the named stories; all of them when no name is given.
func Get(names ...string) ([]Scenario, error) {
	all, err := All()
	if err != nil || len(names) == 0 {
		return all, err
	}
	var out []Scenario
	for _, n := range names {
		i := slices.IndexFunc(all, func(s Scenario) bool { return s.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("scenario %q: no such story", n)
		}
		out = append(out, all[i])
	}
	return out, nil
}

// Lines returns the lines of the named stories (all without names), story
// after story.
func Lines(names ...string) ([][]byte, error) {
	ss, err := Get(names...)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, s := range ss {
		out = append(out, s.Lines()...)
	}
	return out, nil
}

func load(name string) (Scenario, error) {
	s := Scenario{Name: name}
	var err error
	if s.Events, err = stories.ReadFile("stories/" + name + ".jsonl"); err != nil {
		return s, err
	}
	if s.Golden, err = stories.ReadFile("stories/" + name + ".golden"); err != nil {
		return s, fmt.Errorf("scenario %s: %w (run the CLI's scenario test with -update)", name, err)
	}
	s.Stderr, err = optional(name + ".stderr")
	if err != nil {
		return s, err
	}
	args, err := optional(name + ".args")
	if err != nil {
		return s, err
	}
	s.Args = strings.Fields(string(args))
	return s, nil
}

func optional(name string) ([]byte, error) {
	b, err := stories.ReadFile("stories/" + name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// Dir is the stories' folder in the source tree, where -update writes.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "stories")
}
