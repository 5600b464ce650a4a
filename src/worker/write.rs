//! Streams a file's rows from SQLite into a CSV or pipe-delimited file: one
//! row in memory at a time, buffered output, no allocation per field. The
//! query comes from the file type's `Source`.

use super::Failure;
use super::pgcsv::PgCsv;
use crate::base::ids::SubmissionId;
use crate::base::pgtext;
use crate::base::timefmt::{format_iso_date, parse_iso_date};
use crate::db::file_generation::GenerationRequest;
use crate::files::layouts::Column;
use crate::files::spec::{FileSpec, Source};
use anyhow::Context;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, Params};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub rows: i64,
    pub bytes: i64,
}

/// Which rows a file holds: a cached request's, or a submission's.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Request(&'a GenerationRequest),
    Submission(SubmissionId),
}

fn select_list(alias: &str, columns: &[Column]) -> String {
    // Column names come from the embedded DAIMS layouts, never from a request.
    columns
        .iter()
        .map(|c| format!("{alias}.\"{}\"", c.source))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes the file of `spec` for `scope` to `path`.
pub fn write_file(
    conn: &Connection,
    spec: &FileSpec,
    scope: Scope<'_>,
    path: &Path,
    stop: &AtomicBool,
) -> anyhow::Result<Written> {
    let columns = spec.columns();
    match (spec.source, scope) {
        (
            Source::AgencyDateRange {
                table,
                id_column,
                active_only,
            },
            Scope::Request(req),
        ) => {
            let agency_column = format!("{}_agency_code", req.agency_type);
            let active = if active_only {
                " AND t.is_active = 1"
            } else {
                ""
            };
            // Action dates may be timestamps: a row dated on the end date at any
            // time of day is in, so the range ends before the next day.
            let sql = format!(
                "SELECT {} FROM {table} t
                 WHERE t.{agency_column} = ?1 AND t.action_date >= ?2 AND t.action_date < ?3{active}
                 ORDER BY t.action_date, t.{id_column}",
                select_list("t", columns)
            );
            let headers: Vec<&str> = columns
                .iter()
                .map(
                    |c| match (&c.header_with_element_number, req.element_numbers) {
                        (Some(numbered), true) => numbered.as_str(),
                        _ => c.header.as_str(),
                    },
                )
                .collect();
            let day_after_end = parse_iso_date(&req.end)
                .and_then(|d| d.next_day())
                .map(format_iso_date)
                .ok_or_else(|| anyhow::anyhow!("bad end date {:?}", req.end))?;
            let params = (&req.agency_code, &req.start, &day_after_end);
            let target = Target {
                delimiter: req.file_format.delimiter(),
                path,
                stop,
            };
            write_rows(conn, &sql, params, columns, &headers, target)
        }
        (Source::SubmissionRecipients, Scope::Submission(submission_id)) => {
            let sql = format!(
                "WITH ueis AS (
                     SELECT awardee_or_recipient_uei AS uei FROM award_procurement
                      WHERE submission_id = ?1 AND awardee_or_recipient_uei IS NOT NULL
                     UNION
                     SELECT awardee_or_recipient_uei FROM award_financial_assistance
                      WHERE submission_id = ?1 AND awardee_or_recipient_uei IS NOT NULL)
                 SELECT {} FROM ueis u
                 JOIN sam_recipient s ON s.sam_recipient_id =
                     (SELECT MAX(sam_recipient_id) FROM sam_recipient WHERE uei = u.uei)
                 ORDER BY u.uei",
                select_list("s", columns)
            );
            write_submission_csv(conn, &sql, submission_id, columns, path, stop)
        }
        (Source::SubmissionSubawards, Scope::Submission(submission_id)) => {
            let sql = format!(
                "SELECT {} FROM subaward s
                 WHERE (s.subaward_type = 'sub-contract' AND s.unique_award_key IN
                         (SELECT unique_award_key FROM award_procurement WHERE submission_id = ?1))
                    OR (s.subaward_type = 'sub-grant' AND s.unique_award_key IN
                         (SELECT unique_award_key FROM award_financial_assistance WHERE submission_id = ?1))
                 ORDER BY s.subaward_id",
                select_list("s", columns)
            );
            write_submission_csv(conn, &sql, submission_id, columns, path, stop)
        }
        (Source::GtasBudgetary, Scope::Request(req)) => {
            super::gtas::write_file_a(conn, req, columns, path, stop)
        }
        (Source::GtasBocComparison, Scope::Request(req)) => {
            super::gtas::write_boc_comparison(conn, req, columns, path, stop)
        }
        (source, scope) => anyhow::bail!(
            "a {} file ({source:?}) cannot be written for {scope:?}",
            spec.file_type
        ),
    }
}

/// A file of a submission: a query on the submission id, the layout's headers, CSV.
fn write_submission_csv(
    conn: &Connection,
    sql: &str,
    submission_id: SubmissionId,
    columns: &[Column],
    path: &Path,
    stop: &AtomicBool,
) -> anyhow::Result<Written> {
    let headers: Vec<&str> = columns.iter().map(|c| c.header.as_str()).collect();
    let target = Target {
        delimiter: b',',
        path,
        stop,
    };
    write_rows(conn, sql, [submission_id], columns, &headers, target)
}

/// The date part of a stored date or timestamp as `YYYYMMDD`, as the
/// broker's `to_char(cast(col as date), 'YYYYMMDD')`; `None` for other text.
fn compact_date(text: &[u8], buf: &mut [u8; 8]) -> Option<()> {
    let date = pgtext::date_part(text)?;
    buf[..4].copy_from_slice(&date[..4]);
    buf[4..6].copy_from_slice(&date[5..7]);
    buf[6..].copy_from_slice(&date[8..]);
    Some(())
}

