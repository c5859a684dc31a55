#!/usr/bin/env bash
# Stop the single-node Kafka broker started by infra/kafka/start.sh. See --help.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: infra/kafka/stop.sh [--wipe] [--help]

Stops the broker started by infra/kafka/start.sh: SIGTERM (clean shutdown), then
SIGKILL after KAFKA_STOP_TIMEOUT seconds, and removes the pidfile. Idempotent:
exits 0 when the broker is not running.

  --wipe   also delete the data dir (topics, offsets, KRaft metadata), so the
           next start.sh formats fresh storage.

Environment (defaults in brackets; use the same values as for start.sh):
  KAFKA_RUN_DIR        pidfile, logs, effective config   [<repo>/.run/kafka]
  KAFKA_DATA_DIR       data dir deleted by --wipe        [$KAFKA_RUN_DIR/data]
  KAFKA_STOP_TIMEOUT   seconds to wait after SIGTERM     [60]
EOF
}

wipe=0
for arg in "$@"; do
  case "$arg" in
    -h | --help) usage; exit 0 ;;
    --wipe) wipe=1 ;;
    *) echo "stop.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
KAFKA_RUN_DIR="${KAFKA_RUN_DIR:-$REPO/.run/kafka}"
KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-$KAFKA_RUN_DIR/data}"
KAFKA_RUN_DIR="$(realpath -m -- "$KAFKA_RUN_DIR")"
KAFKA_DATA_DIR="$(realpath -m -- "$KAFKA_DATA_DIR")"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-60}"
PIDFILE="$KAFKA_RUN_DIR/kafka.pid"

log() { echo "kafka: $*"; }

is_kafka_pid() {
  local pid="$1"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *" kafka.Kafka "* ]]
}

if [[ ! -f "$PIDFILE" ]]; then
  log "not running (no pidfile at $PIDFILE)"
else
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  if ! is_kafka_pid "$pid"; then
    log "not running (stale pidfile, pid ${pid:-?}); removing it"
  else
    log "stopping broker (pid $pid, SIGTERM) ..."
    t0=$SECONDS
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && ((SECONDS - t0 < KAFKA_STOP_TIMEOUT)); do
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "still alive after ${KAFKA_STOP_TIMEOUT}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    fi
    log "stopped in $((SECONDS - t0))s"
  fi
  rm -f "$PIDFILE"
fi

if ((wipe == 1)); then
  case "$KAFKA_DATA_DIR" in
    "" | "/" | "$HOME" | "$REPO") echo "kafka: ERROR: refusing to wipe '$KAFKA_DATA_DIR'" >&2; exit 1 ;;
  esac
  if [[ -e "$KAFKA_DATA_DIR" ]]; then
    rm -rf -- "$KAFKA_DATA_DIR"
    log "wiped data dir $KAFKA_DATA_DIR"
  else
    log "data dir $KAFKA_DATA_DIR already absent"
  fi
fi
