//! Queries on `jobs`.

use super::columns::{col, select_list};
use crate::base::domain::{FileType, JobStatus, JobType, column_enum};
use crate::base::ids::{FileGenerationId, JobId, SubmissionId, UserId};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::LazyLock;

/// The fields of a job the routes and the worker need.
#[derive(Debug, Clone)]
pub struct Job {
    pub job_id: JobId,
    pub submission_id: Option<SubmissionId>,
    pub job_type: JobType,
    /// `None` for the cross-file job and for the types broker-lite does not
    /// generate (A, B, C, FABS).
    pub file_type: Option<FileType>,
    pub job_status: JobStatus,
    pub filename: Option<String>,
    pub file_size: Option<i64>,
    pub number_of_rows: Option<i64>,
    pub number_of_errors: i64,
    pub error_message: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub updated_at: String,
    pub file_generation_id: Option<FileGenerationId>,
    pub user_id: Option<UserId>,
}

/// The select list of [`JOB_FIELDS`], made once.
static JOB_COLUMNS: LazyLock<String> = LazyLock::new(|| select_list(&JOB_FIELDS, ""));
/// The columns of a job, in the order rows are read (`col!` positions).
const JOB_FIELDS: [&str; 15] = [
    "job_id",
    "submission_id",
    "job_type",
    "file_type",
    "job_status",
    "filename",
    "file_size",
    "number_of_rows",
    "number_of_errors",
    "error_message",
    "start_date",
    "end_date",
    "updated_at",
    "file_generation_id",
    "user_id",
];

fn job_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Job> {
    let file_type = row
        .get_ref(col!(JOB_FIELDS, "file_type"))?
        .as_str_or_null()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, Type::Text, Box::new(e)))?;
    Ok(Job {
        job_id: row.get(col!(JOB_FIELDS, "job_id"))?,
        submission_id: row.get(col!(JOB_FIELDS, "submission_id"))?,
        job_type: column_enum(row, col!(JOB_FIELDS, "job_type"), JobType::parse)?,
        file_type: file_type.and_then(FileType::parse),
        job_status: column_enum(row, col!(JOB_FIELDS, "job_status"), JobStatus::parse)?,
        filename: row.get(col!(JOB_FIELDS, "filename"))?,
        file_size: row.get(col!(JOB_FIELDS, "file_size"))?,
        number_of_rows: row.get(col!(JOB_FIELDS, "number_of_rows"))?,
        number_of_errors: row.get(col!(JOB_FIELDS, "number_of_errors"))?,
        error_message: row.get(col!(JOB_FIELDS, "error_message"))?,
        start_date: row.get(col!(JOB_FIELDS, "start_date"))?,
        end_date: row.get(col!(JOB_FIELDS, "end_date"))?,
        updated_at: row.get(col!(JOB_FIELDS, "updated_at"))?,
        file_generation_id: row.get(col!(JOB_FIELDS, "file_generation_id"))?,
        user_id: row.get(col!(JOB_FIELDS, "user_id"))?,
    })
}

pub fn find_job(conn: &Connection, job_id: JobId) -> rusqlite::Result<Option<Job>> {
    conn.prepare_cached(&format!(
        "SELECT {} FROM jobs WHERE job_id = ?1",
        *JOB_COLUMNS
    ))?
    .query_row(params![job_id], job_from_row)
    .optional()
}

/// A submission's upload job of a file type and its validation job, if any.
#[derive(Debug, Clone, Default)]
pub struct FileJobs {
    pub upload: Option<Job>,
    pub validation: Option<Job>,
}

/// The upload and validation jobs of a submission's file type, in one query
/// (the first of each, should there be several).
pub fn find_file_jobs(
    conn: &Connection,
    submission_id: SubmissionId,
    file_type: FileType,
) -> rusqlite::Result<FileJobs> {
    find_file_jobs_of(conn, submission_id, file_type.as_str())
}

/// [`find_file_jobs`] for any file type letter (A, B, C, FABS too).
pub fn find_file_jobs_of(
    conn: &Connection,
    submission_id: SubmissionId,
    file_type: &str,
) -> rusqlite::Result<FileJobs> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {cols} FROM jobs
         WHERE submission_id = ?1 AND file_type = ?2
           AND job_type IN ('file_upload', 'csv_record_validation')
         ORDER BY job_id",
        cols = *JOB_COLUMNS
    ))?;
    let mut found = FileJobs::default();
    for job in stmt.query_map(params![submission_id, file_type], job_from_row)? {
        let job = job?;
        let slot = match job.job_type {
            JobType::CsvRecordValidation => &mut found.validation,
            _ => &mut found.upload,
        };
        if slot.is_none() {
            *slot = Some(job);
        }
    }
    Ok(found)
}

