package main

import (
	"flag"
	"time"

	"github.com/disputed/disputed/rules"
)

// policyFlags registers the rules engine's settings on fs, with their
// environment equivalents as defaults.
func policyFlags(fs *flag.FlagSet, p *rules.Policy, getenv func(string) string) {
	durationVar(fs, &p.EvidenceWindow, "evidence-window", "DISPUTED_EVIDENCE_WINDOW", p.EvidenceWindow, getenv,
		"time the burdened party has to submit evidence once the platform intervenes (c1.s4.a2)")
	durationVar(fs, &p.ModificationWindow, "modification-window", "DISPUTED_MODIFICATION_WINDOW", p.ModificationWindow, getenv,
		"modification cycle when the order agreed none (c2.a5)")
}

// durationVar is fs.DurationVar whose default comes from the environment
// variable env when it is set and parses. A bad value is kept as a flag
// default error by checking it in Validate.
func durationVar(fs *flag.FlagSet, p *time.Duration, name, env string, def time.Duration, getenv func(string) string, help string) {
	if v := getenv(env); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			def = d
		} else {
			def = -1 // reported by Policy.Validate as out of range
		}
	}
	fs.DurationVar(p, name, def, help+" (env "+env+")")
}
