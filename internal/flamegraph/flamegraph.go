// Package flamegraph draws a CPU or allocation profile as a flame graph in
// SVG, from the stacks `go tool pprof -traces` prints: a picture for
// docs/performance.md that a browser shows without pprof's web UI. Each
// frame is a box as wide as the samples under it, callers below callees;
// hovering one shows its name and share.
package flamegraph

import (
	"bufio"
	"cmp"
	"fmt"
	"html"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Stack is one sampled call stack, outermost frame first, and its value
// (nanoseconds of CPU, or bytes).
type Stack struct {
	Frames []string
	Value  int64
}

// ParseTraces reads the output of `go tool pprof -traces`.
func ParseTraces(r io.Reader) ([]Stack, error) {
	var (
		out   []Stack
		cur   *Stack
		inner []string
	)
	flush := func() {
		if cur != nil && len(inner) > 0 {
			slices.Reverse(inner)
			cur.Frames = inner
			out = append(out, *cur)
		}
		cur, inner = nil, nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-----------+") {
			flush()
			cur = &Stack{}
			continue
		}
		if cur == nil || strings.TrimSpace(line) == "" {
			continue
		}
		frame := strings.TrimSpace(line)
		if len(inner) == 0 {
			// The first line of a trace is its value, then the leaf.
			value, rest, ok := strings.Cut(frame, " ")
			if !ok {
				return nil, fmt.Errorf("trace line %q: want a value and a frame", line)
			}
			v, err := parseValue(value)
			if err != nil {
				return nil, fmt.Errorf("trace line %q: %w", line, err)
			}
			cur.Value = v
			frame = strings.TrimSpace(rest)
		}
		frame = strings.TrimSuffix(frame, " (inline)")
		inner = append(inner, frame)
	}
	flush()
	return out, sc.Err()
}

// parseValue reads a sample value as pprof prints it: a duration (10ms,
// 1.20s) or a size (512B, 1.50MB, 2GB).
func parseValue(s string) (int64, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return int64(d), nil
	}
	units := []struct {
		suffix string
		mult   float64
	}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"kB", 1 << 10}, {"KB", 1 << 10}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, err
			}
			return int64(f * u.mult), nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("value %q is neither a duration, a size nor a count", s)
	}
	return n, nil
}

// node is a frame in the merged tree of stacks.
type node struct {
	name     string
	value    int64
	children map[string]*node
}

func (n *node) child(name string) *node {
	if n.children == nil {
		n.children = make(map[string]*node)
	}
	c, ok := n.children[name]
	if !ok {
		c = &node{name: name}
		n.children[name] = c
	}
	return c
}

// Options shape the picture.
type Options struct {
	Title string
	Width int     // pixels; 0 is 1200
	Min   float64 // boxes narrower than this share of the total are left out; 0 is 0.001
	// Highlight colours frames whose name contains it (the project's own
	// code) apart from the rest.
	Highlight string
}

const rowHeight = 17

// Write draws the stacks as an SVG flame graph.
func Write(w io.Writer, stacks []Stack, o Options) error {
	if o.Width == 0 {
		o.Width = 1200
	}
	if o.Min == 0 {
		o.Min = 0.001
	}
	root := &node{name: "all"}
	for _, s := range stacks {
		root.value += s.Value
		n := root
		for _, f := range s.Frames {
			n = n.child(f)
			n.value += s.Value
		}
	}
	if root.value == 0 {
		return fmt.Errorf("flamegraph: the profile has no samples")
	}
	depth := maxDepth(root, 0, float64(root.value)*o.Min)
	height := (depth+1)*rowHeight + 40
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<?xml version="1.0" standalone="no"?>
<svg version="1.1" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg" font-family="Verdana, sans-serif" font-size="11">
<rect width="100%%" height="100%%" fill="#f8f8f8"/>
<text x="%d" y="20" text-anchor="middle" font-size="15">%s</text>
`, o.Width, height, o.Width/2, html.EscapeString(o.Title))
	scale := float64(o.Width-20) / float64(root.value)
	draw(bw, root, 10, height-rowHeight-5, scale, root.value, float64(root.value)*o.Min, o)
	fmt.Fprintln(bw, "</svg>")
	return bw.Flush()
}

func maxDepth(n *node, d int, min float64) int {
	best := d
	for _, c := range n.children {
		if float64(c.value) >= min {
			best = max(best, maxDepth(c, d+1, min))
		}
	}
	return best
}

// draw draws n at x on row y (the root at the bottom) and its children
// above it, widest first.
func draw(w io.Writer, n *node, x float64, y int, scale float64, total int64, min float64, o Options) {
	width := float64(n.value) * scale
	share := 100 * float64(n.value) / float64(total)
	fmt.Fprintf(w, `<g><title>%s (%.2f%%)</title><rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" rx="2"/>`,
		html.EscapeString(n.name), share, x, y, width, rowHeight-1, colour(n.name, o.Highlight))
	if label := fit(short(n.name), width); label != "" {
		fmt.Fprintf(w, `<text x="%.1f" y="%d">%s</text>`, x+3, y+rowHeight-5, html.EscapeString(label))
	}
	fmt.Fprintln(w, "</g>")
	kids := make([]*node, 0, len(n.children))
	for _, c := range n.children {
		if float64(c.value) >= min {
			kids = append(kids, c)
		}
	}
	slices.SortFunc(kids, func(a, b *node) int {
		if c := cmp.Compare(b.value, a.value); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	cx := x
	for _, c := range kids {
		draw(w, c, cx, y-rowHeight, scale, total, min, o)
		cx += float64(c.value) * scale
	}
}

// short drops the module path of a frame: ".../consumer.(*worker).loop"
// is "consumer.(*worker).loop".
func short(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 && !strings.Contains(name[i:], " ") {
		return name[i+1:]
	}
	return name
}

// fit cuts a label to the box's width, at about 6.5 pixels a character.
func fit(s string, width float64) string {
	n := int((width - 6) / 6.5)
	switch {
	case n < 3:
		return ""
	case len(s) <= n:
		return s
	}
	return s[:n-2] + ".."
}

func colour(name, highlight string) string {
	switch {
	case highlight != "" && strings.Contains(name, highlight):
		return "#f2a65a" // the project's own code
	case strings.HasPrefix(name, "runtime.") || strings.HasPrefix(name, "internal/runtime"):
		return "#b7c4d6"
	case !strings.Contains(name, "."):
		return "#dddddd"
	}
	return "#e8d27a"
}
