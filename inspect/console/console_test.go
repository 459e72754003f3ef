package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/disputed/disputed/inspect"
	"github.com/disputed/disputed/rules"
)

func TestPagesNeedASession(t *testing.T) {
	e := newEnv(t, Config{Token: token})
	c := client(t)
	for _, path := range []string{"/console/", "/console/disputes/" + order} {
		a := e.do(t, c, "GET", path, "")
		if a.code != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), "/console/login?next=") {
			t.Errorf("GET %s without a session: %d to %q, want 303 to the login page", path, a.code, a.header.Get("Location"))
		}
	}
	if a := e.do(t, c, "GET", "/console/api/v1/disputes?status=escalated", ""); a.code != 401 {
		t.Errorf("the queue without a session: %d, want 401", a.code)
	}
	if a := e.do(t, c, "GET", "/console/login", ""); a.code != 200 || !strings.Contains(a.body, "<form") {
		t.Errorf("the login page: %d", a.code)
	}
	e.login(t, c, "alice")
	for _, path := range []string{"/console/", "/console/disputes/" + order} {
		a := e.do(t, c, "GET", path, "")
		if a.code != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s with a session: %d %s", path, a.code, a.header.Get("Content-Type"))
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, Config{Token: token})
	c := client(t)
	for _, path := range []string{"/console/login", "/console/", "/console/api/login", "/console/static/console.js", "/console/api/v1/disputes/" + order} {
		a := e.do(t, c, "GET", path, "")
		h := a.header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", path, h)
		}
	}
	if a := e.do(t, c, "GET", "/console/static/", ""); a.code != 404 {
		t.Errorf("a listing of the assets: %d, want 404", a.code)
	}
	if a := e.do(t, c, "GET", "/console/static/console.js", ""); a.code != 200 || !strings.Contains(a.header.Get("Content-Type"), "javascript") {
		t.Errorf("console.js: %d %s", a.code, a.header.Get("Content-Type"))
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t, Config{Token: token})
	c := client(t)
	for _, tt := range []struct {
		name, body, ctype string
		code              int
	}{
		{"wrong token", `{"reviewer":"alice","token":"nope"}`, "application/json", 401},
		{"no token", `{"reviewer":"alice"}`, "application/json", 401},
		{"markup as a name", `{"reviewer":"<script>alert(1)</script>","token":"` + token + `"}`, "application/json", 400},
		{"empty name", `{"reviewer":"","token":"` + token + `"}`, "application/json", 400},
		{"a separator in the name", `{"reviewer":"a|b","token":"` + token + `"}`, "application/json", 400},
		{"a name too long", `{"reviewer":"` + strings.Repeat("a", 65) + `","token":"` + token + `"}`, "application/json", 400},
		{"a form post", "reviewer=alice&token=" + token, "application/x-www-form-urlencoded", 415},
		{"text", `{"reviewer":"alice","token":"` + token + `"}`, "text/plain", 415},
	} {
		a := e.do(t, c, "POST", "/console/api/login", tt.body, "Content-Type", tt.ctype)
		if a.code != tt.code {
			t.Errorf("%s: %d %s, want %d", tt.name, a.code, a.body, tt.code)
		}
		if strings.Contains(a.header.Get("Set-Cookie"), cookieName+"=") {
			t.Errorf("%s: a cookie was set", tt.name)
		}
	}

	a := e.do(t, c, "POST", "/console/api/login", `{"reviewer":"alice","token":"`+token+`"}`)
	if a.code != 200 {
		t.Fatalf("login: %d %s", a.code, a.body)
	}
	ck := a.header.Get("Set-Cookie")
	for _, want := range []string{cookieName + "=", "Path=/console/", "HttpOnly", "SameSite=Strict", "Max-Age=43200"} {
		if !strings.Contains(ck, want) {
			t.Errorf("Set-Cookie %q lacks %s", ck, want)
		}
	}
	if strings.Contains(ck, "Secure") {
		t.Errorf("Set-Cookie %q is Secure over plain HTTP: the browser would not send it back", ck)
	}
	if strings.Contains(ck, token) || strings.Contains(a.body, token) {
		t.Error("the token is in the session")
	}
	a = e.do(t, client(t), "POST", "/console/api/login", `{"reviewer":"alice","token":"`+token+`"}`, "X-Forwarded-Proto", "https")
	if !strings.Contains(a.header.Get("Set-Cookie"), "Secure") {
		t.Errorf("behind a TLS proxy, Set-Cookie %q is not Secure", a.header.Get("Set-Cookie"))
	}
	if !strings.Contains(e.logs.String(), "console login refused") || strings.Contains(e.logs.String(), token) {
		t.Errorf("log:\n%s", e.logs.String())
	}
}

