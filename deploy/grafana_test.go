package deploy

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// dashboard mirrors the parts of Grafana's dashboard JSON that we check.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasource     `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	GridPos    struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string      `json:"refId"`
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a collapsed row
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// dsVar is how every panel names its data source: the dashboard's
// variable, so it works with any Prometheus.
var dsVar = datasource{Type: "prometheus", UID: "${datasource}"}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile("grafana/disputed.json")
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatal("grafana/disputed.json is not valid JSON")
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/disputed.json: %v", err)
	}
	return d
}

// flatPanels returns the panels, with those of collapsed rows.
func flatPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flatPanels(p.Panels)...)
	}
	return out
}

func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard needs a uid and a title")
	}
	var hasDSVar bool
	for _, v := range d.Templating.List {
		if v.Type == "datasource" && v.Name == "datasource" && string(v.Query) == `"prometheus"` {
			hasDSVar = true
		}
		if v.Type == "query" && (v.Datasource == nil || *v.Datasource != dsVar) {
			t.Errorf("variable %s: datasource %v, want %v", v.Name, v.Datasource, dsVar)
		}
	}
	if !hasDSVar {
		t.Error(`dashboard needs a data source variable "datasource" of type prometheus`)
	}
	ids := make(map[int]bool)
	titles := make(map[string]bool)
	var queries int
	for _, p := range flatPanels(d.Panels) {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: bad gridPos %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if titles[p.Title] {
			t.Errorf("panel title %q is used twice", p.Title)
		}
		titles[p.Title] = true
		if p.Datasource == nil || *p.Datasource != dsVar {
			t.Errorf("panel %q: datasource %v, want %v", p.Title, p.Datasource, dsVar)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no targets", p.Title)
		}
		refs := make(map[string]bool)
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" || tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: target %q needs an expr and a unique refId", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if tg.Datasource == nil || *tg.Datasource != dsVar {
				t.Errorf("panel %q target %s: datasource %v, want %v", p.Title, tg.RefID, tg.Datasource, dsVar)
			}
			checkMetrics(t, "panel "+strconv.Quote(p.Title), tg.Expr)
			queries++
		}
	}
	if queries == 0 {
		t.Fatal("dashboard has no queries")
	}
}

// grafanaVars are the dashboard's variables with values that make its
// queries plain PromQL.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h",
	"$job", ".*", "$instance", ".*",
)

// TestDashboardQueriesParse has promtool ($PROMTOOL, or the one on PATH)
// parse every dashboard query, by checking them as recording rules.
// promtool is installed by .ci/run; a developer without it skips, CI fails.
func TestDashboardQueriesParse(t *testing.T) {
	name := cmp.Or(os.Getenv("PROMTOOL"), "promtool")
	promtool, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is not installed (Debian package prometheus)")
		}
		t.Skip("promtool is not installed (Debian package prometheus); CI runs this")
	}
	d := loadDashboard(t)
	var rules ruleFile
	g := monitoringv1.RuleGroup{Name: "dashboard"}
	for _, p := range flatPanels(d.Panels) {
		for _, tg := range p.Targets {
			g.Rules = append(g.Rules, monitoringv1.Rule{
				Record: fmt.Sprintf("dashboard:panel%d:%s", p.ID, strings.ToLower(tg.RefID)),
				Expr:   intstr.FromString(grafanaVars.Replace(tg.Expr)),
			})
		}
	}
	rules.Groups = append(rules.Groups, g)
	b, err := yaml.Marshal(rules)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput()
	if err != nil {
		t.Errorf("promtool check rules on the dashboard's queries: %v\n%s", err, out)
	}
}
