package deploy

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/disputed/disputed/internal/opsmetrics"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// exported are the metrics disputed registers, besides the Go runtime's
// and the process's below. TestExportedMetrics keeps the list equal to the
// metric names in the code, and the test in cmd/disputed that scrapes
// /metrics compares UsedMetrics with what is really served.
var exported = []string{
	"disputed_api_requests_total",
	"disputed_batch_duration_seconds",
	"disputed_batch_errors_total",
	"disputed_build_info",
	"disputed_commands_published_total",
	"disputed_consumer_lag_messages",
	"disputed_deadline_lateness_seconds",
	"disputed_deadlines_cancelled_total",
	"disputed_deadlines_fired_total",
	"disputed_deadlines_pending",
	"disputed_deadlines_set_total",
	"disputed_events_misrouted_total",
	"disputed_events_total",
	"disputed_nats_publish_duration_seconds",
	"disputed_offset_commit_errors_total",
	"disputed_open_disputes",
	"disputed_outbox_depth",
	"disputed_outbox_oldest_age_seconds",
	"disputed_partitions_owned",
	"disputed_publish_errors_total",
	"disputed_rebalances_total",
	"disputed_redis_call_duration_seconds",
	"disputed_rulings_total",
	"disputed_store_conflicts_total",
	"disputed_transfer_amount_minor_total",
	"disputed_transfers_total",
}

// runtimeMetrics are the series of client_golang's Go and process
// collectors (v1.25, default options) that the dashboard may use.
var runtimeMetrics = []string{
	"go_gc_duration_seconds", "go_gc_duration_seconds_count", "go_gc_duration_seconds_sum",
	"go_gc_gogc_percent", "go_gc_gomemlimit_bytes", "go_goroutines", "go_info",
	"go_memstats_alloc_bytes", "go_memstats_alloc_bytes_total", "go_memstats_heap_alloc_bytes",
	"go_memstats_heap_idle_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_heap_objects",
	"go_memstats_heap_released_bytes", "go_memstats_heap_sys_bytes", "go_memstats_next_gc_bytes",
	"go_memstats_stack_inuse_bytes", "go_memstats_sys_bytes", "go_sched_gomaxprocs_threads", "go_threads",
	"process_cpu_seconds_total", "process_max_fds", "process_open_fds", "process_resident_memory_bytes",
	"process_start_time_seconds", "process_virtual_memory_bytes",
}

const namespace = "disputed"

// manifests are the decoded Kubernetes objects of deploy/k8s, by kind.
type manifests struct {
	namespaces      []*corev1.Namespace
	configMaps      []*corev1.ConfigMap
	secrets         []*corev1.Secret
	deployments     []*appsv1.Deployment
	services        []*corev1.Service
	pdbs            []*policyv1.PodDisruptionBudget
	serviceMonitors []*monitoringv1.ServiceMonitor
	prometheusRules []*monitoringv1.PrometheusRule
	kustomization   *kustomization
}

// kustomization mirrors the fields of kustomization.yaml that we use;
// kustomize's own types module would pull in far more than a decoder.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
}

// decodeStrict decodes one YAML document into o; unknown and duplicate
// fields are errors, so a misspelt or misplaced field fails the test
// instead of being ignored by the API server.
func decodeStrict(doc []byte, o any) error {
	return yaml.UnmarshalStrict(doc, o)
}

// yamlDocs splits a file into its YAML documents, without the empty ones.
func yamlDocs(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var probe map[string]any
		if err := yaml.Unmarshal(doc, &probe); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(probe) > 0 {
			docs = append(docs, doc)
		}
	}
}

