package rules_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/disputed/disputed/internal/configtest"
	"github.com/disputed/disputed/rules"
)

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*rules.Policy)
		want   []string // substrings of the error; none: valid
	}{
		{name: "defaults", modify: func(*rules.Policy) {}},
		{name: "no limits", modify: func(p *rules.Policy) { p.MaxChats, p.MaxEvidence, p.MaxEvents, p.MaxVoucherText = 0, 0, 0, 0 }},
		{name: "ten years", modify: func(p *rules.Policy) { p.EvidenceWindow = 10 * 365 * 24 * time.Hour }},
		{name: "unknown rule set", modify: func(p *rules.Policy) { p.RuleSet = "2030" }, want: []string{`RuleSet: "2030": only "2018-03-12" is implemented`}},
		{
			name:   "windows not positive",
			modify: func(p *rules.Policy) { p.EvidenceWindow, p.ModificationWindow = 0, -time.Hour },
			want:   []string{"EvidenceWindow: 0s: must be positive and at most 10 years", "ModificationWindow: -1h0m0s"},
		},
		{
			name:   "window too long",
			modify: func(p *rules.Policy) { p.ModificationWindow = 11 * 365 * 24 * time.Hour },
			want:   []string{"ModificationWindow: 96360h0m0s: must be positive and at most 10 years"},
		},
		{
			name:   "negative limits",
			modify: func(p *rules.Policy) { p.MaxChats, p.MaxVoucherText = -1, -2 },
			want:   []string{"MaxChats: -1: a per-order limit cannot be negative", "MaxVoucherText: -2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := rules.DefaultPolicy()
			tt.modify(&p)
			configtest.Check(t, p.Validate(), tt.want)
		})
	}
}

func TestConfigErrorsNameFields(t *testing.T) {
	var f rules.ConfigErrors
	if err := f.Err(); err != nil {
		t.Fatalf("Err() of nothing = %v, want nil", err)
	}
	f.Add("Topics.Chats", "%q is also %s, and %s %d", "orders", rules.ConfigField("Topics.Orders"), "not a field", 3)
	f.Positive("Idle", time.Second)
	f.Positive("Skew", 0)
	err := f.Err()
	if got, want := err.Error(), "Topics.Chats: \"orders\" is also Topics.Orders, and not a field 3\nSkew: 0s: must be positive"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var ce *rules.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Topics.Chats" {
		t.Fatalf("errors.As(%v) = %v, want the Topics.Chats error", err, ce)
	}
	flag := func(field string) string { return "--" + strings.ToLower(strings.ReplaceAll(field, ".", "-")) }
	if got, want := ce.Text(flag), `--topics-chats: "orders" is also --topics-orders, and not a field 3`; got != want {
		t.Errorf("Text() = %q, want %q", got, want)
	}
	if got := ce.Error(); !strings.HasPrefix(got, "Topics.Chats: ") {
		t.Errorf("Error() after Text = %q: Text changed the error", got)
	}
}