func TestLoginOverTLSIsSecure(t *testing.T) {
	e := newEnv(t, Config{Token: token})
	e.srv.Close()
	tlsSrv := httptest.NewTLSServer(e.srv.Config.Handler)
	defer tlsSrv.Close()
	c := tlsSrv.Client()
	res, err := c.Post(tlsSrv.URL+"/console/api/login", "application/json", strings.NewReader(`{"reviewer":"alice","token":"`+token+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if ck := res.Header.Get("Set-Cookie"); res.StatusCode != 200 || !strings.Contains(ck, "; Secure") {
		t.Errorf("over TLS: %d, Set-Cookie %q, want Secure", res.StatusCode, ck)
	}
}

func TestDisabledWithoutToken(t *testing.T) {
	e := newEnv(t, Config{})
	c := client(t)
	if a := e.do(t, c, "GET", "/console/api/login", ""); !strings.Contains(a.body, `"enabled": false`) {
		t.Errorf("login info: %s", a.body)
	}
	if a := e.do(t, c, "POST", "/console/api/login", `{"reviewer":"alice","token":""}`); a.code != 403 {
		t.Errorf("login with no token configured: %d, want 403", a.code)
	}
	if a := e.do(t, c, "GET", "/console/", ""); a.code != http.StatusSeeOther {
		t.Errorf("queue page: %d, want the login page", a.code)
	}
}

// On the embedded default (Open, no token) the console is as open as the
// API there: a name is enough, and CSRF still holds.
func TestOpenOnTheEmbeddedDefault(t *testing.T) {
	e := newEnv(t, Config{Open: true})
	c := client(t)
	if a := e.do(t, c, "GET", "/console/api/login", ""); !strings.Contains(a.body, `"token_required": false`) {
		t.Errorf("login info: %s", a.body)
	}
	a := e.do(t, c, "POST", "/console/api/login", `{"reviewer":"dev"}`)
	if a.code != 200 {
		t.Fatalf("login with a name alone: %d %s", a.code, a.body)
	}
	if a := e.do(t, c, "POST", "/console/api/disputes/"+order+"/decisions", decisionBody(0)); a.code != 403 {
		t.Errorf("a decision without the CSRF token: %d, want 403", a.code)
	}
	// A token configured on the embedded default is required.
	e2 := newEnv(t, Config{Open: true, Token: token})
	if a := e2.do(t, client(t), "POST", "/console/api/login", `{"reviewer":"dev"}`); a.code != 401 {
		t.Errorf("embedded default with a token, login without it: %d, want 401", a.code)
	}
}

func TestSessionCookieIsSigned(t *testing.T) {
	e := newEnv(t, Config{Token: token})
	c := client(t)
	e.login(t, c, "alice")
	cookies := c.Jar.Cookies(mustURL(t, e.srv.URL+"/console/"))
	if len(cookies) != 1 {
		t.Fatalf("cookies: %v", cookies)
	}
	v := cookies[0].Value
	p64, mac, _ := strings.Cut(v, ".")
	forged := strings.Replace(string(mustB64(t, p64)), "alice", "mallory", 1)
	other := New(Config{Token: "another-token", Now: e.cfg.Now}, nil, nil, nil, nil, slog.New(slog.DiscardHandler))
	for name, value := range map[string]string{
		"another reviewer": b64(forged) + "." + mac,
		"no MAC":           p64,
		"garbage":          "x.y",
		"another token":    other.seal(session{Reviewer: "alice", Expires: now.Add(time.Hour), CSRF: "c"}),
	} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/console/api/session", nil)
		req.AddCookie(&http.Cookie{Name: cookieName, Value: value})
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 401 {
			t.Errorf("%s: %d, want 401", name, res.StatusCode)
		}
	}
	// Expired.
	e.cfg.Now = func() time.Time { return now.Add(13 * time.Hour) }
	later := newEnvSharing(t, e)
	req, _ := http.NewRequest("GET", later.URL+"/console/api/session", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: v})
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Errorf("a session 13 hours old: %d, want 401", res.StatusCode)
	}
}

