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

# shellcheck source-path=SCRIPTDIR
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

# The tools, the JVMs' logging and the ports: lib.sh, beside this file.
# shellcheck source=SCRIPTDIR/lib.sh
. "$SCRIPT_DIR/lib.sh"

# A cluster's nodes: their folders, configuration, start and readiness:
# nodes.sh, beside this file.
# shellcheck source=SCRIPTDIR/nodes.sh
. "$SCRIPT_DIR/nodes.sh"

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
