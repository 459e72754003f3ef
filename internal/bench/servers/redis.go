package servers

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/disputed/disputed/internal/bench/report"
)

// UsedMemory is INFO memory's used_memory.
func UsedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	s, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	return infoInt(s, "used_memory")
}

func infoInt(info, field string) (int64, error) {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in INFO", field)
}

// RedisCPU is the Redis server's CPU seconds so far (all its clients).
func RedisCPU(ctx context.Context, rdb *redis.Client) float64 {
	s, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	var t float64
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSpace(line)
		for _, f := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(line, f); ok {
				x, _ := strconv.ParseFloat(v, 64)
				t += x
			}
		}
	}
	return t
}

// DeleteKeys removes the keys matching pattern (the run's own prefix) and
// returns how many.
func DeleteKeys(ctx context.Context, rdb *redis.Client, pattern string) (int64, error) {
	var n int64
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, pattern, 5000).Result()
		if err != nil {
			return n, err
		}
		if len(keys) > 0 {
			d, err := rdb.Unlink(ctx, keys...).Result()
			if err != nil {
				return n, err
			}
			n += d
		}
		if next == 0 {
			return n, nil
		}
		cursor = next
	}
}

// MemoryUsage is MEMORY USAGE of a key, exact for up to 200,000 elements
// and sampled above.
func MemoryUsage(ctx context.Context, rdb *redis.Client, key string, elements int64) int64 {
	samples := 0
	if elements > 200_000 {
		samples = 1000
	}
	n, _ := rdb.MemoryUsage(ctx, key, samples).Result()
	return n
}

// describeRedis asks the server its version and persistence settings (a
// managed Redis may refuse CONFIG GET: then they are "unknown").
func describeRedis(ctx context.Context, rdb *redis.Client) report.RedisInfo {
	ri := report.RedisInfo{Version: "unknown", AppendOnly: "unknown", AppendFsync: "unknown", Save: "unknown"}
	if s, err := rdb.Info(ctx, "server").Result(); err == nil {
		if v, ok := infoString(s, "redis_version"); ok {
			ri.Version = v
		}
	}
	if cfg, err := rdb.ConfigGet(ctx, "*").Result(); err == nil {
		for k, dst := range map[string]*string{"appendonly": &ri.AppendOnly, "appendfsync": &ri.AppendFsync, "save": &ri.Save, "dir": &ri.Dir} {
			if v, ok := cfg[k]; ok {
				*dst = v
			}
		}
		if ri.Save == "" {
			ri.Save = "none"
		}
	}
	return ri
}

func infoString(info, field string) (string, bool) {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v, true
		}
	}
	return "", false
}
