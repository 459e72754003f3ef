package servers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/disputed/disputed/internal/bench/host"
	"github.com/disputed/disputed/internal/redisproc"
)

// redisServer is a redis-server process of the bench's own, on a free
// loopback port in a directory of the run, persisting as the processor's
// default durability (--redis-durability fsync) requires: appendonly yes,
// appendfsync always, no snapshots: the same command line as the tests'
// (internal/redisproc).
type redisServer struct {
	addr    string
	dir     string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// startRedisServer starts bin (a name on PATH or a path) in dir and waits
// until it answers.
func startRedisServer(ctx context.Context, bin, dir string) (*redisServer, error) {
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("bench: no redis-server to start (%w); install it (Debian: redis-server), name it with --redis-server, or give --redis-url", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bench: redis directory: %w", err)
	}
	port, err := host.FreePort()
	if err != nil {
		return nil, fmt.Errorf("bench: pick Redis's port: %w", err)
	}
	r := &redisServer{addr: "127.0.0.1:" + strconv.Itoa(port), dir: dir, logPath: redisproc.LogFile(dir), exited: make(chan struct{})}
	cmd := exec.Command(path, redisproc.Args(port, dir)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start redis-server: %w", err)
	}
	r.cmd = cmd
	// The waiter belongs to the server: stop waits for it to end.
	go func() {
		cmd.Wait()
		close(r.exited)
	}()
	// Wait for the port first: go-redis logs every refused dial.
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", r.addr, time.Second)
		if err == nil {
			conn.Close()
			err = pingRedis(ctx, r.addr)
		}
		if err == nil {
			return r, nil
		}
		select {
		case <-r.exited:
			return nil, fmt.Errorf("bench: redis-server exited at start; its log:\n%s", r.logTail(20))
		default:
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			r.stop(5 * time.Second)
			return nil, fmt.Errorf("bench: redis-server on %s did not answer: %w; its log:\n%s", r.addr, err, r.logTail(20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pingRedis(ctx context.Context, addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, DialerRetries: 1, MaxRetries: -1})
	defer c.Close()
	return c.Ping(ctx).Err()
}

func (r *redisServer) url() string { return "redis://" + r.addr + "/0" }

func (r *redisServer) logTail(n int) string {
	b, err := os.ReadFile(r.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// stop ends the server with SIGTERM (it writes nothing more: no snapshots
// are configured) and kills it after grace.
func (r *redisServer) stop(grace time.Duration) error {
	select {
	case <-r.exited:
		return nil
	default:
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-r.exited:
		return nil
	case <-t.C:
		r.cmd.Process.Kill()
		<-r.exited
		return errors.New("bench: redis-server did not stop within the grace after SIGTERM; killed")
	}
}

// filesystemOf names the file system dir is on, from statfs's magic number:
// an fsync on tmpfs costs nothing, on a disk it is the save's floor.
func filesystemOf(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	names := map[int64]string{
		0xEF53: "ext2/3/4", 0x01021994: "tmpfs", 0x794c7630: "overlayfs", 0x58465342: "xfs",
		0x9123683E: "btrfs", 0x2FC12FC1: "zfs", 0x6969: "nfs",
	}
	if n, ok := names[int64(st.Type)]; ok {
		return n
	}
	return fmt.Sprintf("statfs type %#x", st.Type)
}