// newEnvSharing is another console with e's token and clock: another
// replica, or the same one later.
func newEnvSharing(t *testing.T, e *env) *httptest.Server {
	t.Helper()
	parts := func(context.Context) (int, error) { return 4, nil }
	api := inspect.NewAPI(e.st, rules.DefaultPolicy(), parts, inspect.Config{Token: e.cfg.Token}, nil)
	c := New(e.cfg, api.Trusted(), e.st, parts, e.sub, slog.New(slog.DiscardHandler))
	mux := http.NewServeMux()
	c.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, Config{Token: token})
	c := client(t)
	csrf := e.login(t, c, "alice")
	path := "/console/api/disputes/" + order + "/decisions"
	for _, tt := range []struct {
		name    string
		headers []string
	}{
		{"no CSRF token", nil},
		{"a wrong CSRF token", []string{csrfHeader, "guess"}},
		{"from another site", []string{csrfHeader, csrf, "Sec-Fetch-Site", "cross-site"}},
		{"from another origin", []string{csrfHeader, csrf, "Origin", "https://evil.example"}},
	} {
		if a := e.do(t, c, "POST", path, decisionBody(15000), tt.headers...); a.code != 403 {
			t.Errorf("%s: %d %s, want 403", tt.name, a.code, a.body)
		}
	}
	if a := e.do(t, c, "POST", "/console/api/login", `{"reviewer":"mallory","token":"`+token+`"}`, "Sec-Fetch-Site", "cross-site"); a.code != 403 {
		t.Errorf("a login from another site: %d, want 403", a.code)
	}
	if a := e.do(t, c, "POST", "/console/api/logout", "", "Sec-Fetch-Site", "same-origin"); a.code != 403 {
		t.Errorf("a logout without the CSRF token: %d, want 403", a.code)
	}
	if n := len(e.sub.writes()); n != 0 {
		t.Fatalf("%d events written by refused requests", n)
	}
	if a := e.do(t, c, "POST", path, decisionBody(15000), csrfHeader, csrf, "Sec-Fetch-Site", "same-origin"); a.code != 202 {
		t.Errorf("with the token, from the console's page: %d %s, want 202", a.code, a.body)
	}
	if a := e.do(t, c, "POST", "/console/api/logout", "", csrfHeader, csrf); a.code != 204 || !strings.Contains(a.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("logout: %d, Set-Cookie %q", a.code, a.header.Get("Set-Cookie"))
	}
	if a := e.do(t, c, "GET", "/console/api/session", ""); a.code != 401 {
		t.Errorf("after logout: %d, want 401", a.code)
	}
}

func TestSubmitWritesTheEvent(t *testing.T) {
	e := newEnv(t, Config{Token: token})
	c := client(t)
	csrf := e.login(t, c, "alice")
	a := e.do(t, c, "POST", "/console/api/disputes/"+order+"/decisions", decisionBody(15000, "c2.a3", "c2.a9", "c2.a3"), csrfHeader, csrf)
	if a.code != 202 {
		t.Fatalf("submit: %d %s", a.code, a.body)
	}
	var ans submitted
	json.Unmarshal([]byte(a.body), &ans)
	if ans != (submitted{EventID: evtID, Source: "console/alice", Status: "written", Partition: 3}) {
		t.Errorf("answer %+v", ans)
	}
	w := e.sub.writes()
	if len(w) != 1 {
		t.Fatalf("%d writes, want 1", len(w))
	}
	if w[0].typ != rules.TypeReviewDecided || w[0].typ.Topic() != rules.TopicRefundRequests || w[0].partition != 3 || w[0].key != order {
		t.Errorf("written as %s to partition %d with key %q", w[0].typ, w[0].partition, w[0].key)
	}
	ev, err := rules.Decode(w[0].value)
	if err != nil {
		t.Fatalf("the event does not decode: %v\n%s", err, w[0].value)
	}
	want := rules.Event{ID: evtID, Source: "console/alice", Type: rules.TypeReviewDecided, Time: now, OrderID: order,
		Data: rules.Data{RefundAmount: 15000, Articles: []string{"c2.a3", "c2.a9"}, Note: "Two of five banners below the agreed resolution."}}
	if ev.ID != want.ID || ev.Source != want.Source || ev.Type != want.Type || !ev.Time.Equal(want.Time) || ev.OrderID != want.OrderID ||
		ev.Data.RefundAmount != 15000 || !slices.Equal(ev.Data.Articles, want.Data.Articles) || ev.Data.Note != want.Data.Note {
		t.Errorf("event %+v\nwant  %+v", ev, want)
	}
	// The console writes through the encoder every writer uses.
	if !bytes.Equal(w[0].value, rules.EncodeEvent(ev)) {
		t.Errorf("envelope %s\nwant what rules.EncodeEvent writes: %s", w[0].value, rules.EncodeEvent(ev))
	}
	log := e.logs.String()
	if !strings.Contains(log, "review decision written") || !strings.Contains(log, "event_id="+evtID) || !strings.Contains(log, "reviewer=alice") {
		t.Errorf("log:\n%s", log)
	}
	if strings.Contains(log, token) {
		t.Errorf("the token is in the log:\n%s", log)
	}

	// The same decision again (a double click, a retry): the same event.
	e.do(t, c, "POST", "/console/api/disputes/"+order+"/decisions", decisionBody(15000, "c2.a3", "c2.a9"), csrfHeader, csrf)
	w = e.sub.writes()
	if len(w) != 2 || !bytes.Equal(w[0].value, w[1].value) {
		t.Errorf("a retry wrote %d events, or another one:\n%s", len(w), w[len(w)-1].value)
	}
	// Once the engine has it, a retry writes nothing.
	e.st.mu.Lock()
	e.st.st.Log = append(e.st.st.Log, rules.LogEntry{At: now, Kind: string(rules.TypeReviewDecided), ID: evtID})
	e.st.mu.Unlock()
	a = e.do(t, c, "POST", "/console/api/disputes/"+order+"/decisions", decisionBody(15000, "c2.a3", "c2.a9"), csrfHeader, csrf)
	if a.code != 200 || !strings.Contains(a.body, `"already_applied"`) || len(e.sub.writes()) != 2 {
		t.Errorf("a retry of an applied decision: %d %s, %d writes", a.code, a.body, len(e.sub.writes()))
	}
}

