package docs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/disputed/disputed/internal/scenario"
	"github.com/disputed/disputed/rules"
)

// base is where the tests place the documents: the layout the API serves
// them in (GET /v1/openapi.json, GET /v1/schemas/NAME), so that relative
// references resolve as they do for an integrator.
const base = "https://disputed.test/v1/"

var (
	compilerOnce sync.Once
	compiler     *jsonschema.Compiler
	compiled     sync.Map // name -> *jsonschema.Schema
)

// tb is what the helpers need of a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// schema returns the compiled schema of a file of schemas/ (or a location
// in openapi.json, "openapi.json#/components/...").
func schema(t tb, name string) *jsonschema.Schema {
	t.Helper()
	compilerOnce.Do(func() {
		c := jsonschema.NewCompiler()
		add := func(url string, b []byte) {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				panic(fmt.Sprintf("%s: %v", url, err))
			}
			if err := c.AddResource(url, doc); err != nil {
				panic(fmt.Sprintf("%s: %v", url, err))
			}
		}
		for _, n := range Schemas() {
			b, _ := Schema(n)
			add(base+"schemas/"+n, b)
		}
		add(base+"openapi.json", OpenAPI())
		compiler = c
	})
	if s, ok := compiled.Load(name); ok {
		return s.(*jsonschema.Schema)
	}
	loc := base + "schemas/" + name
	if strings.HasPrefix(name, "openapi.json") {
		loc = base + name
	}
	s, err := compiler.Compile(loc)
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	compiled.Store(name, s)
	return s
}

// valid validates a JSON text against a schema. A text that is not JSON
// is not valid either.
func valid(t tb, name string, b []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return schema(t, name).Validate(v)
}

func TestSchemasCompile(t *testing.T) {
	for _, n := range Schemas() {
		schema(t, n)
		b, _ := Schema(n)
		var doc struct {
			Schema string `json:"$schema"`
			Title  string `json:"title"`
		}
		if err := json.Unmarshal(b, &doc); err != nil || doc.Schema != draft || doc.Title == "" {
			t.Errorf("%s: $schema %q, title %q: want draft 2020-12 and a title (%v)", n, doc.Schema, doc.Title, err)
		}
	}
	if _, ok := Schema("../openapi.json"); ok {
		t.Error("Schema reads outside schemas/")
	}
}

// checkEvent checks one event against the schemas and the decoder: they
// must agree on it. It returns the decoder's error.
func checkEvent(t *testing.T, what string, b []byte) error {
	t.Helper()
	_, derr := rules.Decode(b)
	serr := valid(t, "event.json", b)
	if (derr == nil) != (serr == nil) {
		t.Errorf("%s: the decoder says %v, the schema event.json says %v:\n%s", what, orOK(derr), orOK(serr), clip(b))
	}
	var head struct{ Type string }
	if json.Unmarshal(b, &head) == nil && rules.Type(head.Type).Topic() != "" {
		if terr := valid(t, head.Type+".json", b); (terr == nil) != (serr == nil) {
			t.Errorf("%s: event.json says %v, %s.json says %v:\n%s", what, orOK(serr), head.Type, orOK(terr), clip(b))
		}
	}
	return derr
}

// checkCommand checks a command line ({"subject": ..., "data": ...})
// against command.json and its body's own schema, and that the body has no
// field the schema does not name.
func checkCommand(t *testing.T, what string, b []byte) {
	t.Helper()
	if err := valid(t, "command.json", b); err != nil {
		t.Errorf("%s: not a valid command: %v\n%s", what, err, clip(b))
	}
	var c struct {
		Subject string
		Data    json.RawMessage
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	name := commandSchemaName(c.Subject)
	if name == "" {
		t.Errorf("%s: subject %q is not a command's", what, c.Subject)
		return
	}
	if err := valid(t, name, c.Data); err != nil {
		t.Errorf("%s: not a valid %s: %v", what, name, err)
	}
	undeclared(t, what, name, c.Data)
}

func commandSchemaName(subject string) string {
	for prefix, name := range map[string]string{
		rules.SubjectRuling: "ruling.json", rules.SubjectTransfer: "transfer.json",
		rules.SubjectNotice: "notice.json", rules.SubjectRejected: "rejected.json",
	} {
		if strings.HasPrefix(subject, prefix+".") {
			return name
		}
	}
	return ""
}

// undeclared reports fields of a command body its schema does not name:
// the schemas let consumers ignore new fields, but disputed's own output
// must be described.
func undeclared(t *testing.T, what, name string, data []byte) {
	t.Helper()
	b, _ := Schema(name)
	var s struct{ Properties map[string]json.RawMessage }
	var body map[string]json.RawMessage
	if json.Unmarshal(b, &s) != nil || json.Unmarshal(data, &body) != nil {
		t.Fatalf("%s: cannot read %s or the body", what, name)
	}
	for k := range body {
		if _, ok := s.Properties[k]; !ok {
			t.Errorf("%s: field %q is not in %s", what, k, name)
		}
	}
}

func orOK(err error) string {
	if err == nil {
		return "valid"
	}
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		return "invalid (" + strings.ReplaceAll(ve.Error(), "\n", " ") + ")"
	}
	return "invalid (" + err.Error() + ")"
}

func clip(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "..."
	}
	return string(b)
}

