//! The file-level check of a generated D1/D2 file inside a submission: re-read
//! the stored file (with `csvscan`, which counts fields without copying
//! them), check the header and every row's field count, and load the
//! submission's award rows that E and F read. One thread reads the file
//! while the caller's thread inserts its rows, inside the caller's
//! transaction: the rows appear together with the result, or not at all.

use super::csvscan::{RowScanner, ScanError};
use crate::base::domain::FileType;
use crate::base::ids::SubmissionId;
use crate::files::layouts::Column;
use crate::files::spec::{AwardLoad, spec};
use rusqlite::{Connection, Transaction};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use super::Failure;

/// Rows per message from the reading thread, and per `INSERT` statement.
const ROWS_PER_INSERT: usize = 100;
/// Messages the reading thread may run ahead of the inserts.
const BATCHES_AHEAD: usize = 16;

/// One row's award key and recipient UEI (`None` when empty).
type AwardRow = [Option<String>; 2];

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

/// Checks a stored D file (header, every row's field count, size) and, in
/// the caller's transaction, replaces the submission's award rows with the
/// file's rows; an invalid file leaves the submission with none.
pub fn check_and_load(
    tx: &Transaction<'_>,
    file: Box<dyn Read + Send>,
    file_type: FileType,
    submission_id: SubmissionId,
    delimiter: u8,
    stop: &AtomicBool,
) -> anyhow::Result<Checked> {
    let (columns, load) = award_target(file_type)?;
    let key_at = columns.iter().position(|c| c.source == "unique_award_key");
    let uei_at = columns.iter().position(|c| c.source == load.uei_source);
    let (Some(key_at), Some(uei_at)) = (key_at, uei_at) else {
        anyhow::bail!("the {file_type} layout lacks its award key columns");
    };
    delete_award_rows(tx, load, submission_id)?;
    let (to_insert, batches) = mpsc::sync_channel::<Vec<AwardRow>>(BATCHES_AHEAD);
    let layout = Layout {
        file_type,
        columns,
        delimiter,
        award_fields: [key_at, uei_at],
    };
    let checked = std::thread::scope(|scope| {
        let reader = scope.spawn(move || scan_file(file, &layout, to_insert));
        // Returns once the reader is done (or at the first failed insert,
        // which also stops the reader).
        let inserted = insert_rows(tx, load, submission_id, batches, stop);
        let scanned = reader
            .join()
            .map_err(|_| anyhow::anyhow!("the file reader panicked"))?;
        inserted?;
        scanned
    })?;
    if let Checked::Invalid(_) = checked {
        delete_award_rows(tx, load, submission_id)?;
    }
    Ok(checked)
}

/// What the reading thread needs to know about the file.
struct Layout {
    file_type: FileType,
    columns: &'static [Column],
    delimiter: u8,
    /// Where the award key and the UEI are in a row.
    award_fields: [usize; 2],
}

/// Reads the file, sending each row's award fields to `to_insert`; what the
/// check found.
fn scan_file(
    file: Box<dyn Read + Send>,
    layout: &Layout,
    to_insert: mpsc::SyncSender<Vec<AwardRow>>,
) -> anyhow::Result<Checked> {
    let Layout {
        file_type,
        columns,
        delimiter,
        award_fields,
    } = layout;
    let mut counting = Counting {
        inner: file,
        bytes: 0,
    };
    let every_field: Vec<usize> = (0..columns.len()).collect();
    let mut scanner = RowScanner::new(&mut counting, *delimiter, &every_field);
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
    scanner.choose(award_fields);
    let mut rows = 0i64;
    let mut batch = Vec::with_capacity(ROWS_PER_INSERT);
    loop {
        let row = match scanner.next_row() {
            Ok(Some(row)) => row,
            Ok(None) => break,
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
        let mut fields = row.chosen.into_iter().map(|value| {
            let bytes = value.filter(|v| !v.is_empty())?;
            Some(
                String::from_utf8(bytes)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            )
        });
        batch.push([fields.next().flatten(), fields.next().flatten()]);
        if batch.len() == ROWS_PER_INSERT {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(ROWS_PER_INSERT));
            if to_insert.send(full).is_err() {
                anyhow::bail!("the award rows stopped being loaded");
            }
        }
    }
    if !batch.is_empty() && to_insert.send(batch).is_err() {
        anyhow::bail!("the award rows stopped being loaded");
    }
    drop(scanner);
    Ok(Checked::Valid {
        rows,
        bytes: counting.bytes as i64,
    })
}

