// Package netaddr checks and prints the server addresses disputed is
// configured with: comma-separated lists, host:port pairs, and URLs whose
// passwords must never reach a log line or an error.
package netaddr

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// SplitList splits a comma-separated list, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// HostPort reports whether s is host:port with a host and a valid port.
func HostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n > 0 && n < 1<<16
}

// Redact hides the password of a URL.
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)" // it may hold a password we cannot find
	}
	return u.Redacted()
}

// RedactList hides the passwords of a comma-separated list of URLs.
func RedactList(s string) string {
	urls := strings.Split(s, ",")
	for i, u := range urls {
		urls[i] = Redact(strings.TrimSpace(u))
	}
	return strings.Join(urls, ",")
}

// ClientAddr is addr with an unspecified host (":8080", "[::]:8080") made
// 127.0.0.1, for a client on this machine.
func ClientAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
