#!/usr/bin/env bash
# Runs a real Apache Kafka broker (KRaft, one combined broker+controller
# node) or a three-node cluster on this machine, from jars that Maven
# resolves out of Maven Central: no Docker, no tarball download. Needs only
# Java 17+ (openjdk-17-jre-headless) and, the first time for each Kafka
# version, Maven (maven). See README.md beside this file.
#
#   kafka.sh fetch [VERSION]                  resolve the jars once; print their folder
#   kafka.sh start [--version V] [--brokers 1|3] [--dir DIR] [--partitions N] [--set KEY=VALUE]...
#                                             start, wait until ready, print
#                                             KAFKA_BOOTSTRAP=... and KAFKA_DIR=...
#   kafka.sh stop DIR [--clean]               SIGTERM every node (SIGKILL after a timeout)
#   kafka.sh kill DIR NODE                    SIGKILL node NODE (0, 1 or 2)
#   kafka.sh restart DIR NODE|all             (stop and) start node NODE, or every node, again
#                                             with the same config and data
#   kafka.sh status DIR                       one line per node: pid, state, ports
#   kafka.sh env DIR                          print KAFKA_BOOTSTRAP=... and KAFKA_DIR=... again
#   kafka.sh topics DIR create NAME[,NAME...] PARTITIONS [RF]   (RF: default 1 or 3, the node count)
#   kafka.sh topics DIR list | describe [NAME] | delete NAME
#   kafka.sh version [VERSION]                print the broker's version
#
# Environment:
#   DISPUTED_CACHE          cache root (default ~/.cache/disputed); jars go to
#                           $DISPUTED_CACHE/kafka/<version>/libs
#   DISPUTED_KAFKA_VERSION  default version (4.1.2)
#   KAFKA_HEAP_OPTS         broker heap (default -Xms128m -Xmx512m, -Xmx384m each for 3)
#   KAFKA_START_TIMEOUT     seconds to wait for readiness (default 120)
#   KAFKA_STOP_TIMEOUT      seconds between SIGTERM and SIGKILL (default 30)
#   JAVA_HOME               Java to use (default: java on PATH)
#
# Only the KAFKA_BOOTSTRAP and KAFKA_DIR lines go to stdout on start, so
#   eval "$(deploy/local/kafka/kafka.sh start)"
# works; progress and errors go to stderr.

set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly POM="$SCRIPT_DIR/pom.xml"
readonly DEFAULT_VERSION="${DISPUTED_KAFKA_VERSION:-4.1.2}"
readonly CACHE_ROOT="${DISPUTED_CACHE:-${HOME:-/root}/.cache/disputed}/kafka"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { printf 'kafka.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
	sed -n '/^#   kafka.sh fetch/,/^#   kafka.sh version/p' "${BASH_SOURCE[0]}" | sed 's/^#   /  /' >&2
	exit 2
}

# ---------------------------------------------------------------- tools

JAVA=""
find_java() {
	[[ -n "$JAVA" ]] && return 0
	if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
		JAVA="$JAVA_HOME/bin/java"
	elif command -v java >/dev/null 2>&1; then
		JAVA="$(command -v java)"
	else
		die "java not found: install a Java 17+ runtime (Debian: apt-get install -y openjdk-17-jre-headless) or set JAVA_HOME"
	fi
	local line major
	line="$("$JAVA" -version 2>&1 | head -n1)"
	major="$(sed -E 's/.*version "([0-9]+)(\.([0-9]+))?.*/\1 \3/' <<<"$line")"
	# Java 8 reports "1.8.0_x": its major is the second number.
	if [[ "${major%% *}" == 1 ]]; then major="${major#* }"; else major="${major%% *}"; fi
	[[ "$major" =~ ^[0-9]+$ ]] || die "cannot read the Java version from: $line"
	JAVA_MAJOR="$major"
}

