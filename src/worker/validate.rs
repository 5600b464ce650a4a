//! The file-level check of a generated D1/D2 file inside a submission: re-read
//! the stored file, check the header and every row's field count, and load
//! the submission's award rows that E and F read.

use crate::columns::layouts;
use crate::domain::FileType;
use rusqlite::{Connection, TransactionBehavior, params};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};

use super::Failure;

/// Rows per write transaction while loading award rows (keeps writers short).
const ROWS_PER_TRANSACTION: usize = 5_000;

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

/// Checks a stored D file and replaces the submission's award rows with its rows.
pub fn check_and_load(
    conn: &mut Connection,
    file: Box<dyn Read + Send>,
    file_type: FileType,
    delimiter: u8,
    submission_id: i64,
    stop: &AtomicBool,
) -> anyhow::Result<Checked> {
    let l = layouts();
    let (columns, table, uei_source) = match file_type {
        FileType::D1 => (&l.d1, "award_procurement", "awardee_or_recipient_uei"),
        _ => (&l.d2, "award_financial_assistance", "uei"),
    };
    let key_at = columns.iter().position(|c| c.source == "unique_award_key");
    let uei_at = columns.iter().position(|c| c.source == uei_source);
    let (Some(key_at), Some(uei_at)) = (key_at, uei_at) else {
        anyhow::bail!("the {file_type} layout lacks its award key columns");
    };
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
    delete_award_rows(conn, table, submission_id)?;
    let insert = format!(
        "INSERT INTO {table} (submission_id, unique_award_key, awardee_or_recipient_uei) VALUES (?1, ?2, ?3)"
    );
    let mut rows = 0i64;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut in_batch = 0;
        let mut ended = false;
        {
            let mut stmt = tx.prepare_cached(&insert)?;
            while in_batch < ROWS_PER_TRANSACTION {
                match reader.read_byte_record(&mut record) {
                    Ok(true) => {}
                    Ok(false) => {
                        ended = true;
                        break;
                    }
                    Err(_) => {
                        drop(stmt);
                        drop(tx);
                        delete_award_rows(conn, table, submission_id)?;
                        return Ok(unreadable());
                    }
                }
                rows += 1;
                if record.len() != columns.len() {
                    drop(stmt);
                    drop(tx);
                    delete_award_rows(conn, table, submission_id)?;
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
                stmt.execute(params![submission_id, text(key_at), text(uei_at)])?;
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

fn delete_award_rows(conn: &Connection, table: &str, submission_id: i64) -> rusqlite::Result<()> {
    conn.execute(
        &format!("DELETE FROM {table} WHERE submission_id = ?1"),
        [submission_id],
    )?;
    Ok(())
}
