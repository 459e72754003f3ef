package inspect

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/disputed/disputed/rules"
)

// queue is a read side whose List pages through its items by position, as
// the store's cursor does, and counts what it reads.
type queue struct {
	fakeDisputes
	all  []rules.Summary
	read int
}

func (q *queue) List(_ context.Context, _ []rules.Status, _ int, after string, limit int) ([]rules.Summary, string, error) {
	from := 0
	if after != "" {
		n, err := strconv.Atoi(after)
		if err != nil {
			return nil, "", fmt.Errorf("list: %w", rules.ErrBadCursor)
		}
		from = n
	}
	to := min(from+limit, len(q.all))
	q.read += to - from
	next := ""
	if to < len(q.all) {
		next = strconv.Itoa(to)
	}
	return q.all[from:to], next, nil
}

func TestAPIListByCategory(t *testing.T) {
	store := &queue{}
	for i := range 30 {
		c := rules.Training
		if i%10 == 9 {
			c = rules.Video
		}
		store.all = append(store.all, rules.Summary{OrderID: fmt.Sprintf("o%02d", i), Status: rules.StatusEscalated, Category: c})
	}
	srv := serve(t, Config{Token: "t"}, store)
	page := func(query string) (int, listView) {
		t.Helper()
		res, body := get(t, srv.URL+"/v1/disputes?status=escalated&"+query, "Bearer t")
		var v listView
		json.Unmarshal([]byte(body), &v)
		return res.StatusCode, v
	}
	code, v := page("category=video&limit=2")
	if code != 200 || len(v.Items) != 2 || v.Items[0].OrderID != "o09" || v.Items[1].OrderID != "o19" || v.NextCursor != "20" {
		t.Fatalf("first page of video: %d %+v", code, v)
	}
	_, v = page("category=video&limit=2&cursor=" + v.NextCursor)
	if len(v.Items) != 1 || v.Items[0].OrderID != "o29" || v.NextCursor != "" {
		t.Errorf("second page of video: %+v", v)
	}
	_, v = page("category=video,training&limit=5")
	if len(v.Items) != 5 || v.NextCursor != "5" {
		t.Errorf("two categories: %+v", v)
	}
	if code, _ := page("category=gardening"); code != 400 {
		t.Errorf("an unknown category: %d, want 400", code)
	}
	// A category with no dispute reads at most maxScan summaries a page.
	store.all = store.all[:0]
	for i := range 2*maxScan + 5 {
		store.all = append(store.all, rules.Summary{OrderID: fmt.Sprintf("o%04d", i), Status: rules.StatusEscalated, Category: rules.Training})
	}
	store.read = 0
	_, v = page("category=other&limit=100")
	if len(v.Items) != 0 || v.NextCursor == "" || store.read > maxScan+maxLimit {
		t.Errorf("a rare category read %d summaries, answered %d items and cursor %q", store.read, len(v.Items), v.NextCursor)
	}
}

// Trusted serves the same answers without the bearer check, for a front
// end that checked its caller itself.
func TestAPITrusted(t *testing.T) {
	store := &fakeDisputes{items: []rules.Summary{{OrderID: "o1", Status: rules.StatusEscalated}}}
	a := NewAPI(store, rules.DefaultPolicy(), func(context.Context) (int, error) { return 1, nil }, Config{Token: "t"}, prometheus.NewRegistry())
	srv := httptest.NewServer(a.Trusted())
	t.Cleanup(srv.Close)
	res, body := get(t, srv.URL+"/v1/disputes?status=escalated", "")
	if res.StatusCode != http.StatusOK || !json.Valid([]byte(body)) {
		t.Errorf("trusted list without a token: %d %s", res.StatusCode, body)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	srv2 := httptest.NewServer(mux)
	t.Cleanup(srv2.Close)
	if res, _ := get(t, srv2.URL+"/v1/disputes?status=escalated", ""); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("the registered API without a token: %d, want 401", res.StatusCode)
	}
}
