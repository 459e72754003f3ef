package servers

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/segmentio/kafka-go"

	"github.com/disputed/disputed/internal/bench/report"
)

// kfakeVersion is the version of franz-go's kfake built into this binary.
func kfakeVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/twmb/franz-go/pkg/kfake" {
				return "kfake " + d.Version
			}
		}
	}
	return "kfake"
}

// describeKafka asks the brokers how many they are, and takes their version
// from --kafka-dir's server logs or --kafka-version.
func describeKafka(ctx context.Context, c *kafka.Client, dir, version string) (report.KafkaInfo, error) {
	ki := report.KafkaInfo{Kind: "external", Version: "unknown (give --kafka-dir or --kafka-version)"}
	if md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}}); err == nil {
		ki.Brokers = len(md.Brokers)
	}
	if dir != "" {
		v, from, err := kafkaDirVersion(dir)
		if err != nil {
			return ki, fmt.Errorf("bench: --kafka-dir: %w", err)
		}
		ki.Version, ki.VersionFrom = "Apache Kafka "+v, from
		if ki.PIDs, err = kafkaDirPIDs(dir); err != nil {
			return ki, fmt.Errorf("bench: --kafka-dir: %w", err)
		}
	}
	if version != "" {
		ki.Version, ki.VersionFrom = version, "--kafka-version"
	}
	return ki, nil
}

// kafkaVersionLine is the line a broker logs at start, e.g.
// "[2026-11-30 08:41:07,123] INFO Kafka version: 4.1.2 (org.apache...)".
var kafkaVersionLine = regexp.MustCompile(`Kafka version: (\S+)`)

// kafkaDirVersion reads the version the first node of a kafka.sh cluster
// logged at start.
func kafkaDirVersion(dir string) (version, from string, err error) {
	logs, _ := filepath.Glob(filepath.Join(dir, "node*", "server.log*"))
	slices.Sort(logs)
	for _, path := range logs {
		v, err := grepFirst(path, kafkaVersionLine)
		if err != nil {
			return "", "", err
		}
		if v != "" {
			return v, path, nil
		}
	}
	return "", "", fmt.Errorf("no %q line in %s/node*/server.log", "Kafka version:", dir)
}

func grepFirst(path string, re *regexp.Regexp) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		if m := re.FindSubmatch(sc.Bytes()); m != nil {
			return string(m[1]), nil
		}
	}
	return "", sc.Err()
}

// kafkaDirPIDs returns the processes of the nodes of a kafka.sh cluster:
// each node's pid file, if that process still runs that node (its command
// line names the node's server.properties, as kafka.sh checks).
func kafkaDirPIDs(dir string) ([]int, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "node*", "pid"))
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.Contains(cmdline, []byte(filepath.Join(filepath.Dir(f), "server.properties"))) {
			continue
		}
		pids = append(pids, pid)
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("no running broker found in %s/node*/pid", dir)
	}
	return pids, nil
}
