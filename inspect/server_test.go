package inspect

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestReadiness(t *testing.T) {
	ready := &Readiness{
		Joined: func() bool { return false },
		Checks: map[string]func(context.Context) error{
			"redis": func(context.Context) error { return nil },
			"nats":  func(context.Context) error { return errors.New("nats: CONNECTING") },
		},
	}
	rec := httptest.NewRecorder()
	ready.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("code = %d, want 503", rec.Code)
	}
	var body struct {
		NotReady map[string]string `json:"not_ready"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
	if body.NotReady["nats"] != "nats: CONNECTING" || body.NotReady["kafka"] == "" || body.NotReady["redis"] != "" {
		t.Errorf("not_ready = %v", body.NotReady)
	}

	ready.Joined = func() bool { return true }
	ready.Checks["nats"] = func(context.Context) error { return nil }
	rec = httptest.NewRecorder()
	ready.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("code = %d, want 200", rec.Code)
	}
}
