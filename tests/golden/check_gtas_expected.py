#!/usr/bin/env python3
"""Checks the hand-made File A and BOC files of tests/expected/ against
PostgreSQL running the broker's own queries.

tests/api/gtas.rs compares broker-lite's A and BOC files with
tests/expected/*.csv, which were worked out by hand from
fixtures/test_gtas.json. This script loads that fixture (with
fixtures/test_base.json) into a scratch Postgres database with the broker's
column types (numeric amounts, integer years and lines, boolean overrides),
runs the SQL the broker's fileA.py / fileBOC.py / filters_helper.py build
(written out here; the broker's queries have no ORDER BY, so rows are
ordered by their key columns, NULLs last, bytewise), writes each file as
the broker does (csv-module header, then `COPY ... WITH CSV`), and fails if
any differs from the expected file.

Run it when the fixture or the expected files change (needs a local
PostgreSQL where you may create databases, and psql):
    python3 tests/golden/check_gtas_expected.py
"""
import datetime
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DB = "broker_lite_gtas_check"
PARTS = ["allocation_transfer_agency", "agency_identifier", "beginning_period_of_availa",
         "ending_period_of_availabil", "availability_type_code", "main_account_code", "sub_account_code"]
INTEGER = {"fiscal_year", "period", "line", "year", "row_number", "submission_id", "account_num",
           "reporting_fiscal_year", "reporting_fiscal_period", "tas_id", "user_id"}
BOOLEAN = {"approved_override_exists", "is_quarter_format", "is_fabs", "publishable"}
TIMESTAMP = {"period_start", "publish_deadline", "certification_deadline"}
TAS_TABLES = {"sf_133", "tas_lookup", "tas_failed_edits", "gtas_boc",
              "published_object_class_program_activity"}
FILE_B_USSGLS = [
    "ussgl480100_undelivered_or_cpe", "ussgl480100_undelivered_or_fyb", "ussgl480110_rein_undel_ord_cpe",
    "ussgl480200_undelivered_or_cpe", "ussgl480200_undelivered_or_fyb", "ussgl483100_undelivered_or_cpe",
    "ussgl483200_undelivered_or_cpe", "ussgl487100_downward_adjus_cpe", "ussgl487200_downward_adjus_cpe",
    "ussgl488100_upward_adjustm_cpe", "ussgl488200_upward_adjustm_cpe", "ussgl490100_delivered_orde_cpe",
    "ussgl490100_delivered_orde_fyb", "ussgl490110_rein_deliv_ord_cpe", "ussgl490200_delivered_orde_cpe",
    "ussgl490800_authority_outl_cpe", "ussgl490800_authority_outl_fyb", "ussgl493100_delivered_orde_cpe",
    "ussgl497100_downward_adjus_cpe", "ussgl497200_downward_adjus_cpe", "ussgl498100_upward_adjustm_cpe",
    "ussgl498200_upward_adjustm_cpe"]
ALL_USSGL_COLUMNS = FILE_B_USSGLS + ["ussgl480210_rein_undel_obs_cpe", "ussgl497210_down_adj_refun_cpe"]


def psql(sql):
    result = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", DB],
                            input=sql.encode(), capture_output=True)
    if result.returncode != 0:
        sys.exit(result.stderr.decode())
    return result.stdout


def literal(value):
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "'" + str(value).replace("'", "''") + "'"


def concat_tas(row):
    fill = ["000", "000", "0000", "0000", " ", "0000", "000"]
    return "".join(row.get(p) or f for p, f in zip(PARTS, fill))


def display_tas(row):
    get = lambda k: row.get(k) or None
    label = "-".join(filter(None, (get(PARTS[0]), get(PARTS[1]))))
    if get(PARTS[4]):
        label = "-".join(filter(None, (label, get(PARTS[4]))))
    else:
        poa = "/".join(filter(None, (get(PARTS[2]), get(PARTS[3]))))
        label = "-".join(filter(None, (label, poa)))
    return "-".join(filter(None, (label, get(PARTS[5]), get(PARTS[6]))))