# kafka_major VERSION: 3 or 4 (later majors are treated as 4).
kafka_major() {
	local v="$1"
	[[ "$v" =~ ^[0-9]+\.[0-9]+(\.[0-9]+)?([.-][A-Za-z0-9.-]+)?$ ]] || die "not a Kafka version: $v"
	local major="${v%%.*}" minor="${v#*.}"
	minor="${minor%%.*}"
	if ((major < 3 || (major == 3 && minor < 7))); then
		die "Kafka $v is not supported: kafka.sh needs 3.7 or later (tested: 3.9.x, 4.0.0, 4.1.2, 4.2.1)"
	fi
	if ((major == 3)); then echo 3; else echo 4; fi
}

libs_dir() { echo "$CACHE_ROOT/$1/libs"; }
marker() { echo "$CACHE_ROOT/$1/.fetched"; }

# fetch VERSION: resolve the jars of VERSION into the cache (once) and
# print the folder.
fetch() {
	local version="$1" major libs mark
	major="$(kafka_major "$version")"
	libs="$(libs_dir "$version")"
	mark="$(marker "$version")"
	if [[ -f "$mark" && -d "$libs" ]]; then
		echo "$libs"
		return 0
	fi
	command -v mvn >/dev/null 2>&1 || die "mvn not found: install Maven (Debian: apt-get install -y maven) to fetch Kafka $version, or fill $libs by hand"
	[[ -f "$POM" ]] || die "missing $POM"
	find_java
	mkdir -p "$CACHE_ROOT/$version"
	# Serialize concurrent fetches of one version (flock is in util-linux).
	local lockfd
	if command -v flock >/dev/null 2>&1; then
		exec {lockfd}>"$CACHE_ROOT/$version/.lock"
		flock "$lockfd"
	fi
	if [[ ! -f "$mark" ]]; then
		local tmp="$CACHE_ROOT/$version/libs.tmp.$$" out="$CACHE_ROOT/$version/mvn.log"
		rm -rf "$tmp" "$libs"
		local -a props=(-Dkafka.version="$version")
		[[ "$major" == 3 ]] && props+=(-Dkafka3)
		log "resolving Kafka $version with Maven into $libs"
		if ! mvn -B -q -Dstyle.color=never -f "$POM" "${props[@]}" dependency:copy-dependencies \
			-DoutputDirectory="$tmp" >"$out" 2>&1; then
			tail -n 40 "$out" >&2 || true
			rm -rf "$tmp"
			die "Maven could not resolve org.apache.kafka:kafka_2.13:$version (log: $out)"
		fi
		compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || die "Maven ran but $tmp holds no kafka_2.13 jar"
		mv "$tmp" "$libs"
		echo "$version" >"$mark"
	fi
	if [[ -n "${lockfd:-}" ]]; then exec {lockfd}>&-; fi
	echo "$libs"
}

# ---------------------------------------------------------------- JVMs

# log_config DIR MAJOR: write the broker's and the tools' logging
# configuration into DIR. Brokers log to <node>/server.log (rolled at
# 100 MB, 3 kept); tools log warnings to stderr.
write_log_config() {
	local dir="$1" major="$2"
	if [[ "$major" == 4 ]]; then
		cat >"$dir/log4j2.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <RollingFile name="server" fileName="${sys:kafka.logs.dir}/server.log"
                 filePattern="${sys:kafka.logs.dir}/server.log.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <SizeBasedTriggeringPolicy size="100 MB"/>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="warn"/>
    <Logger name="state.change.logger" level="warn"/>
    <Root level="info"><AppenderRef ref="server"/></Root>
  </Loggers>
</Configuration>
EOF
		cat >"$dir/tools-log4j2.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <Console name="stderr" target="SYSTEM_ERR"><PatternLayout pattern="[%d] %p %m (%c)%n"/></Console>
  </Appenders>
  <Loggers><Root level="warn"><AppenderRef ref="stderr"/></Root></Loggers>
</Configuration>
EOF
	else
		cat >"$dir/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, server
log4j.appender.server=org.apache.log4j.RollingFileAppender
log4j.appender.server.File=${kafka.logs.dir}/server.log
log4j.appender.server.MaxFileSize=100MB
log4j.appender.server.MaxBackupIndex=2
log4j.appender.server.layout=org.apache.log4j.PatternLayout
log4j.appender.server.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
EOF
		cat >"$dir/tools-log4j.properties" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
	fi
}

