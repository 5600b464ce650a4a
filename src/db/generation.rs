//! Queries on `file_generation` (the D file cache) and `generation_tasks`
//! (the worker's queue).

use crate::domain::{AgencyType, FileFormat, FileType, column_enum};
use rusqlite::{Connection, OptionalExtension, params};

/// The parameters that make two D file requests identical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DRequest {
    pub file_type: FileType,
    /// `YYYY-MM-DD`.
    pub start: String,
    pub end: String,
    pub agency_code: String,
    pub agency_type: AgencyType,
    pub file_format: FileFormat,
    pub element_numbers: bool,
}

/// A row of `file_generation`.
#[derive(Debug, Clone)]
pub struct FileGeneration {
    pub file_generation_id: i64,
    pub request: DRequest,
    pub request_date: String,
    pub requested_at: Option<String>,
    pub file_path: Option<String>,
    pub file_size: Option<i64>,
    pub number_of_rows: Option<i64>,
}

const FG_COLUMNS: &str = "file_generation_id, file_type, start_date, end_date, agency_code, \
     agency_type, file_format, element_numbers, request_date, requested_at, file_path, file_size, \
     number_of_rows";

fn fg_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<FileGeneration> {
    Ok(FileGeneration {
        file_generation_id: row.get(0)?,
        request: DRequest {
            file_type: column_enum(row, 1, FileType::parse)?,
            start: row.get(2)?,
            end: row.get(3)?,
            agency_code: row.get(4)?,
            agency_type: column_enum(row, 5, AgencyType::parse)?,
            file_format: column_enum(row, 6, FileFormat::parse)?,
            element_numbers: row.get(7)?,
        },
        request_date: row.get(8)?,
        requested_at: row.get(9)?,
        file_path: row.get(10)?,
        file_size: row.get(11)?,
        number_of_rows: row.get(12)?,
    })
}

pub fn find_file_generation(
    conn: &Connection,
    id: i64,
) -> rusqlite::Result<Option<FileGeneration>> {
    conn.prepare_cached(&format!(
        "SELECT {FG_COLUMNS} FROM file_generation WHERE file_generation_id = ?1"
    ))?
    .query_row(params![id], fg_from_row)
    .optional()
}

/// The cached generation for identical parameters, if any.
pub fn find_cached(conn: &Connection, req: &DRequest) -> rusqlite::Result<Option<FileGeneration>> {
    conn.prepare_cached(&format!(
        "SELECT {FG_COLUMNS} FROM file_generation
         WHERE is_cached_file = 1 AND file_type = ?1 AND start_date = ?2 AND end_date = ?3
           AND agency_code = ?4 AND agency_type = ?5 AND file_format = ?6 AND element_numbers = ?7
         ORDER BY file_generation_id DESC LIMIT 1"
    ))?
    .query_row(
        params![
            req.file_type.as_str(),
            req.start,
            req.end,
            req.agency_code,
            req.agency_type.as_str(),
            req.file_format.as_str(),
            req.element_numbers
        ],
        fg_from_row,
    )
    .optional()
}

/// Starts a new cached generation; returns its id.
pub fn insert_file_generation(
    conn: &Connection,
    req: &DRequest,
    now: &str,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO file_generation (request_date, requested_at, start_date, end_date, agency_code,
             agency_type, file_type, file_format, is_cached_file, element_numbers)
         VALUES (substr(?1, 1, 10), ?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8)",
    )?
    .execute(params![
        now,
        req.start,
        req.end,
        req.agency_code,
        req.agency_type.as_str(),
        req.file_type.as_str(),
        req.file_format.as_str(),
        req.element_numbers
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Takes a generation out of the cache (stale or failed).
pub fn uncache(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE file_generation SET is_cached_file = 0 WHERE file_generation_id = ?1",
    )?
    .execute(params![id])?;
    Ok(())
}

/// Records the stored file of a finished generation.
pub fn record_file(
    conn: &Connection,
    id: i64,
    key: &str,
    size: i64,
    rows: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE file_generation SET file_path = ?2, file_size = ?3, number_of_rows = ?4
         WHERE file_generation_id = ?1",
    )?
    .execute(params![id, key, size, rows])?;
    Ok(())
}

/// Start of the last FPDS load, if one is recorded.
pub fn last_fpds_load(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT MAX(last_load_date_start) FROM external_data_load_date WHERE external_data_type = 'fpds'",
    )?
    .query_row([], |r| r.get(0))
}