def column_type(table, column):
    if column in INTEGER or column == f"{table}_id":
        return "integer"
    if column in BOOLEAN:
        return "boolean"
    if column in TIMESTAMP:
        return "timestamp"
    if column in ("amount", "dollar_amount") or column in ALL_USSGL_COLUMNS:
        return "numeric"
    return "text"


def load(fixtures):
    rows_by_table = {}
    for fixture in fixtures:
        for table, rows in fixture.items():
            rows_by_table.setdefault(table, []).extend(rows)
    ddl = []
    for table in ["cgac", "frec", "submissions", "submission_window_schedule"] + sorted(TAS_TABLES):
        rows = rows_by_table.get(table, [])
        if table in TAS_TABLES:
            for row in rows:
                row.setdefault("tas", concat_tas(row))
                row.setdefault("display_tas", display_tas(row))
        columns = list(dict.fromkeys(c for row in rows for c in row))
        if table == "published_object_class_program_activity":
            columns += [c for c in ALL_USSGL_COLUMNS if c not in columns]
        if table == "tas_lookup":
            columns += [c for c in ["financial_indicator2", "fr_entity_type"] if c not in columns]
        if table == "gtas_boc":
            columns += [c for c in ["prior_year_adjustment_code"] if c not in columns]
        ddl.append(f"CREATE TABLE {table} ({', '.join(f'{c} {column_type(table, c)}' for c in columns)});")
        for row in rows:
            names = ", ".join(row)
            values = ", ".join(literal(v) for v in row.values())
            ddl.append(f"INSERT INTO {table} ({names}) VALUES ({values});")
    psql("\n".join(ddl))
    return rows_by_table


def agency_filter(code, ata, aid, fr, display, frec_cgacs):
    """filters_helper.tas_agency_filter and tas_exception_filter."""
    frec_provided = len(code) == 4
    groups = {"097": ["017", "021", "057", "097"], "020": ["020", "580", "373"], "077": ["077", "071"],
              "089": ["089", "486"], "1601": ["1601", "016"], "1125": ["1125", "011"], "1100": ["1100", "256"]}
    array = groups.get(code, [])
    lst = lambda items: ", ".join(literal(i) for i in items)
    ors = [f"{ata} IN ({lst(array)})" if array else f"{ata} = {literal(code)}"]
    if code in ("097", "020", "077", "089"):
        ors.append(f"({ata} IS NULL AND {aid} IN ({lst(array)}))")
    elif code == "1100":
        ors.append(f"({ata} IS NULL AND ({aid} = '256' OR {fr} = '1100'))")
    elif not frec_provided:
        ors.append(f"({ata} IS NULL AND {aid} = {literal(code)})")
    else:
        ors.append(f"({ata} IS NULL AND {fr} = {literal(code)})")
    frec_list = [f for f, c in frec_cgacs if c == code] if not frec_provided else []
    if frec_list:
        ors.append(f"({ata} IS NULL AND {aid} = '011' AND {fr} IN ({lst(frec_list)}))")
    if code == "070":
        ors.append(f"upper({display}) IN ('020-X-5688-000')")
    where = "(" + " OR ".join(ors) + ")"
    if code == "020":
        where += f" AND upper({display}) NOT IN ('020-X-5688-000')"
    return where


def key_order(columns):
    return ", ".join(f'{c} COLLATE "C" NULLS LAST' for c in columns)


