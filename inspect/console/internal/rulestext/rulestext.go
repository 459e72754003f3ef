// Package rulestext reads the rules text (dispute-rules-2018-03-12.txt, as
// published) into its articles under the contract's citations, for the
// table of article texts the reviewers' console embeds
// (inspect/console/assets/articles.json). It runs when the table is
// generated, never in the service.
package rulestext

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Article is one citable passage of the text: an article, a definition of
// chapter I section 2, or an item of chapter I section 5.
type Article struct {
	Citation string `json:"citation"`
	// Heading says where it is: chapter, section and article, as the text
	// names them.
	Heading string `json:"heading"`
	// Text is the passage, its paragraphs separated by blank lines. An item
	// of a list starts with the sentence that introduces the list.
	Text string `json:"text"`
}

// Table is the generated file: the rule set and its passages in the order
// of the text.
type Table struct {
	RuleSet  string    `json:"rule_set"`
	Source   string    `json:"source"`
	Articles []Article `json:"articles"`
}

var (
	chapterRE = regexp.MustCompile(`^Chapter (I|II|III)\b\s*(.*)$`)
	sectionRE = regexp.MustCompile(`^Section (I|II|III|IV|V|VI|[1-6])\b\s*(.*)$`)
	articleRE = regexp.MustCompile(`^Article (\d+)\s+(.*)$`)
	itemRE    = regexp.MustCompile(`^\((\d+)\)\s*(.*)$`)
	defRE     = regexp.MustCompile(`^([A-Z][A-Za-z ]*(?: \("[a-z ]+"\))?):\s*(.+)$`)
	quotedRE  = regexp.MustCompile(`\("([a-z ]+)"\)`)
	spacesRE  = regexp.MustCompile(`[ \t]+`)
)

var roman = map[string]int{"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6}

func number(s string) int {
	if n, ok := roman[s]; ok {
		return n
	}
	n, _ := strconv.Atoi(s)
	return n
}

// Parse reads the rules text. The table of contents at its top names the
// same chapters and sections as the body; only the body has articles, so
// it is read like the body and yields nothing. Reading stops at the web
// page's "Comments" footer.
func Parse(r io.Reader) ([]Article, error) {
	var (
		out                      []Article
		chapter, section         int
		chapterName, sectionName string
		lead                     string // the sentence before a list of items
		cur                      *Article
		seen                     = map[string]bool{}
	)
	flush := func() {
		if cur != nil {
			cur.Text = strings.TrimSpace(cur.Text)
			out = append(out, *cur)
			cur = nil
		}
	}
	start := func(citation, heading, text string) error {
		flush()
		if seen[citation] {
			return fmt.Errorf("%s occurs twice", citation)
		}
		seen[citation] = true
		cur = &Article{Citation: citation, Heading: heading, Text: text}
		return nil
	}
	where := func(tail string) string {
		parts := []string{chapterName}
		if sectionName != "" {
			parts = append(parts, sectionName)
		}
		return strings.Join(append(parts, tail), " · ")
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(spacesRE.ReplaceAllString(strings.ReplaceAll(sc.Text(), "\u00a0", " "), " "))
		if line == "" {
			continue
		}
		if line == "Comments" {
			break
		}
		if m := chapterRE.FindStringSubmatch(line); m != nil {
			flush()
			chapter, section, chapterName, sectionName, lead = number(m[1]), 0, line, "", ""
			continue
		}
		if m := sectionRE.FindStringSubmatch(line); m != nil {
			flush()
			section, sectionName, lead = number(m[1]), line, ""
			continue
		}
		if chapter == 2 && line == "Basic principles" {
			flush()
			sectionName = line
			continue
		}
		if chapter == 0 {
			continue // the page's title and the table of contents
		}
		prefix := fmt.Sprintf("c%d.", chapter)
		if section > 0 {
			prefix += fmt.Sprintf("s%d.", section)
		}
		switch m := articleRE.FindStringSubmatch(line); {
		case m != nil:
			if err := start(prefix+"a"+m[1], where("Article "+m[1]), m[2]); err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			continue
		}
		if chapter == 1 && section == 2 {
			if m := defRE.FindStringSubmatch(line); m != nil {
				name := strings.ToLower(m[1])
				if q := quotedRE.FindStringSubmatch(m[1]); q != nil {
					name = q[1]
				}
				name = strings.ReplaceAll(strings.TrimSpace(name), " ", "_")
				if err := start(prefix+name, where("Definition: "+m[1]), line); err != nil {
					return nil, fmt.Errorf("line %d: %w", n, err)
				}
				continue
			}
		}
		if m := itemRE.FindStringSubmatch(line); m != nil && section > 0 {
			text := line
			if lead != "" {
				text = lead + "\n\n" + line
			}
			if err := start(prefix+"i"+m[1], where("Item ("+m[1]+")"), text); err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			continue
		}
		if cur == nil {
			if section > 0 {
				lead = line // a section's sentence before its items
				continue
			}
			return nil, fmt.Errorf("line %d: text outside any article: %.60q", n, line)
		}
		cur.Text += "\n\n" + line
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	flush()
	return out, nil
}

// Generate parses the rules text and encodes its table, as checked in.
func Generate(r io.Reader, ruleSet, source string) ([]byte, error) {
	arts, err := Parse(r)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(Table{RuleSet: ruleSet, Source: source, Articles: arts}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
