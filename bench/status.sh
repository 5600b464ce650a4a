#!/usr/bin/env bash
# check_generation_status throughput and p99 against the cheapest route of
# the same server (/v1/session/ without a token), side by side in one run.
# Usage: bench/status.sh [ROWS=100000] [SECONDS=10] [RUNS=3]
source "$(dirname "$0")/lib.sh"
ROWS=${1:-100000} SECS=${2:-10} RUNS=${3:-3} PORT=18181
DIR=/tmp/broker-bench-$ROWS
build; synth "$DIR" "$ROWS"
# Submission 1's D1: finished, validated, with a file, so the answer signs a link.
sqlite3 "$DIR/broker.db" "UPDATE jobs SET job_status='finished', filename='1/bench.csv', file_size=10,
  start_date='2019-10-01', end_date='2020-09-30' WHERE job_id IN (107, 108);"
start "$DIR" "$PORT"
TOKEN=$(token "$DIR")
STATUS="http://127.0.0.1:$PORT/v1/check_generation_status/?submission_id=1&file_type=D1"
FLOOR="http://127.0.0.1:$PORT/v1/session/"
curl -fs -H "x-session-id: $TOKEN" "$STATUS" | grep -q '"status":"finished"'
run() { # run URL -> "req/s p99_ms non2xx"
  wrk -t2 -c16 -d"${SECS}s" --latency -H "x-session-id: $TOKEN" "$1" | awk '
    /Requests\/sec/ {rps=$2}
    / 99%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000} p99=v}
    /Non-2xx/ {bad=$5}
    END {printf "%s %s %d\n", rps, p99, bad}'
}
: > /tmp/bench-status.txt
for i in $(seq 1 "$RUNS"); do
  echo "floor $(run "$FLOOR")" | tee -a /tmp/bench-status.txt
  echo "status $(run "$STATUS")" | tee -a /tmp/bench-status.txt
done
stop
f_rps=$(awk '$1=="floor" {print $2}' /tmp/bench-status.txt | median)
s_rps=$(awk '$1=="status" {print $2}' /tmp/bench-status.txt | median)
f_p99=$(awk '$1=="floor" {print $3}' /tmp/bench-status.txt | median)
s_p99=$(awk '$1=="status" {print $3}' /tmp/bench-status.txt | median)
bad=$(awk '{s+=$4} END {print s+0}' /tmp/bench-status.txt)
echo "median floor (/v1/session/): $f_rps req/s, p99 $f_p99 ms"
echo "median check_generation_status: $s_rps req/s, p99 $s_p99 ms"
echo "status / floor: $(awk -v s="$s_rps" -v f="$f_rps" 'BEGIN {printf "%.1f%%", 100*s/f}')   non-2xx: $bad"
