//! What each queued task does: generate a cached file (for every job
//! waiting on it), generate one job's own file, copy a cached file to a job,
//! validate a submission's file. Every task re-checks, in the transaction
//! that records its result, that it still speaks for the job.

use super::Failure;
use super::validate::{self, Checked};
use super::write::{self, Scope, Written};
use crate::base::domain::{FileType, JobStatus, TaskKind};
use crate::base::ids::{FileGenerationId, JobId, TaskId};
use crate::base::timefmt::now_timestamp;
use crate::base::util::{random_hex, unix_now};
use crate::db::file_generation::{self as cache, FileGeneration};
use crate::db::jobs::{self, Job, StoredFile};
use crate::db::submissions::find_submission;
use crate::db::tasks::{self as queue, Task};
use crate::files::{names, spec};
use crate::state::AppState;
use crate::storage;
use anyhow::Context;
use rusqlite::{Connection, TransactionBehavior};
use std::path::PathBuf;
use std::time::Instant;

fn data(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure::Data(message.into()))
}

pub fn execute(st: &AppState, task: &Task) -> anyhow::Result<()> {
    let job_id = || task.job_id.ok_or_else(|| data("The task names no job"));
    let fg_id = || {
        task.file_generation_id
            .ok_or_else(|| data("The task names no file generation"))
    };
    match task.kind {
        TaskKind::GenerateShared => generate_shared(st, fg_id()?),
        TaskKind::GenerateForJob => generate_for_job(st, job_id()?, task.task_id),
        TaskKind::Attach => attach(st, job_id()?, fg_id()?, task.task_id),
        TaskKind::Validate => validate(st, job_id()?, task.task_id),
    }
}

/// The file type a task generates (for the metrics); `None` for copies,
/// validations, and tasks whose job or generation is gone.
pub fn generated_file_type(st: &AppState, task: &Task) -> Option<FileType> {
    let conn = st.pool.get().ok()?;
    match (task.kind, task.job_id, task.file_generation_id) {
        (TaskKind::GenerateShared, _, Some(fg_id)) => cache::find_file_generation(&conn, fg_id)
            .ok()
            .flatten()
            .map(|fg| fg.request.file_type),
        (TaskKind::GenerateForJob, Some(job_id), _) => {
            jobs::find_job(&conn, job_id).ok().flatten()?.file_type
        }
        _ => None,
    }
}

/// Records a task's final failure on the jobs it was for.
pub fn fail(st: &AppState, task: &Task, message: &str) -> anyhow::Result<()> {
    let mut conn = st.pool.get()?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_timestamp();
    match (task.kind, task.job_id, task.file_generation_id) {
        (TaskKind::GenerateShared, _, Some(fg_id)) => {
            cache::uncache(&tx, fg_id)?;
            for job in jobs::jobs_waiting_on(&tx, fg_id)? {
                jobs::fail(&tx, job.job_id, JobStatus::Failed, message, &now)?;
            }
        }
        // A newer request for the job decides its status, not this task.
        (_, Some(job_id), _) if queue::newer_task_exists(&tx, job_id, task.task_id)? => {}
        // The job was moved to another generation meanwhile: that one decides.
        (TaskKind::Attach, Some(job_id), Some(fg_id))
            if jobs::find_job(&tx, job_id)?.is_none_or(|j| j.file_generation_id != Some(fg_id)) => {
        }
        (TaskKind::Validate, Some(job_id), _) => {
            if let Some(validation) = validation_job_of(&tx, job_id)? {
                jobs::fail(&tx, validation.job_id, JobStatus::Failed, message, &now)?;
            }
        }
        (_, Some(job_id), _) => jobs::fail(&tx, job_id, JobStatus::Failed, message, &now)?,
        _ => {}
    }
    tx.commit()?;
    Ok(())
}

fn scratch_file(st: &AppState, ext: &str) -> anyhow::Result<PathBuf> {
    let dir = st.config.scratch_dir();
    std::fs::create_dir_all(&dir).context(Failure::Disk)?;
    Ok(dir.join(format!("gen-{}.{ext}", random_hex(8))))
}

