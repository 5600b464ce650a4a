//! Streams a file's rows from SQLite into a CSV or pipe-delimited file: a
//! few batches of rows in memory at a time, buffered output, no allocation
//! per field. The query comes from the file type's `Source`; a large D file
//! is read by two connections at once, one half of its date range each.

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
use rusqlite::{Connection, OptionalExtension, Params};
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
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
            let target = Target {
                delimiter: req.file_format.delimiter(),
                path,
                stop,
            };
            let range = DateRange {
                table,
                agency_column: &agency_column,
                agency: &req.agency_code,
                start: &req.start,
                day_after_end: &day_after_end,
            };
            write_date_range(conn, &sql, range, columns, &headers, target)
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
    let (out, count) = stream_rows(conn, sql, params, columns, out, &[stop])?;
    finish_csv(out, count)
}

/// The rows of a D file: an agency's, dated from `start` to before
/// `day_after_end`. The file's query binds them as `?1`, `?2`, `?3`.
#[derive(Clone, Copy)]
struct DateRange<'a> {
    table: &'a str,
    agency_column: &'a str,
    agency: &'a str,
    start: &'a str,
    day_after_end: &'a str,
}

/// Below this many rows a D file is read on one connection: a second one
/// would cost more to start than it saves.
const TWO_READERS_FROM_ROWS: i64 = 20_000;

/// Writes a D file. A large one is read in two halves of its date range at
/// once, on two connections reading the same snapshot, so that both cores
/// step SQLite (the reading, not the writing, limits a D file); the second
/// half goes to an unnamed temporary file appended after the first.
fn write_date_range(
    conn: &Connection,
    sql: &str,
    range: DateRange<'_>,
    columns: &[Column],
    headers: &[&str],
    target: Target<'_>,
) -> anyhow::Result<Written> {
    let DateRange {
        table,
        agency_column,
        agency,
        start,
        day_after_end,
    } = range;
    let whole = (agency, start, day_after_end);
    // Names come from the file type's spec and the request's checked agency
    // type, never from input. The count and the middle read the index only.
    let rows: i64 = conn.query_row(
        &format!(
            "SELECT COUNT(*) FROM {table} t
             WHERE t.{agency_column} = ?1 AND t.action_date >= ?2 AND t.action_date < ?3"
        ),
        whole,
        |r| r.get(0),
    )?;
    let db_path = conn.path().filter(|p| !p.is_empty());
    let (Some(db_path), true) = (db_path, rows >= TWO_READERS_FROM_ROWS) else {
        return write_rows(conn, sql, whole, columns, headers, target);
    };
    let second = crate::db::open(Path::new(db_path))?;
    let first = same_snapshot(conn, &second, db_path)?;
    let middle = middle_date(&first, &range, rows / 2)?;
    match middle {
        Some(middle) => {
            let halves = [
                (agency, start, middle.as_str()),
                (agency, middle.as_str(), day_after_end),
            ];
            write_rows_in_halves(&first, second, sql, halves, columns, headers, target)
        }
        None => write_rows(&first, sql, whole, columns, headers, target),
    }
}

/// The action date `offset` rows into the range, by the index, if later
/// than its start: the second half starts there (every row of that date is
/// in it, so each half keeps the file's order).
fn middle_date(
    conn: &Connection,
    range: &DateRange<'_>,
    offset: i64,
) -> anyhow::Result<Option<String>> {
    let DateRange {
        table,
        agency_column,
        agency,
        start,
        day_after_end,
    } = *range;
    let middle: Option<String> = conn
        .query_row(
            &format!(
                "SELECT t.action_date FROM {table} t
                 WHERE t.{agency_column} = ?1 AND t.action_date >= ?2 AND t.action_date < ?3
                 ORDER BY t.action_date LIMIT 1 OFFSET ?4"
            ),
            (agency, start, day_after_end, offset),
            |r| r.get(0),
        )
        .optional()?;
    Ok(middle.filter(|m| m.as_str() > start))
}

/// Starts a read transaction on `first` and on `second` in the same
/// snapshot: a third connection holds the write lock (for a moment) while
/// both take their first read, so no commit can fall between them.
fn same_snapshot<'c>(
    first: &'c Connection,
    second: &Connection,
    db_path: &str,
) -> anyhow::Result<rusqlite::Transaction<'c>> {
    let lock = crate::db::open(Path::new(db_path))?;
    lock.execute_batch("BEGIN IMMEDIATE")?;
    let tx = first.unchecked_transaction()?;
    let first_read = "SELECT COUNT(*) FROM sqlite_schema";
    tx.query_row(first_read, [], |_| Ok(()))?;
    second.execute_batch("BEGIN")?;
    second.query_row(first_read, [], |_| Ok(()))?;
    lock.execute_batch("ROLLBACK")?;
    Ok(tx)
}

