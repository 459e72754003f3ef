# shellcheck shell=bash
# Sourced by kafka.sh: a cluster's folder (cluster.env) and its nodes:
# their ports, pids, server.properties, launch and readiness. It uses
# kafka.sh's settings and lib.sh's tools.

# ---------------------------------------------------------------- cluster

# load DIR: read DIR/cluster.env (written by start).
load() {
	local dir="${1:-}"
	[[ -n "$dir" ]] || die "missing DIR (the KAFKA_DIR that start printed)"
	[[ -f "$dir/cluster.env" ]] || die "$dir holds no cluster started by kafka.sh (no cluster.env)"
	KAFKA_DIR="$(cd "$dir" && pwd)"
	# shellcheck disable=SC1091
	source "$KAFKA_DIR/cluster.env"
	find_java
}

node_dir() { echo "$KAFKA_DIR/node$1"; }
broker_port() { local v="NODE$1_PORT"; echo "${!v}"; }
controller_port() { local v="NODE$1_CONTROLLER_PORT"; echo "${!v}"; }

check_node() {
	if ! [[ "$1" =~ ^[0-9]+$ ]] || (($1 >= KAFKA_BROKERS)); then
		die "no node $1: this cluster has nodes 0..$((KAFKA_BROKERS - 1))"
	fi
}

# node_pid N: the pid of node N's java if it runs, else nothing. The pid
# counts only while its command line still names this node's config, so a
# reused pid is never signalled.
node_pid() {
	local f pid
	f="$(node_dir "$1")/pid"
	[[ -f "$f" ]] || return 0
	pid="$(<"$f")"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 0
	if [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(node_dir "$1")/server.properties"; then
		echo "$pid"
	fi
}

# write_node_config N PARTITIONS: node N's server.properties. The quorum is
# static (controller.quorum.voters, formatted without --standalone or
# --initial-controllers): the same config works on 3.x and 4.x, and a node
# restarted with its data rejoins without any quorum reconfiguration.
write_node_config() {
	local n="$1" partitions="$2" dir voters="" i
	dir="$(node_dir "$n")"
	mkdir -p "$dir/data"
	for ((i = 0; i < KAFKA_BROKERS; i++)); do
		voters+="${voters:+,}$i@127.0.0.1:$(controller_port "$i")"
	done
	local rf=$KAFKA_BROKERS isr=1
	((KAFKA_BROKERS >= 3)) && isr=2
	cat >"$dir/server.properties" <<EOF
# Written by deploy/local/kafka/kafka.sh: node $n of $KAFKA_BROKERS, Kafka $KAFKA_VERSION.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(broker_port "$n"),CONTROLLER://127.0.0.1:$(controller_port "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(broker_port "$n")
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data

# Tuned for tests.
num.partitions=$partitions
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=500
message.max.bytes=8388608
replica.fetch.max.bytes=8388608
# Two cores: fewer threads than the defaults.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
EOF
	local kv
	for kv in "${EXTRA_PROPS[@]+"${EXTRA_PROPS[@]}"}"; do
		echo "$kv" >>"$dir/server.properties"
	done
}

# launch N: start node N's java in the background, in a session of its
# own (a Ctrl-C in the caller's terminal does not reach it), with stdin,
# stdout and stderr off the caller's (so "$(kafka.sh start)" returns).
launch() {
	local n="$1" dir
	dir="$(node_dir "$n")"
	rm -f "$dir/pid"
	local -a heap
	read -r -a heap <<<"$KAFKA_HEAP"
	local -a cmd=("$JAVA" "${heap[@]}" -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError
		-Djava.awt.headless=true "-Xlog:gc:file=$dir/gc.log:time,uptime:filecount=2,filesize=10m"
		"-Dkafka.logs.dir=$dir" "$(log_opts "$KAFKA_DIR" "$KAFKA_MAJOR" broker)"
		-cp "$KAFKA_LIBS/*" kafka.Kafka "$dir/server.properties")
	local -a sess=()
	command -v setsid >/dev/null 2>&1 && sess=(setsid)
	# shellcheck disable=SC2016 # $$ and $@ are the inner shell's
	"${sess[@]}" bash -c 'echo $$ >"$1"; shift; exec "$@"' launch "$dir/pid" "${cmd[@]}" \
		</dev/null >>"$dir/stdout.log" 2>&1 &
	local i
	for ((i = 0; i < 100; i++)); do
		[[ -s "$dir/pid" ]] && break
		sleep 0.05
	done
	[[ -s "$dir/pid" ]] || die "node $n did not start (see $dir/stdout.log)"
	STARTED_PIDS+=("$(<"$dir/pid")")
}

# brokers_ready: the number of unfenced brokers that the cluster's metadata
# lists and that answer ApiVersions.
brokers_ready() {
	local cls=org.apache.kafka.tools.BrokerApiVersionsCommand
	[[ "$KAFKA_MAJOR" == 3 ]] && cls=kafka.admin.BrokerApiVersionsCommand
	tool "$cls" --bootstrap-server "$KAFKA_BOOTSTRAP" 2>/dev/null |
		grep -E '^[^[:space:]]+ \(id: [0-9]+' | grep -F -- '-> (' | grep -cvF 'isFenced: true' || true
}

# wait_ready NODES...: wait until the given nodes accept connections and
# every broker of the cluster is registered, unfenced and answering.
wait_ready() {
	local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-120})) n
	for n in "$@"; do
		until accepts "$(broker_port "$n")"; do
			if [[ -z "$(node_pid "$n")" ]]; then
				tail -n 30 "$(node_dir "$n")/server.log" "$(node_dir "$n")/stdout.log" >&2 2>/dev/null || true
				die "node $n exited while starting (logs: $(node_dir "$n")/server.log, stdout.log)"
			fi
			((SECONDS < deadline)) || die "node $n does not accept connections on 127.0.0.1:$(broker_port "$n") after ${KAFKA_START_TIMEOUT:-120}s (log: $(node_dir "$n")/server.log)"
			sleep 0.2
		done
	done
	local got
	while :; do
		got="$(brokers_ready)"
		((got >= KAFKA_BROKERS)) && return 0
		for n in "$@"; do
			[[ -n "$(node_pid "$n")" ]] || die "node $n exited while starting (log: $(node_dir "$n")/server.log)"
		done
		((SECONDS < deadline)) || die "only $got of $KAFKA_BROKERS brokers ready after ${KAFKA_START_TIMEOUT:-120}s (logs: $KAFKA_DIR/node*/server.log)"
		sleep 0.5
	done
}