func TestSubmitRefuses(t *testing.T) {
	e := newEnv(t, Config{Token: token})
	c := client(t)
	csrf := e.login(t, c, "alice")
	path := "/console/api/disputes/" + order + "/decisions"
	for _, tt := range []struct {
		name, path, body string
		code             int
	}{
		{"an upstream event's ID", path, strings.Replace(decisionBody(1), evtID, "evt-1006-05", 1), 400},
		{"no refund", path, `{"event_id":"` + evtID + `","articles":[]}`, 400},
		{"a negative refund", path, decisionBody(-1), 400},
		{"a citation the text does not have", path, decisionBody(1, "c9.a9"), 400},
		{"an unknown field", path, `{"event_id":"` + evtID + `","refund_amount":1,"reviewer":"bob"}`, 400},
		{"a note too long", path, strings.Replace(decisionBody(1), "Two of five", strings.Repeat("x", 17<<10), 1), 400},
		{"a bad order ID", "/console/api/disputes/ord%2Fx/decisions", decisionBody(1), 400},
		{"an unknown order", "/console/api/disputes/ord-nobody/decisions", decisionBody(1), 404},
	} {
		if a := e.do(t, c, "POST", tt.path, tt.body, csrfHeader, csrf); a.code != tt.code {
			t.Errorf("%s: %d %s, want %d", tt.name, a.code, a.body, tt.code)
		}
	}
	e.st.mu.Lock()
	e.st.st.Status = rules.StatusRuled
	e.st.mu.Unlock()
	if a := e.do(t, c, "POST", path, decisionBody(1), csrfHeader, csrf); a.code != 409 {
		t.Errorf("a ruled order: %d %s, want 409", a.code, a.body)
	}
	if n := len(e.sub.writes()); n != 0 {
		t.Fatalf("%d events written by refused decisions", n)
	}
	e.st.mu.Lock()
	e.st.st.Status = rules.StatusEscalated
	e.st.mu.Unlock()
	e.sub.mu.Lock()
	e.sub.fail = errors.New("kafka: not enough replicas")
	e.sub.mu.Unlock()
	if a := e.do(t, c, "POST", path, decisionBody(1), csrfHeader, csrf); a.code != 503 || !strings.Contains(a.body, "retry") {
		t.Errorf("kafka failing: %d %s, want 503", a.code, a.body)
	}
	if !strings.Contains(e.logs.String(), "review decision not written") {
		t.Errorf("the failure is not logged:\n%s", e.logs.String())
	}
}

