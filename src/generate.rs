//! Queuing a generation: everything a generate request changes, in one short
//! `IMMEDIATE` transaction, so identical requests arriving together share
//! one generation.

use crate::db::generation::{self as gen_db, DRequest, TaskKind};
use crate::db::jobs::{self, Job};
use crate::db::submissions::{self, Submission};
use crate::domain::{AgencyType, FileFormat, FileType, JobType};
use crate::error::AppError;
use crate::timefmt::{format_iso_date, now_timestamp};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use time::Date;

/// The D-file parameters of a request.
#[derive(Debug, Clone, Copy)]
pub struct DParams {
    pub start: Date,
    pub end: Date,
    pub agency_type: AgencyType,
    pub file_format: FileFormat,
    pub element_numbers: bool,
}

/// Links a D job to the cached generation for `req`, or starts one; queues
/// the worker's part. Returns whether a new generation was started.
pub fn link_d_generation(
    tx: &Transaction<'_>,
    job_id: i64,
    req: &DRequest,
    now: &str,
) -> rusqlite::Result<bool> {
    let mut cached = gen_db::find_cached(tx, req)?;
    if let (FileType::D1, Some(fg)) = (req.file_type, &cached) {
        let requested = fg.requested_at.as_deref().unwrap_or(&fg.request_date);
        if gen_db::last_fpds_load(tx)?.is_some_and(|load| requested < load.as_str()) {
            // FPDS data changed since this file was made: make it again.
            gen_db::uncache(tx, fg.file_generation_id)?;
            cached = None;
        }
    }
    gen_db::cancel_queued_for_job(tx, job_id)?;
    let dates = Some((req.start.as_str(), req.end.as_str()));
    match cached {
        Some(fg) => {
            jobs::start_generation(tx, job_id, dates, Some(fg.file_generation_id), now)?;
            // Still being generated: the generator finishes every waiting job.
            if fg.file_path.is_some() {
                gen_db::enqueue(
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
            let fg_id = gen_db::insert_file_generation(tx, req, now)?;
            jobs::start_generation(tx, job_id, dates, Some(fg_id), now)?;
            gen_db::enqueue(tx, TaskKind::GenerateD, None, Some(fg_id), now)?;
            Ok(true)
        }
    }
}

/// The agency a submission's D files are generated for: FREC, else CGAC.
pub fn submission_agency(sub: &Submission) -> Result<&str, AppError> {
    sub.frec_code
        .as_deref()
        .or(sub.cgac_code.as_deref())
        .ok_or_else(|| {
            AppError::DataFault(format!(
                "The submission {} has no agency code",
                sub.submission_id
            ))
        })
}

/// Queues the generation of a submission's file, with the broker's side
/// effects for D files (validation job reset, cross-file job back to
/// waiting, published submission updated).
pub fn queue_submission_file(
    conn: &mut Connection,
    sub: &Submission,
    upload: &Job,
    file_type: FileType,
    d: Option<DParams>,
) -> Result<(), AppError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_timestamp();
    match d {
        Some(d) => {
            let validation = jobs::find_submission_job(
                &tx,
                sub.submission_id,
                file_type,
                JobType::CsvRecordValidation,
            )?;
            if validation.is_none() {
                return Err(AppError::DataFault(format!(
                    "The upload Job {} with submission_id {} is missing its validation Job",
                    upload.job_id, sub.submission_id
                )));
            }
            let req = DRequest {
                file_type,
                start: format_iso_date(d.start),
                end: format_iso_date(d.end),
                agency_code: submission_agency(sub)?.to_string(),
                agency_type: d.agency_type,
                file_format: d.file_format,
                element_numbers: d.element_numbers,
            };
            link_d_generation(&tx, upload.job_id, &req, &now)?;
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
        None => {
            gen_db::cancel_queued_for_job(&tx, upload.job_id)?;
            jobs::start_generation(&tx, upload.job_id, None, None, &now)?;
            gen_db::enqueue(&tx, TaskKind::GenerateEf, Some(upload.job_id), None, &now)?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Creates a detached file_upload job for a user and links it to the D file
/// cache; returns the new job's id.
pub fn queue_detached_file(
    conn: &mut Connection,
    user_id: i64,
    req: &DRequest,
) -> Result<i64, AppError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_timestamp();
    let job_id =
        jobs::insert_detached_job(&tx, user_id, req.file_type, &req.start, &req.end, &now)?;
    link_d_generation(&tx, job_id, req, &now)?;
    tx.commit()?;
    Ok(job_id)
}
