//! The file-level check of a generated D1/D2 file inside a submission: re-read
//! the stored file (with `csvscan`, which counts fields without copying
//! them), check the header and every row's field count, and load the
//! submission's award rows that E and F read. Rows are staged first and
//! swapped in by the transaction that records the result, so a validation
//! that a newer request overtook leaves no row behind.

use super::csvscan::{RowScanner, ScanError};
use crate::base::domain::FileType;
use crate::base::ids::SubmissionId;
use crate::files::layouts::Column;
use crate::files::spec::{AwardLoad, spec};
use rusqlite::{Connection, Transaction, params_from_iter};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};

use super::Failure;

/// Rows per transaction while staging (checks the stop flag between).
const ROWS_PER_BATCH: usize = 5_000;
/// Rows per `INSERT` statement while staging (ROWS_PER_BATCH is a multiple).
const ROWS_PER_INSERT: usize = 100;

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    Valid {
        rows: i64,
        bytes: i64,
    },
    /// A file-level error, worded for the user.
    Invalid(String),
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    bytes: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

/// The layout of a validated file type and where its award rows go.
fn award_target(file_type: FileType) -> anyhow::Result<(&'static [Column], AwardLoad)> {
    let spec = spec(file_type);
    match spec.validation {
        Some(load) => Ok((spec.columns(), load)),
        None => anyhow::bail!("{file_type} files have no file-level validation"),
    }
}

/// Checks a stored D file (header, every row's field count, size) and stages
/// its award rows in this connection's temporary table, without touching
/// the submission's rows: [`replace_award_rows`] swaps them in later, in the
/// transaction that decides whether this validation still counts.
pub fn check_and_stage(
    conn: &mut Connection,
    file: Box<dyn Read + Send>,
    file_type: FileType,
    delimiter: u8,
    stop: &AtomicBool,
) -> anyhow::Result<Checked> {
    let (columns, load) = award_target(file_type)?;
    let key_at = columns.iter().position(|c| c.source == "unique_award_key");
    let uei_at = columns.iter().position(|c| c.source == load.uei_source);
    let (Some(key_at), Some(uei_at)) = (key_at, uei_at) else {
        anyhow::bail!("the {file_type} layout lacks its award key columns");
    };
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS staged_award_rows (unique_award_key TEXT, uei TEXT);
         DELETE FROM temp.staged_award_rows;",
    )?;
    let mut counting = Counting {
        inner: file,
        bytes: 0,
    };
    let every_field: Vec<usize> = (0..columns.len()).collect();
    let mut scanner = RowScanner::new(&mut counting, delimiter, &every_field);
    let unreadable =
        || Checked::Invalid(format!("The generated {file_type} file could not be read"));
    let header = match scanner.next_row() {
        Ok(Some(header)) => header,
        Ok(None) => {
            return Ok(Checked::Invalid(format!(
                "The generated {file_type} file is empty"
            )));
        }
        Err(e) => return scan_failure(e, unreadable),
    };
    let header_ok = header.fields == columns.len()
        && header
            .chosen
            .iter()
            .zip(columns.iter())
            .all(|(got, col)| got.as_deref() == Some(col.header.as_bytes()));
    if !header_ok {
        return Ok(Checked::Invalid(format!(
            "The header row of the generated {file_type} file does not match the {file_type} file layout"
        )));
    }
    scanner.choose(&[key_at, uei_at]);
    let mut rows = 0i64;
    // Award rows are staged a batch of rows per statement.
    let many = format!(
        "INSERT INTO temp.staged_award_rows (unique_award_key, uei) VALUES {}",
        vec!["(?, ?)"; ROWS_PER_INSERT].join(", ")
    );
    let mut pending: Vec<Option<String>> = Vec::with_capacity(ROWS_PER_INSERT * 2);
    loop {
        // Writes to the temporary table take no lock on the database.
        let tx = conn.transaction()?;
        let mut in_batch = 0;
        let mut ended = false;
        while in_batch < ROWS_PER_BATCH {
            let row = match scanner.next_row() {
                Ok(Some(row)) => row,
                Ok(None) => {
                    ended = true;
                    break;
                }
                Err(e) => return scan_failure(e, unreadable),
            };
            rows += 1;
            if row.fields != columns.len() {
                return Ok(Checked::Invalid(format!(
                    "Row {rows} of the generated {file_type} file has {} fields; the layout has {}",
                    row.fields,
                    columns.len()
                )));
            }
            for value in row.chosen {
                let text = value.map(|v| String::from_utf8_lossy(&v).into_owned());
                pending.push(text.filter(|t| !t.is_empty()));
            }
            if pending.len() == ROWS_PER_INSERT * 2 {
                tx.prepare_cached(&many)?
                    .execute(params_from_iter(pending.drain(..)))?;
            }
            in_batch += 1;
        }
        for pair in pending.chunks(2) {
            tx.prepare_cached(
                "INSERT INTO temp.staged_award_rows (unique_award_key, uei) VALUES (?1, ?2)",
            )?
            .execute(params_from_iter(pair))?;
        }
        pending.clear();
        tx.commit()?;
        if ended {
            break;
        }
        if stop.load(Ordering::Relaxed) {
            return Err(Failure::Interrupted.into());
        }
    }
    drop(scanner);
    Ok(Checked::Valid {
        rows,
        bytes: counting.bytes as i64,
    })
}

/// A file that ends inside quotes is invalid; one that cannot be read from
/// storage is a storage failure (retried), not a fault of the file.
fn scan_failure(err: ScanError, unreadable: impl Fn() -> Checked) -> anyhow::Result<Checked> {
    match err {
        ScanError::UnclosedQuote => Ok(unreadable()),
        ScanError::Io(e) => Err(anyhow::Error::new(e).context(Failure::Storage)),
    }
}

/// Replaces the submission's award rows with the staged ones (none when the
/// file was invalid), inside the caller's transaction.
pub fn replace_award_rows(
    tx: &Transaction<'_>,
    file_type: FileType,
    submission_id: SubmissionId,
    valid: bool,
) -> anyhow::Result<()> {
    let table = award_target(file_type)?.1.table;
    // The table name comes from the file type's spec, never from input.
    tx.execute(
        &format!("DELETE FROM {table} WHERE submission_id = ?1"),
        [submission_id],
    )?;
    if valid {
        tx.execute(
            &format!(
                "INSERT INTO {table} (submission_id, unique_award_key, awardee_or_recipient_uei)
                 SELECT ?1, unique_award_key, uei FROM temp.staged_award_rows ORDER BY rowid"
            ),
            [submission_id],
        )?;
    }
    Ok(())
}

/// Empties this connection's staging table.
pub fn clear_staged(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS staged_award_rows (unique_award_key TEXT, uei TEXT);
         DELETE FROM temp.staged_award_rows;",
    )
}
