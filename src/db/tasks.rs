//! Queries on `generation_tasks`, the worker's queue: only work a generate
//! request queued. Rows are kept after they end.

use crate::base::domain::{TaskKind, TaskState, column_enum};
use crate::base::ids::{FileGenerationId, JobId, TaskId};
use rusqlite::{Connection, OptionalExtension, params};

/// A claimed task.
#[derive(Debug, Clone)]
pub struct Task {
    pub task_id: TaskId,
    pub kind: TaskKind,
    pub job_id: Option<JobId>,
    pub file_generation_id: Option<FileGenerationId>,
    pub attempts: i64,
}

/// Queues work for the worker.
pub fn enqueue(
    conn: &Connection,
    kind: TaskKind,
    job_id: Option<JobId>,
    file_generation_id: Option<FileGenerationId>,
    now: &str,
) -> rusqlite::Result<TaskId> {
    conn.prepare_cached(
        "INSERT INTO generation_tasks (kind, job_id, file_generation_id, created_at)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![kind.as_str(), job_id, file_generation_id, now])?;
    Ok(TaskId(conn.last_insert_rowid()))
}

/// Drops work still queued for a job that a new request supersedes.
pub fn cancel_queued_for_job(conn: &Connection, job_id: JobId) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE generation_tasks SET state = 'cancelled' WHERE job_id = ?1 AND state = 'queued'",
    )?
    .execute(params![job_id])?;
    Ok(())
}

/// Whether a request made after `task_id` was queued is still live for the
/// same job (queued, running or ended, but not cancelled): then it, not the
/// older task, decides the job's file and status.
pub fn newer_task_exists(
    conn: &Connection,
    job_id: JobId,
    task_id: TaskId,
) -> rusqlite::Result<bool> {
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
            task_id: row.get("task_id")?,
            kind: column_enum(row, "kind", TaskKind::parse)?,
            job_id: row.get("job_id")?,
            file_generation_id: row.get("file_generation_id")?,
            attempts: row.get("attempts")?,
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
pub fn requeue_interrupted(conn: &Connection, task_id: TaskId) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE generation_tasks SET state = 'queued', attempts = MAX(attempts - 1, 0) WHERE task_id = ?1",
    )?
    .execute(params![task_id])?;
    Ok(())
}

/// Ends a task, done or failed.
pub fn end_task(
    conn: &Connection,
    task_id: TaskId,
    state: TaskState,
    error: Option<&str>,
    now: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE generation_tasks SET state = ?2, last_error = ?3, finished_at = ?4 WHERE task_id = ?1",
    )?
    .execute(params![task_id, state.as_str(), error, now])?;
    Ok(())
}

/// Queues a task again after a transient failure.
pub fn retry_later(
    conn: &Connection,
    task_id: TaskId,
    not_before: i64,
    error: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE generation_tasks SET state = 'queued', not_before = ?2, last_error = ?3 WHERE task_id = ?1",
    )?
    .execute(params![task_id, not_before, error])?;
    Ok(())
}
