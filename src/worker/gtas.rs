//! The two files made from GTAS data, as the broker builds them
//! (`dataactcore/utils/fileA.py`, `fileBOC.py`, `filters_helper.py`):
//!
//! - File A: an agency's SF-133 lines of one fiscal period, summed per TAS
//!   into the budgetary-resource columns, with the TAS's GTAS status.
//! - The BOC comparison: GTAS object-class balances of the period against
//!   the agency's published File B, per TAS, object class, direct or
//!   reimbursable, DEFC, PYA, begin/end and USSGL.
//!
//! SQLite selects and orders the rows; sums are made here with Postgres's
//! `numeric` rules (`base::decimal`) so amounts print as the broker's do.
//! The broker's queries have no `ORDER BY`; these files are ordered by
//! their key columns (NULLs last, bytewise), which is what a sorted
//! aggregate in Postgres gives.

use super::Failure;
use super::pgcsv::PgCsv;
use super::write::{Written, create_csv, finish_csv};
use crate::base::decimal::{Decimal, Overflow, Sum};
use crate::base::domain::is_frec_code;
use crate::base::fiscal::FiscalPeriod;
use crate::base::ids::SubmissionId;
use crate::base::timefmt::now_timestamp;
use crate::db::file_generation::GenerationRequest;
use crate::db::submissions;
use crate::files::layouts::Column;
use anyhow::Context;
use rusqlite::types::{ToSql, ValueRef};
use rusqlite::{Connection, OptionalExtension, Statement};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

fn data(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure::Data(message.into()))
}

fn overflow(err: Overflow) -> anyhow::Error {
    data(format!("{err}; the file cannot be made"))
}

/// Binds the named parameters the statement uses (a filter may not use
/// every one) and runs it.
fn run<'s>(
    stmt: &'s mut Statement<'_>,
    params: &[(&str, &dyn ToSql)],
) -> rusqlite::Result<rusqlite::Rows<'s>> {
    for (name, value) in params {
        if let Some(index) = stmt.parameter_index(name)? {
            stmt.raw_bind_parameter(index, value)?;
        }
    }
    Ok(stmt.raw_query())
}

/// Whether a stored value is `part` (as [`text`] would read it), without
/// copying text.
fn is_part(value: ValueRef<'_>, part: &Option<String>) -> bool {
    match (value, part) {
        (ValueRef::Text(t) | ValueRef::Blob(t), Some(p)) => t == p.as_bytes(),
        (ValueRef::Null, None) => true,
        (ValueRef::Integer(_) | ValueRef::Real(_), Some(_)) => {
            text(value).as_ref() == part.as_ref()
        }
        _ => false,
    }
}

fn text(value: ValueRef<'_>) -> Option<String> {
    match value {
        ValueRef::Null => None,
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
    }
}

fn amount(value: ValueRef<'_>, what: &str) -> anyhow::Result<Option<Decimal>> {
    match text(value) {
        None => Ok(None),
        Some(t) => Decimal::parse(&t)
            .map(Some)
            .ok_or_else(|| data(format!("{what} {t:?} is not a number"))),
    }
}

// ---------------------------------------------------------------------------
// Which TAS belong to an agency (the broker's `tas_agency_filter`).

/// The columns of a query that the agency filter looks at.
struct TasColumns {
    ata: &'static str,
    aid: &'static str,
    fr_entity_type: &'static str,
    display_tas: &'static str,
}

/// Agencies that report TAS of other identifiers as their own.
fn grouped_identifiers(code: &str) -> Option<&'static [&'static str]> {
    Some(match code {
        "097" => &["017", "021", "057", "097"],
        "020" => &["020", "580", "373"],
        "077" => &["077", "071"],
        "089" => &["089", "486"],
        "1601" => &["1601", "016"],
        "1125" => &["1125", "011"],
        "1100" => &["1100", "256"],
        _ => return None,
    })
}

/// TAS reported by another agency than their identifiers say: (from, to, TAS).
const MOVED_TAS: &[(&str, &str, &str)] = &[("020", "070", "020-X-5688-000")];