/// Inserts the batches of award rows until the reader is done.
fn insert_rows(
    tx: &Transaction<'_>,
    load: AwardLoad,
    submission_id: SubmissionId,
    batches: mpsc::Receiver<Vec<AwardRow>>,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    // The table name comes from the file type's spec, never from input.
    let insert = |rows: usize| {
        let values: Vec<String> = (0..rows)
            .map(|i| format!("(?1, ?{}, ?{})", 2 * i + 2, 2 * i + 3))
            .collect();
        format!(
            "INSERT INTO {} (submission_id, unique_award_key, awardee_or_recipient_uei) VALUES {}",
            load.table,
            values.join(", ")
        )
    };
    let many = insert(ROWS_PER_INSERT);
    let one = insert(1);
    for batch in batches {
        if stop.load(Ordering::Relaxed) {
            return Err(Failure::Interrupted.into());
        }
        let groups = batch.chunks_exact(ROWS_PER_INSERT);
        let rest = groups.remainder();
        let sql_rows = groups
            .map(|g| (&many, g))
            .chain(rest.chunks(1).map(|g| (&one, g)));
        for (sql, group) in sql_rows {
            let mut stmt = tx.prepare_cached(sql)?;
            stmt.raw_bind_parameter(1, submission_id)?;
            for (i, [key, uei]) in group.iter().enumerate() {
                stmt.raw_bind_parameter(2 * i + 2, key)?;
                stmt.raw_bind_parameter(2 * i + 3, uei)?;
            }
            stmt.raw_execute()?;
        }
    }
    Ok(())
}

/// A file that ends inside quotes is invalid; one that cannot be read from
/// storage is a storage failure (retried), not a fault of the file.
fn scan_failure(err: ScanError, unreadable: impl Fn() -> Checked) -> anyhow::Result<Checked> {
    match err {
        ScanError::UnclosedQuote => Ok(unreadable()),
        ScanError::Io(e) => Err(anyhow::Error::new(e).context(Failure::Storage)),
    }
}

