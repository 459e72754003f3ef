package producer

import (
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/disputed/disputed/internal/netaddr"
	"github.com/disputed/disputed/rules"
)

// ConnConfig says how to reach NATS.
type ConnConfig struct {
	URL      string // comma-separated for several servers
	Creds    string // credentials file (JWT and seed)
	NKey     string // nkey seed file
	User     string
	Password string
	TLSCA    string // PEM files
	TLSCert  string
	TLSKey   string
	// DrainTimeout bounds Drain on shutdown.
	DrainTimeout time.Duration
}

// Conn is a NATS connection that reconnects for ever: an outage grows the
// outboxes, it does not stop the processor.
type Conn struct {
	*nats.Conn
	closed chan struct{}
	log    *slog.Logger
	grace  time.Duration
}

// Connect connects to NATS. It returns at once even when NATS is down; the
// connection keeps trying, and Ping says whether it is up.
func Connect(c ConnConfig, log *slog.Logger) (*Conn, error) {
	log = log.With("component", "nats")
	closed := make(chan struct{})
	opts := []nats.Option{
		nats.Name("disputed"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		// Start while NATS is down; /readyz says so until it is up.
		nats.RetryOnFailedConnect(true),
		nats.DrainTimeout(c.DrainTimeout),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: closed on purpose
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "nats_url", nc.ConnectedUrlRedacted()) }),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
	}
	switch {
	case c.Creds != "":
		opts = append(opts, nats.UserCredentials(c.Creds))
	case c.NKey != "":
		o, err := nats.NkeyOptionFromSeed(c.NKey)
		if err != nil {
			return nil, fmt.Errorf("nats nkey: %w", err)
		}
		opts = append(opts, o)
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.TLSCA != "" {
		opts = append(opts, nats.RootCAs(c.TLSCA))
	}
	if c.TLSCert != "" {
		opts = append(opts, nats.ClientCert(c.TLSCert, c.TLSKey))
	}
	nc, err := nats.Connect(c.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats: %w", err)
	}
	return &Conn{Conn: nc, closed: closed, log: log, grace: c.DrainTimeout}, nil
}

// Close lets pending publishes and subscriptions finish, within the drain
// timeout, then closes the connection.
func (c *Conn) Close() {
	if err := c.Drain(); err != nil {
		c.log.Debug("nats drain", "err", err) // not connected: nothing to drain
		c.Conn.Close()
	}
	t := time.NewTimer(c.grace)
	defer t.Stop()
	select {
	case <-c.closed:
	case <-t.C:
		c.log.Warn("nats drain did not finish within the shutdown grace")
		c.Conn.Close()
	}
}

// Validate reports every field of c with a bad value, each as a
// *rules.ConfigError naming the field. An empty URL is not reported:
// whoever starts the server fills it in; neither is DrainTimeout, which
// the caller sets from its own shutdown grace.
func (c ConnConfig) Validate() error {
	var f rules.ConfigErrors
	if c.URL != "" {
		for s := range strings.SplitSeq(c.URL, ",") {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil || u.Host == "" || !slices.Contains([]string{"nats", "tls", "ws", "wss"}, u.Scheme) {
				f.Add("URL", "%s: must be a nats://, tls://, ws:// or wss:// URL with a host", netaddr.Redact(s))
			}
		}
	}
	auth := 0
	for _, set := range []bool{c.Creds != "", c.NKey != "", c.User != ""} {
		if set {
			auth++
		}
	}
	if auth > 1 {
		f.Add("Creds", "%s, %s and %s exclude one another", rules.ConfigField("Creds"), rules.ConfigField("NKey"), rules.ConfigField("User"))
	}
	if c.Password != "" && c.User == "" {
		f.Add("User", "required by %s", rules.ConfigField("Password"))
	}
	if c.TLSCert != "" && c.TLSKey == "" {
		f.Add("TLSKey", "required by %s", rules.ConfigField("TLSCert"))
	}
	if c.TLSKey != "" && c.TLSCert == "" {
		f.Add("TLSCert", "required by %s", rules.ConfigField("TLSKey"))
	}
	return f.Err()
}