/// Removes a scratch file when dropped, whatever happened.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Storage key and file name of a job's copy of a file; `fg` is the cached
/// generation it comes from, if any.
fn file_of(
    conn: &Connection,
    job: &Job,
    fg: Option<&FileGeneration>,
) -> anyhow::Result<(String, String)> {
    let file_type = job
        .file_type
        .ok_or_else(|| data("The job is not for a generated file type"))?;
    let sub = match job.submission_id {
        Some(submission_id) => Some(
            find_submission(conn, submission_id)?
                .ok_or_else(|| data("The submission no longer exists"))?,
        ),
        None => None,
    };
    let name = names::file_name(
        file_type,
        sub.as_ref(),
        fg.map(|fg| &fg.request),
        unix_now(),
    )?;
    Ok((storage::file_key(job.submission_id, &name), name))
}

/// Takes a job for a task: in one transaction, checks that the job is still
/// pending, still on `generation` (when given) and wanted by no newer
/// request, and marks it running. `None` when the task no longer speaks for
/// the job; a check and a mark apart would let a stalled task mark a job
/// running after a newer request finished it.
fn take_job(
    conn: &mut Connection,
    job_id: JobId,
    task_id: TaskId,
    generation: Option<FileGenerationId>,
) -> anyhow::Result<Option<Job>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let job = jobs::find_job(&tx, job_id)?.ok_or_else(|| data("The job no longer exists"))?;
    let current = is_pending(&job)
        && generation.is_none_or(|fg| job.file_generation_id == Some(fg))
        && !queue::newer_task_exists(&tx, job_id, task_id)?;
    if !current {
        return Ok(None);
    }
    jobs::set_status(&tx, job_id, JobStatus::Running, &now_timestamp())?;
    tx.commit()?;
    Ok(Some(job))
}

/// Marks every job waiting on a generation running, in one transaction;
/// returns them.
fn take_waiting_jobs(conn: &mut Connection, fg_id: FileGenerationId) -> anyhow::Result<Vec<JobId>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_timestamp();
    let waiting: Vec<JobId> = jobs::jobs_waiting_on(&tx, fg_id)?
        .iter()
        .map(|j| j.job_id)
        .collect();
    for id in &waiting {
        jobs::set_status(&tx, *id, JobStatus::Running, &now)?;
    }
    tx.commit()?;
    Ok(waiting)
}

fn generate_shared(st: &AppState, fg_id: FileGenerationId) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut conn = st.pool.get()?;
    let fg = cache::find_file_generation(&conn, fg_id)?
        .ok_or_else(|| data("The file generation no longer exists"))?;
    let waiting = take_waiting_jobs(&mut conn, fg_id)?;
    log::info!(
        "generation start: {} file_generation {fg_id}, jobs {waiting:?}",
        fg.request.file_type
    );
    let scratch = Scratch(scratch_file(st, fg.request.file_format.as_str())?);
    let spec = spec(fg.request.file_type);
    let written = write::write_file(
        &conn,
        spec,
        Scope::Request(&fg.request),
        &scratch.0,
        &st.stop,
    )?;
    // Every job waiting now (late arrivals included) gets its own copy.
    let mut stored = Vec::new();
    let waiting = jobs::jobs_waiting_on(&conn, fg_id)?;
    for (i, job) in waiting.into_iter().enumerate().rev() {
        let (key, name) = file_of(&conn, &job, Some(&fg))?;
        // Copies for all but the first job, then the scratch file itself.
        if i == 0 {
            st.storage.put_owned(&key, &scratch.0)
        } else {
            st.storage.put(&key, &scratch.0)
        }
        .context(Failure::Storage)?;
        stored.push((job, key, name));
    }
    stored.reverse();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_timestamp();
    match stored.first() {
        Some((_, key, _)) => cache::record_file(&tx, fg_id, key, written.bytes, written.rows)?,
        // Nobody wants this file any more: keep it out of the cache.
        None => cache::uncache(&tx, fg_id)?,
    }
    // Only jobs still waiting on this generation now get its file: a job a
    // newer request moved to other dates is left to that request. Jobs that
    // came (back) while the file was written get their copy next.
    for current in jobs::jobs_waiting_on(&tx, fg_id)? {
        match stored
            .iter()
            .find(|(job, _, _)| job.job_id == current.job_id)
        {
            Some((job, key, name)) => finish_job(&tx, job, key, name, written, &now)?,
            None => {
                queue::enqueue(
                    &tx,
                    TaskKind::Attach,
                    Some(current.job_id),
                    Some(fg_id),
                    &now,
                )?;
            }
        }
    }
    tx.commit()?;
    let ids: Vec<JobId> = stored.iter().map(|(j, _, _)| j.job_id).collect();
    log::info!(
        "generation end: {} file_generation {fg_id}, {} rows, {} bytes, {} ms, jobs {ids:?}",
        fg.request.file_type,
        written.rows,
        written.bytes,
        started.elapsed().as_millis()
    );
    Ok(())
}

