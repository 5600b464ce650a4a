//! Queueing a generation: everything a generate request changes, in one short
//! `IMMEDIATE` transaction, so identical requests arriving together share
//! one generation. What a request does follows its file type's spec.

use crate::base::domain::{AgencyType, FileFormat, FileType, TaskKind};
use crate::base::error::AppError;
use crate::base::ids::{JobId, SubmissionId, UserId};
use crate::base::messages;
use crate::base::timefmt::{format_iso_date, now_timestamp};
use crate::db::file_generation::{self as cache, GenerationRequest};
use crate::db::submissions::{self, Submission};
use crate::db::{jobs, tasks};
use crate::files::spec::{Prerequisite, spec};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use time::Date;

/// The date-range part of a request for a dated file type.
#[derive(Debug, Clone, Copy)]
pub struct DateRange {
    pub start: Date,
    pub end: Date,
    pub agency_type: AgencyType,
    pub file_format: FileFormat,
    pub element_numbers: bool,
}

impl DateRange {
    /// The cache key of this range for a file type and agency.
    pub fn request(&self, file_type: FileType, agency_code: &str) -> GenerationRequest {
        GenerationRequest {
            file_type,
            start: format_iso_date(self.start),
            end: format_iso_date(self.end),
            agency_code: agency_code.to_string(),
            agency_type: self.agency_type,
            file_format: self.file_format,
            element_numbers: self.element_numbers,
        }
    }
}

/// Whether the submission has finished what a file type needs first.
pub fn prerequisites_finished(
    conn: &Connection,
    submission_id: SubmissionId,
    file_type: FileType,
) -> rusqlite::Result<bool> {
    let unfinished = match spec(file_type).prerequisite {
        Prerequisite::Files(types) => {
            jobs::unfinished_file_validations(conn, submission_id, types)?
        }
        Prerequisite::CrossFileValidation => {
            jobs::unfinished_cross_file_validations(conn, submission_id)?
        }
        Prerequisite::None => 0,
    };
    Ok(unfinished == 0)
}

/// Links a job to the cached generation for `req`, or starts one, and queues
/// the worker's part. Returns whether a new generation was started.
pub fn link_cached_generation(
    tx: &Transaction<'_>,
    job_id: JobId,
    req: &GenerationRequest,
    now: &str,
) -> rusqlite::Result<bool> {
    let mut cached = cache::find_cached(tx, req)?;
    if let Some(fg) = &cached
        && fg.file_path.is_some()
        && !spec(req.file_type).reuse_finished
    {
        // Shared only while in progress: a new request gets a new file.
        cache::uncache(tx, fg.file_generation_id)?;
        cached = None;
    }
    if let Some(fg) = &cached
        && spec(req.file_type).refreshed_by_fpds_load
    {
        let requested = fg.requested_at.as_deref().unwrap_or(&fg.request_date);
        if cache::last_fpds_load(tx)?.is_some_and(|load| requested < load.as_str()) {
            // The source data changed since this file was made: make it again.
            cache::uncache(tx, fg.file_generation_id)?;
            cached = None;
        }
    }
    tasks::cancel_queued_for_job(tx, job_id)?;
    let dates = Some((req.start.as_str(), req.end.as_str()));
    match cached {
        Some(fg) => {
            jobs::start_generation(tx, job_id, dates, Some(fg.file_generation_id), now)?;
            // Still being generated: the generator finishes every waiting job.
            if fg.file_path.is_some() {
                tasks::enqueue(
                    tx,
                    TaskKind::Attach,
                    Some(job_id),
                    Some(fg.file_generation_id),
                    now,
                )?;
            }
            Ok(false)
        }
        None => {
            let fg_id = cache::insert_file_generation(tx, req, now)?;
            jobs::start_generation(tx, job_id, dates, Some(fg_id), now)?;
            tasks::enqueue(tx, TaskKind::GenerateShared, None, Some(fg_id), now)?;
            Ok(true)
        }
    }
}

/// Queues the generation of a submission's file, with the broker's side
/// effects for validated files (validation job reset, cross-file job back to
/// waiting, published submission updated).
pub fn queue_submission_file(
    conn: &mut Connection,
    sub: &Submission,
    file_type: FileType,
    range: Option<DateRange>,
) -> Result<(), AppError> {
    let spec = spec(file_type);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_timestamp();
    let found = jobs::find_file_jobs(&tx, sub.submission_id, file_type)?;
    let upload = found.upload.ok_or_else(|| {
        AppError::DataFault(messages::missing_upload_job(sub.submission_id, file_type))
    })?;
    if spec.validation.is_some() && found.validation.is_none() {
        return Err(AppError::DataFault(messages::missing_validation_job(
            upload.job_id,
            sub.submission_id,
        )));
    }
    if spec.cached {
        let range = range.ok_or_else(|| AppError::bad_request(messages::NEED_DATES))?;
        let agency = sub.agency_code().ok_or_else(|| {
            AppError::DataFault(format!(
                "The submission {} has no agency code",
                sub.submission_id
            ))
        })?;
        let req = range.request(file_type, agency);
        link_cached_generation(&tx, upload.job_id, &req, &now)?;
        if spec.validation.is_some() {
            jobs::reset_validation_job(
                &tx,
                sub.submission_id,
                file_type,
                &req.start,
                &req.end,
                &now,
            )?;
            jobs::reset_cross_file_job(&tx, sub.submission_id, &now)?;
            submissions::mark_updated_if_published(&tx, sub.submission_id)?;
        }
    } else {
        tasks::cancel_queued_for_job(&tx, upload.job_id)?;
        jobs::start_generation(&tx, upload.job_id, None, None, &now)?;
        tasks::enqueue(
            &tx,
            TaskKind::GenerateForJob,
            Some(upload.job_id),
            None,
            &now,
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Creates a detached upload job for a user and links it to the cache;
/// returns the new job's id.
pub fn queue_detached_file(
    conn: &mut Connection,
    user_id: UserId,
    req: &GenerationRequest,
) -> Result<JobId, AppError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_timestamp();
    let job_id =
        jobs::insert_detached_job(&tx, user_id, req.file_type, &req.start, &req.end, &now)?;
    link_cached_generation(&tx, job_id, req, &now)?;
    tx.commit()?;
    Ok(job_id)
}
