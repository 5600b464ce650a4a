#!/usr/bin/env bash
# Load: 32 concurrent pollers of check_generation_status for SECONDS while two
# large generations run. Loopback only; stops by itself.
# Usage: bench/load.sh [ROWS=500000] [SECONDS=30]
source "$(dirname "$0")/lib.sh"
ROWS=${1:-500000} SECS=${2:-30} PORT=18184
DIR=${BENCH_DIR:-/tmp/broker-bench-$ROWS}
build; synth "$DIR" "$ROWS"
DB="$DIR/broker.db"
sqlite3 "$DB" "UPDATE file_generation SET is_cached_file = 0;"
: > "$DIR/serve.log"
BEFORE=$(sqlite3 "$DB" "SELECT COALESCE(MAX(task_id), 0) FROM generation_tasks")
RUST_LOG=info start "$DIR" "$PORT" --workers 2
TOKEN=$(token "$DIR")
for body in '{"submission_id": 1, "file_type": "D1", "start": "10/01/2019", "end": "09/30/2020"}' \
            '{"submission_id": 2, "file_type": "D1", "start": "10/01/2019", "end": "09/30/2020", "file_format": "txt"}'; do
  curl -fs -X POST -H "x-session-id: $TOKEN" -H 'Content-Type: application/json' -d "$body" \
    "http://127.0.0.1:$PORT/v1/generate_file/" >/dev/null
done
URL="http://127.0.0.1:$PORT/v1/check_generation_status/?submission_id=1&file_type=D1"
wrk -t2 -c32 -d"${SECS}s" --latency -H "x-session-id: $TOKEN" "$URL" | tee /tmp/bench-load.txt
done_count=$(sqlite3 "$DB" "SELECT COUNT(*) FROM generation_tasks WHERE kind = 'generate_d' AND task_id > $BEFORE AND state = 'done'")
rows=$(sqlite3 "$DB" "SELECT COALESCE(SUM(number_of_rows), 0) FROM file_generation WHERE file_generation_id IN (SELECT file_generation_id FROM generation_tasks WHERE kind = 'generate_d' AND task_id > $BEFORE)")
stop
locked=$(grep -c "database is locked" "$DIR/serve.log" || true)
errors=$(grep -cE " (4|5)[0-9][0-9] [0-9]+ms" "$DIR/serve.log" || true)
echo "generations finished during the run: $done_count of 2 ($rows rows written)"
echo "non-2xx answers logged: $errors; 'database is locked' in the log: $locked"
grep -q "Non-2xx" /tmp/bench-load.txt && { echo "FAIL: non-2xx answers"; exit 1; }
[ "$locked" = 0 ] || { echo "FAIL: database is locked"; exit 1; }
echo "OK: zero non-2xx, zero 'database is locked'"
