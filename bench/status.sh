#!/usr/bin/env bash
# check_generation_status throughput and p99 against the cheapest route of
# the same server, side by side in one run:
#   floor:  GET /v1/session/ with no token (routing, logging, CORS, JSON; no
#           token check, no database)
#   auth:   GET /v1/session/ with a token (the floor plus the token check and
#           the user lookup every protected route does)
#   status: GET /v1/check_generation_status/ with a token, for a finished,
#           validated D1 (auth plus submission, jobs, mapping, a signed link)
# Usage: bench/status.sh [ROWS=100000] [SECONDS=10] [RUNS=3]
# BENCH_DIR picks another data dir (BROKER_BIN another build).
source "$(dirname "$0")/lib.sh"
ROWS=${1:-100000} SECS=${2:-10} RUNS=${3:-3} PORT=18181
DIR=${BENCH_DIR:-/tmp/broker-bench-$ROWS}
build; synth "$DIR" "$ROWS"
# Submission 1's D1: finished, validated, with a file, so the answer signs a link.
sqlite3 "$DIR/broker.db" "UPDATE jobs SET job_status='finished', filename='1/bench.csv', file_size=10,
  start_date='2019-10-01', end_date='2020-09-30' WHERE job_id IN (107, 108);"
start "$DIR" "$PORT"
TOKEN=$(token "$DIR")
STATUS="http://127.0.0.1:$PORT/v1/check_generation_status/?submission_id=1&file_type=D1"
FLOOR="http://127.0.0.1:$PORT/v1/session/"
curl -fs -H "x-session-id: $TOKEN" "$STATUS" | grep -q '"status":"finished"'
run() { # run URL [TOKEN] -> "req/s p99_ms non2xx"
  local auth=()
  if [ -n "${2:-}" ]; then auth=(-H "x-session-id: $2"); fi
  wrk -t2 -c16 -d"${SECS}s" --latency "${auth[@]}" "$1" | awk '
    /Requests\/sec/ {rps=$2}
    / 99%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000} p99=v}
    /Non-2xx/ {bad=$5}
    END {printf "%s %s %d\n", rps, p99, bad}'
}
: > /tmp/bench-status.txt
for i in $(seq 1 "$RUNS"); do
  echo "floor $(run "$FLOOR")" | tee -a /tmp/bench-status.txt
  echo "auth $(run "$FLOOR" "$TOKEN")" | tee -a /tmp/bench-status.txt
  echo "status $(run "$STATUS" "$TOKEN")" | tee -a /tmp/bench-status.txt
done
stop
med() { awk -v k="$1" -v c="$2" '$1==k {print $c}' /tmp/bench-status.txt | median; }
f_rps=$(med floor 2) a_rps=$(med auth 2) s_rps=$(med status 2)
bad=$(awk '{s+=$4} END {print s+0}' /tmp/bench-status.txt)
echo "median floor  (/v1/session/, no token):   $f_rps req/s, p99 $(med floor 3) ms"
echo "median auth   (/v1/session/, with token): $a_rps req/s, p99 $(med auth 3) ms"
echo "median status (check_generation_status):  $s_rps req/s, p99 $(med status 3) ms"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
echo "status / floor: $(ratio "$s_rps" "$f_rps")   auth / floor: $(ratio "$a_rps" "$f_rps")   status / auth: $(ratio "$s_rps" "$a_rps")   non-2xx: $bad"