fn sql_list(items: &[&str]) -> String {
    // Only constants of this file go here; request values are bound.
    items
        .iter()
        .map(|i| format!("'{i}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The SQL condition selecting an agency's TAS (parameter `:code`): by ATA,
/// else (ATA empty) by AID or FR entity, with the broker's groupings and
/// exceptions; TAS moved to another agency are left out, TAS moved to this
/// one are added.
fn agency_filter(c: &TasColumns, code: &str) -> String {
    let frec_given = is_frec_code(code);
    let grouped = grouped_identifiers(code);
    let mut any = Vec::new();
    any.push(match grouped {
        Some(ids) => format!("{} IN ({})", c.ata, sql_list(ids)),
        None => format!("{} = :code", c.ata),
    });
    let no_ata = format!("{} IS NULL", c.ata);
    any.push(match (code, grouped) {
        ("097" | "020" | "077" | "089", Some(ids)) => {
            format!("({no_ata} AND {} IN ({}))", c.aid, sql_list(ids))
        }
        ("1100", _) => format!(
            "({no_ata} AND ({} = '256' OR {} = '1100'))",
            c.aid, c.fr_entity_type
        ),
        _ if !frec_given => format!("({no_ata} AND {} = :code)", c.aid),
        _ => format!("({no_ata} AND {} = :code)", c.fr_entity_type),
    });
    if !frec_given {
        // AID 011 TAS of a FREC under this CGAC.
        any.push(format!(
            "({no_ata} AND {} = '011' AND {} IN (SELECT frec_code FROM frec WHERE cgac_code = :code))",
            c.aid, c.fr_entity_type
        ));
    }
    let added: Vec<&str> = MOVED_TAS
        .iter()
        .filter(|(_, to, _)| *to == code)
        .map(|(_, _, tas)| *tas)
        .collect();
    if !added.is_empty() {
        any.push(format!(
            "upper({}) IN ({})",
            c.display_tas,
            sql_list(&added)
        ));
    }
    let mut filter = format!("({})", any.join(" OR "));
    let removed: Vec<&str> = MOVED_TAS
        .iter()
        .filter(|(from, _, _)| *from == code)
        .map(|(_, _, tas)| *tas)
        .collect();
    if !removed.is_empty() {
        filter.push_str(&format!(
            " AND upper({}) NOT IN ({})",
            c.display_tas,
            sql_list(&removed)
        ));
    }
    filter
}

// ---------------------------------------------------------------------------
// File A.

/// Which SF-133 lines a File A column sums.
#[derive(Debug, Clone, Copy)]
enum Lines {
    Any(&'static [i64]),
    /// Lines 1010 up to 1042 (fiscal years to 2020) or 1067 (from 2021).
    Adjustments,
}

/// The summed columns of File A, in file order.
const A_SUMS: [(&str, Lines); 13] = [
    ("total_budgetary_resources_cpe", Lines::Any(&[1910])),
    (
        "budget_authority_appropria_cpe",
        Lines::Any(&[1160, 1180, 1260, 1280]),
    ),
    ("budget_authority_unobligat_fyb", Lines::Any(&[1000])),
    ("adjustments_to_unobligated_cpe", Lines::Adjustments),
    (
        "other_budgetary_resources_cpe",
        Lines::Any(&[1540, 1640, 1340, 1440, 1750, 1850]),
    ),
    ("contract_authority_amount_cpe", Lines::Any(&[1540, 1640])),
    ("borrowing_authority_amount_cpe", Lines::Any(&[1340, 1440])),
    ("spending_authority_from_of_cpe", Lines::Any(&[1750, 1850])),
    ("status_of_budgetary_resour_cpe", Lines::Any(&[2500])),
    ("obligations_incurred_total_cpe", Lines::Any(&[2190])),
    ("gross_outlay_amount_by_tas_cpe", Lines::Any(&[3020])),
    ("unobligated_balance_cpe", Lines::Any(&[2490])),
    ("deobligations_recoveries_r_cpe", Lines::Any(&[1021, 1033])),
];

impl Lines {
    fn holds(self, line: i64, year: i32) -> bool {
        match self {
            Lines::Any(lines) => lines.contains(&line),
            Lines::Adjustments => (1010..=if year <= 2020 { 1042 } else { 1067 }).contains(&line),
        }
    }
}

/// Where the GTASStatus column comes from for a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusSource {
    /// No submission window for the period, or no failed edits recorded
    /// for it: the column is empty.
    Blank,
    /// The period's window has not opened yet.
    WindowOpen,
    /// Each TAS's most serious fatal failed edit of the period.
    FailedEdits,
}

fn status_source(conn: &Connection, fp: FiscalPeriod) -> anyhow::Result<StatusSource> {
    let window: Option<Option<String>> = conn
        .query_row(
            "SELECT period_start FROM submission_window_schedule WHERE year = ?1 AND period = ?2",
            (fp.year, fp.period),
            |r| r.get(0),
        )
        .optional()?;
    let Some(start) = window else {
        return Ok(StatusSource::Blank);
    };
    if start.is_some_and(|start| start > now_timestamp()) {
        return Ok(StatusSource::WindowOpen);
    }
    let has_edits: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM tas_failed_edits WHERE fiscal_year = ?1 AND period = ?2)",
        (fp.year, fp.period),
        |r| r.get(0),
    )?;
    Ok(if has_edits {
        StatusSource::FailedEdits
    } else {
        StatusSource::Blank
    })
}

/// The query of File A's rows: one row per SF-133 line of the agency's
/// TAS, with its TAS parts and status, ordered by TAS and status.
fn file_a_query(source: StatusSource, code: &str) -> String {
    let (with, join, status) = match source {
        StatusSource::Blank => ("", "", "NULL"),
        StatusSource::WindowOpen => ("", "", "'GTAS window open'"),
        StatusSource::FailedEdits => (
            // The most serious tier of each TAS's fatal edits: failed,
            // then passed required edits, pending, certified, other.
            "WITH ranked AS (
                 SELECT tas, severity, approved_override_exists, atb_submission_status,
                        row_number() OVER (PARTITION BY tas ORDER BY
                            CASE atb_submission_status
                                WHEN 'F' THEN 1 WHEN 'E' THEN 2 WHEN 'P' THEN 3 WHEN 'C' THEN 4
                                ELSE 5 END,
                            tas_failed_edits_id) AS tier_rank
                 FROM tas_failed_edits
                 WHERE upper(severity) = 'FATAL' AND fiscal_year = :year AND period = :period),
             worst AS (SELECT * FROM ranked WHERE tier_rank = 1)",
            "LEFT JOIN worst f ON f.tas = s.tas",
            "CASE
                 WHEN upper(f.severity) = 'FATAL' AND f.approved_override_exists = 0
                     THEN 'failed fatal edit - no override'
                 WHEN f.atb_submission_status = 'F' AND f.approved_override_exists = 1
                     THEN 'failed fatal edit - override'
                 WHEN f.atb_submission_status = 'E' AND f.approved_override_exists = 1
                     THEN 'passed required edits - override'
                 WHEN f.atb_submission_status = 'P' AND f.approved_override_exists = 1
                     THEN 'pending certification - override'
                 WHEN f.atb_submission_status = 'C' AND f.approved_override_exists = 1
                     THEN 'certified - override'
                 WHEN f.severity IS NOT NULL THEN 'passed required edits - override'
                 ELSE 'passed required edits' END",
        ),
    };
    let filter = agency_filter(
        &TasColumns {
            ata: "s.allocation_transfer_agency",
            aid: "s.agency_identifier",
            fr_entity_type: "l.fr_entity_type",
            display_tas: "s.display_tas",
        },
        code,
    );
    format!(
        "{with}
         SELECT s.allocation_transfer_agency, s.agency_identifier, s.beginning_period_of_availa,
                s.ending_period_of_availabil, s.availability_type_code, s.main_account_code,
                s.sub_account_code, {status} AS gtas_status, s.line, s.amount
         FROM sf_133 s
         JOIN tas_lookup l ON l.tas = s.tas
         {join}
         WHERE s.fiscal_year = :year AND s.period = :period
           AND coalesce(l.financial_indicator2, '') <> 'F'
           AND {filter}
         ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST, 4 NULLS LAST, 5 NULLS LAST,
                  6 NULLS LAST, 7 NULLS LAST, 8 NULLS LAST"
    )
}

