#!/usr/bin/env bash
# Runs one benchmark command in several builds in alternation, round by round, so a noisy machine
# slows every build alike; compare the builds within each round (a ratio), not across rounds.
#
#   bench/alternate.sh <rounds> <build dir> [<build dir> ...] -- <command ...>
#
# Each build dir is a checkout with `npm ci` and `npx tsc -p tsconfig.json` done (for an older
# commit: `git worktree add /tmp/base-<commit> <commit>`); the command runs with that dir as the
# working directory, and each output line is prefixed with the round and the build. Example:
#
#   bench/alternate.sh 6 /tmp/base-085066b . -- node --expose-gc dist/bench/pipeline.bench.js \
#     --variants C,D --repeat 1 --events 20000
set -euo pipefail
if [[ $# -lt 4 || "$1" == "--help" ]]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
rounds=$1
shift
builds=()
while [[ $# -gt 0 && "$1" != "--" ]]; do
  builds+=("$(cd "$1" && pwd)")
  shift
done
[[ "${1:-}" == "--" ]] || { echo "bench/alternate.sh: expected -- before the command" >&2; exit 2; }
shift
for ((round = 1; round <= rounds; round++)); do
  for build in "${builds[@]}"; do
    echo "round $round/$rounds, $(basename "$build"), $(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1 /proc/loadavg)" >&2
    (cd "$build" && "$@") | sed "s|^|$round $(basename "$build") |"
  done
done
