//! Queries on `jobs`.

use crate::domain::{FileType, JobStatus, JobType, column_enum};
use rusqlite::{Connection, OptionalExtension, params};

/// The fields of a job the status routes need.
#[derive(Debug, Clone)]
pub struct Job {
    pub job_id: i64,
    pub submission_id: Option<i64>,
    pub job_type: JobType,
    /// `None` for the cross-file job and for types broker-lite does not generate.
    pub file_type: Option<FileType>,
    pub job_status: JobStatus,
    pub filename: Option<String>,
    pub file_size: Option<i64>,
    pub number_of_errors: i64,
    pub error_message: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub updated_at: String,
}

const JOB_COLUMNS: &str = "job_id, submission_id, job_type, file_type, job_status, filename, \
     file_size, number_of_errors, error_message, start_date, end_date, updated_at";

fn job_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Job> {
    let file_type: Option<String> = row.get(3)?;
    Ok(Job {
        job_id: row.get(0)?,
        submission_id: row.get(1)?,
        job_type: column_enum(row, 2, JobType::parse)?,
        file_type: file_type.as_deref().and_then(FileType::parse),
        job_status: column_enum(row, 4, JobStatus::parse)?,
        filename: row.get(5)?,
        file_size: row.get(6)?,
        number_of_errors: row.get(7)?,
        error_message: row.get(8)?,
        start_date: row.get(9)?,
        end_date: row.get(10)?,
        updated_at: row.get(11)?,
    })
}

pub fn find_job(conn: &Connection, job_id: i64) -> rusqlite::Result<Option<Job>> {
    conn.prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = ?1"))?
        .query_row(params![job_id], job_from_row)
        .optional()
}

/// The submission's job of the given type for a file (the first, should
/// there be several).
pub fn find_submission_job(
    conn: &Connection,
    submission_id: i64,
    file_type: FileType,
    job_type: JobType,
) -> rusqlite::Result<Option<Job>> {
    conn.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs
         WHERE submission_id = ?1 AND file_type = ?2 AND job_type = ?3
         ORDER BY job_id LIMIT 1"
    ))?
    .query_row(
        params![submission_id, file_type.as_str(), job_type.as_str()],
        job_from_row,
    )
    .optional()
}

/// Saves the message chosen by the status mapping. Leaves `updated_at` alone:
/// reading a status never changes `generated_at`.
pub fn save_error_message(conn: &Connection, job_id: i64, message: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE jobs SET error_message = ?2 WHERE job_id = ?1")?
        .execute(params![job_id, message])?;
    Ok(())
}