func loadManifests(t *testing.T) (*manifests, map[string]bool) {
	t.Helper()
	m := &manifests{}
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in k8s/: %v", err)
	}
	listed := make(map[string]bool) // file name -> applied by kustomization.yaml
	for _, path := range files {
		name := filepath.Base(path)
		for _, doc := range yamlDocs(t, path) {
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var obj any
			switch gvk := tm.APIVersion + "/" + tm.Kind; gvk {
			case "v1/Namespace":
				obj = appendNew(&m.namespaces)
			case "v1/ConfigMap":
				obj = appendNew(&m.configMaps)
			case "v1/Secret":
				obj = appendNew(&m.secrets)
			case "v1/Service":
				obj = appendNew(&m.services)
			case "apps/v1/Deployment":
				obj = appendNew(&m.deployments)
			case "policy/v1/PodDisruptionBudget":
				obj = appendNew(&m.pdbs)
			case "monitoring.coreos.com/v1/ServiceMonitor":
				obj = appendNew(&m.serviceMonitors)
			case "monitoring.coreos.com/v1/PrometheusRule":
				obj = appendNew(&m.prometheusRules)
			case "kustomize.config.k8s.io/v1beta1/Kustomization":
				m.kustomization = &kustomization{}
				obj = m.kustomization
			default:
				t.Errorf("%s: no schema for %s here; add its type to deploy_test.go", name, gvk)
				continue
			}
			if err := decodeStrict(doc, obj); err != nil {
				t.Errorf("%s: %s: %v", name, tm.Kind, err)
			}
		}
	}
	if m.kustomization == nil {
		t.Fatal("k8s/kustomization.yaml is missing")
	}
	for _, r := range m.kustomization.Resources {
		if _, err := os.Stat(filepath.Join("k8s", r)); err != nil {
			t.Errorf("kustomization.yaml lists %s: %v", r, err)
		}
		listed[r] = true
	}
	for _, path := range files {
		name := filepath.Base(path)
		switch {
		case name == "kustomization.yaml":
		case strings.HasSuffix(name, ".example.yaml"):
			if listed[name] {
				t.Errorf("kustomization.yaml applies %s: examples must not overwrite real Secrets", name)
			}
		case !listed[name]:
			t.Errorf("k8s/%s is not listed in kustomization.yaml", name)
		}
	}
	return m, listed
}

// appendNew appends a new *T to s and returns it, for decoding into.
func appendNew[T any](s *[]*T) *T {
	v := new(T)
	*s = append(*s, v)
	return v
}

func one[T any](t *testing.T, kind string, s []*T) *T {
	t.Helper()
	if len(s) != 1 {
		t.Fatalf("want exactly one %s in k8s/, have %d", kind, len(s))
	}
	return s[0]
}

