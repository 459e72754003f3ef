package testserver

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections to a backend that can be switched, as a
// Service or a virtual IP follows a failover: Switch closes every open
// connection, and the next ones go to the new backend.
type Proxy struct {
	Addr string
	ln   net.Listener
	mu   sync.Mutex
	to   string
	open map[net.Conn]bool
	wg   sync.WaitGroup
}

// StartProxy listens on a free loopback port and forwards to backend.
func StartProxy(t testing.TB, backend string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), ln: ln, to: backend, open: map[net.Conn]bool{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

// Switch sends new connections to backend and cuts the open ones.
func (p *Proxy) Switch(backend string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.to = backend
	for c := range p.open {
		c.Close()
	}
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		p.mu.Lock()
		to := p.to
		p.mu.Unlock()
		b, err := net.Dial("tcp", to)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.open[c], p.open[b] = true, true
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(c, b) })
		p.wg.Go(func() { p.pipe(b, c) })
	}
}

func (p *Proxy) pipe(dst, src net.Conn) {
	io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.open, dst)
	delete(p.open, src)
	p.mu.Unlock()
}

func (p *Proxy) close() {
	p.ln.Close()
	p.Switch("")
	p.wg.Wait()
}
