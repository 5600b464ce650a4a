# Shared helpers of the benchmark scripts (sourced, not run).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# BROKER_BIN: another build to measure (say, an older release) with these same scripts.
BIN="${BROKER_BIN:-$ROOT/target/release/broker-lite}"
export BROKER_SECRET_KEY="${BROKER_SECRET_KEY:-bench-secret-not-for-production}"
export RUST_LOG="${RUST_LOG:-warn}"

build() {
  if [ -z "${BROKER_BIN:-}" ]; then (cd "$ROOT" && cargo build --release --quiet); fi
}

# synth DIR ROWS [ARGS...]: a data dir with ROWS synthetic D1 rows and the
# other synth options ARGS (kept between runs).
synth() {
  local dir=$1 rows=$2; shift 2
  local marker="$dir/.synth-$rows$(printf '%s' "$*" | tr -c 'A-Za-z0-9' _)"
  if [ ! -f "$marker" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    "$BIN" fixtures synth --data-dir "$dir" --rows "$rows" "$@" >&2
    touch "$marker"
  fi
}

# start DIR PORT [ARGS...]: starts serve in the background; sets SERVER_PID.
start() {
  local dir=$1 port=$2; shift 2
  "$BIN" serve --data-dir "$dir" --listen "127.0.0.1:$port" "$@" 2>>"$dir/serve.log" &
  SERVER_PID=$!
  for _ in $(seq 1 500); do
    curl -fs "http://127.0.0.1:$port/v1/session/" >/dev/null 2>&1 && return 0
    sleep 0.01
  done
  echo "server did not start" >&2; return 1
}

stop() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

token() {
  "$BIN" token --data-dir "$1" --user admin@synth.local
}

# median of the numbers on stdin
median() {
  sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

# peak resident memory (KiB) of a running process
peak_rss_kib() {
  awk '/VmHWM/ {print $2}' "/proc/$1/status"
}