/// A File A group: the 7 TAS parts and the GTAS status.
type ATasKey = [Option<String>; 8];

/// One File A row: TAS parts, the 13 sums, the status.
fn write_a_row(
    out: &mut PgCsv<BufWriter<File>>,
    key: &ATasKey,
    sums: &[Decimal; 13],
) -> anyhow::Result<()> {
    for part in &key[..7] {
        out.field(field(part)).context(Failure::Disk)?;
    }
    for sum in sums {
        out.field(Some(sum.to_string().as_bytes()))
            .context(Failure::Disk)?;
    }
    out.field(field(&key[7])).context(Failure::Disk)?;
    out.end_row().context(Failure::Disk)
}

/// Writes File A for a request (agency code and the period's dates).
pub fn write_file_a(
    conn: &Connection,
    req: &GenerationRequest,
    columns: &[Column],
    path: &Path,
    stop: &AtomicBool,
) -> anyhow::Result<Written> {
    let fp = req.fiscal_period()?;
    let sums_in_layout = columns
        .get(7..20)
        .is_some_and(|cols| cols.iter().zip(&A_SUMS).all(|(c, (s, _))| c.source == *s));
    if !sums_in_layout || columns.len() != 21 {
        anyhow::bail!("the File A layout does not match its sums");
    }
    let headers: Vec<&str> = columns.iter().map(|c| c.header.as_str()).collect();
    let mut out = create_csv(path, b',', &headers)?;
    let sql = file_a_query(status_source(conn, fp)?, &req.agency_code);
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = run(
        &mut stmt,
        &[
            (":year", &fp.year),
            (":period", &fp.period),
            (":code", &req.agency_code),
        ],
    )?;
    // The current TAS (7 parts and status) and its sums.
    let mut current: Option<(ATasKey, [Decimal; 13])> = None;
    let mut written = 0i64;
    let mut lines = 0u64;
    while let Some(row) = rows.next()? {
        let line: i64 = row.get(8)?;
        let value = amount(row.get_ref(9)?, "An SF-133 amount")?
            .ok_or_else(|| data("An SF-133 line has no amount"))?;
        // Rows come ordered by TAS: a key is made only where the TAS changes.
        let same = current.as_ref().is_some_and(|(key, _)| {
            key.iter()
                .enumerate()
                .all(|(i, part)| row.get_ref(i).is_ok_and(|v| is_part(v, part)))
        });
        if !same {
            if let Some((key, sums)) = current.take() {
                write_a_row(&mut out, &key, &sums)?;
                written += 1;
            }
            let key = std::array::from_fn(|i| row.get_ref(i).ok().and_then(text));
            current = Some((key, [Decimal::ZERO; 13]));
        }
        if let Some((_, sums)) = current.as_mut() {
            for ((_, lines_of), sum) in A_SUMS.iter().zip(sums.iter_mut()) {
                let add = if lines_of.holds(line, fp.year) {
                    value
                } else {
                    Decimal::ZERO
                };
                *sum = sum.checked_add(add).map_err(overflow)?;
            }
        }
        lines += 1;
        if lines.is_multiple_of(4096) && stop.load(Ordering::Relaxed) {
            return Err(Failure::Interrupted.into());
        }
    }
    if let Some((key, sums)) = current.take() {
        write_a_row(&mut out, &key, &sums)?;
        written += 1;
    }
    drop(rows);
    finish_csv(out, written)
}

