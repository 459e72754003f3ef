#!/usr/bin/env bash
# Runs a command beside a real Kafka broker started for it, and stops the
# broker when the command ends: how `make test`, `make bench` and the chaos
# runs get their Kafka.
#
#   with-kafka.sh [kafka.sh start options] -- COMMAND [ARG...]
#
# The command sees KAFKA_BOOTSTRAP, KAFKA_DIR and DISPUTED_TEST_KAFKA (the
# bootstrap address again: the tests' internal/testserver uses the broker it
# names). Before the command runs, the broker's own version line (from its
# log) is printed, so that a run says what it ran on. The exit status is the
# command's. When the command fails, the broker's folder (logs, data) is kept
# and named; otherwise it is deleted.
#
# Without Java, outside CI (CI unset), the command runs without a broker and
# the tests fall back to the in-process kfake, saying so; in CI that is an
# error.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
kafka="$here/kafka.sh"

start_args=()
while (($#)) && [[ "$1" != "--" ]]; do
	start_args+=("$1")
	shift
done
[[ "${1:-}" == "--" ]] || { echo "usage: with-kafka.sh [kafka.sh start options] -- COMMAND [ARG...]" >&2; exit 2; }
shift
(($#)) || { echo "with-kafka.sh: no command" >&2; exit 2; }

if ! command -v java >/dev/null 2>&1 && [[ -z "${JAVA_HOME:-}" ]]; then
	if [[ -n "${CI:-}" ]]; then
		echo "with-kafka.sh: no Java: CI needs a real Kafka broker (.ci/run installs openjdk-17-jre-headless and maven)" >&2
		exit 1
	fi
	echo "with-kafka.sh: no Java here, so no real Kafka broker: the tests run on kfake (install openjdk-17-jre-headless and maven for the real one)" >&2
	exec "$@"
fi

env_lines="$("$kafka" start "${start_args[@]}")"
eval "$env_lines"
export KAFKA_BOOTSTRAP KAFKA_DIR
export DISPUTED_TEST_KAFKA="$KAFKA_BOOTSTRAP"

status=0
cleanup() {
	if ((status == 0)); then
		"$kafka" stop "$KAFKA_DIR" --clean >/dev/null 2>&1 || true
	else
		"$kafka" stop "$KAFKA_DIR" >/dev/null 2>&1 || true
		echo "with-kafka.sh: the command failed (status $status); the broker's logs are kept in $KAFKA_DIR" >&2
	fi
}
trap cleanup EXIT
trap 'status=130; exit 130' INT
trap 'status=143; exit 143' TERM

# The version the broker itself logs at start, e.g.
# "[2026-11-30 08:41:07,123] INFO Kafka version: 4.1.2 (org.apache...)".
version="$(grep -h -m1 -o 'Kafka version: [^ ]*' "$KAFKA_DIR"/node*/server.log 2>/dev/null | head -n1 || true)"
echo "with-kafka.sh: real Apache Kafka broker at $KAFKA_BOOTSTRAP: ${version:-version line not found in $KAFKA_DIR/node0/server.log}"

"$@" || status=$?
exit "$status"