def file_a(code, year, period, rows, frec_cgacs):
    window = [w for w in rows["submission_window_schedule"] if w["year"] == year and w["period"] == period]
    has_edits = any(e["fiscal_year"] == year and e["period"] == period for e in rows["tas_failed_edits"])
    if not window:
        status, join = "NULL", ""
    elif datetime.datetime.fromisoformat(window[0]["period_start"]) > datetime.datetime.utcnow():
        status, join = "'GTAS window open'", ""
    elif not has_edits:
        status, join = "NULL", ""
    else:
        join = f"""LEFT JOIN (SELECT * FROM (
                SELECT severity, approved_override_exists, atb_submission_status, tas,
                       row_number() OVER (PARTITION BY tas ORDER BY CASE WHEN atb_submission_status = 'F' THEN 1
                           WHEN atb_submission_status = 'E' THEN 2 WHEN atb_submission_status = 'P' THEN 3
                           WHEN atb_submission_status = 'C' THEN 4 ELSE 5 END) AS row
                FROM tas_failed_edits
                WHERE upper(severity) = 'FATAL' AND period = {period} AND fiscal_year = {year}) sq
                WHERE row = 1) gf ON g.tas = gf.tas"""
        status = """CASE
            WHEN upper(gf.severity) = 'FATAL' AND gf.approved_override_exists IS false THEN 'failed fatal edit - no override'
            WHEN gf.atb_submission_status = 'F' AND upper(gf.severity) = 'FATAL' AND gf.approved_override_exists IS true THEN 'failed fatal edit - override'
            WHEN gf.atb_submission_status = 'E' AND upper(gf.severity) = 'FATAL' AND gf.approved_override_exists IS true THEN 'passed required edits - override'
            WHEN gf.atb_submission_status = 'P' AND upper(gf.severity) = 'FATAL' AND gf.approved_override_exists IS true THEN 'pending certification - override'
            WHEN gf.atb_submission_status = 'C' AND upper(gf.severity) = 'FATAL' AND gf.approved_override_exists IS true THEN 'certified - override'
            WHEN gf.severity IS NOT NULL THEN 'passed required edits - override'
            ELSE 'passed required edits' END"""
    adjust_max = 1042 if year <= 2020 else 1067
    sums = [("= 1910", ""), ("IN (1160, 1180, 1260, 1280)", ""), ("= 1000", ""),
            (f"BETWEEN 1010 AND {adjust_max}", ""), ("IN (1540, 1640, 1340, 1440, 1750, 1850)", ""),
            ("IN (1540, 1640)", ""), ("IN (1340, 1440)", ""), ("IN (1750, 1850)", ""), ("= 2500", ""),
            ("= 2190", ""), ("= 3020", ""), ("= 2490", ""), ("IN (1021, 1033)", "")]
    sum_sql = ", ".join(f"sum(CASE WHEN line {cond} THEN amount ELSE 0 END)" for cond, _ in sums)
    flt = agency_filter(code, "allocation_transfer_agency", "agency_identifier", "fr_entity_type",
                        "display_tas", frec_cgacs)
    return f"""WITH tas_gtas AS (
            SELECT s.{', s.'.join(PARTS)}, s.amount, s.line, l.financial_indicator2, l.fr_entity_type,
                   s.tas, s.display_tas
            FROM sf_133 s JOIN tas_lookup l ON s.tas = l.tas
            WHERE s.period = {period} AND s.fiscal_year = {year}),
        tas_gtas_fail AS (SELECT g.*, {status} AS gtas_status FROM tas_gtas g {join})
        SELECT {', '.join(PARTS)}, {sum_sql}, gtas_status FROM tas_gtas_fail
        WHERE coalesce(financial_indicator2, '') != 'F' AND {flt}
        GROUP BY {', '.join(PARTS)}, gtas_status
        ORDER BY {key_order(PARTS + ['gtas_status'])}"""


