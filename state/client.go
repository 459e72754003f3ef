package state

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/url"
	"os"

	"github.com/disputed/disputed/internal/netaddr"
	"github.com/disputed/disputed/rules"

	"github.com/redis/go-redis/v9"
)

// ClientConfig says how to reach Redis.
type ClientConfig struct {
	URL          string   // redis://[user:password@]host:port[/db] or rediss://
	Cluster      bool     // the URL's host is a seed of a Redis Cluster
	ClusterAddrs []string // further seeds
	TLSCA        string   // PEM file of the CAs that sign the server's certificate (rediss://)
}

// NewClient returns a client for the URL: a single server, or a cluster
// seeded by the URL's host and the further addresses.
func NewClient(c ClientConfig) (redis.UniversalClient, error) {
	opts, err := redis.ParseURL(c.URL)
	if err != nil {
		return nil, fmt.Errorf("redis URL %s: %w", netaddr.Redact(c.URL), err)
	}
	if c.TLSCA != "" {
		pem, err := os.ReadFile(c.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("redis TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("redis TLS CA %s: no PEM certificate found", c.TLSCA)
		}
		opts.TLSConfig.RootCAs = pool // ParseURL sets TLSConfig for rediss://
	}
	opts.ClientName = "disputed"
	if !c.Cluster {
		return redis.NewClient(opts), nil
	}
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:      append([]string{opts.Addr}, c.ClusterAddrs...),
		ClientName: opts.ClientName,
		Username:   opts.Username,
		Password:   opts.Password,
		TLSConfig:  opts.TLSConfig,
	}), nil
}

// SetLogger sends what the Redis client library logs (connection pool
// trouble, cluster redirections) to log at warn level, instead of its own
// unstructured lines on stderr. The library's logger is global to the
// process, so call it once, from main.
func SetLogger(log *slog.Logger) {
	redis.SetLogger(clientLog{log.With("component", "redis_client")})
}

type clientLog struct{ log *slog.Logger }

func (l clientLog) Printf(ctx context.Context, format string, args ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(format, args...))
}

// Validate reports every field of c with a bad value, each as a
// *rules.ConfigError naming the field. An empty URL is not reported:
// whoever starts the server fills it in.
func (c ClientConfig) Validate() error {
	var f rules.ConfigErrors
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		switch {
		case err != nil || (u.Scheme != "redis" && u.Scheme != "rediss"):
			f.Add("URL", "%s: must be a redis:// or rediss:// URL", netaddr.Redact(c.URL))
		default:
			if _, err := redis.ParseURL(c.URL); err != nil {
				f.Add("URL", "%s: %v", netaddr.Redact(c.URL), err)
			}
			if c.TLSCA != "" && u.Scheme != "rediss" {
				f.Add("TLSCA", "needs a rediss:// URL")
			}
		}
	}
	if c.Cluster && c.URL == "" {
		f.Add("Cluster", "needs %s (a seed of the cluster)", rules.ConfigField("URL"))
	}
	if len(c.ClusterAddrs) > 0 && !c.Cluster {
		f.Add("ClusterAddrs", "needs %s", rules.ConfigField("Cluster"))
	}
	for _, a := range c.ClusterAddrs {
		if !netaddr.HostPort(a) {
			f.Add("ClusterAddrs", "%q is not host:port", a)
		}
	}
	return f.Err()
}