# log_opts DIR MAJOR WHAT: JVM flags selecting the logging config (WHAT is
# broker or tools).
log_opts() {
	local dir="$1" major="$2" what="$3"
	if [[ "$major" == 4 ]]; then
		[[ "$what" == broker ]] && echo "-Dlog4j2.configurationFile=$dir/log4j2.xml" ||
			echo "-Dlog4j2.configurationFile=$dir/tools-log4j2.xml"
	else
		[[ "$what" == broker ]] && echo "-Dlog4j.configuration=file:$dir/log4j.properties" ||
			echo "-Dlog4j.configuration=file:$dir/tools-log4j.properties"
	fi
}

# tool CLASS ARGS...: run a short-lived Kafka tool of the loaded cluster.
tool() {
	local cls="$1"
	shift
	"$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
		"$(log_opts "$KAFKA_DIR" "$KAFKA_MAJOR" tools)" \
		-cp "$KAFKA_LIBS/*" "$cls" "$@"
}

# ---------------------------------------------------------------- ports

# free_port: a TCP port that nothing on this machine uses, below the
# ephemeral range (so an outgoing connection cannot take it meanwhile),
# and not handed out before by this run.
PICKED=" "
free_port() {
	local lo=15000 hi=32767 eph p hex i
	if read -r eph _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null && ((eph - 1 - lo >= 1000)); then
		hi=$((eph - 1 < hi ? eph - 1 : hi))
	fi
	for ((i = 0; i < 200; i++)); do
		p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
		[[ "$PICKED" == *" $p "* ]] && continue
		printf -v hex ':%04X ' "$p"
		if grep -qF -- "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null; then continue; fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then continue; fi
		PICKED+="$p "
		echo "$p"
		return 0
	done
	die "found no free TCP port in $lo-$hi"
}

# accepts PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
accepts() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

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

# ---------------------------------------------------------------- commands

