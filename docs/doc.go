// Package docs holds the machine-readable contract that disputed publishes
// beside its documentation: a JSON Schema (draft 2020-12) of every event
// type and every command (schemas/), and the OpenAPI 3.1 document of the
// /v1 API (openapi.json), embedded so that the API can serve them. The
// schemas are generated from the contract's tables by this package's tests
// (go test ./docs -run TestSchemasUpToDate -update) and checked there
// against the decoder, the documentation's examples and the scenario
// goldens.
package docs

import (
	"embed"
	"io/fs"
	"path"
	"slices"
	"strings"
)

//go:embed openapi.json schemas/*.json
var files embed.FS

// OpenAPI returns the OpenAPI 3.1 document of the /v1 API. Its schemas
// refer to the JSON Schemas by relative URL (schemas/NAME.json), which
// resolves both in the repository and where the API serves them.
func OpenAPI() []byte {
	b, err := files.ReadFile("openapi.json")
	if err != nil {
		panic(err) // embedded at build time
	}
	return b
}

// Schema returns the JSON Schema called name (e.g. "order.paid.json",
// "ruling.json"), and whether there is one.
func Schema(name string) ([]byte, bool) {
	if name != path.Base(name) || !strings.HasSuffix(name, ".json") {
		return nil, false
	}
	b, err := files.ReadFile("schemas/" + name)
	return b, err == nil
}

// Schemas lists the names of the JSON Schemas, sorted.
func Schemas() []string {
	entries, err := fs.ReadDir(files, "schemas")
	if err != nil {
		panic(err) // embedded at build time
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}