// ---------------------------------------------------------------------------
// The BOC comparison.

/// The File B amounts compared, in the broker's order: (column, USSGL, B/E).
const FILE_B_USSGLS: [&str; 22] = [
    "ussgl480100_undelivered_or_cpe",
    "ussgl480100_undelivered_or_fyb",
    "ussgl480110_rein_undel_ord_cpe",
    "ussgl480200_undelivered_or_cpe",
    "ussgl480200_undelivered_or_fyb",
    "ussgl483100_undelivered_or_cpe",
    "ussgl483200_undelivered_or_cpe",
    "ussgl487100_downward_adjus_cpe",
    "ussgl487200_downward_adjus_cpe",
    "ussgl488100_upward_adjustm_cpe",
    "ussgl488200_upward_adjustm_cpe",
    "ussgl490100_delivered_orde_cpe",
    "ussgl490100_delivered_orde_fyb",
    "ussgl490110_rein_deliv_ord_cpe",
    "ussgl490200_delivered_orde_cpe",
    "ussgl490800_authority_outl_cpe",
    "ussgl490800_authority_outl_fyb",
    "ussgl493100_delivered_orde_cpe",
    "ussgl497100_downward_adjus_cpe",
    "ussgl497200_downward_adjus_cpe",
    "ussgl498100_upward_adjustm_cpe",
    "ussgl498200_upward_adjustm_cpe",
];