cmd_fetch() {
	(($# <= 1)) || usage
	fetch "${1:-$DEFAULT_VERSION}"
}

STARTED_PIDS=()
START_OK=0
on_start_exit() {
	local rc=$?
	((START_OK)) && return 0
	local pid
	for pid in "${STARTED_PIDS[@]+"${STARTED_PIDS[@]}"}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	if ((${#STARTED_PIDS[@]})); then
		log "failed: killed the node(s) it had started; logs stay in ${KAFKA_DIR:-?}"
	fi
	return "$rc"
}

cmd_start() {
	local version="$DEFAULT_VERSION" brokers=1 dir="" partitions=4
	EXTRA_PROPS=()
	while (($#)); do
		case "$1" in
		--version) version="${2:?--version needs a value}"; shift 2 ;;
		--version=*) version="${1#*=}"; shift ;;
		--brokers) brokers="${2:?--brokers needs a value}"; shift 2 ;;
		--brokers=*) brokers="${1#*=}"; shift ;;
		--dir) dir="${2:?--dir needs a value}"; shift 2 ;;
		--dir=*) dir="${1#*=}"; shift ;;
		--partitions) partitions="${2:?--partitions needs a value}"; shift 2 ;;
		--partitions=*) partitions="${1#*=}"; shift ;;
		--set) [[ "${2:-}" == *=* ]] || die "--set needs KEY=VALUE"; EXTRA_PROPS+=("$2"); shift 2 ;;
		--set=*) EXTRA_PROPS+=("${1#*=}"); shift ;;
		-h | --help) usage ;;
		*) die "start: unknown argument $1" ;;
		esac
	done
	[[ "$brokers" == 1 || "$brokers" == 3 ]] || die "--brokers must be 1 or 3"
	[[ "$partitions" =~ ^[1-9][0-9]*$ ]] || die "--partitions must be a positive number"

	KAFKA_MAJOR="$(kafka_major "$version")"
	find_java
	local need=11
	[[ "$KAFKA_MAJOR" == 4 ]] && need=17
	if ((JAVA_MAJOR < need)); then
		die "Kafka $version needs Java $need or later; $JAVA is Java $JAVA_MAJOR (Debian: apt-get install -y openjdk-17-jre-headless)"
	fi
	KAFKA_LIBS="$(fetch "$version")"
	KAFKA_VERSION="$version"
	KAFKA_BROKERS="$brokers"

	if [[ -z "$dir" ]]; then
		dir="$(mktemp -d "${TMPDIR:-/tmp}/disputed-kafka.XXXXXX")"
	else
		mkdir -p "$dir"
		[[ -e "$dir/cluster.env" ]] && die "$dir already holds a cluster: use restart, or stop --clean first"
		[[ -z "$(ls -A "$dir")" ]] || die "$dir is not empty"
	fi
	KAFKA_DIR="$(cd "$dir" && pwd)"

	trap on_start_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	local n bootstrap="" heap
	for ((n = 0; n < brokers; n++)); do
		printf -v "NODE${n}_PORT" '%s' "$(free_port)"
		PICKED+="$(broker_port "$n") "
		printf -v "NODE${n}_CONTROLLER_PORT" '%s' "$(free_port)"
		PICKED+="$(controller_port "$n") "
		bootstrap+="${bootstrap:+,}127.0.0.1:$(broker_port "$n")"
	done
	KAFKA_BOOTSTRAP="$bootstrap"
	if ((brokers == 1)); then heap="-Xms128m -Xmx512m"; else heap="-Xms128m -Xmx384m"; fi
	KAFKA_HEAP="${KAFKA_HEAP_OPTS:-$heap}"

	write_log_config "$KAFKA_DIR" "$KAFKA_MAJOR"
	local cluster_id
	cluster_id="$(new_cluster_id)"
	{
		echo "# Written by deploy/local/kafka/kafka.sh start; read by its other commands."
		printf 'KAFKA_VERSION=%q\n' "$KAFKA_VERSION"
		printf 'KAFKA_MAJOR=%q\n' "$KAFKA_MAJOR"
		printf 'KAFKA_LIBS=%q\n' "$KAFKA_LIBS"
		printf 'KAFKA_BROKERS=%q\n' "$KAFKA_BROKERS"
		printf 'KAFKA_BOOTSTRAP=%q\n' "$KAFKA_BOOTSTRAP"
		printf 'KAFKA_HEAP=%q\n' "$KAFKA_HEAP"
		printf 'CLUSTER_ID=%q\n' "$cluster_id"
		for ((n = 0; n < brokers; n++)); do
			printf 'NODE%d_PORT=%s\nNODE%d_CONTROLLER_PORT=%s\n' "$n" "$(broker_port "$n")" "$n" "$(controller_port "$n")"
		done
	} >"$KAFKA_DIR/cluster.env"

	# Format every node's storage (in parallel: each is a JVM start).
	local -a fmt=()
	for ((n = 0; n < brokers; n++)); do
		write_node_config "$n" "$partitions"
		tool kafka.tools.StorageTool format -t "$cluster_id" -c "$(node_dir "$n")/server.properties" \
			>"$(node_dir "$n")/format.log" 2>&1 &
		fmt+=($!)
	done
	for ((n = 0; n < brokers; n++)); do
		wait "${fmt[$n]}" || { cat "$(node_dir "$n")/format.log" >&2; die "formatting node $n failed"; }
	done

	log "starting $brokers Kafka $version node(s) in $KAFKA_DIR"
	for ((n = 0; n < brokers; n++)); do launch "$n"; done
	local -a all=()
	for ((n = 0; n < brokers; n++)); do all+=("$n"); done
	wait_ready "${all[@]}"
	wait_groups
	START_OK=1
	log "ready: $KAFKA_BOOTSTRAP (stop with: $0 stop $KAFKA_DIR)"
	print_env
}