func TestKubernetesManifests(t *testing.T) {
	m, _ := loadManifests(t)
	if m.kustomization.Namespace != namespace {
		t.Errorf("kustomization namespace = %q, want %q", m.kustomization.Namespace, namespace)
	}
	ns := one(t, "Namespace", m.namespaces)
	if ns.Name != namespace {
		t.Errorf("Namespace is %q, want %q", ns.Name, namespace)
	}
	cm := one(t, "ConfigMap", m.configMaps)
	d := one(t, "Deployment", m.deployments)
	svc := one(t, "Service", m.services)
	pdb := one(t, "PodDisruptionBudget", m.pdbs)
	sm := one(t, "ServiceMonitor", m.serviceMonitors)
	one(t, "PrometheusRule", m.prometheusRules)

	for _, o := range []metav1.Object{cm, d, svc, pdb, sm, m.prometheusRules[0]} {
		if o.GetNamespace() != namespace {
			t.Errorf("%s has namespace %q, want %q", o.GetName(), o.GetNamespace(), namespace)
		}
	}

	podLabels := labels.Set(d.Spec.Template.Labels)
	selects := func(what string, sel *metav1.LabelSelector) {
		t.Helper()
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil || s.Empty() || !s.Matches(podLabels) {
			t.Errorf("%s selector %v does not select the Deployment's pods %v (%v)", what, sel, podLabels, err)
		}
	}
	selects("Deployment", d.Spec.Selector)
	selects("PodDisruptionBudget", pdb.Spec.Selector)
	if s := labels.SelectorFromSet(svc.Spec.Selector); len(svc.Spec.Selector) == 0 || !s.Matches(podLabels) {
		t.Errorf("Service selector %v does not select the Deployment's pods %v", svc.Spec.Selector, podLabels)
	}
	if s, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector); err != nil || s.Empty() || !s.Matches(labels.Set(svc.Labels)) {
		t.Errorf("ServiceMonitor selector %v does not select the Service's labels %v (%v)", sm.Spec.Selector, svc.Labels, err)
	}

	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("Deployment replicas = %v, want 3", d.Spec.Replicas)
	}
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.String() != "1" || pdb.Spec.MinAvailable != nil {
		t.Errorf("PodDisruptionBudget: want maxUnavailable 1 and no minAvailable, have %v/%v", pdb.Spec.MaxUnavailable, pdb.Spec.MinAvailable)
	}

	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, have %d", len(pod.Containers))
	}
	c := pod.Containers[0]

	// Ports and probes.
	var httpPort *corev1.ContainerPort
	for i, p := range c.Ports {
		if p.Name == "http" {
			httpPort = &c.Ports[i]
		}
	}
	if httpPort == nil || httpPort.ContainerPort != 8080 {
		t.Fatalf("container has no port named http on 8080: %v", c.Ports)
	}
	probe := func(what string, p *corev1.Probe, path string) {
		t.Helper()
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s: want an HTTP probe on %s", what, path)
			return
		}
		if p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probes %s on port %s, want %s on http", what, p.HTTPGet.Path, p.HTTPGet.Port.String(), path)
		}
	}
	probe("liveness", c.LivenessProbe, "/healthz")
	probe("readiness", c.ReadinessProbe, "/readyz")
	var svcHTTP bool
	for _, p := range svc.Spec.Ports {
		if p.Name == "http" && p.Port == 8080 && (p.TargetPort.String() == "http" || p.TargetPort.IntValue() == 8080) {
			svcHTTP = true
		}
	}
	if !svcHTTP {
		t.Errorf("Service has no port http 8080 -> http: %v", svc.Spec.Ports)
	}
	if len(sm.Spec.Endpoints) == 0 {
		t.Fatal("ServiceMonitor has no endpoints")
	}
	for _, e := range sm.Spec.Endpoints {
		if e.Port != "http" || e.Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoint %s%s, want port http path /metrics", e.Port, e.Path)
		}
	}

	// Resources.
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[r]
		lim, okLim := c.Resources.Limits[r]
		if !okReq || !okLim {
			t.Errorf("container needs a %s request and limit, has %v", r, c.Resources)
		} else if req.Cmp(lim) > 0 {
			t.Errorf("%s request %s is above its limit %s", r, req.String(), lim.String())
		}
	}

	// Security: non-root by number (the image's USER), read-only root.
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod securityContext must set runAsNonRoot and a non-zero runAsUser: %+v", psc)
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("container securityContext must be read-only, without privilege escalation, dropping ALL: %+v", sc)
	}
	if len(pod.TopologySpreadConstraints) == 0 {
		t.Error("pods need topologySpreadConstraints")
	}
	for _, tsc := range pod.TopologySpreadConstraints {
		selects("topologySpreadConstraint "+tsc.TopologyKey, tsc.LabelSelector)
	}

	// Shutdown: the kubelet must wait longer than disputed drains. The
	// consumer, then NATS, each get up to --shutdown-grace.
	grace := 15 * time.Second // the flag's default
	if v, ok := cm.Data["DISPUTED_SHUTDOWN_GRACE"]; ok {
		g, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("DISPUTED_SHUTDOWN_GRACE %q: %v", v, err)
		}
		grace = g
	}
	var preStop time.Duration
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	if pod.TerminationGracePeriodSeconds == nil {
		t.Error("terminationGracePeriodSeconds is not set (the default 30s is too short for two graces)")
	} else if tgp := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second; tgp <= 2*grace+preStop {
		t.Errorf("terminationGracePeriodSeconds %v must exceed 2 x --shutdown-grace (%v) + preStop (%v)", tgp, grace, preStop)
	}

	// Configuration: the ConfigMap, Secrets by reference, NATS creds by file.
	if !slices.ContainsFunc(c.EnvFrom, func(e corev1.EnvFromSource) bool {
		return e.ConfigMapRef != nil && e.ConfigMapRef.Name == cm.Name
	}) {
		t.Errorf("container does not take its environment from ConfigMap %s", cm.Name)
	}
	secretKeys := make(map[string]map[string]bool)
	for _, s := range m.secrets {
		secretKeys[s.Name] = make(map[string]bool)
		for k := range s.StringData {
			secretKeys[s.Name][k] = true
		}
		for k := range s.Data {
			secretKeys[s.Name][k] = true
		}
	}
	fromSecret := make(map[string]bool)
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		if !secretKeys[ref.Name][ref.Key] {
			t.Errorf("env %s refers to Secret %s key %s, which secret.example.yaml does not have", e.Name, ref.Name, ref.Key)
		}
		fromSecret[e.Name] = true
	}
	for _, want := range []string{"DISPUTED_REDIS_URL", "DISPUTED_API_TOKEN", "DISPUTED_KAFKA_SASL_PASSWORD"} {
		if !fromSecret[want] {
			t.Errorf("%s must come from a Secret", want)
		}
		if _, ok := cm.Data[want]; ok {
			t.Errorf("%s is a secret: it must not be in the ConfigMap", want)
		}
	}
	creds := cm.Data["DISPUTED_NATS_CREDS"]
	if creds == "" {
		t.Error("ConfigMap has no DISPUTED_NATS_CREDS")
	}
	var credsMounted bool
	for _, vm := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name != vm.Name || v.Secret == nil {
				continue
			}
			if !vm.ReadOnly {
				t.Errorf("Secret volume %s is mounted writable", v.Name)
			}
			for _, it := range v.Secret.Items {
				if filepath.Join(vm.MountPath, it.Path) == creds {
					credsMounted = true
					if !secretKeys[v.Secret.SecretName][it.Key] {
						t.Errorf("volume %s mounts key %s of Secret %s, which secret.example.yaml does not have", v.Name, it.Key, v.Secret.SecretName)
					}
				}
			}
		}
	}
	if !credsMounted {
		t.Errorf("DISPUTED_NATS_CREDS %s is not a file mounted from a Secret", creds)
	}

	var names []string
	for k := range cm.Data {
		names = append(names, k)
	}
	for _, e := range c.Env {
		names = append(names, e.Name)
	}
	checkEnvNames(t, "k8s", names)
}

