package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

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
	// disputed refuses on start a Redis less durable than it is told to
	// expect: the stack would never come up.
	redis := strings.Join(c.Services["redis"].Command, " ")
	switch dur := d.Environment["DISPUTED_REDIS_DURABILITY"]; dur {
	case "", "fsync":
		if !strings.Contains(redis, "--appendonly yes") || !strings.Contains(redis, "--appendfsync always") {
			t.Errorf("disputed expects an fsynced Redis (durability %q), but redis runs %q", dur, redis)
		}
	case "unsafe":
		t.Error("the compose stack must not run disputed with --redis-durability=unsafe")
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