/// The upload job of any file type letter (A, B, C, D1, D2, E, F, FABS).
pub fn find_upload_job(
    conn: &Connection,
    submission_id: SubmissionId,
    file_type: &str,
) -> rusqlite::Result<Option<Job>> {
    conn.prepare_cached(&format!(
        "SELECT {cols} FROM jobs
         WHERE submission_id = ?1 AND file_type = ?2 AND job_type = 'file_upload'
         ORDER BY job_id LIMIT 1",
        cols = *JOB_COLUMNS
    ))?
    .query_row(params![submission_id, file_type], job_from_row)
    .optional()
}

/// How far a submission's jobs have come, as the web app's step rules see it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// E and F jobs finished.
    pub ef_finished: i64,
    /// Cross-file validation jobs finished with no errors.
    pub cross_file_done: i64,
    /// D1 and D2 validations finished with no errors and a file.
    pub d_validated: i64,
    /// A, B and C validations finished with no errors and a file.
    pub abc_validated: i64,
    /// A, B and C validations of a file that had errors.
    pub abc_with_errors: i64,
    /// A, B and C validations not finished.
    pub abc_unfinished: i64,
}

pub fn progress(conn: &Connection, submission_id: SubmissionId) -> rusqlite::Result<Progress> {
    conn.prepare_cached(
        "SELECT
           COALESCE(SUM(file_type IN ('E', 'F') AND job_status = 'finished'), 0) AS ef_finished,
           COALESCE(SUM(job_type = 'validation' AND job_status = 'finished'
                        AND number_of_errors = 0), 0) AS cross_file_done,
           COALESCE(SUM(job_type = 'csv_record_validation' AND file_type IN ('D1', 'D2')
                        AND job_status = 'finished' AND number_of_errors = 0
                        AND file_size IS NOT NULL), 0) AS d_validated,
           COALESCE(SUM(job_type = 'csv_record_validation' AND file_type IN ('A', 'B', 'C')
                        AND job_status = 'finished' AND number_of_errors = 0
                        AND file_size IS NOT NULL), 0) AS abc_validated,
           COALESCE(SUM(job_type = 'csv_record_validation' AND file_type IN ('A', 'B', 'C')
                        AND number_of_errors <> 0 AND file_size IS NOT NULL), 0) AS abc_with_errors,
           COALESCE(SUM(job_type = 'csv_record_validation' AND file_type IN ('A', 'B', 'C')
                        AND job_status <> 'finished'), 0) AS abc_unfinished
         FROM jobs WHERE submission_id = ?1",
    )?
    .query_row(params![submission_id], |row| {
        Ok(Progress {
            ef_finished: row.get("ef_finished")?,
            cross_file_done: row.get("cross_file_done")?,
            d_validated: row.get("d_validated")?,
            abc_validated: row.get("abc_validated")?,
            abc_with_errors: row.get("abc_with_errors")?,
            abc_unfinished: row.get("abc_unfinished")?,
        })
    })
}

/// The oldest last validation of a submission's validation jobs; `None` if
/// it has none, or if any of them never finished a validation.
pub fn oldest_last_validated(
    conn: &Connection,
    submission_id: SubmissionId,
) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT CASE WHEN COUNT(*) = COUNT(last_validated) THEN MIN(last_validated) END
         FROM jobs WHERE submission_id = ?1 AND job_type IN ('csv_record_validation', 'validation')",
    )?
    .query_row(params![submission_id], |r| r.get(0))
}

/// Saves the message chosen by the status mapping. Leaves `updated_at` alone:
/// reading a status never changes `generated_at`.
pub fn save_error_message(conn: &Connection, job_id: JobId, message: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE jobs SET error_message = ?2 WHERE job_id = ?1")?
        .execute(params![job_id, message])?;
    Ok(())
}

/// Prepares an upload job for a new generation: waiting, no file, no error.
pub fn start_generation(
    conn: &Connection,
    job_id: JobId,
    dates: Option<(&str, &str)>,
    file_generation_id: Option<FileGenerationId>,
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

/// Sends a submission file's validation job back to waiting, as the broker
/// does when the file is generated again.
pub fn reset_validation_job(
    conn: &Connection,
    submission_id: SubmissionId,
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
    submission_id: SubmissionId,
    now: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE jobs SET job_status = 'waiting', updated_at = ?2
         WHERE submission_id = ?1 AND job_type = 'validation' AND job_status <> 'waiting'",
    )?
    .execute(params![submission_id, now])?;
    Ok(())
}