# wait_groups: wait until the group coordinator answers. A fresh cluster
# creates __consumer_offsets on the first FindCoordinator, and until then
# answers COORDINATOR_NOT_AVAILABLE, which kafka-go's ConsumerGroup.Next
# returns as an error rather than retrying: ask once here, so the first
# consumer does not see it.
wait_groups() {
	local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-120})) out
	while :; do
		out="$(tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "$KAFKA_BOOTSTRAP" \
			--describe --group kafka-sh-readiness --timeout 10000 2>&1 || true)"
		grep -qiE 'not found|does not exist|has no active members' <<<"$out" && return 0
		((SECONDS < deadline)) || die "the group coordinator does not answer after ${KAFKA_START_TIMEOUT:-120}s: $(tail -n1 <<<"$out")"
		sleep 0.5
	done
}

# new_cluster_id: 16 random bytes in URL-safe base64 without padding, as
# kafka-storage random-uuid prints them (without starting a JVM).
new_cluster_id() {
	local id
	while :; do
		id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
		[[ "$id" != -* && ${#id} == 22 ]] && break
	done
	echo "$id"
}

print_env() {
	printf 'KAFKA_BOOTSTRAP=%s\n' "$KAFKA_BOOTSTRAP"
	printf 'KAFKA_DIR=%q\n' "$KAFKA_DIR"
}
