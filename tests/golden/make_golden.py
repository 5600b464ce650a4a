#!/usr/bin/env python3
"""Makes the golden files of tests/api/golden.rs with PostgreSQL itself.

The broker writes the header row with Python's csv writer (QUOTE_MINIMAL, LF
line ends; some headers are longer than Postgres's 63-byte labels), then
appends the rows of `\copy (query) TO STDOUT WITH CSV` (dataactcore/utils/
stream_file / write_query_to_file). This script loads fixtures/test_golden.json into a scratch Postgres
database with the broker's column types (numeric and integer where the
broker's models have them, boolean where the fixture gives JSON booleans,
text elsewhere, as the broker stores FPDS dates), selects the rows each file
holds with the broker's date expression `to_char(cast(col as date),
'YYYYMMDD')`, and lets Postgres write the files. broker-lite's files must
equal them byte for byte.

Run it when the fixture changes (needs a local PostgreSQL where you may
create databases, and psql):
    python3 tests/golden/make_golden.py
It is not part of the test run: CI compares against the files it made.
"""
import csv
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "golden")
DB = "broker_lite_golden"

# Numeric in the broker's models (dataactcore/models/stagingModels.py).
NUMERIC = {
    "detached_award_procurement": {"federal_action_obligation": "numeric"},
    "published_fabs": {
        "federal_action_obligation": "numeric",
        "face_value_loan_guarantee": "numeric",
        "indirect_federal_sharing": "numeric",
        "non_federal_funding_amount": "numeric",
        "original_loan_subsidy_cost": "numeric",
        "record_type": "integer",
    },
}
FILTER_COLUMNS = {
    "detached_award_procurement": ["detached_award_procurement_id", "awarding_agency_code",
                                   "funding_agency_code", "action_date", "awardee_or_recipient_uei"],
    "published_fabs": ["published_fabs_id", "awarding_agency_code", "funding_agency_code",
                       "action_date", "is_active", "uei"],
    "sam_recipient": ["sam_recipient_id", "uei"],
    "subaward": ["subaward_id", "unique_award_key", "subaward_type"],
}


def layout(name):
    with open(os.path.join(ROOT, "src", "files", "layouts", f"{name}_columns.csv"), newline="") as f:
        return list(csv.DictReader(f))


def psql(sql):
    result = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", DB],
                            input=sql.encode(), capture_output=True)
    if result.returncode != 0:
        sys.exit(result.stderr.decode())
    return result.stdout


def write_file(name, lay, query, header="header", delimiter=","):
    """The broker's write_query_to_file: csv-module header, then psql's rows."""
    with open(os.path.join(OUT, name), "w", newline="") as f:
        csv.writer(f, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL,
                   lineterminator="\n").writerow(c[header] for c in layouts[lay])
    options = " DELIMITER '|'" if delimiter == "|" else ""
    with open(os.path.join(OUT, name), "ab") as f:
        f.write(psql(f"COPY ({query}) TO STDOUT WITH CSV{options}"))


def literal(value):
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "'" + str(value).replace("'", "''") + "'"


def main():
    with open(os.path.join(ROOT, "fixtures", "test_golden.json")) as f:
        # Numbers stay the text they are in the file (1234.50, 1e6, 7.10).
        fixture = json.load(f, parse_float=str, parse_int=str)
    global layouts
    layouts = {n: layout(n) for n in ("d1", "d2", "e", "f")}
    sources = {"detached_award_procurement": "d1", "published_fabs": "d2",
               "sam_recipient": "e", "subaward": "f"}
    subprocess.run(["dropdb", "--if-exists", DB], check=True)
    subprocess.run(["createdb", DB], check=True)
    ddl = []
    for table, lay in sources.items():
        columns = list(dict.fromkeys(FILTER_COLUMNS[table] + [c["source_column"] for c in layouts[lay]]))
        booleans = {k for row in fixture[table] for k, v in row.items() if isinstance(v, bool)}
        types = []
        for c in columns:
            kind = NUMERIC.get(table, {}).get(c) or ("boolean" if c in booleans else "text")
            if c == f"{table}_id":
                kind = "integer"
            types.append(f'"{c}" {kind}')
        ddl.append(f"CREATE TABLE {table} ({', '.join(types)});")
        for row in fixture[table]:
            names = ", ".join(f'"{k}"' for k in row)
            values = ", ".join(literal(v) for v in row.values())
            ddl.append(f"INSERT INTO {table} ({names}) VALUES ({values});")
    psql("\n".join(ddl))

    def select(lay, alias):
        parts = []
        for c in layouts[lay]:
            expr = f'{alias}."{c["source_column"]}"'
            if c.get("format") == "yyyymmdd":
                expr = f"to_char(cast({expr} as date), 'YYYYMMDD')"
            parts.append(expr)
        return ", ".join(parts)

    quarter = "cast(t.action_date as date) BETWEEN '2019-10-01' AND '2019-12-31'"
    d1_where = f"t.awarding_agency_code = '097' AND {quarter}"
    d2_where = f"t.awarding_agency_code = '097' AND {quarter} AND t.is_active"
    d1 = (f"SELECT {select('d1', 't')} FROM detached_award_procurement t WHERE {d1_where} "
          "ORDER BY t.action_date COLLATE \"C\", t.detached_award_procurement_id")
    d2 = (f"SELECT {select('d2', 't')} FROM published_fabs t WHERE {d2_where} "
          "ORDER BY t.action_date COLLATE \"C\", t.published_fabs_id")
    write_file("submission_d1.csv", "d1", d1)
    write_file("submission_d2.csv", "d2", d2)
    write_file("detached_d1_numbered.txt", "d1", d1, header="header_with_element_number", delimiter="|")
    d2_funding = (f"SELECT {select('d2', 't')} FROM published_fabs t WHERE t.funding_agency_code = '020' "
                  f"AND {quarter} AND t.is_active ORDER BY t.action_date COLLATE \"C\", t.published_fabs_id")
    write_file("detached_d2_funding.txt", "d2", d2_funding, delimiter="|")
    # E: the latest SAM row of each recipient UEI of the submission's D1 and D2 rows.
    e = (f"WITH ueis AS (SELECT awardee_or_recipient_uei AS uei FROM detached_award_procurement t WHERE {d1_where} "
         f"UNION SELECT uei FROM published_fabs t WHERE {d2_where}) "
         f"SELECT {select('e', 's')} FROM ueis u JOIN sam_recipient s ON s.sam_recipient_id = "
         "(SELECT MAX(sam_recipient_id) FROM sam_recipient WHERE uei = u.uei) ORDER BY u.uei COLLATE \"C\"")
    write_file("submission_e.csv", "e", e)
    # F: sub-contracts of the D1 awards, sub-grants of the D2 awards.
    f = (f"SELECT {select('f', 's')} FROM subaward s WHERE "
         f"(s.subaward_type = 'sub-contract' AND s.unique_award_key IN "
         f"(SELECT unique_award_key FROM detached_award_procurement t WHERE {d1_where})) OR "
         f"(s.subaward_type = 'sub-grant' AND s.unique_award_key IN "
         f"(SELECT unique_award_key FROM published_fabs t WHERE {d2_where})) ORDER BY s.subaward_id")
    write_file("submission_f.csv", "f", f)
    subprocess.run(["dropdb", DB], check=True)


if __name__ == "__main__":
    main()
