package deploy

import (
	"errors"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"sigs.k8s.io/yaml"
)

// ruleFile is the layout of alerts.yml, decoded into the Operator's own
// RuleGroup type so the PrometheusRule can be compared field by field.
type ruleFile struct {
	Groups []monitoringv1.RuleGroup `json:"groups"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := decodeStrict(b, &rf); err != nil {
		t.Fatalf("prometheus/alerts.yml: %v", err)
	}
	return rf
}

func TestAlertRules(t *testing.T) {
	rf := loadRules(t)
	anchors, haveDocs := docAnchors(t, "../docs/operations.md")
	if !haveDocs {
		t.Log("docs/operations.md does not exist yet: runbook anchors not checked")
	}
	seen := make(map[string]bool)
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: a rule without alert: %q (recording rules belong elsewhere)", g.Name, r.Record)
				continue
			}
			if seen[r.Alert] {
				t.Errorf("alert %s is defined twice", r.Alert)
			}
			seen[r.Alert] = true
			switch r.Labels["severity"] {
			case "critical", "warning", "info":
			default:
				t.Errorf("%s: severity %q, want critical, warning or info", r.Alert, r.Labels["severity"])
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", r.Alert, a)
				}
			}
			anchor := strings.ToLower(r.Alert)
			if u := r.Annotations["runbook_url"]; !strings.HasSuffix(u, "docs/operations.md#"+anchor) {
				t.Errorf("%s: runbook_url %q, want .../docs/operations.md#%s", r.Alert, u, anchor)
			}
			if haveDocs && !anchors[anchor] {
				t.Errorf("%s: docs/operations.md has no heading for #%s", r.Alert, anchor)
			}
			checkMetrics(t, r.Alert, r.Expr.String())
		}
	}

	// promtool runs the unit tests; here we only ask that they cover
	// enough alerts to be worth having.
	b, err := os.ReadFile("prometheus/alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	var tf struct {
		RuleFiles []string `json:"rule_files"`
		Tests     []struct {
			AlertRuleTest []struct {
				Alertname string `json:"alertname"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(b, &tf); err != nil {
		t.Fatalf("prometheus/alerts_test.yml: %v", err)
	}
	tested := make(map[string]bool)
	for _, tc := range tf.Tests {
		for _, a := range tc.AlertRuleTest {
			if !seen[a.Alertname] {
				t.Errorf("alerts_test.yml tests %s, which alerts.yml does not define", a.Alertname)
			}
			tested[a.Alertname] = true
		}
	}
	if len(tested) < 3 {
		t.Errorf("alerts_test.yml tests %d alerts, want at least 3", len(tested))
	}
}

// docAnchors returns the GitHub anchors of the Markdown headings in path.
func docAnchors(t *testing.T, path string) (map[string]bool, bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	anchors := make(map[string]bool)
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	for line := range strings.SplitSeq(string(b), "\n") {
		h := strings.TrimLeft(line, "#")
		if h == line || !strings.HasPrefix(h, " ") {
			continue
		}
		slug := drop.ReplaceAllString(strings.ToLower(strings.TrimSpace(h)), "")
		anchors[strings.ReplaceAll(slug, " ", "-")] = true
	}
	return anchors, true
}

func TestPrometheusRuleMatchesAlerts(t *testing.T) {
	rf := loadRules(t)
	m, _ := loadManifests(t)
	pr := one(t, "PrometheusRule", m.prometheusRules)
	if !reflect.DeepEqual(pr.Spec.Groups, rf.Groups) {
		t.Error("k8s/prometheusrule.yaml differs from prometheus/alerts.yml; regenerate it with the command in its header")
	}
}
