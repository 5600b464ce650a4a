//! What each queued task does: generate a D file (for every job waiting on
//! it), generate an E or F file, copy a cached file to a job, validate.

use super::Failure;
use super::validate::{self, Checked};
use super::writer::{self, Written};
use crate::app::AppState;
use crate::auth::random_hex;
use crate::db::generation::{self as gen_db, FileGeneration, Task, TaskKind};
use crate::db::jobs::{self, Job};
use crate::db::submissions::find_submission;
use crate::domain::{FileType, JobStatus, JobType};
use crate::names;
use crate::storage::{self, local::unix_now};
use crate::timefmt::now_timestamp;
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
        TaskKind::GenerateD => generate_d(st, fg_id()?),
        TaskKind::GenerateEf => generate_ef(st, job_id()?, task.task_id),
        TaskKind::Attach => attach(st, job_id()?, fg_id()?, task.task_id),
        TaskKind::Validate => validate(st, job_id()?, task.task_id),
    }
}

/// Records a task's final failure on the jobs it was for.
pub fn fail(st: &AppState, task: &Task, message: &str) -> anyhow::Result<()> {
    let mut conn = st.pool.get()?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_timestamp();
    match (task.kind, task.job_id, task.file_generation_id) {
        (TaskKind::GenerateD, _, Some(fg_id)) => {
            gen_db::uncache(&tx, fg_id)?;
            for job in jobs::jobs_waiting_on(&tx, fg_id)? {
                jobs::fail(&tx, job.job_id, JobStatus::Failed, message, &now)?;
            }
        }
        // A newer request for the job decides its status, not this task.
        (_, Some(job_id), _) if gen_db::newer_task_exists(&tx, job_id, task.task_id)? => {}
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

/// Storage key and file name of a job's copy of a D file.
fn d_file_of(
    conn: &Connection,
    job: &Job,
    fg: &FileGeneration,
) -> anyhow::Result<(String, String)> {
    let ts = unix_now();
    Ok(match job.submission_id {
        Some(submission_id) => {
            let sub = find_submission(conn, submission_id)?
                .ok_or_else(|| data("The submission no longer exists"))?;
            let name = names::submission_d_file(&sub, &fg.request, ts);
            (storage::submission_key(submission_id, &name), name)
        }
        None => {
            let name = names::detached_d_file(&fg.request, ts);
            (storage::detached_key(&name), name)
        }
    })
}

fn set_running(conn: &mut Connection, job_ids: &[i64]) -> anyhow::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_timestamp();
    for id in job_ids {
        jobs::set_status(&tx, *id, JobStatus::Running, &now)?;
    }
    tx.commit()?;
    Ok(())
}

fn generate_d(st: &AppState, fg_id: i64) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut conn = st.pool.get()?;
    let fg = gen_db::find_file_generation(&conn, fg_id)?
        .ok_or_else(|| data("The file generation no longer exists"))?;
    let waiting: Vec<i64> = jobs::jobs_waiting_on(&conn, fg_id)?
        .iter()
        .map(|j| j.job_id)
        .collect();
    set_running(&mut conn, &waiting)?;
    log::info!(
        "generation start: {} file_generation {fg_id}, jobs {waiting:?}",
        fg.request.file_type
    );
    let scratch = Scratch(scratch_file(st, fg.request.file_format.as_str())?);
    let written = writer::write_d(&conn, &fg.request, &scratch.0, &st.stop)?;
    // Every job waiting now (late arrivals included) gets its own copy.
    let mut stored = Vec::new();
    let waiting = jobs::jobs_waiting_on(&conn, fg_id)?;
    for (i, job) in waiting.into_iter().enumerate().rev() {
        let (key, name) = d_file_of(&conn, &job, &fg)?;
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
        Some((_, key, _)) => gen_db::record_file(&tx, fg_id, key, written.bytes, written.rows)?,
        // Nobody wants this file any more: keep it out of the cache.
        None => gen_db::uncache(&tx, fg_id)?,
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
                gen_db::enqueue(
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
    let ids: Vec<i64> = stored.iter().map(|(j, _, _)| j.job_id).collect();
    log::info!(
        "generation end: {} file_generation {fg_id}, {} rows, {} bytes, {} ms, jobs {ids:?}",
        fg.request.file_type,
        written.rows,
        written.bytes,
        started.elapsed().as_millis()
    );
    Ok(())
}

/// Marks an upload job finished and queues a submission D file's validation.
fn finish_job(
    conn: &Connection,
    job: &Job,
    key: &str,
    name: &str,
    written: Written,
    now: &str,
) -> anyhow::Result<()> {
    jobs::finish_upload(conn, job, key, name, written.bytes, written.rows, now)?;
    if job.submission_id.is_some() && job.file_type.is_some_and(FileType::is_d_file) {
        gen_db::enqueue(conn, TaskKind::Validate, Some(job.job_id), None, now)?;
    }
    Ok(())
}

fn is_pending(job: &Job) -> bool {
    matches!(job.job_status, JobStatus::Waiting | JobStatus::Running)
}

fn attach(st: &AppState, job_id: i64, fg_id: i64, task_id: i64) -> anyhow::Result<()> {
    let mut conn = st.pool.get()?;
    let job = jobs::find_job(&conn, job_id)?.ok_or_else(|| data("The job no longer exists"))?;
    if job.file_generation_id != Some(fg_id) || !is_pending(&job) {
        return Ok(()); // superseded by a newer request
    }
    let fg = gen_db::find_file_generation(&conn, fg_id)?
        .ok_or_else(|| data("The file generation no longer exists"))?;
    let from = fg
        .file_path
        .clone()
        .ok_or_else(|| data("The cached file is not available"))?;
    set_running(&mut conn, &[job_id])?;
    let (key, name) = d_file_of(&conn, &job, &fg)?;
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
        && !gen_db::newer_task_exists(&tx, job_id, task_id)?;
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

fn generate_ef(st: &AppState, job_id: i64, task_id: i64) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut conn = st.pool.get()?;
    let job = jobs::find_job(&conn, job_id)?.ok_or_else(|| data("The job no longer exists"))?;
    if !is_pending(&job) {
        return Ok(());
    }
    let (Some(submission_id), Some(file_type)) = (job.submission_id, job.file_type) else {
        return Err(data("The job is not an E or F job of a submission"));
    };
    let sub = find_submission(&conn, submission_id)?
        .ok_or_else(|| data("The submission no longer exists"))?;
    set_running(&mut conn, &[job_id])?;
    log::info!("generation start: {file_type} job {job_id}");
    let scratch = Scratch(scratch_file(st, "csv")?);
    let written = match file_type {
        FileType::E => writer::write_e(&conn, submission_id, &scratch.0, &st.stop)?,
        FileType::F => writer::write_f(&conn, submission_id, &scratch.0, &st.stop)?,
        _ => return Err(data("The job is not an E or F job")),
    };
    let name = names::submission_ef_file(&sub, file_type, unix_now());
    let key = storage::submission_key(submission_id, &name);
    st.storage
        .put_owned(&key, &scratch.0)
        .context(Failure::Storage)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // A request made while this ran queued a newer task: that one decides.
    if gen_db::newer_task_exists(&tx, job_id, task_id)? {
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

fn validation_job_of(conn: &Connection, upload_job_id: i64) -> anyhow::Result<Option<Job>> {
    let Some(upload) = jobs::find_job(conn, upload_job_id)? else {
        return Ok(None);
    };
    let (Some(submission_id), Some(file_type)) = (upload.submission_id, upload.file_type) else {
        return Ok(None);
    };
    Ok(jobs::find_submission_job(
        conn,
        submission_id,
        file_type,
        JobType::CsvRecordValidation,
    )?)
}

fn validate(st: &AppState, upload_job_id: i64, task_id: i64) -> anyhow::Result<()> {
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
        || gen_db::newer_task_exists(&tx, upload_job_id, task_id)?
    {
        return Ok(()); // a newer request replaced this file
    }
    let validation = validation_job_of(&tx, upload_job_id)?.ok_or_else(|| {
        data(format!(
            "The upload Job {upload_job_id} with submission_id {submission_id} is missing its validation Job"
        ))
    })?;
    jobs::set_status(&tx, validation.job_id, JobStatus::Running, &now_timestamp())?;
    tx.commit()?;
    let file = st.storage.open(&key).context(Failure::Storage)?;
    let delimiter = if key.ends_with(".txt") { b'|' } else { b',' };
    let checked = validate::check_and_stage(&mut conn, file, file_type, delimiter, &st.stop)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Still this file, and no request since: only then do its rows count.
    let still_current = jobs::find_job(&tx, upload_job_id)?.is_some_and(|j| {
        j.job_status == JobStatus::Finished && j.filename.as_deref() == Some(&key)
    }) && !gen_db::newer_task_exists(&tx, upload_job_id, task_id)?;
    if still_current {
        let now = now_timestamp();
        let valid = matches!(checked, Checked::Valid { .. });
        validate::replace_award_rows(&tx, file_type, submission_id, valid)?;
        match &checked {
            Checked::Valid { rows, bytes } => {
                jobs::finish_validation(&tx, validation.job_id, *rows, *bytes, &now)?
            }
            Checked::Invalid(message) => {
                jobs::fail(&tx, validation.job_id, JobStatus::Invalid, message, &now)?
            }
        }
    }
    tx.commit()?;
    validate::clear_staged(&conn)?;
    if still_current {
        log::info!("validation of {file_type} job {upload_job_id}: {checked:?}");
    } else {
        log::info!(
            "validation of {file_type} job {upload_job_id} overtaken by a newer request; result dropped"
        );
    }
    Ok(())
}