/// Marks an upload job finished and queues the validation of a submission's
/// file whose type is validated.
fn finish_job(
    conn: &Connection,
    job: &Job,
    key: &str,
    name: &str,
    written: Written,
    now: &str,
) -> anyhow::Result<()> {
    let file = StoredFile {
        key,
        file_name: name,
        bytes: written.bytes,
        rows: written.rows,
    };
    jobs::finish_upload(conn, job, file, now)?;
    let validated = job.file_type.is_some_and(|t| spec(t).validation.is_some());
    if job.submission_id.is_some() && validated {
        queue::enqueue(conn, TaskKind::Validate, Some(job.job_id), None, now)?;
    }
    Ok(())
}

fn is_pending(job: &Job) -> bool {
    matches!(job.job_status, JobStatus::Waiting | JobStatus::Running)
}

fn attach(
    st: &AppState,
    job_id: JobId,
    fg_id: FileGenerationId,
    task_id: TaskId,
) -> anyhow::Result<()> {
    let mut conn = st.pool.get()?;
    let Some(job) = take_job(&mut conn, job_id, task_id, Some(fg_id))? else {
        return Ok(()); // superseded by a newer request
    };
    let fg = cache::find_file_generation(&conn, fg_id)?
        .ok_or_else(|| data("The file generation no longer exists"))?;
    let from = fg
        .file_path
        .clone()
        .ok_or_else(|| data("The cached file is not available"))?;
    let (key, name) = file_of(&conn, &job, Some(&fg))?;
    if key != from {
        st.storage.copy(&from, &key).context(Failure::Storage)?;
    }
    let written = Written {
        rows: fg.number_of_rows.unwrap_or(0),
        bytes: fg.file_size.unwrap_or(0),
    };
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let still_wanted = jobs::find_job(&tx, job_id)?
        .is_some_and(|j| j.file_generation_id == Some(fg_id) && is_pending(&j))
        && !queue::newer_task_exists(&tx, job_id, task_id)?;
    if !still_wanted {
        log::info!(
            "job {job_id} was requested again while task {task_id} copied its file; the newer request decides"
        );
        return Ok(());
    }
    finish_job(&tx, &job, &key, &name, written, &now_timestamp())?;
    tx.commit()?;
    log::info!(
        "cached {} file_generation {fg_id} copied to job {job_id}",
        fg.request.file_type
    );
    Ok(())
}

