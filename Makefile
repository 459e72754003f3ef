# disputed: build, test and check targets. `make test` is what CI runs.
GO       ?= go
PKGS     := ./...
BENCHTIME ?= 1s
STATICCHECK_VERSION := v0.8.2

.PHONY: all build build-bench test fmt-check vet check-pure unit lint fuzz bench bench-scale profile chaos run demo clean deploy-check docs

all: build test

# VERSION is stamped into the binary (disputed version, disputed_build_info):
# the Git tag and commit, e.g. v1.4.0 or v1.4.0-3-g1a2b3c4-dirty.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
LDFLAGS  := -X main.buildVersion=$(VERSION)

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/disputed ./cmd/disputed

# bin/disputed-bench is the bench (cmd/disputed-bench), a command of its own
# so that the service binary does not link it; it runs bin/disputed, next to
# it, as its processors.
build-bench: build
	$(GO) build -o bin/disputed-bench ./cmd/disputed-bench

## test: format check, vet, purity of rules/, and every test with the race detector
test: fmt-check vet check-pure unit

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# rules/ decides money: it may import only this small part of the standard
# library, so it can do no I/O, read no clock and draw no random numbers.
RULES_ALLOWED := bytes cmp container/heap encoding/json errors fmt maps math math/bits slices sort strconv strings time unicode unicode/utf8
check-pure:
	@bad=$$($(GO) list -f '{{join .Imports "\n"}}' ./rules | grep -vxF $(foreach p,$(RULES_ALLOWED),-e $(p))); \
	if [ -n "$$bad" ]; then echo "rules/ imports outside its allow-list: $$bad"; exit 1; fi; \
	echo "rules/ is pure"

# The integration tests run on a real Apache Kafka broker that
# deploy/local/kafka/with-kafka.sh starts for the run and stops after it
# (each test gets topics and a group of its own); it prints the broker's
# version line first. Without Java, outside CI, they fall back to kfake and
# say so.
unit:
	deploy/local/kafka/with-kafka.sh -- $(GO) test -race -count=1 -timeout 15m $(PKGS)

lint:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

## fuzz: run each fuzz target briefly
FUZZTIME ?= 20s
fuzz:
	$(GO) test ./rules -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./rules -run '^$$' -fuzz '^FuzzDecodeFast$$' -fuzztime $(FUZZTIME)
	$(GO) test ./rules -run '^$$' -fuzz '^FuzzDecodeBinary$$' -fuzztime $(FUZZTIME)
	$(GO) test ./rules -run '^$$' -fuzz '^FuzzWireData$$' -fuzztime $(FUZZTIME)
	$(GO) test ./rules -run '^$$' -fuzz '^FuzzEncodeString$$' -fuzztime $(FUZZTIME)
	$(GO) test ./state -run '^$$' -fuzz '^FuzzDecodeState$$' -fuzztime $(FUZZTIME)

