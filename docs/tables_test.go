package docs

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/disputed/disputed/rules"
)

// events.md's tables of the contract's facts (the topics, the senders,
// each type's fields) are written from the table the decoders read
// (rules.Specs), between <!-- table: NAME --> and <!-- /table -->:
// go test ./docs -run TestEventTables -update rewrites them.

// tables returns every generated table of events.md by name.
func tables() map[string]string {
	out := map[string]string{"topics": topicsTable(), "senders": sendersTable(), "rejection codes": rejectionCodesTable()}
	for _, s := range rules.Specs() {
		if len(s.Fields) > 0 {
			out["fields "+string(s.Type)] = fieldsTable(s)
		}
	}
	return out
}

func code(s string) string { return "`" + s + "`" }

func codes[S ~string](vs []S) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = code(string(v))
	}
	return strings.Join(out, ", ")
}

// rejectionCodesTable lists the codes with what each means, from the
// comments beside their constants' values in rules (RejectionCodeDocs).
func rejectionCodesTable() string {
	b := &strings.Builder{}
	fmt.Fprintln(b, "| code | the event was rejected because |")
	fmt.Fprintln(b, "| --- | --- |")
	for _, c := range rules.RejectionCodes() {
		fmt.Fprintf(b, "| %s | %s |\n", code(c), rules.RejectionCodeDoc(c))
	}
	return b.String()
}

func topicsTable() string {
	var topics []string
	byTopic := map[string][]rules.Type{}
	for _, s := range rules.Specs() {
		if _, ok := byTopic[s.Topic]; !ok {
			topics = append(topics, s.Topic)
		}
		byTopic[s.Topic] = append(byTopic[s.Topic], s.Type)
	}
	b := &strings.Builder{}
	fmt.Fprintln(b, "| topic (default name) | event types |")
	fmt.Fprintln(b, "| --- | --- |")
	for _, t := range topics {
		fmt.Fprintf(b, "| %s | %s |\n", code(t), codes(byTopic[t]))
	}
	return b.String()
}

func sendersTable() string {
	var named []string
	fixed := map[rules.Party][]rules.Type{}
	for _, s := range rules.Specs() {
		if s.Sender.Field != "" {
			named = append(named, fmt.Sprintf("%s (%s)", code(string(s.Type)), code(s.Sender.Field)))
			continue
		}
		fixed[s.Sender.Party] = append(fixed[s.Sender.Party], s.Type)
	}
	b := &strings.Builder{}
	fmt.Fprintln(b, "| sender | events |")
	fmt.Fprintln(b, "| --- | --- |")
	fmt.Fprintf(b, "| the party named in the event | %s |\n", strings.Join(named, ", "))
	for _, p := range rules.Parties() {
		who := code(string(p))
		if p == rules.Platform {
			who += " (the platform, the order system, or the parties jointly)"
		}
		if len(fixed[p]) > 0 {
			fmt.Fprintf(b, "| %s | %s |\n", who, codes(fixed[p]))
		}
	}
	return b.String()
}

// kindName is how the docs name a field's kind.
var kindName = map[rules.FieldKind]string{
	rules.KindID: "string", rules.KindText: "string", rules.KindCurrency: "ISO 4217", rules.KindMoney: "money",
	rules.KindPositive: "money", rules.KindRange: "integer", rules.KindBool: "boolean", rules.KindTime: "time",
	rules.KindEnum: "enum", rules.KindCitations: "array of citations",
}

func fieldsTable(s rules.EventSpec) string {
	b := &strings.Builder{}
	fmt.Fprintln(b, "| field | type | required | notes |")
	fmt.Fprintln(b, "| --- | --- | --- | --- |")
	for _, f := range s.Fields {
		required := "no"
		switch {
		case f.Required:
			required = "yes"
		case f.RequiredIf[0] != "":
			required = fmt.Sprintf("when %s is %s", code(f.RequiredIf[0]), code(f.RequiredIf[1]))
		case f.Kind == rules.KindBool:
			required = "no, default `false`"
		}
		notes := f.Doc
		switch f.Kind {
		case rules.KindEnum:
			notes = codes(f.Values) + ": " + notes
		case rules.KindRange:
			notes += fmt.Sprintf(" (%d to %d)", f.Min, f.Max)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", code(f.Name), kindName[f.Kind], required, notes)
	}
	return b.String()
}

var tableBlock = regexp.MustCompile(`(?s)(<!-- table: ([^>]*?)(?: \([^)]*\))? -->\n)(.*?)(<!-- /table -->)`)

func TestEventTablesUpToDate(t *testing.T) {
	const path = "events.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := tables()
	var seen []string
	out := tableBlock.ReplaceAllStringFunc(string(doc), func(block string) string {
		m := tableBlock.FindStringSubmatch(block)
		name := m[2]
		seen = append(seen, name)
		gen, ok := want[name]
		if !ok {
			t.Errorf("%s has a table %q that rules.Specs does not make", path, name)
			return block
		}
		if m[3] != gen && !*update {
			t.Errorf("%s's table %q is not what rules.Specs says; go test ./docs -run TestEventTables -update rewrites it.\nhave:\n%s\nwant:\n%s", path, name, m[3], gen)
		}
		return m[1] + gen + m[4]
	})
	for name := range want {
		if !slices.Contains(seen, name) {
			t.Errorf("%s has no table %q (<!-- table: %s --> ... <!-- /table -->)", path, name, name)
		}
	}
	if *update && out != string(doc) {
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
