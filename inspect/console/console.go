package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/disputed/disputed/inspect"
)

//go:generate go test ./internal/rulestext -run TestArticlesUpToDate -update

// assets are the pages, the style sheet, the scripts and the table of
// article texts (assets/articles.json, generated from the rules text).
//
//go:embed assets
var assets embed.FS

// Config of the console.
type Config struct {
	// Token is the API token (DISPUTED_API_TOKEN): a reviewer logs in with
	// it and a name. Without one the console answers 403, unless Open.
	Token string
	// Open serves the console without a token, as the API is served on the
	// embedded default (which listens on loopback): a reviewer logs in
	// with a name alone.
	Open bool
	// SessionTTL is how long a login lasts; 0 is 12 hours.
	SessionTTL time.Duration
	// Now is the clock of sessions and of the decisions' event time; nil
	// is time.Now.
	Now func() time.Time
}

// Console serves /console/: the pages, the static assets, the login, the
// reads (through the API) and the decisions.
type Console struct {
	cfg        Config
	api        http.Handler
	orders     Orders
	partitions inspect.Partitions
	submit     Submitter
	log        *slog.Logger
	key        []byte // signs the session cookies
	static     fs.FS
	handler    http.Handler
}

// New returns the console. api serves the /v1 routes without their own
// authentication (inspect.API.Trusted): the console mounts it behind its
// sessions. orders and partitions find the partition a decision is written
// to; submit writes it.
func New(cfg Config, api http.Handler, orders Orders, partitions inspect.Partitions, submit Submitter, log *slog.Logger) *Console {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Console{cfg: cfg, api: api, orders: orders, partitions: partitions, submit: submit, log: log}
	if cfg.Token != "" {
		// Derived from the token, so that every replica behind a Service
		// accepts the sessions of the others, and a new token ends every
		// session.
		m := hmac.New(sha256.New, []byte(cfg.Token))
		m.Write([]byte("disputed console sessions v1"))
		c.key = m.Sum(nil)
	} else {
		c.key = make([]byte, 32)
		rand.Read(c.key) // never fails (crypto/rand)
	}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree always has assets/
	}
	c.static = static

	mux := http.NewServeMux()
	mux.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusMovedPermanently)
	})
	mux.Handle("GET /console/{$}", c.page("queue.html"))
	mux.Handle("GET /console/disputes/{order_id}", c.page("dispute.html"))
	mux.HandleFunc("GET /console/login", c.serveFile("login.html"))
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", c.files()))

	mux.HandleFunc("GET /console/api/login", c.loginInfo)
	mux.HandleFunc("POST /console/api/login", c.login)
	mux.Handle("GET /console/api/session", c.authed(c.sessionInfo))
	mux.Handle("POST /console/api/logout", c.authed(c.logout))
	reads := http.StripPrefix("/console/api", api)
	mux.Handle("GET /console/api/v1/disputes", c.authed(func(w http.ResponseWriter, r *http.Request, _ session) { reads.ServeHTTP(w, r) }))
	mux.Handle("GET /console/api/v1/disputes/{order_id}", c.authed(func(w http.ResponseWriter, r *http.Request, _ session) { reads.ServeHTTP(w, r) }))
	mux.Handle("POST /console/api/disputes/{order_id}/preview", c.authed(c.preview))
	mux.Handle("POST /console/api/disputes/{order_id}/decisions", c.authed(c.decide))
	mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, inspect.Errorf(http.StatusNotFound, "not_found", "no such page or call"))
	})

	// Browsers say where a request comes from: a state-changing request
	// from another origin is refused before it reaches a handler. The
	// session's CSRF token (authed) is the second line.
	c.handler = secure(http.NewCrossOriginProtection().Handler(mux))
	return c
}

// Register mounts the console at /console/ on mux.
func (c *Console) Register(mux *http.ServeMux) {
	mux.Handle("/console/", c)
	mux.Handle("/console", c)
}

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.handler.ServeHTTP(w, r) }

// enabled reports whether the console serves anything but its login page:
// as the API, it needs a token unless it is the embedded default.
func (c *Console) enabled() bool { return c.cfg.Token != "" || c.cfg.Open }

// csp allows the console's own scripts, styles and calls only: no inline
// script, nothing from elsewhere, and no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// secure sets the headers every console answer carries.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/console/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

// page serves an HTML page to a reviewer logged in; anyone else is sent to
// the login page, which comes back here after.
func (c *Console) page(name string) http.Handler {
	serve := c.serveFile(name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := c.session(r); !ok || !c.enabled() {
			http.Redirect(w, r, "/console/login?next="+url.QueryEscape(r.URL.EscapedPath()), http.StatusSeeOther)
			return
		}
		serve(w, r)
	})
}

func (c *Console) serveFile(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := fs.ReadFile(c.static, name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b)
	}
}

// files serves the static assets, without directory listings.
func (c *Console) files() http.Handler {
	fsrv := http.FileServerFS(c.static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") || strings.HasSuffix(r.URL.Path, ".html") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		fsrv.ServeHTTP(w, r)
	})
}

// writeError answers e in the API's form.
func writeError(w http.ResponseWriter, e *inspect.Error) { writeJSON(w, e.Status, e) }

// writeJSON answers v as JSON. encoding/json escapes <, > and & in strings,
// so an answer is inert even where a browser would take it for HTML.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