## bench: the Go benchmarks of the engine, the decoder and the state codec,
## with allocations; then
## `disputed-bench`: the processor (bin/disputed run, a child process of
## bin/disputed-bench) under mixed dispute
## stories on a real Apache Kafka broker (deploy/local/kafka/with-kafka.sh
## starts one from Maven-resolved jars, prints its version and stops it
## afterwards), a redis-server the bench starts itself on a free port
## (appendonly yes, appendfsync always) and in-process NATS; then the three
## servers' ceilings, measured in the same run on the same servers. About two
## minutes on two cores, plus the broker's start (about 10 s) and the Go
## benchmarks (about 50 s).
## BENCH_KAFKA=kfake runs on kfake in process instead of the broker;
## BENCH_REDIS_URL uses an existing Redis (a fresh prefix, deleted at the end);
## BENCH_FLAGS adds flags (e.g. --rate 5000, --bad-share 0.05).
## The regression guard: the Go benchmarks (-count BENCHCOUNT) and the run's
## report (JSON) are kept in BENCH_OUT as the baseline; the next make bench
## shows benchstat's comparison of the Go benchmarks and compares the run
## with `disputed-bench compare`, which fails the target (and keeps the
## baseline) when a guarded figure got worse beyond its tolerance or the
## two runs were not measured alike. Use another BENCH_OUT for other flags.
BENCH_DURATION ?= 45s
BENCH_KAFKA ?= real
BENCH_REDIS_URL ?=
BENCH_FLAGS ?=
BENCH_OUT ?= bench-out
BENCHCOUNT ?= 6
BENCHSTAT ?= $(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
BENCH_REDIS_ARG = $(if $(BENCH_REDIS_URL),--redis-url $(BENCH_REDIS_URL))
ifeq ($(BENCH_KAFKA),kfake)
BENCH_RUN = bin/disputed-bench --disputed bin/disputed
else
BENCH_RUN = deploy/local/kafka/with-kafka.sh -- sh -c 'exec bin/disputed-bench --disputed bin/disputed --kafka-brokers "$$KAFKA_BOOTSTRAP" --kafka-dir "$$KAFKA_DIR" "$$@"' bench
endif
bench: build-bench
	@mkdir -p $(BENCH_OUT)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) -cpu 1 ./rules ./state > $(BENCH_OUT)/go.new.txt || { cat $(BENCH_OUT)/go.new.txt; exit 1; }
	@cat $(BENCH_OUT)/go.new.txt
	$(BENCH_RUN) --duration $(BENCH_DURATION) $(BENCH_REDIS_ARG) $(BENCH_FLAGS) --json $(BENCH_OUT)/bench.new.json
	@set -e; cd $(BENCH_OUT); test -f go.new.txt; test -f bench.new.json; \
	if [ ! -f bench.json ] || [ ! -f go.txt ]; then \
		mv go.new.txt go.txt; mv bench.new.json bench.json; \
		echo "bench: no baseline here yet: this run is it ($(BENCH_OUT)/); the next make bench compares with it"; exit 0; \
	fi; \
	echo "bench: the Go benchmarks against the baseline (benchstat $(BENCH_OUT)/go.txt $(BENCH_OUT)/go.new.txt):"; \
	$(BENCHSTAT) go.txt go.new.txt || echo "bench: benchstat did not run (it is fetched with go run); the run is still judged"; \
	echo "bench: this run against the baseline (disputed-bench compare $(BENCH_OUT)/bench.json $(BENCH_OUT)/bench.new.json):"; \
	if $(CURDIR)/bin/disputed-bench compare bench.json bench.new.json; then \
		mv go.txt prev.go.txt; mv bench.json prev.bench.json; mv go.new.txt go.txt; mv bench.new.json bench.json; \
		echo "bench: this run is the new baseline (the old one is prev.*)"; \
	else \
		echo "bench: the baseline stays; this run is kept as $(BENCH_OUT)/go.new.txt and bench.new.json"; exit 1; \
	fi

## profile: the processor's CPU and allocation profiles under `make bench`'s
## load (30 s, on the real broker), kept in PROFILE_DIR with the top of each
## (*.top.txt), the CPU profile drawn as an SVG flame graph (cpu.svg), the
## bench process's own CPU profile and the run's report; written aside and
## moved into place only when all of it was made.
## docs/perf/after holds the last one taken for docs/performance.md.
PROFILE_DIR ?= docs/perf/after
profile: build-bench
	@rm -rf $(PROFILE_DIR).new; mkdir -p $(PROFILE_DIR).new
	$(BENCH_RUN) --duration 30s --deadlines 0 --quiet --profile $(PROFILE_DIR).new $(BENCH_REDIS_ARG) $(BENCH_FLAGS) > $(PROFILE_DIR).new/report.txt
	$(GO) tool pprof -top -nodecount 30 $(PROFILE_DIR).new/cpu.pprof > $(PROFILE_DIR).new/cpu.top.txt
	$(GO) tool pprof -top -nodecount 30 -sample_index alloc_space $(PROFILE_DIR).new/allocs.pprof > $(PROFILE_DIR).new/allocs.top.txt
	$(GO) tool pprof -traces $(PROFILE_DIR).new/cpu.pprof > $(PROFILE_DIR).new/cpu.traces.txt
	$(GO) run ./internal/flamegraph/cmd/flamegraph -title "disputed run: CPU under the bench's load ($(VERSION))" < $(PROFILE_DIR).new/cpu.traces.txt > $(PROFILE_DIR).new/cpu.svg
	@rm $(PROFILE_DIR).new/cpu.traces.txt; rm -rf $(PROFILE_DIR); mv $(PROFILE_DIR).new $(PROFILE_DIR)
	@cat $(PROFILE_DIR)/report.txt; head -20 $(PROFILE_DIR)/cpu.top.txt