/// Writes the first half's rows on this thread (with `first`) and the
/// second half's on another (with `second`, already in its read
/// transaction) into a temporary file, then appends that to the file.
fn write_rows_in_halves<P: Params + Send>(
    first: &Connection,
    second: Connection,
    sql: &str,
    halves: [P; 2],
    columns: &[Column],
    headers: &[&str],
    target: Target<'_>,
) -> anyhow::Result<Written> {
    let Target {
        delimiter,
        path,
        stop,
    } = target;
    let [first_half, second_half] = halves;
    // Either half failing stops the other; its own error is the one reported.
    let failed = &AtomicBool::new(false);
    let noting = move |result: anyhow::Result<(Output, i64)>| {
        if result.is_err() {
            failed.store(true, Ordering::Relaxed);
        }
        result
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let spool = tempfile::tempfile_in(dir).context(Failure::Disk)?;
    std::thread::scope(|scope| {
        let later = scope.spawn(move || {
            let out = PgCsv::new(BufWriter::with_capacity(1 << 20, spool), delimiter);
            noting(stream_rows(
                &second,
                sql,
                second_half,
                columns,
                out,
                &[stop, failed],
            ))
        });
        let earlier = create_csv(path, delimiter, headers).and_then(|out| {
            noting(stream_rows(
                first,
                sql,
                first_half,
                columns,
                out,
                &[stop, failed],
            ))
        });
        let later = later
            .join()
            .map_err(|_| anyhow::anyhow!("the second half's reader panicked"))?;
        let ((out, first_rows), (spooled, second_rows)) = match (earlier, later) {
            (Ok(earlier), Ok(later)) => (earlier, later),
            (Err(e), Err(other)) if matches!(e.downcast_ref(), Some(Failure::Interrupted)) => {
                return Err(other);
            }
            (Err(e), _) | (_, Err(e)) => return Err(e),
        };
        let mut spooled = unbuffer(spooled)?;
        spooled.seek(SeekFrom::Start(0)).context(Failure::Disk)?;
        let mut out = out.into_inner();
        out.flush().context(Failure::Disk)?;
        std::io::copy(&mut spooled, out.get_mut()).context(Failure::Disk)?;
        finish_csv(PgCsv::new(out, delimiter), first_rows + second_rows)
    })
}

/// Streams the rows of `sql` into `out`; `out` and the number of rows.
fn stream_rows(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    columns: &[Column],
    out: Output,
    stops: &[&AtomicBool],
) -> anyhow::Result<(Output, i64)> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query(params)?;
    let (full, to_write) = mpsc::sync_channel::<Batch>(BATCHES_AHEAD);
    let (spent, to_reuse) = mpsc::channel::<Batch>();
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || write_batches(out, columns, to_write, spent));
        let read = read_batches(&mut rows, columns.len(), full, to_reuse, stops);
        // The writer stops at the end of the batches (or at its first error).
        let written = writer
            .join()
            .map_err(|_| anyhow::anyhow!("the file writer panicked"))?;
        let count = read?;
        let out = written.context(Failure::Disk)?;
        Ok((out, count))
    })
}