/// The USSGL numbers GTAS rows are taken for: every USSGL column of the
/// published File B table (which has two the comparison does not unpivot,
/// so their GTAS balances show with no File B side).
const GTAS_USSGLS: [&str; 20] = [
    "480100", "480110", "480200", "480210", "483100", "483200", "487100", "487200", "488100",
    "488200", "490100", "490110", "490200", "490800", "493100", "497100", "497200", "497210",
    "498100", "498200",
];

fn ussgl_number(column: &str) -> &str {
    &column[5..11]
}

fn begin_end(column: &str) -> &'static str {
    if column.ends_with("_fyb") { "B" } else { "E" }
}

/// A File B group: display TAS, 7 TAS parts, DEFC, object class (4
/// characters), direct/reimbursable, PYA ('' when none).
type FileBKey = [Option<String>; 12];

struct FileBGroup {
    sums: [Sum; 22],
    row_numbers: Vec<Option<i64>>,
}

/// A GTAS group: display TAS, 7 TAS parts, DEFC, budget object class,
/// reimbursable flag, begin/end, PYA ('' when none), USSGL.
type GtasKey = [Option<String>; 14];

/// The published File B of the submission, summed per group.
fn file_b_groups(
    conn: &Connection,
    submission_id: SubmissionId,
) -> anyhow::Result<BTreeMap<FileBKey, FileBGroup>> {
    let sql = format!(
        "SELECT b.display_tas, b.allocation_transfer_agency, b.agency_identifier,
                b.beginning_period_of_availa, b.ending_period_of_availabil,
                b.availability_type_code, b.main_account_code, b.sub_account_code,
                b.disaster_emergency_fund_code,
                CASE WHEN b.object_class IS NULL THEN NULL
                     ELSE substr(b.object_class || '0000', 1, 4) END,
                b.by_direct_reimbursable_fun, coalesce(upper(b.prior_year_adjustment), ''),
                b.row_number, {}
         FROM published_object_class_program_activity b
         JOIN tas_lookup t ON upper(t.display_tas) = upper(b.display_tas)
         WHERE b.submission_id = ?1 AND coalesce(upper(t.financial_indicator2), '') <> 'F'",
        FILE_B_USSGLS
            .iter()
            .map(|c| format!("b.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([submission_id.0])?;
    let mut groups: BTreeMap<FileBKey, FileBGroup> = BTreeMap::new();
    while let Some(row) = rows.next()? {
        let key: FileBKey = std::array::from_fn(|i| row.get_ref(i).ok().and_then(text));
        let group = groups.entry(key).or_insert_with(|| FileBGroup {
            sums: [Sum::default(); 22],
            row_numbers: Vec::new(),
        });
        group.row_numbers.push(row.get(12)?);
        for (i, sum) in group.sums.iter_mut().enumerate() {
            if let Some(value) = amount(row.get_ref(13 + i)?, "A File B amount")? {
                sum.add(value).map_err(overflow)?;
            }
        }
    }
    Ok(groups)
}

/// The agency's GTAS BOC balances of the period, summed per group
/// (debits added, credits subtracted).
fn gtas_groups(
    conn: &Connection,
    fp: FiscalPeriod,
    code: &str,
) -> anyhow::Result<BTreeMap<GtasKey, Sum>> {
    let filter = agency_filter(
        &TasColumns {
            ata: "t.allocation_transfer_agency",
            aid: "t.agency_identifier",
            fr_entity_type: "t.fr_entity_type",
            display_tas: "t.display_tas",
        },
        code,
    );
    let sql = format!(
        "SELECT g.display_tas, g.allocation_transfer_agency, g.agency_identifier,
                g.beginning_period_of_availa, g.ending_period_of_availabil,
                g.availability_type_code, g.main_account_code, g.sub_account_code,
                g.disaster_emergency_fund_code, g.budget_object_class, g.reimbursable_flag,
                g.begin_end, coalesce(upper(g.prior_year_adjustment_code), ''), g.ussgl_number,
                g.dollar_amount, g.debit_credit
         FROM gtas_boc g
         WHERE g.fiscal_year = :year AND g.period = :period AND g.ussgl_number IN ({})
           AND EXISTS (SELECT 1 FROM tas_lookup t
                       WHERE t.display_tas = g.display_tas
                         AND coalesce(upper(t.financial_indicator2), '') <> 'F'
                         AND {filter})",
        sql_list(&GTAS_USSGLS)
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = run(
        &mut stmt,
        &[
            (":year", &fp.year),
            (":period", &fp.period),
            (":code", &code),
        ],
    )?;
    let mut groups: BTreeMap<GtasKey, Sum> = BTreeMap::new();
    while let Some(row) = rows.next()? {
        let key: GtasKey = std::array::from_fn(|i| row.get_ref(i).ok().and_then(text));
        let sum = groups.entry(key).or_default();
        if let Some(value) = amount(row.get_ref(14)?, "A GTAS BOC amount")? {
            let debit = matches!(row.get_ref(15)?, ValueRef::Text(b"D"));
            sum.add(if debit { value } else { value.negated() })
                .map_err(overflow)?;
        }
    }
    Ok(groups)
}

/// One line of the comparison, in file order.
struct BocLine {
    /// TAS, its 7 parts, object class, D/R, DEFC, PYA, begin/end, USSGL.
    keys: [Option<String>; 14],
    gtas: Decimal,
    broker: Decimal,
    file_b_rows: Option<String>,
}

/// Postgres's text of an integer array (`{2,3}`, `{NULL}`).
fn pg_int_array(items: &[Option<i64>]) -> String {
    let inner: Vec<String> = items
        .iter()
        .map(|i| i.map_or_else(|| "NULL".to_string(), |n| n.to_string()))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Writes the BOC comparison for a request (agency code and the period's dates).
pub fn write_boc_comparison(
    conn: &Connection,
    req: &GenerationRequest,
    columns: &[Column],
    path: &Path,
    stop: &AtomicBool,
) -> anyhow::Result<Written> {
    let fp = req.fiscal_period()?;
    let code = req.agency_code.as_str();
    let submission_id =
        submissions::published_for_period(conn, code, i64::from(fp.year), i64::from(fp.period))?
            .ok_or_else(|| {
                data(crate::base::messages::no_published_submission_or_boc_data(
                    true, false,
                ))
            })?;
    let file_b = file_b_groups(conn, submission_id)?;
    if stop.load(Ordering::Relaxed) {
        return Err(Failure::Interrupted.into());
    }
    let gtas = gtas_groups(conn, fp, code)?;

    let mut lines = join_sides(&file_b, &gtas);
    // NULLs last, bytewise, then by amount: a stable order for equal keys.
    lines.sort_by(|a, b| {
        let key = |l: &BocLine| {
            (
                l.keys.clone().map(|k| (k.is_none(), k)),
                l.gtas.to_string(),
                l.broker.to_string(),
            )
        };
        key(a).cmp(&key(b))
    });
    let headers: Vec<&str> = columns.iter().map(|c| c.header.as_str()).collect();
    if columns.len() != 20 {
        anyhow::bail!("the BOC layout does not match the comparison");
    }
    let mut out = create_csv(path, b',', &headers)?;
    let (year, period) = (fp.year.to_string(), fp.period.to_string());
    for line in &lines {
        for key in &line.keys[..13] {
            out.field(field(key)).context(Failure::Disk)?;
        }
        out.field(Some(year.as_bytes())).context(Failure::Disk)?;
        out.field(Some(period.as_bytes())).context(Failure::Disk)?;
        out.field(field(&line.keys[13])).context(Failure::Disk)?;
        let diff = line.gtas.checked_sub(line.broker).map_err(overflow)?;
        for amount in [line.gtas, line.broker, diff] {
            out.field(Some(amount.to_string().as_bytes()))
                .context(Failure::Disk)?;
        }
        out.field(field(&line.file_b_rows)).context(Failure::Disk)?;
        out.end_row().context(Failure::Disk)?;
    }
    finish_csv(out, lines.len() as i64)
}

fn field(value: &Option<String>) -> Option<&[u8]> {
    value.as_deref().map(str::as_bytes)
}

/// The broker's full outer join of the unpivoted File B lines and the GTAS
/// groups, on TAS, DEFC, object class, direct/reimbursable, begin/end,
/// USSGL and PYA (SQL equality: a NULL part matches nothing), keeping the
/// lines where either side is not zero.
fn join_sides(
    file_b: &BTreeMap<FileBKey, FileBGroup>,
    gtas: &BTreeMap<GtasKey, Sum>,
) -> Vec<BocLine> {
    let mut by_match: HashMap<[&str; 7], Vec<&GtasKey>> = HashMap::new();
    for key in gtas.keys() {
        let parts = [
            &key[0], &key[8], &key[9], &key[10], &key[11], &key[13], &key[12],
        ];
        if parts.iter().all(|p| p.is_some()) {
            by_match
                .entry(parts.map(|p| p.as_deref().unwrap_or_default()))
                .or_default()
                .push(key);
        }
    }
    let nonzero = |d: Option<Decimal>| d.is_some_and(|d| !d.is_zero());
    let mut matched: HashSet<&GtasKey> = HashSet::new();
    let mut lines = Vec::new();
    for (b, group) in file_b {
        // The broker's lateral unpivot joins on these parts: a group with
        // one of them NULL has no lines.
        if [&b[0], &b[8], &b[9], &b[10]].iter().any(|p| p.is_none()) {
            continue;
        }
        let mut row_numbers = group.row_numbers.clone();
        row_numbers.sort_by_key(|n| (n.is_none(), *n));
        let row_numbers = pg_int_array(&row_numbers);
        for (column, sum) in FILE_B_USSGLS.iter().zip(&group.sums) {
            let (ussgl, be) = (ussgl_number(column), begin_end(column));
            let text = |i: usize| b[i].as_deref().unwrap_or_default();
            let parts = [text(0), text(8), text(9), text(10), be, ussgl, text(11)];
            let found: Vec<Option<&GtasKey>> = match by_match.get(&parts) {
                None => vec![None],
                Some(keys) => keys.iter().copied().map(Some).collect(),
            };
            for g in found {
                let gtas_sum = g.and_then(|g| gtas[g].0);
                if let Some(g) = g {
                    matched.insert(g);
                }
                if !nonzero(sum.0) && !nonzero(gtas_sum) {
                    continue;
                }
                let pick =
                    |bi: usize, gi: usize| b[bi].clone().or_else(|| g.and_then(|g| g[gi].clone()));
                lines.push(BocLine {
                    keys: [
                        pick(0, 0),
                        pick(1, 1),
                        pick(2, 2),
                        pick(3, 3),
                        pick(4, 4),
                        pick(5, 5),
                        pick(6, 6),
                        pick(7, 7),
                        pick(9, 9),
                        pick(10, 10),
                        pick(8, 8),
                        pick(11, 12),
                        Some(be.to_string()),
                        Some(ussgl.to_string()),
                    ],
                    gtas: gtas_sum.unwrap_or(Decimal::ZERO),
                    broker: sum.0.unwrap_or(Decimal::ZERO),
                    file_b_rows: Some(row_numbers.clone()),
                });
            }
        }
    }
    for (g, sum) in gtas {
        if matched.contains(g) || !nonzero(sum.0) {
            continue;
        }
        lines.push(BocLine {
            keys: [
                g[0].clone(),
                g[1].clone(),
                g[2].clone(),
                g[3].clone(),
                g[4].clone(),
                g[5].clone(),
                g[6].clone(),
                g[7].clone(),
                g[9].clone(),
                g[10].clone(),
                g[8].clone(),
                g[12].clone(),
                g[11].clone(),
                g[13].clone(),
            ],
            gtas: sum.0.unwrap_or(Decimal::ZERO),
            broker: Decimal::ZERO,
            file_b_rows: None,
        });
    }
    lines
}