// envOnly are variables that disputed reads without a flag of the same
// name, so the flag scan below cannot find them.
var envOnly = map[string]bool{
	"GOMEMLIMIT": true, "GOMAXPROCS": true, "GOGC": true,
}

// checkEnvNames reports DISPUTED_* variables that no flag of cmd/disputed
// reads: a misspelt variable is silently ignored by the program. A flag
// --kafka-brokers is read from DISPUTED_KAFKA_BROKERS, so the flag's name
// must be a string literal in cmd/disputed's sources (or the variable's
// own name, for one read without a flag).
func checkEnvNames(t *testing.T, where string, names []string) {
	t.Helper()
	lits := cmdLiterals(t)
	for _, n := range names {
		if envOnly[n] {
			continue
		}
		flagName, ok := strings.CutPrefix(n, "DISPUTED_")
		if !ok {
			t.Errorf("%s: environment variable %s is not one of disputed's (DISPUTED_*)", where, n)
			continue
		}
		flagName = strings.ToLower(strings.ReplaceAll(flagName, "_", "-"))
		switch {
		case lits[flagName] || lits[n]:
		default:
			t.Errorf("%s: %s matches no flag of cmd/disputed (no --%s)", where, n, flagName)
		}
	}
}

var cmdLits map[string]bool

// cmdLiterals returns the string literals of cmd/disputed's non-test
// sources.
func cmdLiterals(t *testing.T) map[string]bool {
	t.Helper()
	if cmdLits != nil {
		return cmdLits
	}
	files, err := filepath.Glob("../cmd/disputed/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sources in ../cmd/disputed: %v", err)
	}
	lits := make(map[string]bool)
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parse %s: %v", f, err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if bl, ok := n.(*ast.BasicLit); ok && bl.Kind == token.STRING {
				if s, err := strconv.Unquote(bl.Value); err == nil {
					lits[s] = true
				}
			}
			return true
		})
	}
	cmdLits = lits
	return lits
}

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

var (
	exportedSet = setOf(exported)
	runtimeSet  = setOf(runtimeMetrics)
	anyMetric   = regexp.MustCompile(`\b(?:disputed|go|process)_[a-z0-9_]+\b`)
)

func setOf(s []string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}

