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
    pub file_generation_id: Option<i64>,
    pub user_id: Option<i64>,
}

const JOB_COLUMNS: &str = "job_id, submission_id, job_type, file_type, job_status, filename, \
     file_size, number_of_errors, error_message, start_date, end_date, updated_at, \
     file_generation_id, user_id";

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
        file_generation_id: row.get(12)?,
        user_id: row.get(13)?,
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

/// Prepares an upload job for a new generation: waiting, no file, no error.
pub fn start_generation(
    conn: &Connection,
    job_id: i64,
    dates: Option<(&str, &str)>,
    file_generation_id: Option<i64>,
    now: &str,
) -> rusqlite::Result<()> {
    let (start, end) = dates.unzip();
    conn.prepare_cached(
        "UPDATE jobs SET job_status = 'waiting', error_message = NULL, filename = NULL,
             original_filename = NULL, file_size = NULL, number_of_rows = NULL,
             number_of_errors = 0, number_of_warnings = 0,
             start_date = COALESCE(?2, start_date), end_date = COALESCE(?3, end_date),
             file_generation_id = ?4, updated_at = ?5
         WHERE job_id = ?1",
    )?
    .execute(params![job_id, start, end, file_generation_id, now])?;
    Ok(())
}

/// Sends a submission's D file validation job back to waiting, as the broker
/// does when the file is generated again.
pub fn reset_validation_job(
    conn: &Connection,
    submission_id: i64,
    file_type: FileType,
    start: &str,
    end: &str,
    now: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE jobs SET job_status = 'waiting', error_message = NULL, filename = NULL,
             original_filename = NULL, file_size = NULL, number_of_rows = NULL,
             number_of_errors = 0, number_of_warnings = 0, start_date = ?3, end_date = ?4,
             updated_at = ?5
         WHERE submission_id = ?1 AND file_type = ?2 AND job_type = 'csv_record_validation'",
    )?
    .execute(params![submission_id, file_type.as_str(), start, end, now])?;
    Ok(())
}

/// Sets the submission's cross-file validation job back to waiting.
pub fn reset_cross_file_job(
    conn: &Connection,
    submission_id: i64,
    now: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE jobs SET job_status = 'waiting', updated_at = ?2
         WHERE submission_id = ?1 AND job_type = 'validation' AND job_status <> 'waiting'",
    )?
    .execute(params![submission_id, now])?;
    Ok(())
}

/// How many jobs a generation must wait for: the A, B and C jobs for D1/D2,
/// the cross-file job for E/F; unfinished or with errors.
pub fn unfinished_prerequisites(
    conn: &Connection,
    submission_id: i64,
    file_type: FileType,
) -> rusqlite::Result<i64> {
    let filter = if file_type.is_d_file() {
        "file_type IN ('A', 'B', 'C')"
    } else {
        "job_type = 'validation'"
    };
    conn.prepare_cached(&format!(
        "SELECT COUNT(*) FROM jobs WHERE submission_id = ?1
           AND (job_status <> 'finished' OR number_of_errors > 0) AND {filter}"
    ))?
    .query_row(params![submission_id], |r| r.get(0))
}

pub fn set_status(
    conn: &Connection,
    job_id: i64,
    status: JobStatus,
    now: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE jobs SET job_status = ?2, updated_at = ?3 WHERE job_id = ?1")?
        .execute(params![job_id, status.as_str(), now])?;
    Ok(())
}

/// Marks an upload job finished with its stored file; a D job's validation
/// job points at the same file.
pub fn finish_upload(
    conn: &Connection,
    job: &Job,
    key: &str,
    file_name: &str,
    size: i64,
    rows: i64,
    now: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE jobs SET job_status = 'finished', filename = ?2, original_filename = ?3,
             file_size = ?4, number_of_rows = ?5, error_message = NULL, updated_at = ?6
         WHERE job_id = ?1",
    )?
    .execute(params![job.job_id, key, file_name, size, rows, now])?;
    if let (Some(submission_id), Some(file_type)) = (job.submission_id, job.file_type) {
        conn.prepare_cached(
            "UPDATE jobs SET filename = ?3, original_filename = ?4
             WHERE submission_id = ?1 AND file_type = ?2 AND job_type = 'csv_record_validation'",
        )?
        .execute(params![submission_id, file_type.as_str(), key, file_name])?;
    }
    Ok(())
}

/// Ends a job with a status and a message a user can act on.
pub fn fail(
    conn: &Connection,
    job_id: i64,
    status: JobStatus,
    message: &str,
    now: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE jobs SET job_status = ?2, error_message = ?3, updated_at = ?4 WHERE job_id = ?1",
    )?
    .execute(params![job_id, status.as_str(), message, now])?;
    Ok(())
}

/// Records a finished file-level validation.
pub fn finish_validation(
    conn: &Connection,
    job_id: i64,
    rows: i64,
    size: i64,
    now: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE jobs SET job_status = 'finished', number_of_rows = ?2, file_size = ?3,
             number_of_errors = 0, error_message = NULL, updated_at = ?4
         WHERE job_id = ?1",
    )?
    .execute(params![job_id, rows, size, now])?;
    Ok(())
}

/// Upload jobs still waiting on a generation.
pub fn jobs_waiting_on(conn: &Connection, file_generation_id: i64) -> rusqlite::Result<Vec<Job>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs
         WHERE file_generation_id = ?1 AND job_type = 'file_upload'
           AND job_status IN ('waiting', 'running')
         ORDER BY job_id"
    ))?;
    stmt.query_map(params![file_generation_id], job_from_row)?
        .collect()
}

/// A new detached upload job (no submission) for a user.
pub fn insert_detached_job(
    conn: &Connection,
    user_id: i64,
    file_type: FileType,
    start: &str,
    end: &str,
    now: &str,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO jobs (job_type, file_type, job_status, user_id, start_date, end_date, updated_at)
         VALUES ('file_upload', ?1, 'waiting', ?2, ?3, ?4, ?5)",
    )?
    .execute(params![file_type.as_str(), user_id, start, end, now])?;
    Ok(conn.last_insert_rowid())
}
