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
use std::sync::mpsc;

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

/// Rows per batch handed from the reading thread to the writing one.
const ROWS_PER_BATCH: usize = 256;
/// Batches read ahead of the writer (memory stays a few MiB).
const BATCHES_AHEAD: usize = 4;
/// The end offset recorded for a NULL field.
const NULL_FIELD: usize = usize::MAX;

/// Rows read from SQLite and not yet written: their fields' bytes back to
/// back, and for each field where it ends in `bytes` (or [`NULL_FIELD`]).
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    rows: usize,
}

impl Batch {
    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.rows = 0;
    }

    fn push(&mut self, field: Option<&[u8]>) {
        match field {
            Some(bytes) => {
                self.bytes.extend_from_slice(bytes);
                self.ends.push(self.bytes.len());
            }
            None => self.ends.push(NULL_FIELD),
        }
    }
}

/// Writes the rows of `sql` to a new file: this thread steps SQLite and
/// copies each row's fields into a batch; a second thread formats the
/// batches as CSV and writes them, so reading and writing share the cores.
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
    let out = create_csv(path, delimiter, headers)?;
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query(params)?;
    let (full, to_write) = mpsc::sync_channel::<Batch>(BATCHES_AHEAD);
    let (spent, to_reuse) = mpsc::channel::<Batch>();
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || write_batches(out, columns, to_write, spent));
        let read = read_batches(&mut rows, columns.len(), full, to_reuse, stop);
        // The writer stops at the end of the batches (or at its first error).
        let written = writer
            .join()
            .map_err(|_| anyhow::anyhow!("the file writer panicked"))?;
        let count = read?;
        let out = written.context(Failure::Disk)?;
        finish_csv(out, count)
    })
}

/// Reads every row into batches and sends them to the writer; the number of
/// rows. Ends early, without error, when the writer has stopped.
fn read_batches(
    rows: &mut rusqlite::Rows<'_>,
    width: usize,
    full: mpsc::SyncSender<Batch>,
    to_reuse: mpsc::Receiver<Batch>,
    stop: &AtomicBool,
) -> anyhow::Result<i64> {
    let mut count = 0i64;
    let mut number = itoa::Buffer::new();
    let mut batch = Batch::default();
    while let Some(row) = rows.next()? {
        for i in 0..width {
            match row.get_ref(i)? {
                ValueRef::Null => batch.push(None),
                ValueRef::Text(bytes) | ValueRef::Blob(bytes) => batch.push(Some(bytes)),
                ValueRef::Integer(n) => batch.push(Some(number.format(n).as_bytes())),
                ValueRef::Real(f) => batch.push(Some(f.to_string().as_bytes())),
            }
        }
        batch.rows += 1;
        count += 1;
        if batch.rows == ROWS_PER_BATCH {
            let mut next = to_reuse.try_recv().unwrap_or_default();
            next.clear();
            if full.send(std::mem::replace(&mut batch, next)).is_err() {
                return Ok(count); // the writer failed; its error is the one to report
            }
        }
        if count % 4096 == 0 && stop.load(Ordering::Relaxed) {
            return Err(Failure::Interrupted.into());
        }
    }
    if batch.rows > 0 {
        let _ = full.send(batch);
    }
    Ok(count)
}

/// Writes the batches as CSV rows until the reader is done; the file,
/// still to be finished.
fn write_batches(
    mut out: PgCsv<BufWriter<File>>,
    columns: &[Column],
    to_write: mpsc::Receiver<Batch>,
    spent: mpsc::Sender<Batch>,
) -> std::io::Result<PgCsv<BufWriter<File>>> {
    let mut date_buf = [0u8; 8];
    for batch in to_write {
        let mut start = 0;
        for row in batch.ends.chunks_exact(columns.len()) {
            for (&end, column) in row.iter().zip(columns) {
                let field = if end == NULL_FIELD {
                    None
                } else {
                    let text = &batch.bytes[start..end];
                    start = end;
                    match column.yyyymmdd && compact_date(text, &mut date_buf).is_some() {
                        true => Some(&date_buf[..]),
                        false => Some(text),
                    }
                };
                out.field(field)?;
            }
            out.end_row()?;
        }
        let _ = spent.send(batch);
    }
    Ok(out)
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
    fn rows_go_through_in_order_and_a_full_disk_or_a_stop_fails_the_file() {
        let conn = in_memory();
        // Enough rows for many batches and for the stop check (every 4096 rows).
        conn.execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
             INSERT INTO detached_award_procurement
                 (detached_award_proc_unique, piid, action_date, awarding_agency_code)
             SELECT 'k' || i, 'P' || (5001 - i), '2020-01-' || (10 + i % 2), '097' FROM n;",
        )
        .unwrap();
        let (d1, csv) = (spec(FileType::D1), request(FileFormat::Csv));
        let write = |path: &Path, stop: bool| {
            let stop = AtomicBool::new(stop);
            write_file(&conn, d1, Scope::Request(&csv), path, &stop)
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d1.csv");
        assert_eq!(write(&path, false).unwrap().rows, 5000);
        let text = std::fs::read_to_string(&path).unwrap();
        let keys: Vec<&str> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap())
            .collect();
        // By action date, then by id: the even rows (the 10th) first.
        let even = (1..=5000).filter(|i| i % 2 == 0);
        let odd = (1..=5000).filter(|i| i % 2 == 1);
        let expected: Vec<String> = even.chain(odd).map(|i| format!("k{i}")).collect();
        assert_eq!(keys, expected);

        let err = write(Path::new("/dev/full"), false).unwrap_err();
        assert!(matches!(Failure::of(&err), Some(Failure::Disk)), "{err:#}");
        let err = write(&path, true).unwrap_err();
        assert!(
            matches!(Failure::of(&err), Some(Failure::Interrupted)),
            "{err:#}"
        );
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
