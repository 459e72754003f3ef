# shellcheck shell=bash
# Sourced by kafka.sh: finding Java, resolving the broker's jars with Maven
# into the cache, the brokers' and tools' logging, running a Kafka tool, and
# picking free ports. It uses kafka.sh's settings (SCRIPT_DIR, POM,
# CACHE_ROOT) and its log and die.

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