/// Reads every row into batches and sends them to the writer; the number of
/// rows. Ends early, without error, when the writer has stopped.
fn read_batches(
    rows: &mut rusqlite::Rows<'_>,
    width: usize,
    full: mpsc::SyncSender<Batch>,
    to_reuse: mpsc::Receiver<Batch>,
    stops: &[&AtomicBool],
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
        if count % 4096 == 0 && stops.iter().any(|stop| stop.load(Ordering::Relaxed)) {
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

/// A file being written as CSV (or pipe-delimited) rows.
pub(super) type Output = PgCsv<BufWriter<File>>;

/// A new file at `path` with its header row written.
pub(super) fn create_csv(path: &Path, delimiter: u8, headers: &[&str]) -> anyhow::Result<Output> {
    let file = File::create(path).context(Failure::Disk)?;
    let mut out = PgCsv::new(BufWriter::with_capacity(1 << 20, file), delimiter);
    out.row(headers.iter().copied()).context(Failure::Disk)?;
    Ok(out)
}

/// The file under a writer, everything written to it.
fn unbuffer(out: Output) -> anyhow::Result<File> {
    out.into_inner()
        .into_inner()
        .map_err(|e| anyhow::anyhow!("{}", e.error()))
        .context(Failure::Disk)
}

/// Flushes and syncs a file of `rows` rows; what was written.
pub(super) fn finish_csv(out: Output, rows: i64) -> anyhow::Result<Written> {
    let file = unbuffer(out)?;
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

    /// Writes the D1 file of `req` to `path`: its row count and its text,
    /// whose length is the byte count reported.
    fn write_d1(conn: &Connection, req: &GenerationRequest, path: &Path) -> (i64, String) {
        let stop = AtomicBool::new(false);
        let written =
            write_file(conn, spec(FileType::D1), Scope::Request(req), path, &stop).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(written.bytes, text.len() as i64);
        (written.rows, text)
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
        let (rows, text) = write_d1(&conn, &csv, &path);
        assert_eq!(rows, 2);
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

    /// A database file (two readers need one) with `rows` D1 rows of agency
    /// 097 over January 2020, some with a time of day, and a few of others.
    fn d1_database(rows: usize) -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open_migrated(&dir.path().join("broker.db")).unwrap();
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
             INSERT INTO detached_award_procurement
                 (detached_award_proc_unique, piid, action_date, awarding_agency_code)
             SELECT 'k' || i, 'P,' || i,
                    printf('2020-01-%02d', 1 + (i * 7919) % 31) || CASE WHEN i % 3 = 0 THEN ' 12:00:00' ELSE '' END,
                    CASE WHEN i % 1000 = 0 THEN '020' ELSE '097' END
               FROM n",
            [rows],
        )
        .unwrap();
        (dir, conn)
    }

    #[test]
    fn a_large_d_file_read_in_two_halves_keeps_every_row_in_order_once() {
        let (dir, conn) = d1_database(30_000);
        let (d1, csv) = (spec(FileType::D1), request(FileFormat::Csv));
        let day_after_end = "2020-02-01";
        let range = DateRange {
            table: "detached_award_procurement",
            agency_column: "awarding_agency_code",
            agency: "097",
            start: &csv.start,
            day_after_end,
        };
        // This file is read in two halves, split in mid-January.
        let middle = middle_date(&conn, &range, 29_970 / 2).unwrap().unwrap();
        assert!(
            middle.as_str() > "2020-01-10" && middle.as_str() < "2020-01-22",
            "{middle}"
        );

        let path = dir.path().join("d1.csv");
        let (rows, text) = write_d1(&conn, &csv, &path);
        assert_eq!(rows, 29_970);
        let expected: Vec<String> = conn
            .prepare(
                "SELECT detached_award_proc_unique FROM detached_award_procurement
                 WHERE awarding_agency_code = '097'
                 ORDER BY action_date, detached_award_procurement_id",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("ContractTransactionUniqueKey,"));
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.starts_with("ContractTransactionUniqueKey,"))
                .count(),
            1
        );
        let keys: Vec<&str> = lines[1..]
            .iter()
            .map(|l| l.split(',').next().unwrap())
            .collect();
        assert_eq!(keys, expected);
        // The same bytes as one reader writes.
        let one = dir.path().join("one.csv");
        let sql = format!(
            "SELECT {} FROM detached_award_procurement t
             WHERE t.awarding_agency_code = ?1 AND t.action_date >= ?2 AND t.action_date < ?3
             ORDER BY t.action_date, t.detached_award_procurement_id",
            select_list("t", d1.columns())
        );
        let headers: Vec<&str> = d1.columns().iter().map(|c| c.header.as_str()).collect();
        let stop = AtomicBool::new(false);
        let target = Target {
            delimiter: b',',
            path: &one,
            stop: &stop,
        };
        write_rows(
            &conn,
            &sql,
            ("097", csv.start.as_str(), day_after_end),
            d1.columns(),
            &headers,
            target,
        )
        .unwrap();
        assert!(std::fs::read(&one).unwrap() == text.as_bytes());

        let err = write_file(
            &conn,
            d1,
            Scope::Request(&csv),
            &path,
            &AtomicBool::new(true),
        )
        .unwrap_err();
        assert!(
            matches!(Failure::of(&err), Some(Failure::Interrupted)),
            "{err:#}"
        );
        let err = write_file(
            &conn,
            d1,
            Scope::Request(&csv),
            Path::new("/dev/full"),
            &stop,
        )
        .unwrap_err();
        assert!(matches!(Failure::of(&err), Some(Failure::Disk)), "{err:#}");
    }

    #[test]
    fn two_readers_start_in_one_snapshot_and_leave_writers_free() {
        let (dir, first) = d1_database(10);
        let db_path = dir.path().join("broker.db");
        let second = crate::db::open(&db_path).unwrap();
        let tx = same_snapshot(&first, &second, db_path.to_str().unwrap()).unwrap();
        // The write lock is free again: another connection commits at once.
        let writer = crate::db::open(&db_path).unwrap();
        writer.busy_timeout(std::time::Duration::ZERO).unwrap();
        writer
            .execute(
                "DELETE FROM detached_award_procurement WHERE detached_award_proc_unique = 'k1'",
                [],
            )
            .unwrap();
        // Neither reader sees that commit.
        let count = "SELECT COUNT(*) FROM detached_award_procurement";
        let seen = |conn: &Connection| conn.query_row(count, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!((seen(&tx), seen(&second)), (10, 10));
        assert_eq!(seen(&writer), 9);
    }
}
