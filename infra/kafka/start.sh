#!/usr/bin/env bash
# Start a real single-node Apache Kafka broker (KRaft: broker + controller in one JVM)
# from the jars Maven Central serves. See --help.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: infra/kafka/start.sh [--help]

Starts a single-node Kafka broker (KRaft) in the background and waits until it
answers API requests. Idempotent: if the broker is already running, says so and
exits 0.

  1. resolves the broker jars into infra/kafka/lib/ with Maven when missing
     (or when infra/kafka/pom.xml changed since the last resolve);
  2. formats the storage once (skipped when <data dir>/meta.properties exists);
  3. starts kafka.Kafka with a bounded heap, logging to <run dir>/server.log;
  4. waits until the broker lists topics (timeout KAFKA_START_TIMEOUT seconds).

Environment (defaults in brackets):
  KAFKA_PORT              PLAINTEXT listener port on 127.0.0.1        [9092]
  KAFKA_CONTROLLER_PORT   KRaft controller port on 127.0.0.1          [9093]
  KAFKA_RUN_DIR           pidfile, logs, effective config             [<repo>/.run/kafka]
  KAFKA_DATA_DIR          log.dirs (topic data, KRaft metadata)       [$KAFKA_RUN_DIR/data]
  KAFKA_HEAP_OPTS         JVM heap options                            [-Xms256m -Xmx512m]
  KAFKA_START_TIMEOUT     seconds to wait for readiness               [90]

The controller endpoint is recorded in the data dir when it is formatted: after
changing KAFKA_CONTROLLER_PORT, run `infra/kafka/stop.sh --wipe` first.
Stop with infra/kafka/stop.sh (--wipe also deletes the data dir).
EOF
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) echo "start.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
esac

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

KAFKA_HOST=127.0.0.1
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_RUN_DIR="${KAFKA_RUN_DIR:-$REPO/.run/kafka}"
KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-$KAFKA_RUN_DIR/data}"
KAFKA_RUN_DIR="$(realpath -m -- "$KAFKA_RUN_DIR")"
KAFKA_DATA_DIR="$(realpath -m -- "$KAFKA_DATA_DIR")"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"

LIB_DIR="$HERE/lib"
PIDFILE="$KAFKA_RUN_DIR/kafka.pid"
LOG_FILE="$KAFKA_RUN_DIR/server.log"
OUT_FILE="$KAFKA_RUN_DIR/kafka.out"   # JVM stdout/stderr (crashes, JVM warnings)
PROPS="$KAFKA_RUN_DIR/server.properties"
ADMIN_PROPS="$KAFKA_RUN_DIR/admin.properties"
PROBE_OUT="$KAFKA_RUN_DIR/readiness.out"

log() { echo "kafka: $*"; }
die() { echo "kafka: ERROR: $*" >&2; exit 1; }

# Is $1 the pid of a live Kafka broker JVM (and not a recycled pid)?
is_kafka_pid() {
  local pid="$1"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *" kafka.Kafka "* ]]
}

port_in_use() {
  (exec 3<>"/dev/tcp/$KAFKA_HOST/$1") 2>/dev/null
}

# ---------------------------------------------------------------- preconditions
command -v java >/dev/null || die "java not found (Kafka 4 needs Java 17+)"
java_major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')"
java_major="${java_major#1.}"
[[ "${java_major:-0}" -ge 17 ]] || die "Java ${java_major:-?} found; Kafka 4 needs Java 17+"

mkdir -p "$KAFKA_RUN_DIR"

# One start at a time per run dir (concurrent callers wait, then see "already running").
exec 9>"$KAFKA_RUN_DIR/.start.lock"
flock 9

# ---------------------------------------------------------------- already running?
if [[ -f "$PIDFILE" ]]; then
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  if is_kafka_pid "$pid"; then
    # Report the address it was started with (from its effective config), not this call's KAFKA_PORT.
    running_on="$(sed -n 's|^listeners=PLAINTEXT://\([^,]*\).*|\1|p' "$PROPS" 2>/dev/null | tail -n1)"
    log "already running (pid $pid) on ${running_on:-$KAFKA_HOST:$KAFKA_PORT} (log: $LOG_FILE)"
    exit 0
  fi
  log "removing stale pidfile (pid ${pid:-?} is not running)"
  rm -f "$PIDFILE"
fi

for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
  if port_in_use "$p"; then
    die "port $KAFKA_HOST:$p is already in use by another process (not started by this script; pidfile $PIDFILE absent). Stop it or set KAFKA_PORT / KAFKA_CONTROLLER_PORT."
  fi
done

# ---------------------------------------------------------------- jars
pom_sum="$(sha256sum "$HERE/pom.xml" | cut -d' ' -f1)"
if [[ ! -f "$LIB_DIR/.pom.sha256" ]] || [[ "$(cat "$LIB_DIR/.pom.sha256")" != "$pom_sum" ]] ||
  ! compgen -G "$LIB_DIR/kafka_2.13-*.jar" >/dev/null; then
  command -v mvn >/dev/null || die "mvn not found: needed once to resolve the Kafka jars into $LIB_DIR"
  log "resolving broker jars with Maven into $LIB_DIR ..."
  t0=$SECONDS
  tmp_lib="$HERE/lib.tmp.$$"
  rm -rf "$tmp_lib"
  mvn_log="$KAFKA_RUN_DIR/mvn-resolve.log"
  if ! mvn -B -f "$HERE/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$tmp_lib" -DincludeScope=runtime >"$mvn_log" 2>&1; then
    grep -E 'ERROR|FAIL' "$mvn_log" | sed 's/\x1b\[[0-9;]*m//g' | head -n 30 >&2 || true
    rm -rf "$tmp_lib"
    die "Maven could not resolve the Kafka jars (full output: $mvn_log)"
  fi
  echo "$pom_sum" >"$tmp_lib/.pom.sha256"
  rm -rf "$LIB_DIR"
  mv "$tmp_lib" "$LIB_DIR"
  log "resolved $(find "$LIB_DIR" -name '*.jar' | wc -l) jars in $((SECONDS - t0))s"