/// Deletes a submission's award rows of one validated file type.
fn delete_award_rows(
    conn: &Connection,
    load: AwardLoad,
    submission_id: SubmissionId,
) -> anyhow::Result<()> {
    // The table name comes from the file type's spec, never from input.
    conn.execute(
        &format!("DELETE FROM {} WHERE submission_id = ?1", load.table),
        [submission_id],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::in_memory;
    use crate::worker::pgcsv::PgCsv;

    /// A D1 file written as the generator writes it, with one row per
    /// `(key, uei)`; `bad_row` gives row N (1-based) another field count.
    fn d1_file(rows: &[(&str, &str)], delimiter: u8, bad_row: Option<(usize, usize)>) -> Vec<u8> {
        let columns = spec(FileType::D1).columns();
        let at = |source: &str| columns.iter().position(|c| c.source == source).unwrap();
        let (key_at, uei_at) = (at("unique_award_key"), at("awardee_or_recipient_uei"));
        let mut out = PgCsv::new(Vec::new(), delimiter);
        out.row(columns.iter().map(|c| c.header.as_str())).unwrap();
        for (n, (key, uei)) in rows.iter().enumerate() {
            let width = match bad_row {
                Some((row, width)) if row == n + 1 => width,
                _ => columns.len(),
            };
            for i in 0..width {
                // A UEI holds the delimiter, so it is quoted; an empty one
                // is NULL, and an empty key an empty string (`""`).
                let field = match i {
                    _ if i == key_at => Some(key.to_string()),
                    _ if i == uei_at && !uei.is_empty() => {
                        Some(format!("{uei}{}", char::from(delimiter)))
                    }
                    _ => None,
                };
                out.field(field.as_deref().map(str::as_bytes)).unwrap();
            }
            out.end_row().unwrap();
        }
        out.into_inner()
    }

    fn submission_with_rows(conn: &rusqlite::Connection, submission_id: i64, keys: &[&str]) {
        conn.execute(
            "INSERT INTO submissions (submission_id) VALUES (?1)",
            [submission_id],
        )
        .unwrap();
        for key in keys {
            conn.execute(
                "INSERT INTO award_procurement (submission_id, unique_award_key) VALUES (?1, ?2)",
                rusqlite::params![submission_id, key],
            )
            .unwrap();
        }
    }

    type Loaded = (Option<String>, Option<String>);

    fn award_rows(conn: &rusqlite::Connection, submission_id: i64) -> Vec<Loaded> {
        let mut stmt = conn
            .prepare(
                "SELECT unique_award_key, awardee_or_recipient_uei FROM award_procurement
                 WHERE submission_id = ?1 ORDER BY award_procurement_id",
            )
            .unwrap();
        stmt.query_map([submission_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn check(
        conn: &mut rusqlite::Connection,
        file: Vec<u8>,
        delimiter: u8,
        stop: bool,
    ) -> anyhow::Result<Checked> {
        let tx = conn.transaction().unwrap();
        let checked = check_and_load(
            &tx,
            Box::new(std::io::Cursor::new(file)),
            FileType::D1,
            SubmissionId(1),
            delimiter,
            &AtomicBool::new(stop),
        )?;
        tx.commit().unwrap();
        Ok(checked)
    }

    /// 250 rows: two full inserts of 100 and 50 single ones.
    fn many_rows() -> Vec<(String, String)> {
        (1..=250)
            .map(|i| (format!("CONT_AWD_{i}"), format!("UEI{i}")))
            .collect()
    }

    fn as_refs(rows: &[(String, String)]) -> Vec<(&str, &str)> {
        rows.iter().map(|(k, u)| (k.as_str(), u.as_str())).collect()
    }

    #[test]
    fn a_valid_file_replaces_the_submission_award_rows_with_its_own() {
        let mut conn = in_memory();
        submission_with_rows(&conn, 1, &["OLD_1", "OLD_2"]);
        submission_with_rows(&conn, 2, &["OTHER"]);
        let rows = many_rows();
        for delimiter in [b',', b'|'] {
            let mut with_empty = as_refs(&rows);
            with_empty[7] = ("CONT_AWD_8", "");
            with_empty[8] = ("", "UEI9");
            let file = d1_file(&with_empty, delimiter, None);
            let bytes = file.len() as i64;
            let checked = check(&mut conn, file, delimiter, false).unwrap();
            assert_eq!(checked, Checked::Valid { rows: 250, bytes });
            let loaded = award_rows(&conn, 1);
            assert_eq!(loaded.len(), 250);
            let d = char::from(delimiter);
            let row = |key: Option<&str>, uei: Option<String>| (key.map(String::from), uei);
            assert_eq!(loaded[0], row(Some("CONT_AWD_1"), Some(format!("UEI1{d}"))));
            assert_eq!(loaded[7], row(Some("CONT_AWD_8"), None));
            assert_eq!(loaded[8], row(None, Some(format!("UEI9{d}"))));
            assert_eq!(loaded[249].0.as_deref(), Some("CONT_AWD_250"));
        }
        assert_eq!(award_rows(&conn, 2), [(Some("OTHER".to_string()), None)]);
    }

    #[test]
    fn an_invalid_file_leaves_the_submission_without_award_rows() {
        let rows = many_rows();
        let width = spec(FileType::D1).columns().len();
        let mut wrong_header = d1_file(&as_refs(&rows), b',', None);
        wrong_header[0] = b'X';
        let cases = [
            (
                d1_file(&as_refs(&rows), b',', Some((230, 3))),
                format!("Row 230 of the generated D1 file has 3 fields; the layout has {width}"),
            ),
            (
                wrong_header,
                "The header row of the generated D1 file does not match the D1 file layout".into(),
            ),
            (Vec::new(), "The generated D1 file is empty".into()),
            (
                [d1_file(&as_refs(&rows), b',', None), b"\"open".to_vec()].concat(),
                "The generated D1 file could not be read".into(),
            ),
        ];
        for (file, message) in cases {
            let mut conn = in_memory();
            submission_with_rows(&conn, 1, &["OLD_1"]);
            submission_with_rows(&conn, 2, &["OTHER"]);
            let checked = check(&mut conn, file, b',', false).unwrap();
            assert_eq!(checked, Checked::Invalid(message));
            assert_eq!(award_rows(&conn, 1), []);
            assert_eq!(award_rows(&conn, 2).len(), 1);
        }
    }

    #[test]
    fn a_stopped_check_changes_nothing() {
        let mut conn = in_memory();
        submission_with_rows(&conn, 1, &["OLD_1"]);
        let file = d1_file(&as_refs(&many_rows()), b',', None);
        let err = check(&mut conn, file, b',', true).unwrap_err();
        assert!(
            matches!(Failure::of(&err), Some(Failure::Interrupted)),
            "{err:#}"
        );
        assert_eq!(award_rows(&conn, 1), [(Some("OLD_1".to_string()), None)]);
    }
}
