package processor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
)

// Profiler takes the processor's CPU profile over the middle of the load
// phase, and its allocation and heap profiles after it, into a directory
// (--profile): `go tool pprof DIR/cpu.pprof`. Over the same window it takes
// the bench process's own CPU profile (bench-cpu.pprof): on a small machine
// the producer, the observer and the in-process servers share the CPUs
// with the processor, and what they cost is part of what the run measures.
type Profiler struct {
	dir  string
	addr string
	wg   sync.WaitGroup
	err  error
}

// NewProfiler returns the profiler of the processor at addr (its HTTP
// address), writing into dir.
func NewProfiler(dir, addr string) *Profiler { return &Profiler{dir: dir, addr: addr} }

// Start begins a CPU profile of d after a delay, in the background.
func (p *Profiler) Start(ctx context.Context, delay, d time.Duration) {
	p.wg.Go(func() {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		self, err := os.Create(filepath.Join(p.dir, "bench-cpu.pprof"))
		if err != nil {
			p.err = fmt.Errorf("bench: profile the bench process: %w", err)
			return
		}
		defer self.Close()
		if err := pprof.StartCPUProfile(self); err != nil {
			p.err = fmt.Errorf("bench: profile the bench process: %w", err)
			return
		}
		p.err = p.fetch(ctx, "profile?seconds="+strconv.Itoa(max(1, int(d.Seconds()))), "cpu.pprof")
		pprof.StopCPUProfile()
	})
}

// Finish waits for the CPU profile and takes the memory profiles.
func (p *Profiler) Finish(ctx context.Context) error {
	p.wg.Wait()
	if p.err != nil {
		return p.err
	}
	for _, name := range []string{"allocs", "heap"} {
		if err := p.fetch(ctx, name, name+".pprof"); err != nil {
			return err
		}
	}
	return nil
}

func (p *Profiler) fetch(ctx context.Context, path, file string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+"/debug/pprof/"+path, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("bench: profile %s: %w", path, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("bench: profile %s: %s", path, res.Status)
	}
	f, err := os.Create(filepath.Join(p.dir, file))
	if err != nil {
		return fmt.Errorf("bench: profile %s: %w", path, err)
	}
	defer f.Close()
	if _, err := io.Copy(f, res.Body); err != nil {
		return fmt.Errorf("bench: profile %s: %w", path, err)
	}
	return nil
}