// checkMetrics reports metric names in a PromQL expression that disputed
// does not export.
func checkMetrics(t *testing.T, where, expr string) {
	t.Helper()
	for _, name := range anyMetric.FindAllString(expr, -1) {
		base := name
		for _, s := range opsmetrics.HistogramSuffixes {
			if b, ok := strings.CutSuffix(name, s); ok && exportedSet[b] {
				base = b
			}
		}
		if !exportedSet[base] && !runtimeSet[name] {
			t.Errorf("%s: %s is not a metric disputed exports", where, name)
		}
	}
}

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

// TestExportedMetrics compares exported with the disputed_* string
// literals of the module's non-test Go code, so that a metric added or
// renamed in the code fails here until the dashboard and the rules are
// brought along.
func TestExportedMetrics(t *testing.T) {
	var inCode []string
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "deploy", "testdata", "vendor", "bin":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if bl, ok := n.(*ast.BasicLit); ok && bl.Kind == token.STRING {
				if s, err := strconv.Unquote(bl.Value); err == nil && metricLiteral.MatchString(s) {
					inCode = append(inCode, s)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(inCode)
	inCode = slices.Compact(inCode)
	want := slices.Sorted(slices.Values(exported))
	if !slices.Equal(inCode, want) {
		t.Errorf("metric names in the code differ from the list in deploy_test.go:\n code: %v\n list: %v", inCode, want)
	}
}

var metricLiteral = regexp.MustCompile(`^disputed_[a-z0-9_]+$`)

func TestUsedMetrics(t *testing.T) {
	used, err := opsmetrics.UsedMetrics("..")
	if err != nil {
		t.Fatal(err)
	}
	usedSet := setOf(used)
	for _, n := range used {
		if !exportedSet[n] {
			t.Errorf("UsedMetrics reports %s, which disputed does not export", n)
		}
	}
	// The dashboard shows every metric; so UsedMetrics lists them all.
	for _, n := range exported {
		if !usedSet[n] {
			t.Errorf("%s is exported but neither alerted on nor on the dashboard", n)
		}
	}
	if !slices.IsSorted(used) {
		t.Error("UsedMetrics is not sorted")
	}
}

// compose mirrors the fields of the Compose specification that
// docker-compose.yml uses; decoding strictly catches a misspelt key.
type compose struct {
	Name        string                     `json:"name"`
	XPartitions string                     `json:"x-partitions"`
	Services    map[string]composeService  `json:"services"`
	Volumes     map[string]json.RawMessage `json:"volumes"`
}

type composeService struct {
	Image       string            `json:"image"`
	Hostname    string            `json:"hostname"`
	Build       *composeBuild     `json:"build"`
	Command     []string          `json:"command"`
	Entrypoint  []string          `json:"entrypoint"`
	Environment map[string]string `json:"environment"`
	Ports       []string          `json:"ports"`
	Volumes     []string          `json:"volumes"`
	DependsOn   map[string]struct {
		Condition string `json:"condition"`
	} `json:"depends_on"`
	Healthcheck *struct {
		Test        []string `json:"test"`
		Interval    string   `json:"interval"`
		Timeout     string   `json:"timeout"`
		Retries     int      `json:"retries"`
		StartPeriod string   `json:"start_period"`
	} `json:"healthcheck"`
	Restart         string `json:"restart"`
	StopGracePeriod string `json:"stop_grace_period"`
}

type composeBuild struct {
	Context    string `json:"context"`
	Dockerfile string `json:"dockerfile"`
}

// UnmarshalJSON decodes strictly, and accepts the short form of
// depends_on (a list of names) as well as the long one.
func (s *composeService) UnmarshalJSON(b []byte) error {
	type plain composeService
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if d, ok := raw["depends_on"]; ok && bytes.HasPrefix(bytes.TrimSpace(d), []byte("[")) {
		var names []string
		if err := json.Unmarshal(d, &names); err != nil {
			return err
		}
		long := make(map[string]map[string]string, len(names))
		for _, n := range names {
			long[n] = map[string]string{"condition": "service_started"}
		}
		raw["depends_on"], _ = json.Marshal(long)
		b, _ = json.Marshal(raw)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode((*plain)(s))
}

// TestCompose checks docker-compose.yml by structure only: Docker cannot
// run here, so it is never started by the tests.
func TestCompose(t *testing.T) {
	b, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := decodeStrict(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	var names []string
	for n := range c.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"disputed", "grafana", "kafka", "kafka-init", "nats", "prometheus", "redis"}
	if !slices.Equal(names, want) {
		t.Errorf("services %v, want %v", names, want)
	}
	for name, s := range c.Services {
		if s.Image == "" && s.Build == nil {
			t.Errorf("service %s has neither image nor build", name)
		}
		if strings.HasSuffix(s.Image, ":latest") || (s.Build == nil && !strings.Contains(s.Image, ":")) {
			t.Errorf("service %s: pin the image's version, not %q", name, s.Image)
		}
		for dep, cond := range s.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("service %s depends on %s, which is not a service", name, dep)
			}
			switch cond.Condition {
			case "service_started", "service_healthy", "service_completed_successfully":
			default:
				t.Errorf("service %s: depends_on %s condition %q", name, dep, cond.Condition)
			}
			if cond.Condition == "service_healthy" && c.Services[dep].Healthcheck == nil {
				t.Errorf("service %s waits for %s to be healthy, which has no healthcheck", name, dep)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				if _, err := os.Stat(src); err != nil {
					t.Errorf("service %s mounts %s: %v", name, src, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("service %s mounts volume %s, which is not declared", name, src)
			}
		}
	}

	d := c.Services["disputed"]
	if d.Build == nil {
		t.Fatal("disputed must be built from the Dockerfile")
	}
	if _, err := os.Stat(filepath.Join(d.Build.Context, d.Build.Dockerfile)); err != nil {
		t.Errorf("disputed build: %v", err)
	}
	for env, host := range map[string]string{
		"DISPUTED_KAFKA_BROKERS": "kafka:9092",
		"DISPUTED_REDIS_URL":     "redis://redis:6379",
		"DISPUTED_NATS_URL":      "nats://nats:4222",
	} {
		if !strings.HasPrefix(d.Environment[env], host) {
			t.Errorf("disputed %s = %q, want %s...", env, d.Environment[env], host)
		}
	}
	for _, dep := range []string{"kafka-init", "redis", "nats"} {
		if _, ok := d.DependsOn[dep]; !ok {
			t.Errorf("disputed does not wait for %s", dep)
		}
	}
	var envNames []string
	for n := range d.Environment {
		envNames = append(envNames, n)
	}
	checkEnvNames(t, "compose", envNames)

	// The four input topics with one partition count, and the DLQ.
	init := strings.Join(c.Services["kafka-init"].Command, "\n")
	for _, topic := range []string{"orders", "deliveries", "chats", "refund-requests", "disputes.dlq"} {
		if !strings.Contains(init, topic) {
			t.Errorf("kafka-init does not create topic %s", topic)
		}
	}
	if p, err := strconv.Atoi(c.Services["kafka-init"].Environment["PARTITIONS"]); err != nil || p < 1 {
		t.Errorf("kafka-init PARTITIONS = %q, want a positive count", c.Services["kafka-init"].Environment["PARTITIONS"])
	}
	if !strings.Contains(strings.Join(c.Services["nats"].Command, " "), "-js") {
		t.Error("nats must run with JetStream (-js)")
	}
	if !strings.Contains(strings.Join(c.Services["redis"].Command, " "), "--appendonly yes") {
		t.Error("redis must run with --appendonly yes")
	}
	prom, err := os.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(prom, []byte(`"disputed:8080"`)) || !bytes.Contains(prom, []byte("alerts.yml")) {
		t.Error("prometheus/prometheus.yml must scrape disputed:8080 and load alerts.yml")
	}
}

// TestDockerfile checks the image's contract with the manifests.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{
		`ENTRYPOINT ["/disputed", "run"]`,
		"EXPOSE 8080",
		"CGO_ENABLED=0",
		"./cmd/disputed",
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	user := regexp.MustCompile(`(?m)^USER (\d+)(?::(\d+))?$`).FindStringSubmatch(df)
	if user == nil || user[1] == "0" {
		t.Error("Dockerfile needs a numeric non-root USER (runAsNonRoot can only verify a number)")
	}
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goLine == nil || !strings.Contains(df, "ARG GO_VERSION="+string(goLine[1])) {
		t.Errorf("Dockerfile's GO_VERSION must be go.mod's go %s", goLine[1])
	}
}