def boc(code, year, period, rows, frec_cgacs):
    subs = [s["submission_id"] for s in rows["submissions"]
            if s.get("reporting_fiscal_year") == year and s.get("reporting_fiscal_period") == period
            and s.get("publish_status") in ("published", "updated")
            and s.get("cgac_code" if len(code) == 3 else "frec_code") == code]
    sub = sorted(subs)[0]
    b_keys = ["display_tas"] + PARTS + ["disaster_emergency_fund_code"]
    sums = ", ".join(f"sum(b.{c}) AS sum_{c}" for c in FILE_B_USSGLS)
    values = ", ".join(
        f"(m.display_tas, m.disaster_emergency_fund_code, m.object_class, m.by_direct_reimbursable_fun, "
        f"m.prior_year_adjustment, '{c[-1].upper() if c.endswith('_fyb') else 'E'}', '{c[5:11]}', m.sum_{c})"
        for c in FILE_B_USSGLS)
    flt = agency_filter(code, "t.allocation_transfer_agency", "t.agency_identifier", "t.fr_entity_type",
                        "t.display_tas", frec_cgacs)
    ussgls = sorted({c[5:11] for c in ALL_USSGL_COLUMNS})
    g_keys = ["display_tas"] + PARTS + ["disaster_emergency_fund_code", "budget_object_class",
                                        "reimbursable_flag", "begin_end"]
    out = ["display_tas"] + PARTS + ["object_class", "by_direct_reimbursable_fun",
                                     "disaster_emergency_fund_code", "prior_year_adjustment", "begin_end"]
    return f"""WITH summed_pub_b AS (
            SELECT {', '.join('b.' + k for k in b_keys)}, rpad(b.object_class, 4, '0') AS object_class,
                   b.by_direct_reimbursable_fun,
                   coalesce(upper(b.prior_year_adjustment), '') AS prior_year_adjustment, {sums},
                   array_agg(b.row_number ORDER BY b.row_number) AS row_numbers
            FROM published_object_class_program_activity b
            JOIN tas_lookup t ON upper(t.display_tas) = upper(b.display_tas)
            WHERE b.submission_id = {sub} AND coalesce(upper(t.financial_indicator2), '') != 'F'
            GROUP BY {', '.join('b.' + k for k in b_keys)}, rpad(b.object_class, 4, '0'),
                     b.by_direct_reimbursable_fun, coalesce(upper(b.prior_year_adjustment), '')),
        ussgl_pub_file_b AS (
            SELECT {', '.join('m.' + k for k in b_keys)}, m.object_class, m.by_direct_reimbursable_fun,
                   m.prior_year_adjustment, v.begin_end_indicator, v.ussgl_account_number, v.dollar_amount,
                   m.row_numbers
            FROM summed_pub_b m JOIN LATERAL (VALUES {values}) AS v(display_tas, defc, object_class, bdr, pya,
                 begin_end_indicator, ussgl_account_number, dollar_amount)
              ON v.display_tas = m.display_tas AND v.defc = m.disaster_emergency_fund_code
             AND v.object_class = m.object_class AND v.bdr = m.by_direct_reimbursable_fun
             AND v.pya = m.prior_year_adjustment),
        summed_gtas_boc AS (
            SELECT {', '.join('g.' + k for k in g_keys)},
                   coalesce(upper(g.prior_year_adjustment_code), '') AS prior_year_adjustment, g.ussgl_number,
                   sum(g.dollar_amount * CASE WHEN g.debit_credit = 'D' THEN 1 ELSE -1 END) AS sum_dollar_amount
            FROM gtas_boc g
            WHERE g.fiscal_year = {year} AND g.period = {period}
              AND g.ussgl_number IN ({', '.join(literal(u) for u in ussgls)})
              AND EXISTS (SELECT 1 FROM tas_lookup t WHERE t.display_tas = g.display_tas
                          AND coalesce(upper(t.financial_indicator2), '') != 'F' AND {flt})
            GROUP BY {', '.join('g.' + k for k in g_keys)}, g.ussgl_number,
                     coalesce(upper(g.prior_year_adjustment_code), ''))
        SELECT * FROM (
            SELECT {', '.join(f'coalesce(b.{k}, g.{k}) AS {k}' for k in ['display_tas'] + PARTS)},
                   coalesce(b.object_class, g.budget_object_class) AS object_class,
                   coalesce(b.by_direct_reimbursable_fun, g.reimbursable_flag) AS by_direct_reimbursable_fun,
                   coalesce(b.disaster_emergency_fund_code, g.disaster_emergency_fund_code)
                       AS disaster_emergency_fund_code,
                   coalesce(b.prior_year_adjustment, g.prior_year_adjustment) AS prior_year_adjustment,
                   coalesce(b.begin_end_indicator, g.begin_end) AS begin_end,
                   {year} AS reporting_fiscal_year, {period} AS reporting_fiscal_period,
                   coalesce(b.ussgl_account_number, g.ussgl_number) AS ussgl_account_num,
                   coalesce(g.sum_dollar_amount, 0) AS dollar_amount_gtas,
                   coalesce(b.dollar_amount, 0) AS dollar_amount_broker,
                   coalesce(g.sum_dollar_amount, 0) - coalesce(b.dollar_amount, 0) AS dollar_amount_diff,
                   b.row_numbers AS file_b_rows
            FROM ussgl_pub_file_b b FULL OUTER JOIN summed_gtas_boc g
              ON b.display_tas = g.display_tas AND b.disaster_emergency_fund_code = g.disaster_emergency_fund_code
             AND b.object_class = g.budget_object_class AND b.by_direct_reimbursable_fun = g.reimbursable_flag
             AND b.begin_end_indicator = g.begin_end AND b.ussgl_account_number = g.ussgl_number
             AND b.prior_year_adjustment = g.prior_year_adjustment
            WHERE b.dollar_amount != 0 OR coalesce(g.sum_dollar_amount, 0) != 0) rows
        ORDER BY {key_order(out + ['ussgl_account_num'])}"""


