package testserver

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSCluster is a cluster of three nats-server processes with JetStream
// (file storage in temporary directories), routed to one another, which the
// test can kill and restart. The binary is built from the nats-server module
// in go.mod, so the servers are the version the embedded one is.
type NATSCluster struct {
	// URL lists the three servers, for a client that moves to another when
	// one goes.
	URL   string
	Nodes []*NATSNode
	t     testing.TB
}

// NATSNode is one server of a NATSCluster.
type NATSNode struct {
	Name string
	URL  string
	t    testing.TB
	bin  string
	conf string
	log  string
	http string // monitoring address: /healthz
	cmd  *exec.Cmd
	done chan struct{}
}

// StartNATSCluster builds nats-server, starts three servers and returns once
// each answers /healthz: JetStream up, with a meta leader. They are killed
// when the test ends.
func StartNATSCluster(t testing.TB) *NATSCluster {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building nats-server needs the go command: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "nats-server")
	start := time.Now()
	build := exec.Command(gobin, "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	build.Dir = moduleRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build nats-server: %v\n%s", err, out)
	}
	t.Logf("go build nats-server took %v", time.Since(start).Round(time.Millisecond))

	type ports struct{ client, route, http int }
	ps := make([]ports, 3)
	var routes []string
	for i := range ps {
		ps[i] = ports{FreePort(t), FreePort(t), FreePort(t)}
		routes = append(routes, fmt.Sprintf("%q", "nats-route://127.0.0.1:"+strconv.Itoa(ps[i].route)))
	}
	nc := &NATSCluster{t: t}
	var urls []string
	for i, p := range ps {
		dir := t.TempDir()
		n := &NATSNode{
			Name: fmt.Sprintf("n%d", i), URL: "nats://127.0.0.1:" + strconv.Itoa(p.client), t: t, bin: bin,
			conf: filepath.Join(dir, "nats.conf"), log: filepath.Join(dir, "nats.log"),
			http: "127.0.0.1:" + strconv.Itoa(p.http),
		}
		conf := fmt.Sprintf(`server_name: %q
listen: "127.0.0.1:%d"
http: %q
jetstream {
  store_dir: %q
  max_memory_store: 64MB
  max_file_store: 1GB
}
cluster {
  name: "disputed-test"
  listen: "127.0.0.1:%d"
  routes: [%s]
}
`, n.Name, p.client, n.http, filepath.Join(dir, "jetstream"), p.route, strings.Join(routes, ", "))
		if err := os.WriteFile(n.conf, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		nc.Nodes = append(nc.Nodes, n)
		urls = append(urls, n.URL)
	}
	nc.URL = strings.Join(urls, ",")
	for _, n := range nc.Nodes {
		n.start()
		t.Cleanup(n.Kill)
	}
	for _, n := range nc.Nodes {
		WaitUntil(t, time.Minute, "nats server "+n.Name+" is healthy", func() bool { return n.Healthy() == nil })
	}
	return nc
}

func (n *NATSNode) start() {
	n.t.Helper()
	cmd := exec.Command(n.bin, "-c", n.conf, "-l", n.log)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("start nats server %s: %v", n.Name, err)
	}
	n.cmd, n.done = cmd, make(chan struct{})
	go func(done chan struct{}) {
		cmd.Wait()
		close(done)
	}(n.done)
}

// Running reports whether the server's process runs.
func (n *NATSNode) Running() bool {
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// Kill kills the server (SIGKILL), as a crash does.
func (n *NATSNode) Kill() {
	if n.cmd == nil {
		return
	}
	n.cmd.Process.Kill()
	<-n.done
	n.cmd = nil
}

// Restart starts the killed server again with its configuration and store;
// it catches up with the others by itself: see Healthy.
func (n *NATSNode) Restart() {
	n.t.Helper()
	n.Kill()
	n.start()
}

// Healthy says why the server is not healthy, or nil when its /healthz
// answers ok: it accepts connections, JetStream is up, and it is current
// with the meta leader and with every stream and consumer it holds a
// replica of.
func (n *NATSNode) Healthy() error {
	if !n.Running() {
		return fmt.Errorf("nats server %s is not running", n.Name)
	}
	c := http.Client{Timeout: 2 * time.Second}
	res, err := c.Get("http://" + n.http + "/healthz")
	if err != nil {
		return fmt.Errorf("nats server %s: %w", n.Name, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		var b strings.Builder
		fmt.Fprintf(&b, "nats server %s: /healthz answered %s", n.Name, res.Status)
		buf := make([]byte, 512)
		if k, _ := res.Body.Read(buf); k > 0 {
			b.WriteString(": " + strings.TrimSpace(string(buf[:k])))
		}
		return fmt.Errorf("%s", b.String())
	}
	return nil
}

// Healthy says why the cluster is not whole, or nil when every server is
// healthy and each of the streams has a leader and every other replica
// current.
func (nc *NATSCluster) Healthy(conn *nats.Conn, streams ...string) error {
	for _, n := range nc.Nodes {
		if err := n.Healthy(); err != nil {
			return err
		}
	}
	js, err := jetstream.New(conn)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for _, name := range streams {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return fmt.Errorf("stream %s: %w", name, err)
		}
		ci := s.CachedInfo().Cluster
		if ci == nil || ci.Leader == "" {
			return fmt.Errorf("stream %s has no leader", name)
		}
		if len(ci.Replicas) != len(nc.Nodes)-1 {
			return fmt.Errorf("stream %s has %d peers besides its leader, want %d", name, len(ci.Replicas), len(nc.Nodes)-1)
		}
		for _, r := range ci.Replicas {
			if !r.Current || r.Offline {
				return fmt.Errorf("stream %s: replica %s is not current (offline %v, lag %d)", name, r.Name, r.Offline, r.Lag)
			}
		}
	}
	return nil
}

// Conn connects to the cluster, retrying for ever on disconnection, and
// closes the connection when the test ends.
func (nc *NATSCluster) Conn() *nats.Conn {
	nc.t.Helper()
	return connect(nc.t, nc.URL, "the nats cluster")
}

// LogFiles returns each server's log file, by name.
func (nc *NATSCluster) LogFiles() map[string]string {
	out := make(map[string]string)
	for _, n := range nc.Nodes {
		out[n.Name] = n.log
	}
	return out
}
