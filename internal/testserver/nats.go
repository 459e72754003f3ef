package testserver

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/disputed/disputed/internal/embedded"
)

// NATS is an in-process NATS server with JetStream and file storage in a
// temporary directory.
type NATS struct {
	URL string
	t   testing.TB
	cfg embedded.NATSConfig
	s   *server.Server
}

// StartNATS starts the server on a free port; it is shut down when the test
// ends.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	n := &NATS{t: t, cfg: embedded.NATSConfig{Name: "disputed-test", Port: FreePort(t), StoreDir: t.TempDir()}}
	n.URL = "nats://127.0.0.1:" + strconv.Itoa(n.cfg.Port)
	n.start()
	t.Cleanup(n.Shutdown)
	return n
}

func (n *NATS) start() {
	n.t.Helper()
	s, err := embedded.NATS(n.cfg)
	if err != nil {
		n.t.Fatalf("nats server on %s: %v", n.URL, err)
	}
	n.s = s
}

// Shutdown stops the server.
func (n *NATS) Shutdown() {
	if n.s != nil {
		n.s.Shutdown()
		n.s.WaitForShutdown()
		n.s = nil
	}
}

// Restart stops the server and starts it on the same port and store.
func (n *NATS) Restart() {
	n.t.Helper()
	n.Shutdown()
	n.start()
}

// Conn connects to the server, retrying for ever on disconnection, and
// closes the connection when the test ends.
func (n *NATS) Conn() *nats.Conn {
	n.t.Helper()
	return connect(n.t, n.URL, "nats")
}

// connect connects a test to url, the NATS server or cluster named what,
// retrying for ever on disconnection, and closes the connection when the
// test ends.
func connect(t testing.TB, url, what string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatalf("connect to %s: %v", what, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Msg is one message of a stream.
type Msg struct {
	Subject string
	MsgID   string
	Data    json.RawMessage
}

// Messages reads every message of the stream, in stream order.
func Messages(ctx context.Context, t testing.TB, nc *nats.Conn, stream string) []Msg {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatalf("stream %s info: %v", stream, err)
	}
	var out []Msg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("stream %s message %d: %v", stream, seq, err)
		}
		out = append(out, Msg{Subject: m.Subject, MsgID: m.Header.Get(jetstream.MsgIDHeader), Data: m.Data})
	}
	return out
}