# stop_nodes NODES...: SIGTERM them, wait, SIGKILL what is left.
stop_nodes() {
	local n pid left deadline=$((SECONDS + ${KAFKA_STOP_TIMEOUT:-30}))
	local -A pids=()
	for n in "$@"; do
		pid="$(node_pid "$n")"
		if [[ -n "$pid" ]]; then
			pids[$n]="$pid"
			kill -TERM "$pid" 2>/dev/null || true
		fi
	done
	while :; do
		left=0
		for n in "${!pids[@]}"; do
			if kill -0 "${pids[$n]}" 2>/dev/null; then left=1; fi
		done
		((left)) || break
		if ((SECONDS >= deadline)); then
			for n in "${!pids[@]}"; do
				if kill -0 "${pids[$n]}" 2>/dev/null; then
					log "node $n did not stop in ${KAFKA_STOP_TIMEOUT:-30}s: SIGKILL"
					kill -KILL "${pids[$n]}" 2>/dev/null || true
				fi
			done
			sleep 0.2
			break
		fi
		sleep 0.2
	done
	for n in "$@"; do rm -f "$(node_dir "$n")/pid"; done
}

cmd_stop() {
	local dir="" clean=0
	while (($#)); do
		case "$1" in
		--clean) clean=1 ;;
		-*) die "stop: unknown option $1" ;;
		*) [[ -z "$dir" ]] || usage; dir="$1" ;;
		esac
		shift
	done
	load "$dir"
	local -a all=()
	local n
	for ((n = 0; n < KAFKA_BROKERS; n++)); do all+=("$n"); done
	stop_nodes "${all[@]}"
	log "stopped $KAFKA_DIR"
	if ((clean)); then
		rm -rf -- "$KAFKA_DIR"
		log "removed $KAFKA_DIR"
	fi
}

