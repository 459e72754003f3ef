package deploy

import (
	"bufio"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

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
