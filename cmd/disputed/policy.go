package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/disputed/disputed/rules"
)

// policy registers the rules engine's settings on fs, with their
// environment equivalents as defaults. After parsing, check reports
// environment values that do not parse, unless the flag was given and
// overrides them.
func (e *envDefaults) policy(fs *flag.FlagSet, p *rules.Policy, getenv func(string) string) {
	e.duration(fs, &p.EvidenceWindow, "evidence-window", "DISPUTED_EVIDENCE_WINDOW", getenv,
		"time the burdened party has to submit evidence once the platform intervenes (c1.s4.a2)")
	e.duration(fs, &p.ModificationWindow, "modification-window", "DISPUTED_MODIFICATION_WINDOW", getenv,
		"modification cycle when the order agreed none (c2.a5)")
}

// envDefaults collects flags whose defaults come from the environment, the
// environment values that did not parse, and the field each flag sets.
type envDefaults struct {
	bad     map[string]error // flag name -> error of its environment value
	flags   map[any]string   // pointer to the field a flag sets -> flag name
	secrets []string         // flags better set by their environment variable
}

// defines records that the flag name sets the field p points to.
func (e *envDefaults) defines(p any, name string) {
	if e.flags == nil {
		e.flags = make(map[any]string)
	}
	e.flags[p] = name
}

func (e *envDefaults) fail(flagName, env, value string, err error) {
	if e.bad == nil {
		e.bad = make(map[string]error)
	}
	e.bad[flagName] = fmt.Errorf("%s=%q: %v", env, value, err)
}

// duration is fs.DurationVar with the default taken from the environment
// variable env when it is set.
func (e *envDefaults) duration(fs *flag.FlagSet, p *time.Duration, name, env string, getenv func(string) string, help string) {
	def := *p
	if v := getenv(env); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			e.fail(name, env, v, errors.New("not a duration (e.g. 72h)"))
		} else {
			def = d
		}
	}
	fs.DurationVar(p, name, def, help+" (env "+env+")")
	e.defines(p, name)
}

// check reports the bad environment values of the flags not set on the
// command line.
func (e *envDefaults) check(fs *flag.FlagSet) error {
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if err, ok := e.bad[f.Name]; ok && !set[f.Name] {
			errs = append(errs, err)
		}
	})
	return errors.Join(errs...)
}