func TestPreviewIsTheAPIsPreviewOfTheEvent(t *testing.T) {
	e := newEnv(t, Config{Token: token})
	c := client(t)
	csrf := e.login(t, c, "alice")
	a := e.do(t, c, "POST", "/console/api/disputes/"+order+"/preview", decisionBody(15000, "c2.a3", "c2.a9"), csrfHeader, csrf)
	if a.code != 200 {
		t.Fatalf("preview: %d %s", a.code, a.body)
	}
	var pv struct {
		Duplicate bool `json:"duplicate"`
		Commands  []struct {
			Subject string          `json:"subject"`
			Data    json.RawMessage `json:"data"`
		} `json:"commands"`
		StatusAfter rules.Status `json:"status_after"`
	}
	if err := json.Unmarshal([]byte(a.body), &pv); err != nil {
		t.Fatal(err)
	}
	if pv.Duplicate || pv.StatusAfter != rules.StatusRuled || len(pv.Commands) != 3 {
		t.Fatalf("preview %s", a.body)
	}
	var r rules.Ruling
	json.Unmarshal(pv.Commands[0].Data, &r)
	if r.Outcome != rules.RefundPartial || r.RefundAmount != 15000 || r.ProviderAmount != 25000 || r.Cause != "event:"+evtID ||
		!slices.Equal(r.Articles, []string{"c1.s1.a4", "c2.a3", "c2.a9"}) || r.Arithmetic != "customer = 15000; provider = 40000 - 15000 = 25000" {
		t.Errorf("ruling %+v", r)
	}
	if n := len(e.sub.writes()); n != 0 {
		t.Errorf("a preview wrote %d events", n)
	}
	// More than was asked: the engine would reject it, and says why.
	a = e.do(t, c, "POST", "/console/api/disputes/"+order+"/preview", decisionBody(40001), csrfHeader, csrf)
	if a.code != 200 || !strings.Contains(a.body, "disputes.rejected.") {
		t.Errorf("preview of too large a refund: %d %s", a.code, a.body)
	}
}

// Everything the console answers is JSON, which encoding/json makes inert
// as HTML; the pages put it in the page as text only.
func TestEscaping(t *testing.T) {
	e := newEnv(t, Config{Token: token})
	e.st.st.Vouchers = append(e.st.st.Vouchers, rules.Voucher{EventID: "x", At: now, Party: rules.Customer, Text: `<img src=x onerror="alert(1)"><script>alert(2)</script>`})
	c := client(t)
	e.login(t, c, "alice")
	a := e.do(t, c, "GET", "/console/api/v1/disputes/"+order, "")
	if a.code != 200 || a.header.Get("Content-Type") != "application/json" || a.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("dispute: %d %v", a.code, a.header)
	}
	if strings.ContainsAny(a.body, "<>") || !strings.Contains(a.body, `\u003cscript\u003e`) {
		t.Errorf("the answer holds raw markup:\n%s", a.body)
	}

	static, _ := fs.Sub(assets, "assets")
	sink := regexp.MustCompile(`\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\(\s*['"]on`)
	inlineScript := regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]|<script>`)
	handler := regexp.MustCompile(`\son[a-z]+\s*=`)
	remote := regexp.MustCompile(`(?:src|href)="(?:https?:)?//`)
	err := fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(static, p)
		switch {
		case strings.HasSuffix(p, ".js"):
			if m := sink.Find(b); m != nil {
				t.Errorf("%s uses %s: put data in the page with textContent", p, m)
			}
		case strings.HasSuffix(p, ".html"):
			if m := inlineScript.Find(b); m != nil {
				t.Errorf("%s has an inline script (%s): the CSP allows none", p, m)
			}
			if m := handler.Find(b); m != nil {
				t.Errorf("%s has an inline event handler (%s)", p, m)
			}
			if m := remote.Find(b); m != nil {
				t.Errorf("%s loads from elsewhere (%s)", p, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Every citation the engine can produce has its text in the table the
// console shows next to it.
func TestArticlesCoverEveryCitation(t *testing.T) {
	b, err := assets.ReadFile("assets/articles.json")
	if err != nil {
		t.Fatal(err)
	}
	var tab struct {
		RuleSet  string `json:"rule_set"`
		Articles []struct{ Citation, Heading, Text string }
	}
	if err := json.Unmarshal(b, &tab); err != nil {
		t.Fatal(err)
	}
	if tab.RuleSet != rules.RuleSet2018 {
		t.Errorf("the table is of rule set %q, the engine's %q", tab.RuleSet, rules.RuleSet2018)
	}
	texts := map[string]string{}
	for _, a := range tab.Articles {
		if !rules.ValidCitation(a.Citation) {
			t.Errorf("the table has %q, which the engine does not cite", a.Citation)
		}
		texts[a.Citation] = a.Text
	}
	for _, c := range rules.Citations() {
		if strings.TrimSpace(texts[c]) == "" {
			t.Errorf("%s has no text", c)
		}
	}
}
