#!/usr/bin/env bash
# File A and the BOC comparison through the API on synthetic GTAS data
# (TAS x 40 SF-133 lines x 12 periods), next to the sqlite3 CLI running one
# query that makes File A's sums from the same database.
# Usage: bench/gtas.sh [TAS=2000] [RUNS=5]
source "$(dirname "$0")/lib.sh"
TAS=${1:-2000} RUNS=${2:-5} PORT=18185
DIR=${BENCH_DIR:-/tmp/broker-bench-gtas-$TAS}
build; synth "$DIR" 1000 --tas "$TAS"
DB="$DIR/broker.db"
# The sqlite3 side: File A of DOD for FY2020 period 6 in one statement, the
# same join, filters, failed-edit status and grouping as broker-lite's, with
# SQLite's own (floating point) SUM over the amounts, written as CSV.
SUMS=""
for cond in "= 1910" "IN (1160, 1180, 1260, 1280)" "= 1000" "BETWEEN 1010 AND 1042" \
    "IN (1540, 1640, 1340, 1440, 1750, 1850)" "IN (1540, 1640)" "IN (1340, 1440)" "IN (1750, 1850)" \
    "= 2500" "= 2190" "= 3020" "= 2490" "IN (1021, 1033)"; do
  SUMS="$SUMS, SUM(CASE WHEN s.line $cond THEN CAST(s.amount AS REAL) ELSE 0 END)"
done
PARTS="s.allocation_transfer_agency, s.agency_identifier, s.beginning_period_of_availa, s.ending_period_of_availabil, s.availability_type_code, s.main_account_code, s.sub_account_code"
SQL="WITH ranked AS (SELECT tas, severity, approved_override_exists, atb_submission_status,
       row_number() OVER (PARTITION BY tas ORDER BY CASE atb_submission_status WHEN 'F' THEN 1
         WHEN 'E' THEN 2 WHEN 'P' THEN 3 WHEN 'C' THEN 4 ELSE 5 END, tas_failed_edits_id) AS r
       FROM tas_failed_edits WHERE upper(severity) = 'FATAL' AND fiscal_year = 2020 AND period = 6),
     worst AS (SELECT * FROM ranked WHERE r = 1)
SELECT $PARTS $SUMS,
  CASE WHEN f.approved_override_exists = 0 THEN 'failed fatal edit - no override'
       WHEN f.atb_submission_status = 'F' AND f.approved_override_exists = 1 THEN 'failed fatal edit - override'
       WHEN f.atb_submission_status = 'E' AND f.approved_override_exists = 1 THEN 'passed required edits - override'
       WHEN f.atb_submission_status = 'P' AND f.approved_override_exists = 1 THEN 'pending certification - override'
       WHEN f.atb_submission_status = 'C' AND f.approved_override_exists = 1 THEN 'certified - override'
       WHEN f.severity IS NOT NULL THEN 'passed required edits - override'
       ELSE 'passed required edits' END AS gtas_status
FROM sf_133 s JOIN tas_lookup l ON l.tas = s.tas LEFT JOIN worst f ON f.tas = s.tas
WHERE s.fiscal_year = 2020 AND s.period = 6 AND coalesce(l.financial_indicator2, '') <> 'F'
  AND (s.allocation_transfer_agency IN ('017', '021', '057', '097')
       OR (s.allocation_transfer_agency IS NULL AND s.agency_identifier IN ('017', '021', '057', '097'))
       OR (s.allocation_transfer_agency IS NULL AND s.agency_identifier = '011'
           AND l.fr_entity_type IN (SELECT frec_code FROM frec WHERE cgac_code = '097')))
GROUP BY $PARTS, gtas_status
ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST, 4 NULLS LAST, 5 NULLS LAST, 6 NULLS LAST, 7 NULLS LAST, 21 NULLS LAST"
start "$DIR" "$PORT" --workers 1
TOKEN=$(token "$DIR")
# time_file TYPE: seconds from the request to the finished file (polled
# every 10 ms), and its rows.
time_file() {
  local body="{\"file_type\": \"$1\", \"cgac_code\": \"097\", \"year\": 2020, \"period\": 6}" t0 job state
  t0=$(date +%s.%N)
  job=$(curl -fs -X POST -H "x-session-id: $TOKEN" -H 'Content-Type: application/json' -d "$body" \
    "http://127.0.0.1:$PORT/v1/generate_detached_file/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
  while true; do
    state=$(sqlite3 "$DB" "SELECT job_status FROM jobs WHERE job_id = $job")
    [ "$state" = finished ] && break
    [ "$state" = failed ] && { echo "generation failed" >&2; exit 1; }
    sleep 0.01
  done
  echo "$(echo "$(date +%s.%N) - $t0" | bc) $(sqlite3 "$DB" "SELECT number_of_rows FROM jobs WHERE job_id = $job")"
}
: > /tmp/bench-gtas.txt
for i in $(seq 1 "$RUNS"); do
  t0=$(date +%s.%N)
  sqlite3 -csv -header "$DB" "$SQL" > "$DIR/sqlite-a.csv"
  cli_secs=$(echo "$(date +%s.%N) - $t0" | bc)
  cli_rows=$(($(wc -l < "$DIR/sqlite-a.csv") - 1))
  read -r a_secs a_rows < <(time_file A)
  read -r boc_secs boc_rows < <(time_file BOC)
  echo "run $i: sqlite3 ${cli_secs}s ($cli_rows rows) File A ${a_secs}s ($a_rows rows) BOC ${boc_secs}s ($boc_rows rows)" | tee -a /tmp/bench-gtas.txt
done
rss=$(peak_rss_kib "$SERVER_PID")
stop
lines=$(sqlite3 "$DB" "SELECT COUNT(*) FROM sf_133")
cli=$(awk '{print $4}' /tmp/bench-gtas.txt | tr -d s | median)
a=$(awk '{print $9}' /tmp/bench-gtas.txt | tr -d s | median)
boc=$(awk '{print $13}' /tmp/bench-gtas.txt | tr -d s | median)
echo "sf_133 lines in the database: $lines"
echo "median sqlite3 CLI File A query: ${cli}s; broker-lite File A ready: ${a}s ($(awk -v a="$a" -v b="$cli" 'BEGIN {printf "%.2fx", a/b}')); BOC comparison ready: ${boc}s"
echo "server peak RSS: $((rss / 1024)) MiB"