CASES = [
    ("A", "097", 2021, 6, "a_cgac_097_fy21p06.csv"), ("A", "1601", 2021, 6, "a_frec_1601_fy21p06.csv"),
    ("A", "1125", 2021, 6, "a_frec_1125_fy21p06.csv"), ("A", "011", 2021, 6, "a_cgac_011_fy21p06.csv"),
    ("A", "020", 2021, 6, "a_cgac_020_fy21p06.csv"), ("A", "070", 2021, 6, "a_cgac_070_fy21p06.csv"),
    ("A", "097", 2021, 7, "a_cgac_097_fy21p07.csv"), ("A", "097", 2020, 6, "a_cgac_097_fy20p06.csv"),
    ("BOC", "097", 2021, 6, "boc_cgac_097_fy21p06.csv"), ("BOC", "020", 2021, 6, "boc_cgac_020_fy21p06.csv"),
]


def main():
    fixtures = []
    for name in ("test_base.json", "test_gtas.json"):
        with open(os.path.join(ROOT, "fixtures", name)) as f:
            fixtures.append(json.load(f, parse_float=str))
    subprocess.run(["dropdb", "--if-exists", DB], check=True)
    subprocess.run(["createdb", DB], check=True)
    rows = load(fixtures)
    frec_cgacs = [(f["frec_code"], f.get("cgac_code")) for f in rows["frec"]]
    failed = False
    for kind, code, year, period, name in CASES:
        query = (file_a if kind == "A" else boc)(code, year, period, rows, frec_cgacs)
        path = os.path.join(ROOT, "tests", "expected", name)
        with open(path, "rb") as f:
            expected = f.read()
        header = expected.split(b"\n", 1)[0] + b"\n"
        got = header + psql(f"COPY ({query}) TO STDOUT WITH CSV")
        if got != expected:
            failed = True
            print(f"{name} differs from Postgres:\n{got.decode()}", file=sys.stderr)
        else:
            print(f"{name}: same as Postgres")
    subprocess.run(["dropdb", DB], check=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
