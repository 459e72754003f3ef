package main

import (
	"errors"
	"flag"
	"log/slog"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/disputed/disputed/rules"
)

// Validate reports every value that is wrong, naming its flag, before
// anything is dialled. Each package checks its own config; the checks here
// are about the command: the servers given together, the HTTP listener and
// the embedded default, shutdown and logging.
func (c Config) Validate() error {
	flags := configFlags()
	var servers rules.ConfigErrors
	c.validateServers(&servers)
	errs := []error{flags.errors("", servers.Err())}
	for _, p := range []struct {
		prefix string // the package's config in Config
		err    error
	}{
		{"Kafka.Config.", c.Kafka.Config.Validate()},
		{"Kafka.ClientConfig.", c.Kafka.ClientConfig.Validate()},
		{"Redis.Config.", c.Redis.Config.Validate()},
		{"Redis.ClientConfig.", c.Redis.ClientConfig.Validate()},
		{"NATS.Config.", c.NATS.Config.Validate()},
		{"NATS.ConnConfig.", c.NATS.ConnConfig.Validate()},
		{"Policy.", c.Policy.Validate()},
	} {
		errs = append(errs, flags.errors(p.prefix, p.err))
	}

	var f rules.ConfigErrors
	if host, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		f.Add("HTTPAddr", "%q is not host:port (e.g. :8080)", c.HTTPAddr)
	} else if c.embedded() && c.APIToken == "" && !loopback(host) {
		f.Add("HTTPAddr", "%q is reachable from other hosts, and the embedded default serves the API without a token: set --api-token (DISPUTED_API_TOKEN), or listen on 127.0.0.1", c.HTTPAddr)
	}
	f.Positive("ShutdownGrace", c.ShutdownGrace)
	if _, ok := logFormats[c.LogFormat]; !ok {
		f.Add("LogFormat", "%q: must be text or json", c.LogFormat)
	}
	if _, ok := logLevels[c.LogLevel]; !ok {
		f.Add("LogLevel", "%q: must be debug, info, warn or error", c.LogLevel)
	}
	for _, p := range []struct {
		field string
		port  int
	}{{"EmbeddedPorts.Kafka", c.EmbeddedPorts.Kafka}, {"EmbeddedPorts.NATS", c.EmbeddedPorts.NATS}, {"EmbeddedPorts.Redis", c.EmbeddedPorts.Redis}} {
		switch {
		case p.port < 0 || p.port > 65535:
			f.Add(p.field, "%d: must be a port, 1 to 65535 (0: any free one)", p.port)
		case p.port != 0 && !c.embedded():
			f.Add(p.field, "%d: only the embedded default starts servers of its own; drop it with --kafka-brokers, --redis-url and --nats-url", p.port)
		}
	}
	return errors.Join(append(errs, flags.errors("", f.Err()))...)
}

var logFormats = map[string]bool{"text": true, "json": true}

var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
}

// validateServers checks that the three servers are either all given or
// all left to the embedded default: half an embedded deployment would
// silently keep state in memory.
func (c Config) validateServers(f *rules.ConfigErrors) {
	if c.embedded() {
		return
	}
	var missing, fields []string
	for _, s := range []struct {
		field, flag string
		set         bool
	}{
		{"Kafka.Config.Brokers", "--kafka-brokers", len(c.Kafka.Brokers) > 0},
		{"Redis.ClientConfig.URL", "--redis-url", c.Redis.URL != ""},
		{"NATS.ConnConfig.URL", "--nats-url", c.NATS.URL != ""},
	} {
		if !s.set {
			missing, fields = append(missing, s.flag), append(fields, s.field)
		}
	}
	if len(missing) > 0 {
		f.Add(fields[0], "missing %s (give all of --kafka-brokers, --redis-url and --nats-url, or none to run on in-process servers)",
			strings.Join(missing, ", "))
	}
}

// loopback reports whether a listen host reaches this machine only.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// flagNames names the fields of a config by the flags that set them, so
// that the packages' errors, which name fields, reach the operator naming
// flags.
type flagNames struct {
	byField map[string]string // field path ("Kafka.Config.Topics.Orders") -> flag name
	secrets []string          // flags better set by their environment variable
}

// configFlags are the flag names of Config's fields.
var configFlags = sync.OnceValue(func() flagNames {
	var c Config
	e := c.register(flag.NewFlagSet("", flag.ContinueOnError), func(string) string { return "" })
	return e.names(&c)
})

// names finds the path of every field of the struct root points to that a
// flag defined by e sets: the flags were defined on the fields' addresses,
// and this finds the addresses' names, so no second table of them is kept.
func (e *envDefaults) names(root any) flagNames {
	n := flagNames{byField: make(map[string]string), secrets: e.secrets}
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		for i := range v.NumField() {
			sf := v.Type().Field(i)
			if !sf.IsExported() {
				continue
			}
			fv := v.Field(i)
			if name, ok := e.flags[fv.Addr().Interface()]; ok {
				n.byField[path+sf.Name] = name
			} else if fv.Kind() == reflect.Struct {
				walk(fv, path+sf.Name+".")
			}
		}
	}
	walk(reflect.ValueOf(root).Elem(), "")
	return n
}

// errors rewrites the *rules.ConfigError among err (joined or alone), whose
// fields are at prefix in the config, naming the fields by their flags; a
// field without one (only a program sets it) keeps its path. It returns
// nil for nil.
func (n flagNames) errors(prefix string, err error) error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var errs []error
		for _, e := range j.Unwrap() {
			errs = append(errs, n.errors(prefix, e))
		}
		return errors.Join(errs...)
	}
	ce, ok := err.(*rules.ConfigError)
	if !ok {
		return err
	}
	name := func(field string) string {
		if f, ok := n.byField[prefix+field]; ok {
			return "--" + f
		}
		return prefix + field
	}
	text := ce.Text(name)
	if f := n.byField[prefix+ce.Field]; slices.Contains(n.secrets, f) {
		text += " (env " + envName(f) + ")"
	}
	return errors.New(text)
}