## bench-scale: the scale-out: the same load on one, two and three processors
## (BENCH_SCALE_MEMBERS) of one consumer group, added between steps, on one
## broker, Redis and NATS as `make bench` has them, with 6 partitions so that
## each member owns some; a row per step with the CPU of every process and of
## the machine. About three minutes plus the broker's start.
BENCH_SCALE_DURATION ?= 30s
BENCH_SCALE_MEMBERS ?= 1,2,3
BENCH_SCALE_PARTITIONS ?= 6
bench-scale: build-bench
	$(BENCH_RUN) --duration $(BENCH_SCALE_DURATION) --members $(BENCH_SCALE_MEMBERS) --partitions $(BENCH_SCALE_PARTITIONS) --deadlines 0 $(BENCH_REDIS_ARG) $(BENCH_FLAGS)

## chaos: the full chaos run of the real binary (internal/chaos):
## 3 minutes of load while processors are SIGKILLed and restarted 20 times,
## Redis and NATS restarted, members join and leave; JetStream must end with
## exactly replay's commands. CHAOS_DURATION, CHAOS_KILLS, CHAOS_SEED, ...
## override it; `make test` runs the short version (TestChaosShort).
chaos:
	CHAOS_FULL=1 $(GO) test -run TestChaos -v -count=1 -timeout 20m ./internal/chaos

## cluster-chaos: the full cluster chaos run of the real binary
## (internal/chaos, TestClusterChaos): three Kafka brokers (RF 3,
## min.insync.replicas 2, from deploy/local/kafka/kafka.sh), a Redis Cluster
## of three primaries with a replica each, three nats-server processes with
## R3 streams, three members saving with --redis-durability replicas. Four
## minutes of load while partition leader brokers are stopped, Redis
## primaries fail over and are SIGKILLed, NATS servers and members are
## SIGKILLed, a member joins and leaves; JetStream must end with exactly
## replay's commands. About six minutes on two cores. CLUSTER_CHAOS_DURATION,
## CLUSTER_CHAOS_SEED, CLUSTER_CHAOS_BROKER_STOPS, ... override it.
cluster-chaos:
	CLUSTER_CHAOS_FULL=1 $(GO) test -run '^TestClusterChaos$$' -v -count=1 -timeout 30m ./internal/chaos

## run: the stream processor; without servers configured, on in-process ones
run:
	$(GO) run -ldflags '$(LDFLAGS)' ./cmd/disputed run

## demo: sample disputes decided live on in-process servers
demo:
	$(GO) run -ldflags '$(LDFLAGS)' ./cmd/disputed demo

## deploy-check: the alert rules (syntax and unit tests), the Prometheus
## config, and deploy/'s Go tests (a module of its own, so that the
## service's go.mod needs no Kubernetes modules): strict decoding of the
## Kubernetes manifests into the API types, the compose file's structure,
## the dashboard's JSON and queries. promtool is Debian's `prometheus`
## package; Docker and a cluster are not needed.
PROMTOOL ?= promtool
deploy-check:
	$(PROMTOOL) check rules deploy/prometheus/alerts.yml
	$(PROMTOOL) test rules deploy/prometheus/alerts_test.yml
	$(PROMTOOL) check config deploy/prometheus/prometheus.yml
	cd deploy && $(GO) vet ./... && PROMTOOL=$(PROMTOOL) CI=$${CI:-true} $(GO) test -count=1 ./...

## docs: render the architecture diagram from its source (Graphviz's dot,
## Debian's graphviz package).
docs:
	dot -Tsvg docs/architecture.dot -o docs/architecture.svg

clean:
	rm -rf bin
