// Command flamegraph draws a profile as an SVG flame graph:
//
//	go tool pprof -traces BINARY PROFILE | go run ./internal/flamegraph/cmd/flamegraph -title T > out.svg
//
// `make flamegraph` runs it on the bench's CPU profile.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/disputed/disputed/internal/flamegraph"
)

func main() {
	title := flag.String("title", "CPU profile", "the picture's title")
	width := flag.Int("width", 1200, "width in pixels")
	highlight := flag.String("highlight", "disputed/disputed/", "colour frames whose name contains this apart")
	flag.Parse()
	stacks, err := flamegraph.ParseTraces(os.Stdin)
	if err == nil {
		err = flamegraph.Write(os.Stdout, stacks, flamegraph.Options{Title: *title, Width: *width, Highlight: *highlight})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flamegraph:", err)
		os.Exit(1)
	}
}
