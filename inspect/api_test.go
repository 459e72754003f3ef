package inspect

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/disputed/disputed/rules"
)

// fakeDisputes is a read side with one page of summaries.
type fakeDisputes struct {
	items []rules.Summary
	asked struct {
		statuses []rules.Status
		limit    int
	}
}

func (f *fakeDisputes) Find(context.Context, string, int) (rules.State, int, bool, error) {
	return rules.State{}, 0, false, nil
}

func (f *fakeDisputes) List(_ context.Context, statuses []rules.Status, _ int, after string, limit int) ([]rules.Summary, string, error) {
	if after == "bad" {
		return nil, "", fmt.Errorf("list: %w", rules.ErrBadCursor)
	}
	f.asked.statuses, f.asked.limit = statuses, limit
	return f.items, "", nil
}

func (f *fakeDisputes) Held(context.Context, string, int) ([]rules.Held, error) { return nil, nil }

func (f *fakeDisputes) OpenDisputes(context.Context, int) (map[rules.Status]int64, error) {
	return map[rules.Status]int64{}, nil
}

func serve(t *testing.T, cfg Config, store Disputes) *httptest.Server {
	t.Helper()
	a := NewAPI(store, rules.DefaultPolicy(), func(context.Context) (int, error) { return 1, nil }, cfg, prometheus.NewRegistry())
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url, auth string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// Outside the embedded default, no token configured means no API.
func TestAPIForbiddenWithoutToken(t *testing.T) {
	srv := serve(t, Config{}, &fakeDisputes{})
	res, _ := get(t, srv.URL+"/v1/disputes?status=escalated", "Bearer anything")
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("got %d, want 403", res.StatusCode)
	}
}

func TestAPIUnauthorizedSaysHow(t *testing.T) {
	srv := serve(t, Config{Token: "t0ken"}, &fakeDisputes{})
	res, _ := get(t, srv.URL+"/v1/disputes?status=escalated", "Bearer wrong")
	if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("got %d with WWW-Authenticate %q, want 401 and a Bearer challenge", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
}

func TestAPIList(t *testing.T) {
	store := &fakeDisputes{items: []rules.Summary{{OrderID: "o1", Status: rules.StatusEscalated}}}
	srv := serve(t, Config{Token: "t"}, store)
	auth := "Bearer t"
	tests := []struct {
		query string
		code  int
	}{
		{"status=escalated,under_review&limit=100", 200},
		{"status=escalated", 200},
		{"status=ruled", 400},
		{"status=", 400},
		{"status=escalated&limit=101", 400},
		{"status=escalated&limit=0", 400},
		{"status=escalated&cursor=bad", 400},
	}
	for _, tt := range tests {
		res, _ := get(t, srv.URL+"/v1/disputes?"+tt.query, auth)
		if res.StatusCode != tt.code {
			t.Errorf("%s: %d, want %d", tt.query, res.StatusCode, tt.code)
		}
	}
	get(t, srv.URL+"/v1/disputes?status=escalated,under_review", auth)
	if len(store.asked.statuses) != 2 || store.asked.limit != defaultLimit {
		t.Errorf("the store was asked for %v, limit %d", store.asked.statuses, store.asked.limit)
	}
}