fn generate_for_job(st: &AppState, job_id: JobId, task_id: TaskId) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut conn = st.pool.get()?;
    let Some(job) = take_job(&mut conn, job_id, task_id, None)? else {
        return Ok(()); // superseded by a newer request
    };
    let (Some(submission_id), Some(file_type)) = (job.submission_id, job.file_type) else {
        return Err(data("The job is not a generated file of a submission"));
    };
    log::info!("generation start: {file_type} job {job_id}");
    let scratch = Scratch(scratch_file(st, "csv")?);
    let written = write::write_file(
        &conn,
        spec(file_type),
        Scope::Submission(submission_id),
        &scratch.0,
        &st.stop,
    )?;
    let (key, name) = file_of(&conn, &job, None)?;
    st.storage
        .put_owned(&key, &scratch.0)
        .context(Failure::Storage)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // A request made while this ran queued a newer task: that one decides.
    if queue::newer_task_exists(&tx, job_id, task_id)? {
        log::info!(
            "{file_type} job {job_id} was requested again; task {task_id} leaves it to the newer one"
        );
        return Ok(());
    }
    finish_job(&tx, &job, &key, &name, written, &now_timestamp())?;
    tx.commit()?;
    log::info!(
        "generation end: {file_type} job {job_id}, {} rows, {} bytes, {} ms",
        written.rows,
        written.bytes,
        started.elapsed().as_millis()
    );
    Ok(())
}

fn validation_job_of(conn: &Connection, upload_job_id: JobId) -> anyhow::Result<Option<Job>> {
    let Some(upload) = jobs::find_job(conn, upload_job_id)? else {
        return Ok(None);
    };
    let (Some(submission_id), Some(file_type)) = (upload.submission_id, upload.file_type) else {
        return Ok(None);
    };
    Ok(jobs::find_file_jobs(conn, submission_id, file_type)?.validation)
}

fn validate(st: &AppState, upload_job_id: JobId, task_id: TaskId) -> anyhow::Result<()> {
    let mut conn = st.pool.get()?;
    // Decide and mark the validation running in one transaction, so that a
    // newer request either comes before (and this task does nothing) or
    // after (and resets what this task marked).
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let upload =
        jobs::find_job(&tx, upload_job_id)?.ok_or_else(|| data("The job no longer exists"))?;
    let (Some(submission_id), Some(file_type), Some(key)) = (
        upload.submission_id,
        upload.file_type,
        upload.filename.clone(),
    ) else {
        return Err(data("The job has no generated file to validate"));
    };
    if upload.job_status != JobStatus::Finished
        || queue::newer_task_exists(&tx, upload_job_id, task_id)?
    {
        return Ok(()); // a newer request replaced this file
    }
    let validation = validation_job_of(&tx, upload_job_id)?.ok_or_else(|| {
        data(crate::base::messages::missing_validation_job(
            upload_job_id,
            submission_id,
        ))
    })?;
    jobs::set_status(&tx, validation.job_id, JobStatus::Running, &now_timestamp())?;
    tx.commit()?;
    // (An S3 file is downloaded here, before the write lock is taken.)
    let file = st.storage.open(&key).context(Failure::Storage)?;
    let delimiter = if key.ends_with(".txt") { b'|' } else { b',' };
    let started = Instant::now();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Still this file, and no request since: only then do its rows count.
    // The write lock is held from here to the commit, so that stays true.
    let still_current = jobs::find_job(&tx, upload_job_id)?.is_some_and(|j| {
        j.job_status == JobStatus::Finished && j.filename.as_deref() == Some(&key)
    }) && !queue::newer_task_exists(&tx, upload_job_id, task_id)?;
    if !still_current {
        log::info!(
            "validation of {file_type} job {upload_job_id} overtaken by a newer request; nothing done"
        );
        return Ok(());
    }
    let checked =
        validate::check_and_load(&tx, file, file_type, submission_id, delimiter, &st.stop)?;
    let now = now_timestamp();
    match &checked {
        Checked::Valid { rows, bytes } => {
            jobs::finish_validation(&tx, validation.job_id, *rows, *bytes, &now)?
        }
        Checked::Invalid(message) => jobs::fail_validation(&tx, validation.job_id, message, &now)?,
    }
    let checked_ms = started.elapsed().as_millis();
    tx.commit()?;
    log::info!(
        "validation of {file_type} job {upload_job_id}: {checked:?} \
         (file checked and award rows loaded in {checked_ms} ms, committed in {} ms)",
        started.elapsed().as_millis() - checked_ms
    );
    Ok(())
}