// jsonValues reads the JSON values of a text, one after another.
func jsonValues(text string) ([]json.RawMessage, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	var out []json.RawMessage
	for {
		var v json.RawMessage
		err := dec.Decode(&v)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

var fence = regexp.MustCompile("(?ms)^```(\\w*)\\n(.*?)^```")

// TestDocumentedExamplesValidate: every JSON example of docs/events.md, the
// README's story and the kcat lines of docs/operations.md validate against
// their schema (and the events decode); the README's sample output elides
// fields ("...") and is not JSON, so it is not checked.
func TestDocumentedExamplesValidate(t *testing.T) {
	events, commands := 0, 0
	check := func(what string, v []byte) {
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(v, &keys); err != nil {
			t.Errorf("%s: not a JSON object: %s", what, clip(v))
			return
		}
		switch {
		case keys["specversion"] != nil:
			events++
			if err := checkEvent(t, what, v); err != nil {
				t.Errorf("%s: a documented event does not decode: %v", what, err)
			}
		case keys["subject"] != nil && keys["data"] != nil:
			commands++
			checkCommand(t, what, v)
		default:
			t.Errorf("%s: neither an event nor a command: %s", what, clip(v))
		}
	}
	b, err := os.ReadFile("events.md")
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range fence.FindAllStringSubmatch(string(b), -1) {
		if m[1] != "json" {
			continue
		}
		vals, err := jsonValues(m[2])
		if err != nil {
			t.Errorf("events.md, json block %d: %v", i, err)
		}
		for j, v := range vals {
			check(fmt.Sprintf("events.md, json block %d, value %d", i, j), v)
		}
	}
	// The README's story (a heredoc) and the kcat lines of operations.md
	// ("KEY|EVENT").
	for _, file := range []string{"../README.md", "operations.md"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if _, ev, ok := strings.Cut(line, "|"); ok && strings.HasPrefix(ev, `{"specversion"`) {
				line = ev
			}
			if strings.HasPrefix(line, `{"specversion"`) {
				check(fmt.Sprintf("%s:%d", file, n), []byte(line))
			}
		}
	}
	if events < 30 || commands < 7 {
		t.Errorf("checked %d documented events and %d commands: the examples were not found", events, commands)
	}
}

// TestScenariosValidate: every line of the stories is judged alike by the
// schemas and the decoder, and every command of the goldens validates.
func TestScenariosValidate(t *testing.T) {
	all, err := scenario.All()
	if err != nil {
		t.Fatal(err)
	}
	good, bad, cmds := 0, 0, 0
	for _, s := range all {
		for i, line := range s.Lines() {
			if checkEvent(t, fmt.Sprintf("%s line %d", s.Name, i+1), line) == nil {
				good++
			} else {
				bad++
			}
		}
		sc := bufio.NewScanner(bytes.NewReader(s.Golden))
		sc.Buffer(nil, 1<<20)
		for n := 1; sc.Scan(); n++ {
			cmds++
			checkCommand(t, fmt.Sprintf("%s.golden:%d", s.Name, n), sc.Bytes())
		}
	}
	if good < 100 || bad == 0 || cmds < 100 {
		t.Errorf("%d good and %d malformed lines, %d commands: the stories were not read", good, bad, cmds)
	}
}

// TestSchemasServeEveryType: one schema per event type and command, named
// as the API serves them.
func TestSchemasServeEveryType(t *testing.T) {
	want := []string{"command.json", "event.json", "notice.json", "rejected.json", "ruling.json", "transfer.json"}
	for _, ty := range rules.Types() {
		want = append(want, string(ty)+".json")
	}
	slices.Sort(want)
	if got := Schemas(); !slices.Equal(got, want) {
		t.Errorf("schemas %v, want %v", got, want)
	}
}

// TestOpenAPIDocument checks the document's frame (OpenAPI 3.1 with the
// 2020-12 dialect, an info, unique operation IDs, a response for each
// operation) and that every schema in it compiles, with every reference,
// internal or to schemas/, resolved.
func TestOpenAPIDocument(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["openapi"] != "3.1.0" || doc["jsonSchemaDialect"] != draft {
		t.Errorf("openapi %v, jsonSchemaDialect %v", doc["openapi"], doc["jsonSchemaDialect"])
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == nil || info["version"] != "v1" {
		t.Errorf("info %v", info)
	}
	ids := map[string]bool{}
	paths, _ := doc["paths"].(map[string]any)
	for path, ops := range paths {
		for method, op := range ops.(map[string]any) {
			o := op.(map[string]any)
			id, _ := o["operationId"].(string)
			if id == "" || ids[id] {
				t.Errorf("%s %s: operationId %q missing or repeated", method, path, id)
			}
			ids[id] = true
			if r, _ := o["responses"].(map[string]any); len(r) == 0 {
				t.Errorf("%s %s: no responses", method, path)
			}
		}
	}
	// Every "schema" object, wherever it is, and every component schema.
	var walk func(v any, ptr []string)
	n := 0
	walk = func(v any, ptr []string) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				p := append(slices.Clone(ptr), k)
				if k == "schema" || (len(ptr) == 2 && ptr[0] == "components" && ptr[1] == "schemas") {
					n++
					schema(t, "openapi.json#"+jsonPointer(p))
					continue
				}
				if ref, ok := c.(string); ok && k == "$ref" && strings.HasPrefix(ref, "#/") {
					if resolve(doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")) == nil {
						t.Errorf("%s: $ref %s resolves to nothing", jsonPointer(ptr), ref)
					}
				}
				walk(c, p)
			}
		case []any:
			for i, c := range x {
				walk(c, append(slices.Clone(ptr), fmt.Sprint(i)))
			}
		}
	}
	walk(doc, nil)
	if n < 30 {
		t.Errorf("compiled %d schemas of the document", n)
	}
}

func jsonPointer(tokens []string) string {
	var b strings.Builder
	for _, tok := range tokens {
		b.WriteString("/" + strings.NewReplacer("~", "~0", "/", "~1", "{", "%7B", "}", "%7D").Replace(tok))
	}
	return b.String()
}

func resolve(v any, tokens []string) any {
	for _, tok := range tokens {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)]
	}
	return v
}