cmd_kill() {
	(($# == 2)) || usage
	load "$1"
	check_node "$2"
	local pid
	pid="$(node_pid "$2")"
	[[ -n "$pid" ]] || die "node $2 is not running"
	kill -KILL "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	rm -f "$(node_dir "$2")/pid"
	log "killed node $2 (pid $pid)"
}

# restart DIR NODE|all: stop the node if it runs, start it again with the
# same config and data, and wait until the whole cluster is ready. If it
# does not get ready, the nodes started here are killed again.
cmd_restart() {
	(($# == 2)) || usage
	load "$1"
	local -a nodes=()
	local n
	if [[ "$2" == all ]]; then
		for ((n = 0; n < KAFKA_BROKERS; n++)); do nodes+=("$n"); done
	else
		check_node "$2"
		nodes=("$2")
	fi
	trap on_start_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	stop_nodes "${nodes[@]}"
	for n in "${nodes[@]}"; do
		accepts "$(broker_port "$n")" && die "port $(broker_port "$n") of node $n is taken by another process"
		launch "$n"
	done
	wait_ready "${nodes[@]}"
	START_OK=1
	log "node(s) ${nodes[*]} up again: $KAFKA_BOOTSTRAP"
}

cmd_status() {
	(($# == 1)) || usage
	load "$1"
	local n pid
	echo "Kafka $KAFKA_VERSION, $KAFKA_BROKERS node(s), bootstrap $KAFKA_BOOTSTRAP, dir $KAFKA_DIR"
	for ((n = 0; n < KAFKA_BROKERS; n++)); do
		pid="$(node_pid "$n")"
		printf 'node %d: %-7s pid %-7s broker 127.0.0.1:%s controller 127.0.0.1:%s\n' "$n" \
			"$([[ -n "$pid" ]] && echo running || echo stopped)" "${pid:--}" "$(broker_port "$n")" "$(controller_port "$n")"
	done
}

cmd_env() {
	(($# == 1)) || usage
	load "$1"
	print_env
}

cmd_topics() {
	(($# >= 2)) || usage
	load "$1"
	local op="$2"
	shift 2
	local -a args=(--bootstrap-server "$KAFKA_BOOTSTRAP") names=()
	case "$op" in
	create)
		(($# == 2 || $# == 3)) || usage
		local rf="${3:-$KAFKA_BROKERS}"
		[[ "$2" =~ ^[1-9][0-9]*$ ]] || die "PARTITIONS must be a positive number"
		[[ "$rf" =~ ^[1-9][0-9]*$ ]] || die "RF must be a positive number"
		# NAME may list several topics, comma-separated (one TopicCommand
		# each, one metadata wait for all).
		local name
		IFS=, read -r -a names <<<"$1"
		for name in "${names[@]}"; do
			[[ -n "$name" ]] || continue
			tool org.apache.kafka.tools.TopicCommand "${args[@]}" --create --if-not-exists \
				--topic "$name" --partitions "$2" --replication-factor "$rf"
		done
		((KAFKA_BROKERS > 1)) && wait_metadata
		return 0
		;;
	list) (($# == 0)) || usage; args+=(--list) ;;
	describe) (($# <= 1)) || usage; args+=(--describe); (($#)) && args+=(--topic "$1") ;;
	delete) (($# == 1)) || usage; args+=(--delete --topic "$1") ;;
	*) die "topics: unknown operation $op (create, list, describe, delete)" ;;
	esac
	tool org.apache.kafka.tools.TopicCommand "${args[@]}"
}

# wait_metadata: wait until every node has replicated the metadata log up
# to its leader's end. CreateTopics returns once the controller has
# committed the topic; the other brokers learn it some milliseconds later
# (up to ~35 ms measured here), and a client that asks one of them in
# between gets UNKNOWN_TOPIC_OR_PARTITION. In combined mode every node is
# a voter, so MaxFollowerLag 0 covers them all.
wait_metadata() {
	local deadline=$((SECONDS + 30)) out
	while :; do
		out="$(tool org.apache.kafka.tools.MetadataQuorumCommand --bootstrap-server "$KAFKA_BOOTSTRAP" describe --status 2>&1 || true)"
		grep -qE '^MaxFollowerLag:[[:space:]]+0$' <<<"$out" && return 0
		((SECONDS < deadline)) || { log "warning: the metadata quorum still lags after 30s: $(grep MaxFollowerLag <<<"$out")"; return 0; }
		sleep 0.2
	done
}

cmd_version() {
	(($# <= 1)) || usage
	local version="${1:-$DEFAULT_VERSION}" libs
	libs="$(fetch "$version")"
	find_java
	# kafka.Kafka --version prints the version and exits before logging
	# is set up (3.x's log4j then warns on stderr: dropped).
	printf 'Apache Kafka %s\n' "$("$JAVA" -cp "$libs/*" kafka.Kafka --version 2>/dev/null | tail -n1)"
}

main() {
	(($#)) || usage
	local sub="$1"
	shift
	case "$sub" in
	fetch) cmd_fetch "$@" ;;
	start) cmd_start "$@" ;;
	stop) cmd_stop "$@" ;;
	kill) cmd_kill "$@" ;;
	restart) cmd_restart "$@" ;;
	status) cmd_status "$@" ;;
	env) cmd_env "$@" ;;
	topics) cmd_topics "$@" ;;
	version) cmd_version "$@" ;;
	-h | --help | help) usage ;;
	*) die "unknown command $sub" ;;
	esac
}

main "$@"
