#!/usr/bin/env bash
# D1 (or D2) generation inside a submission through the API, side by side
# with the sqlite3 CLI exporting the same columns and rows to CSV from the
# same database; peak RSS of the server. ROWS is the D1 row count of the
# synthetic database (D2 gets half as many, 95% of them active).
# Usage: bench/generate.sh [ROWS=1000000] [RUNS=3] [FILE=D1|D2]
source "$(dirname "$0")/lib.sh"
ROWS=${1:-1000000} RUNS=${2:-3} FILE=${3:-D1} PORT=18182
DIR=${BENCH_DIR:-/tmp/broker-bench-$ROWS}
case "$FILE" in
  # layout, table, id column, extra filter, upload and validation job of submission 1
  D1) LAYOUT=d1 TABLE=detached_award_procurement ID=detached_award_procurement_id ACTIVE="" UPLOAD=107 VALIDATION=108 ;;
  D2) LAYOUT=d2 TABLE=published_fabs ID=published_fabs_id ACTIVE=" AND is_active = 1" UPLOAD=109 VALIDATION=110 ;;
  *) echo "FILE must be D1 or D2" >&2; exit 2 ;;
esac
build; synth "$DIR" "$ROWS"
DB="$DIR/broker.db"
COLS=$(python3 -c '
import csv, sys
out = []
for row in csv.DictReader(open(sys.argv[1])):
    col = row["source_column"]
    out.append(f"replace({col}, \"-\", \"\") AS {col}" if row["format"] == "yyyymmdd" else col)
print(", ".join(out))' "$ROOT/src/files/layouts/${LAYOUT}_columns.csv")
# Action dates may be timestamps: the last day is in whatever the time, as
# in broker-lite's query (so both sides export the same rows).
WHERE="awarding_agency_code = '097' AND action_date >= '2019-10-01' AND action_date < '2020-10-01'$ACTIVE"
SQL="SELECT $COLS FROM $TABLE WHERE $WHERE ORDER BY action_date, $ID"
start "$DIR" "$PORT" --workers 1
TOKEN=$(token "$DIR")
BODY="{\"submission_id\": 1, \"file_type\": \"$FILE\", \"start\": \"10/01/2019\", \"end\": \"09/30/2020\"}"
: > /tmp/bench-generate.txt
for i in $(seq 1 "$RUNS"); do
  # sqlite3 CLI: the floor for reading these rows and writing CSV.
  /usr/bin/time -f "%e %M" -o /tmp/bench-sqlite-time sqlite3 -csv -header "$DB" "$SQL" > "$DIR/sqlite-export.csv"
  read -r cli_secs cli_kib < /tmp/bench-sqlite-time
  # broker-lite: a fresh generation each run (the cache is emptied first).
  sqlite3 "$DB" "UPDATE file_generation SET is_cached_file = 0;"
  t0=$(date +%s.%N)
  curl -fs -X POST -H "x-session-id: $TOKEN" -H 'Content-Type: application/json' -d "$BODY" \
    "http://127.0.0.1:$PORT/v1/generate_file/" >/dev/null
  read -r gen_secs all_secs < <(python3 "$ROOT/bench/wait_jobs.py" "$DB" "$t0" "$UPLOAD" "$VALIDATION")
  rows=$(sqlite3 "$DB" "SELECT number_of_rows FROM jobs WHERE job_id = $UPLOAD")
  cli_rows=$(sqlite3 "$DB" "SELECT COUNT(*) FROM $TABLE WHERE $WHERE")
  [ "$rows" = "$cli_rows" ] || { echo "broker-lite wrote $rows rows, the CLI query selects $cli_rows" >&2; exit 1; }
  echo "run $i: rows $rows sqlite3 ${cli_secs}s (${cli_kib} KiB) broker-lite file ${gen_secs}s, with validation ${all_secs}s" | tee -a /tmp/bench-generate.txt
done
rss=$(peak_rss_kib "$SERVER_PID")
stop
cli=$(awk '{print $6}' /tmp/bench-generate.txt | tr -d s | median)
gen=$(awk '{print $11}' /tmp/bench-generate.txt | tr -d 's,' | median)
all=$(awk '{print $14}' /tmp/bench-generate.txt | tr -d s | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", a/b}'; }
echo "median sqlite3 CLI export: ${cli}s; broker-lite file ready: ${gen}s ($(ratio "$gen" "$cli")); with file-level validation (status finished): ${all}s ($(ratio "$all" "$cli"))"
echo "server peak RSS: $((rss / 1024)) MiB"
