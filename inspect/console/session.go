package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/disputed/disputed/inspect"
)

// cookieName is the session cookie. It is HttpOnly (scripts never see it),
// SameSite=Strict (no other site's page sends it), scoped to /console/,
// and Secure when the console is reached over TLS.
const cookieName = "disputed_console"

// session is a reviewer logged in. It lives in the cookie, signed with the
// console's key, so that any replica accepts it and nothing is kept on the
// server; logging out clears the cookie.
type session struct {
	Reviewer string
	Expires  time.Time
	// CSRF is the token every state-changing request of the session must
	// carry in the X-CSRF-Token header: a page of another site can make
	// the browser send the cookie, but cannot read this.
	CSRF string
}

// reviewerRE is what a reviewer's name may be: it becomes part of the
// decision's CloudEvents source (console/<name>) and of log lines.
var reviewerRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

const csrfHeader = "X-CSRF-Token"

// seal encodes s as the cookie's value: the fields, then their MAC.
func (c *Console) seal(s session) string {
	payload := strings.Join([]string{"v1", s.Reviewer, strconv.FormatInt(s.Expires.Unix(), 10), s.CSRF}, "|")
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(payload))
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(m.Sum(nil))
}

// unseal decodes a cookie's value; ok is false for one this console did
// not sign, or one that expired.
func (c *Console) unseal(v string) (session, bool) {
	enc := base64.RawURLEncoding
	p64, mac64, ok := strings.Cut(v, ".")
	if !ok {
		return session{}, false
	}
	payload, err1 := enc.DecodeString(p64)
	mac, err2 := enc.DecodeString(mac64)
	if err1 != nil || err2 != nil {
		return session{}, false
	}
	m := hmac.New(sha256.New, c.key)
	m.Write(payload)
	if !hmac.Equal(mac, m.Sum(nil)) {
		return session{}, false
	}
	f := strings.Split(string(payload), "|")
	if len(f) != 4 || f[0] != "v1" || !reviewerRE.MatchString(f[1]) || f[3] == "" {
		return session{}, false
	}
	exp, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || !c.cfg.Now().Before(time.Unix(exp, 0)) {
		return session{}, false
	}
	return session{Reviewer: f[1], Expires: time.Unix(exp, 0).UTC(), CSRF: f[3]}, true
}

func (c *Console) session(r *http.Request) (session, bool) {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return session{}, false
	}
	return c.unseal(ck.Value)
}

// overTLS reports whether the browser reached the console over TLS: directly,
// or through a proxy that says so. It only decides the cookie's Secure
// attribute, so a false header costs nothing but a stricter cookie.
func overTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: value, Path: "/console/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: overTLS(r),
	})
}

// authed wraps a handler of a reviewer's call: it needs the console
// enabled, a session, and on a state-changing method the session's CSRF
// token.
func (c *Console) authed(h func(http.ResponseWriter, *http.Request, session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !c.enabled() {
			writeError(w, disabled())
			return
		}
		s, ok := c.session(r)
		if !ok {
			writeError(w, inspect.Errorf(http.StatusUnauthorized, "unauthorized", "log in first"))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			got := r.Header.Get(csrfHeader)
			if subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) != 1 {
				writeError(w, inspect.Errorf(http.StatusForbidden, "csrf", "the request lacks this session's %s header", csrfHeader))
				return
			}
		}
		h(w, r, s)
	})
}

func disabled() *inspect.Error {
	return inspect.Errorf(http.StatusForbidden, "forbidden", "the console is disabled: set DISPUTED_API_TOKEN to enable it")
}

// loginInfo tells the login page what to ask for.
func (c *Console) loginInfo(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{"enabled": c.enabled(), "token_required": c.cfg.Token != ""})
}

// sessionView is what a page learns of its session.
type sessionView struct {
	Reviewer  string    `json:"reviewer"`
	CSRFToken string    `json:"csrf_token"`
	Expires   time.Time `json:"expires"`
}

func (c *Console) sessionInfo(w http.ResponseWriter, _ *http.Request, s session) {
	writeJSON(w, http.StatusOK, sessionView{Reviewer: s.Reviewer, CSRFToken: s.CSRF, Expires: s.Expires})
}

// jsonBody refuses a body that is not JSON: a form of another site can
// post text/plain or form data without asking, but not application/json.
func jsonBody(r *http.Request) *inspect.Error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return inspect.Errorf(http.StatusUnsupportedMediaType, "not_json", "the body must be application/json")
	}
	return nil
}

// maxLoginBody bounds a login's body.
const maxLoginBody = 4 << 10

// login trades a reviewer's name and the API token (the name alone on the
// embedded default without a token) for a session cookie.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if !c.enabled() {
		writeError(w, disabled())
		return
	}
	if e := jsonBody(r); e != nil {
		writeError(w, e)
		return
	}
	var req struct {
		Reviewer string `json:"reviewer"`
		Token    string `json:"token"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxLoginBody)).Decode(&req); err != nil {
		writeError(w, inspect.Errorf(http.StatusBadRequest, "bad_request", "the body must be {\"reviewer\": ..., \"token\": ...}"))
		return
	}
	if !reviewerRE.MatchString(req.Reviewer) {
		writeError(w, inspect.Errorf(http.StatusBadRequest, "bad_reviewer", "the reviewer's name must be 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"))
		return
	}
	if c.cfg.Token != "" && subtle.ConstantTimeCompare([]byte(req.Token), []byte(c.cfg.Token)) != 1 {
		c.log.Warn("console login refused: wrong token", "reviewer", req.Reviewer, "remote_addr", r.RemoteAddr)
		writeError(w, inspect.Errorf(http.StatusUnauthorized, "unauthorized", "that is not the API token"))
		return
	}
	s := session{Reviewer: req.Reviewer, Expires: c.cfg.Now().Add(c.cfg.SessionTTL).Truncate(time.Second).UTC(), CSRF: rand.Text()}
	c.setCookie(w, r, c.seal(s), int(c.cfg.SessionTTL/time.Second))
	c.log.Info("console login", "reviewer", s.Reviewer, "remote_addr", r.RemoteAddr)
	writeJSON(w, http.StatusOK, sessionView{Reviewer: s.Reviewer, CSRFToken: s.CSRF, Expires: s.Expires})
}

// logout clears the cookie. The session itself stays valid until it
// expires (nothing is kept on the server): a new token ends them all.
func (c *Console) logout(w http.ResponseWriter, r *http.Request, s session) {
	c.setCookie(w, r, "", -1)
	c.log.Info("console logout", "reviewer", s.Reviewer)
	w.WriteHeader(http.StatusNoContent)
}