/// Where and how rows are written, and the flag that interrupts writing.
struct Target<'a> {
    delimiter: u8,
    path: &'a Path,
    stop: &'a AtomicBool,
}

fn write_rows(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    columns: &[Column],
    headers: &[&str],
    target: Target<'_>,
) -> anyhow::Result<Written> {
    let Target {
        delimiter,
        path,
        stop,
    } = target;
    let mut out = create_csv(path, delimiter, headers)?;
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query(params)?;
    let mut count = 0i64;
    let (mut date_buf, mut number) = ([0u8; 8], itoa::Buffer::new());
    while let Some(row) = rows.next()? {
        for (i, column) in columns.iter().enumerate() {
            let real;
            let field: Option<&[u8]> = match row.get_ref(i)? {
                ValueRef::Null => None,
                ValueRef::Text(text) if column.yyyymmdd => {
                    match compact_date(text, &mut date_buf) {
                        Some(()) => Some(&date_buf),
                        None => Some(text),
                    }
                }
                ValueRef::Text(bytes) | ValueRef::Blob(bytes) => Some(bytes),
                ValueRef::Integer(n) => Some(number.format(n).as_bytes()),
                ValueRef::Real(f) => {
                    real = f.to_string();
                    Some(real.as_bytes())
                }
            };
            out.field(field).context(Failure::Disk)?;
        }
        out.end_row().context(Failure::Disk)?;
        count += 1;
        if count % 4096 == 0 && stop.load(Ordering::Relaxed) {
            return Err(Failure::Interrupted.into());
        }
    }
    finish_csv(out, count)
}

/// A new file at `path` with its header row written.
pub(super) fn create_csv(
    path: &Path,
    delimiter: u8,
    headers: &[&str],
) -> anyhow::Result<PgCsv<BufWriter<File>>> {
    let file = File::create(path).context(Failure::Disk)?;
    let mut out = PgCsv::new(BufWriter::with_capacity(1 << 20, file), delimiter);
    out.row(headers.iter().copied()).context(Failure::Disk)?;
    Ok(out)
}

/// Flushes and syncs a file of `rows` rows; what was written.
pub(super) fn finish_csv(out: PgCsv<BufWriter<File>>, rows: i64) -> anyhow::Result<Written> {
    let mut buffered = out.into_inner();
    buffered.flush().context(Failure::Disk)?;
    let file = buffered
        .into_inner()
        .map_err(|e| anyhow::anyhow!("{}", e.error()))
        .context(Failure::Disk)?;
    file.sync_all().context(Failure::Disk)?;
    let bytes = file.metadata().context(Failure::Disk)?.len();
    Ok(Written {
        rows,
        bytes: bytes as i64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::domain::{AgencyType, FileFormat, FileType};
    use crate::db::in_memory;
    use crate::files::spec;

    fn request(format: FileFormat) -> GenerationRequest {
        GenerationRequest {
            file_type: FileType::D1,
            start: "2020-01-01".into(),
            end: "2020-01-31".into(),
            agency_code: "097".into(),
            agency_type: AgencyType::Awarding,
            file_format: format,
            element_numbers: false,
        }
    }

    #[test]
    fn d1_rows_are_quoted_dated_and_filtered() {
        let conn = in_memory();
        conn.execute_batch(
            "INSERT INTO detached_award_procurement (detached_award_proc_unique, piid, action_date,
                 awarding_agency_code, award_description)
             VALUES ('k1', 'P,1', '2020-01-31', '097', 'say \"hi\"
next line'),
                    ('k2', 'P2', '2020-02-01', '097', 'late'),
                    ('k3', 'P3', '2020-01-01', '020', 'other agency'),
                    ('k4', 'P|4', '2020-01-01', '097', NULL);",
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d1.csv");
        let csv = request(FileFormat::Csv);
        let d1 = spec(FileType::D1);
        let written = write_file(
            &conn,
            d1,
            Scope::Request(&csv),
            &path,
            &AtomicBool::new(false),
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            written,
            Written {
                rows: 2,
                bytes: text.len() as i64
            }
        );
        let lines: Vec<&str> = text.split('\n').collect();
        assert!(lines[0].starts_with("ContractTransactionUniqueKey,PrimeAwardUniqueKey,PIID,"));
        assert!(lines[1].starts_with("k4,,P|4,"), "{}", lines[1]);
        assert!(text.contains("k1,,\"P,1\","));
        assert!(text.contains("\"say \"\"hi\"\"\nnext line\""));
        assert!(text.contains(",20200131,"));
        assert!(!text.contains("2020-01-31"));

        let txt = dir.path().join("d1.txt");
        let pipes = request(FileFormat::Txt);
        write_file(
            &conn,
            d1,
            Scope::Request(&pipes),
            &txt,
            &AtomicBool::new(false),
        )
        .unwrap();
        assert!(
            write_file(
                &conn,
                d1,
                Scope::Submission(SubmissionId(1)),
                &txt,
                &AtomicBool::new(false)
            )
            .is_err(),
            "a D1 file is made for a request, not a submission"
        );
        let text = std::fs::read_to_string(&txt).unwrap();
        assert!(text.starts_with("ContractTransactionUniqueKey|PrimeAwardUniqueKey|PIID|"));
        assert!(text.contains("k4||\"P|4\"|"));
        assert!(text.contains("k1||P,1|"));
    }
}