fi
CLASSPATH_GLOB="$LIB_DIR/*"
kafka_jars=("$LIB_DIR"/kafka_2.13-*.jar)
kafka_version="$(basename "${kafka_jars[0]}" .jar)"
kafka_version="${kafka_version#kafka_2.13-}"

# ---------------------------------------------------------------- effective config
# The shipped server.properties plus per-run overrides (java.util.Properties: the last key wins).
mkdir -p "$KAFKA_DATA_DIR"
{
  cat "$HERE/server.properties"
  echo
  echo "############################# Overrides written by infra/kafka/start.sh #############################"
  echo "listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT"
  echo "advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT"
  echo "controller.quorum.bootstrap.servers=$KAFKA_HOST:$KAFKA_CONTROLLER_PORT"
  echo "log.dirs=$KAFKA_DATA_DIR"
} >"$PROPS"

# Short client timeouts for the readiness probe, so a probe fails fast and is retried.
cat >"$ADMIN_PROPS" <<EOF
request.timeout.ms=5000
default.api.timeout.ms=10000
socket.connection.setup.timeout.ms=2000
socket.connection.setup.timeout.max.ms=5000
EOF

# JVM options for the short-lived tool JVMs (format, probe): fast start, small heap, quiet logging.
TOOL_JVM=(-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto
  -Dlog4j2.configurationFile="$HERE/log4j2.yaml" -Dkafka.log.file="$KAFKA_RUN_DIR/tools.log" -Dkafka.log.level=WARN)

# ---------------------------------------------------------------- format storage once
if [[ -f "$KAFKA_DATA_DIR/meta.properties" ]]; then
  log "storage already formatted ($(grep '^cluster.id=' "$KAFKA_DATA_DIR/meta.properties" || echo 'cluster.id=?')), not formatting"
else
  cluster_id="$(java "${TOOL_JVM[@]}" -cp "$CLASSPATH_GLOB" kafka.tools.StorageTool random-uuid | tail -n1)"
  [[ -n "$cluster_id" ]] || die "kafka.tools.StorageTool random-uuid printed no cluster id"
  log "formatting storage in $KAFKA_DATA_DIR (cluster id $cluster_id)"
  java "${TOOL_JVM[@]}" -cp "$CLASSPATH_GLOB" kafka.tools.StorageTool format \
    --standalone -t "$cluster_id" -c "$PROPS" >"$KAFKA_RUN_DIR/format.out" 2>&1 ||
    { cat "$KAFKA_RUN_DIR/format.out" >&2; die "formatting the storage failed"; }
  grep -v "^Bootstrap metadata" "$KAFKA_RUN_DIR/format.out" | sed 's/^/kafka:   /' || true
fi

# ---------------------------------------------------------------- start
log "starting Apache Kafka $kafka_version (KRaft, node 1) on $KAFKA_HOST:$KAFKA_PORT, controller $KAFKA_HOST:$KAFKA_CONTROLLER_PORT"
t_start=$SECONDS
# shellcheck disable=SC2086 # KAFKA_HEAP_OPTS is a list of JVM options
setsid java $KAFKA_HEAP_OPTS \
  -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
  -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true \
  -Dlog4j2.configurationFile="$HERE/log4j2.yaml" \
  -Dkafka.log.file="$LOG_FILE" -Dkafka.log.level=INFO -Dkafka.logs.dir="$KAFKA_RUN_DIR" \
  -cp "$CLASSPATH_GLOB" kafka.Kafka "$PROPS" \
  >>"$OUT_FILE" 2>&1 </dev/null 9>&- &
pid=$!
echo "$pid" >"$PIDFILE"

# ---------------------------------------------------------------- wait until it really serves requests
deadline=$((SECONDS + KAFKA_START_TIMEOUT))
ready=0
while ((SECONDS < deadline)); do
  if ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$PIDFILE"
    echo "---- last lines of $LOG_FILE ----" >&2
    tail -n 40 "$LOG_FILE" >&2 2>/dev/null || true
    echo "---- $OUT_FILE ----" >&2
    tail -n 20 "$OUT_FILE" >&2 2>/dev/null || true
    die "broker process $pid exited during startup"
  fi
  # 1) TCP: the PLAINTEXT listener accepts connections.  2) API: a Metadata round trip succeeds.
  if port_in_use "$KAFKA_PORT" &&
    timeout 30 java "${TOOL_JVM[@]}" -cp "$CLASSPATH_GLOB" org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "$KAFKA_HOST:$KAFKA_PORT" --command-config "$ADMIN_PROPS" --list \
      >"$PROBE_OUT" 2>&1; then
    ready=1
    break
  fi
  sleep 1
done

if ((ready == 0)); then
  echo "---- last lines of $LOG_FILE ----" >&2
  tail -n 40 "$LOG_FILE" >&2 2>/dev/null || true
  echo "---- last readiness probe output ----" >&2
  tail -n 20 "$PROBE_OUT" >&2 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
  die "broker not ready after ${KAFKA_START_TIMEOUT}s (sent SIGTERM to pid $pid)"
fi

log "started in $((SECONDS - t_start))s (pid $pid)"
echo "kafka ready on $KAFKA_HOST:$KAFKA_PORT (log: $LOG_FILE)"
