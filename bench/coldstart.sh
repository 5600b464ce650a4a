#!/usr/bin/env bash
# Cold start: `serve` to the first answered request, on a database of ROWS rows.
# Usage: bench/coldstart.sh [ROWS=1000000] [RUNS=5]
source "$(dirname "$0")/lib.sh"
ROWS=${1:-1000000} RUNS=${2:-5} PORT=18183
DIR=${BENCH_DIR:-/tmp/broker-bench-$ROWS}
build; synth "$DIR" "$ROWS"
: > /tmp/bench-coldstart.txt
for i in $(seq 1 "$RUNS"); do
  ms=$(python3 - "$BIN" "$DIR" "$PORT" <<'PY'
import subprocess, sys, time, urllib.request
bin, data, port = sys.argv[1:]
t0 = time.monotonic()
p = subprocess.Popen([bin, "serve", "--data-dir", data, "--listen", f"127.0.0.1:{port}"],
                     stderr=subprocess.DEVNULL)
while True:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/session/", timeout=1).read()
        break
    except Exception:
        time.sleep(0.001)
print(round((time.monotonic() - t0) * 1000, 1))
p.terminate(); p.wait()
PY
)
  echo "$ms" | tee -a /tmp/bench-coldstart.txt
done
echo "median cold start: $(median < /tmp/bench-coldstart.txt) ms (database of $ROWS D1 rows, $(du -h "$DIR/broker.db" | cut -f1))"
