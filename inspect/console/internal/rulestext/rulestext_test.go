package rulestext

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/disputed/disputed/rules"
)

var update = flag.Bool("update", false, "rewrite inspect/console/assets/articles.json from the rules text")

// table is the generated file the console embeds.
const table = "../../assets/articles.json"

// specPath is the rules text: DISPUTED_RULES_TEXT, or the shared spec
// beside the repository (where CI has it).
func specPath() string {
	if p := os.Getenv("DISPUTED_RULES_TEXT"); p != "" {
		return p
	}
	return filepath.Join("..", "..", "..", "..", "..", "shared", "spec", "dispute-rules-2018-03-12.txt")
}

// TestArticlesUpToDate generates the table from the rules text and
// compares it with the checked-in one; -update rewrites that
// (go generate ./inspect/console runs it so).
func TestArticlesUpToDate(t *testing.T) {
	spec, err := os.ReadFile(specPath())
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI has the rules text beside the repository: %v", err)
		}
		t.Skipf("skipped: the rules text is not at %s (set DISPUTED_RULES_TEXT): %v", specPath(), err)
	}
	got, err := Generate(bytes.NewReader(spec), rules.RuleSet2018, "dispute-rules-2018-03-12.txt")
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(table, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(table)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what the rules text gives: run go generate ./inspect/console", table)
	}
	arts, _ := Parse(bytes.NewReader(spec))
	var cites []string
	for _, a := range arts {
		cites = append(cites, a.Citation)
		if a.Text == "" || a.Heading == "" {
			t.Errorf("%s has no text or heading: %+v", a.Citation, a)
		}
	}
	if !slices.Equal(cites, rules.Citations()) {
		t.Errorf("the text gives the citations\n%v\nthe engine knows\n%v", cites, rules.Citations())
	}
}

func TestParse(t *testing.T) {
	const text = `Skip to main content

Chapter I General Provisions
Section I Overview
Section II Definitions

Chapter I General Provisions

Section I Overview

Article 1 First.

Article 2 Second,` + "\u00a0" + `with  a non-breaking space.

Its second paragraph.

Section II Definitions

Service cost: what it cost.

Service delivery ("delivery"): the upload.

Section 5 Suspension of Treatment

The platform suspends in these cases:

(1) Both ask;

(2) A court.

Chapter II Dispute Handling

Basic principles

Article 1 Law.

                    Chapter III Special Categories

Section 1 Software Applications

Article 5 Customer reasons.

Comments

Article 9 Not an article: after the footer.
`
	got, err := Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []Article{
		{"c1.s1.a1", "Chapter I General Provisions · Section I Overview · Article 1", "First."},
		{"c1.s1.a2", "Chapter I General Provisions · Section I Overview · Article 2", "Second, with a non-breaking space.\n\nIts second paragraph."},
		{"c1.s2.service_cost", "Chapter I General Provisions · Section II Definitions · Definition: Service cost", "Service cost: what it cost."},
		{"c1.s2.delivery", `Chapter I General Provisions · Section II Definitions · Definition: Service delivery ("delivery")`, `Service delivery ("delivery"): the upload.`},
		{"c1.s5.i1", "Chapter I General Provisions · Section 5 Suspension of Treatment · Item (1)", "The platform suspends in these cases:\n\n(1) Both ask;"},
		{"c1.s5.i2", "Chapter I General Provisions · Section 5 Suspension of Treatment · Item (2)", "The platform suspends in these cases:\n\n(2) A court."},
		{"c2.a1", "Chapter II Dispute Handling · Basic principles · Article 1", "Law."},
		{"c3.s1.a5", "Chapter III Special Categories · Section 1 Software Applications · Article 5", "Customer reasons."},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Parse =\n%q\nwant\n%q", got, want)
	}
}

func TestParseRefuses(t *testing.T) {
	for name, text := range map[string]string{
		"an article twice":        "Chapter II X\n\nArticle 1 a\n\nArticle 1 b\n",
		"text outside an article": "Chapter II X\n\nA stray paragraph.\n",
	} {
		if _, err := Parse(strings.NewReader(text)); err == nil {
			t.Errorf("%s: Parse gave no error", name)
		}
	}
}