/// How many of the submission's upload-validation jobs of these file types
/// are unfinished or have errors.
pub fn unfinished_file_validations(
    conn: &Connection,
    submission_id: SubmissionId,
    file_types: &[&str],
) -> rusqlite::Result<i64> {
    let mut unfinished = 0;
    for file_type in file_types {
        unfinished += conn
            .prepare_cached(
                "SELECT COUNT(*) FROM jobs WHERE submission_id = ?1 AND file_type = ?2
                   AND (job_status <> 'finished' OR number_of_errors > 0)",
            )?
            .query_row(params![submission_id, file_type], |r| r.get::<_, i64>(0))?;
    }
    Ok(unfinished)
}

/// How many cross-file validation jobs of the submission are unfinished or
/// have errors.
pub fn unfinished_cross_file_validations(
    conn: &Connection,
    submission_id: SubmissionId,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM jobs WHERE submission_id = ?1 AND job_type = 'validation'
           AND (job_status <> 'finished' OR number_of_errors > 0)",
    )?
    .query_row(params![submission_id], |r| r.get(0))
}

pub fn set_status(
    conn: &Connection,
    job_id: JobId,
    status: JobStatus,
    now: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE jobs SET job_status = ?2, updated_at = ?3 WHERE job_id = ?1")?
        .execute(params![job_id, status.as_str(), now])?;
    Ok(())
}

/// What a finished generation stored for a job.
#[derive(Debug, Clone, Copy)]
pub struct StoredFile<'a> {
    pub key: &'a str,
    pub file_name: &'a str,
    pub bytes: i64,
    pub rows: i64,
}

/// Marks an upload job finished with its stored file; a validated file's
/// validation job points at the same file.
pub fn finish_upload(
    conn: &Connection,
    job: &Job,
    file: StoredFile<'_>,
    now: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE jobs SET job_status = 'finished', filename = ?2, original_filename = ?3,
             file_size = ?4, number_of_rows = ?5, error_message = NULL, updated_at = ?6
         WHERE job_id = ?1",
    )?
    .execute(params![
        job.job_id,
        file.key,
        file.file_name,
        file.bytes,
        file.rows,
        now
    ])?;
    if let (Some(submission_id), Some(file_type)) = (job.submission_id, job.file_type) {
        conn.prepare_cached(
            "UPDATE jobs SET filename = ?3, original_filename = ?4
             WHERE submission_id = ?1 AND file_type = ?2 AND job_type = 'csv_record_validation'",
        )?
        .execute(params![
            submission_id,
            file_type.as_str(),
            file.key,
            file.file_name
        ])?;
    }
    Ok(())
}

/// Ends a job with a status and a message a user can act on.
pub fn fail(
    conn: &Connection,
    job_id: JobId,
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

/// Records a validation that found file-level errors.
pub fn fail_validation(
    conn: &Connection,
    job_id: JobId,
    message: &str,
    now: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE jobs SET job_status = 'invalid', error_message = ?2, updated_at = ?3,
             last_validated = ?3
         WHERE job_id = ?1",
    )?
    .execute(params![job_id, message, now])?;
    Ok(())
}

/// Records a finished file-level validation.
pub fn finish_validation(
    conn: &Connection,
    job_id: JobId,
    rows: i64,
    size: i64,
    now: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE jobs SET job_status = 'finished', number_of_rows = ?2, file_size = ?3,
             number_of_errors = 0, error_message = NULL, updated_at = ?4, last_validated = ?4
         WHERE job_id = ?1",
    )?
    .execute(params![job_id, rows, size, now])?;
    Ok(())
}

/// Upload jobs still waiting on a generation.
pub fn jobs_waiting_on(
    conn: &Connection,
    file_generation_id: FileGenerationId,
) -> rusqlite::Result<Vec<Job>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {cols} FROM jobs
         WHERE file_generation_id = ?1 AND job_type = 'file_upload'
           AND job_status IN ('waiting', 'running')
         ORDER BY job_id",
        cols = *JOB_COLUMNS
    ))?;
    stmt.query_map(params![file_generation_id], job_from_row)?
        .collect()
}

/// A new detached upload job (no submission) for a user.
pub fn insert_detached_job(
    conn: &Connection,
    user_id: UserId,
    file_type: FileType,
    start: &str,
    end: &str,
    now: &str,
) -> rusqlite::Result<JobId> {
    conn.prepare_cached(
        "INSERT INTO jobs (job_type, file_type, job_status, user_id, start_date, end_date, updated_at)
         VALUES ('file_upload', ?1, 'waiting', ?2, ?3, ?4, ?5)",
    )?
    .execute(params![file_type.as_str(), user_id, start, end, now])?;
    Ok(JobId(conn.last_insert_rowid()))
}
