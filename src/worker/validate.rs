//! The file-level check of a generated D1/D2 file inside a submission: re-read
//! the stored file, check the header and every row's field count, and load
//! the submission's award rows that E and F read. Rows are staged first and
//! swapped in by the transaction that records the result, so a validation
//! that a newer request overtook leaves no row behind.

use crate::base::domain::FileType;
use crate::base::ids::SubmissionId;
use crate::files::layouts::Column;
use crate::files::spec::{AwardLoad, spec};
use rusqlite::{Connection, Transaction, params};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};

use super::Failure;

/// Rows per statement batch while staging (checks the stop flag between).
const ROWS_PER_BATCH: usize = 5_000;

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
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(&mut counting);
    let mut record = csv::ByteRecord::new();
    let unreadable =
        || Checked::Invalid(format!("The generated {file_type} file could not be read"));
    match reader.read_byte_record(&mut record) {
        Ok(true) => {}
        Ok(false) => {
            return Ok(Checked::Invalid(format!(
                "The generated {file_type} file is empty"
            )));
        }
        Err(_) => return Ok(unreadable()),
    }
    let header_ok = record.len() == columns.len()
        && record
            .iter()
            .zip(columns.iter())
            .all(|(got, col)| got == col.header.as_bytes());
    if !header_ok {
        return Ok(Checked::Invalid(format!(
            "The header row of the generated {file_type} file does not match the {file_type} file layout"
        )));
    }
    let mut rows = 0i64;
    loop {
        // Writes to the temporary table take no lock on the database.
        let tx = conn.transaction()?;
        let mut in_batch = 0;
        let mut ended = false;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO temp.staged_award_rows (unique_award_key, uei) VALUES (?1, ?2)",
            )?;
            while in_batch < ROWS_PER_BATCH {
                match reader.read_byte_record(&mut record) {
                    Ok(true) => {}
                    Ok(false) => {
                        ended = true;
                        break;
                    }
                    Err(_) => return Ok(unreadable()),
                }
                rows += 1;
                if record.len() != columns.len() {
                    return Ok(Checked::Invalid(format!(
                        "Row {rows} of the generated {file_type} file has {} fields; the layout has {}",
                        record.len(),
                        columns.len()
                    )));
                }
                let text = |i: usize| {
                    let field = String::from_utf8_lossy(&record[i]).into_owned();
                    (!field.is_empty()).then_some(field)
                };
                stmt.execute(params![text(key_at), text(uei_at)])?;
                in_batch += 1;
            }
        }
        tx.commit()?;
        if ended {
            break;
        }
        if stop.load(Ordering::Relaxed) {
            return Err(Failure::Interrupted.into());
        }
    }
    drop(reader);
    Ok(Checked::Valid {
        rows,
        bytes: counting.bytes as i64,
    })
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