/// What a queued task asks the worker to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// Generate a D1/D2 file for a `file_generation` and every job waiting on it.
    GenerateD,
    /// Generate a submission's E or F file.
    GenerateEf,
    /// Copy a cached generation's file to a job.
    Attach,
    /// Run a D file's file-level validation.
    Validate,
}

impl TaskKind {
    fn as_str(self) -> &'static str {
        match self {
            TaskKind::GenerateD => "generate_d",
            TaskKind::GenerateEf => "generate_ef",
            TaskKind::Attach => "attach",
            TaskKind::Validate => "validate",
        }
    }

    fn parse(text: &str) -> Option<TaskKind> {
        Some(match text {
            "generate_d" => TaskKind::GenerateD,
            "generate_ef" => TaskKind::GenerateEf,
            "attach" => TaskKind::Attach,
            "validate" => TaskKind::Validate,
            _ => return None,
        })
    }
}

/// A claimed task.
#[derive(Debug, Clone)]
pub struct Task {
    pub task_id: i64,
    pub kind: TaskKind,
    pub job_id: Option<i64>,
    pub file_generation_id: Option<i64>,
    pub attempts: i64,
}

/// Queues work for the worker.
pub fn enqueue(
    conn: &Connection,
    kind: TaskKind,
    job_id: Option<i64>,
    file_generation_id: Option<i64>,
    now: &str,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO generation_tasks (kind, job_id, file_generation_id, created_at)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![kind.as_str(), job_id, file_generation_id, now])?;
    Ok(conn.last_insert_rowid())
}

/// Drops work still queued for a job that a new request supersedes.
pub fn cancel_queued_for_job(conn: &Connection, job_id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE generation_tasks SET state = 'cancelled' WHERE job_id = ?1 AND state = 'queued'",
    )?
    .execute(params![job_id])?;
    Ok(())
}

/// Whether a request made after `task_id` was queued is still live for the
/// same job (queued, running or ended, but not cancelled): then it, not the
/// older task, decides the job's file and status.
pub fn newer_task_exists(conn: &Connection, job_id: i64, task_id: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM generation_tasks
                        WHERE job_id = ?1 AND task_id > ?2 AND state <> 'cancelled')",
    )?
    .query_row(params![job_id, task_id], |r| r.get(0))
}

/// Claims the oldest task that is due, in one statement.
pub fn claim_next(conn: &Connection, now_unix: i64) -> rusqlite::Result<Option<Task>> {
    conn.prepare_cached(
        "UPDATE generation_tasks SET state = 'running', attempts = attempts + 1
         WHERE task_id = (SELECT task_id FROM generation_tasks
                          WHERE state = 'queued' AND not_before <= ?1
                          ORDER BY task_id LIMIT 1)
         RETURNING task_id, kind, job_id, file_generation_id, attempts",
    )?
    .query_row(params![now_unix], |row| {
        Ok(Task {
            task_id: row.get(0)?,
            kind: column_enum(row, 1, TaskKind::parse)?,
            job_id: row.get(2)?,
            file_generation_id: row.get(3)?,
            attempts: row.get(4)?,
        })
    })
    .optional()
}

/// Puts back work a dead process left running; returns how many.
pub fn requeue_running(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE generation_tasks SET state = 'queued' WHERE state = 'running'",
        [],
    )
}

/// Puts back a task that a shutdown interrupted, without counting the attempt.
pub fn requeue_interrupted(conn: &Connection, task_id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE generation_tasks SET state = 'queued', attempts = MAX(attempts - 1, 0) WHERE task_id = ?1",
    )?
    .execute(params![task_id])?;
    Ok(())
}

/// Ends a task: `done` or `failed`.
pub fn end_task(
    conn: &Connection,
    task_id: i64,
    state: &str,
    error: Option<&str>,
    now: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE generation_tasks SET state = ?2, last_error = ?3, finished_at = ?4 WHERE task_id = ?1",
    )?
    .execute(params![task_id, state, error, now])?;
    Ok(())
}

/// Queues a task again after a transient failure.
pub fn retry_later(
    conn: &Connection,
    task_id: i64,
    not_before: i64,
    error: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE generation_tasks SET state = 'queued', not_before = ?2, last_error = ?3 WHERE task_id = ?1",
    )?
    .execute(params![task_id, not_before, error])?;
    Ok(())
}

/// Tasks queued or running.
pub fn unfinished_tasks(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM generation_tasks WHERE state IN ('queued', 'running')",
        [],
        |r| r.get(0),
    )
}
