package inspect

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/disputed/disputed/docs"
)

// The machine-readable contract, served as the repository keeps it
// (docs/openapi.json, docs/schemas/), without a token: it describes the
// API and the events, and holds no data. The OpenAPI document refers to
// the schemas as schemas/NAME.json, which resolves to /v1/schemas/NAME.json
// beside it.

func openAPIDocument(*http.Request) ([]byte, string, bool) {
	return docs.OpenAPI(), "application/json", true
}

func contractSchema(r *http.Request) ([]byte, string, bool) {
	b, ok := docs.Schema(r.PathValue("name"))
	return b, "application/schema+json", ok
}

// document serves a document of the contract, counting the requests as the
// API's routes do.
func (a *API) document(name string, get func(*http.Request) ([]byte, string, bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, contentType, ok := get(r)
		if !ok {
			a.requests.WithLabelValues(name, strconv.Itoa(http.StatusNotFound)).Inc()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(Errorf(http.StatusNotFound, "not_found", "no schema %s: see /v1/openapi.json for the list", r.PathValue("name")))
			return
		}
		a.requests.WithLabelValues(name, "200").Inc()
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Write(b)
	})
}
