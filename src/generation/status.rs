//! The generation status of a file: the broker's mapping of the upload job
//! (and, for D1/D2 in a submission, its validation job) to
//! waiting/invalid/finished/failed, and the body the status routes answer.

use crate::base::domain::{FileType, GenerationStatus, JobStatus};
use crate::base::error::AppError;
use crate::base::ids::{JobId, SubmissionId};
use crate::base::messages::{
    self, FILE_LEVEL_ERRORS, ROW_LEVEL_ERRORS, UPLOAD_FAILED_NO_MESSAGE, VALIDATION_INTERNAL_ERROR,
};
use crate::base::timefmt::iso_to_mdy;
use crate::db::jobs::{self, Job};
use crate::files::spec;
use crate::storage::FileStore;
use rusqlite::Connection;
use serde::Serialize;

/// What the mapping needs to know of a job.
#[derive(Debug, Clone, Copy)]
pub struct JobState<'a> {
    pub status: JobStatus,
    pub error_message: Option<&'a str>,
    pub number_of_errors: i64,
}

/// The mapped status and the upload job's message after the mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub status: GenerationStatus,
    /// The upload job's message after the mapping (saved when it changed).
    pub message: Option<String>,
}

fn upload_status(status: JobStatus) -> GenerationStatus {
    match status {
        JobStatus::Waiting | JobStatus::Running => GenerationStatus::Waiting,
        JobStatus::Ready => GenerationStatus::Invalid,
        JobStatus::Finished => GenerationStatus::Finished,
        JobStatus::Invalid | JobStatus::Failed => GenerationStatus::Failed,
    }
}

fn validation_status(status: JobStatus) -> GenerationStatus {
    match status {
        JobStatus::Waiting | JobStatus::Ready | JobStatus::Running => GenerationStatus::Waiting,
        JobStatus::Finished => GenerationStatus::Finished,
        JobStatus::Invalid | JobStatus::Failed => GenerationStatus::Failed,
    }
}

fn non_empty(message: Option<&str>) -> Option<&str> {
    message.filter(|m| !m.is_empty())
}

/// The broker's `map_generate_status`.
pub fn map_generation_status(upload: JobState<'_>, validation: Option<JobState<'_>>) -> Mapped {
    let mut message = non_empty(upload.error_message).map(str::to_owned);
    let mut status = upload_status(upload.status);
    if status == GenerationStatus::Failed && message.is_none() {
        message = Some(UPLOAD_FAILED_NO_MESSAGE.into());
    }
    let Some(validation) = validation else {
        return Mapped { status, message };
    };
    if status == GenerationStatus::Finished {
        status = validation_status(validation.status);
        if status == GenerationStatus::Finished && validation.number_of_errors > 0 {
            status = GenerationStatus::Failed;
            message = Some(ROW_LEVEL_ERRORS.into());
        }
    }
    if status == GenerationStatus::Failed && message.is_none() {
        message = Some(match non_empty(validation.error_message) {
            Some(own) => own.into(),
            None if validation.status == JobStatus::Invalid => FILE_LEVEL_ERRORS.into(),
            None => VALIDATION_INTERNAL_ERROR.into(),
        });
    }
    Mapped { status, message }
}

/// The body of `check_generation_status` (and of the routes that answer like it).
#[derive(Debug, Serialize)]
pub struct StatusResponse {
    pub job_id: JobId,
    pub status: &'static str,
    pub file_type: &'static str,
    pub url: String,
    pub size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    pub message: String,
    pub generated_at: String,
    /// The message the broker saves on the upload job with this answer
    /// (written by [`save_message`] once the reads are done).
    #[serde(skip)]
    pub message_to_save: Option<String>,
}

/// Saves the message an answer chose on its upload job, as the broker does
/// when it maps a status. Run after the answer's read snapshot is closed:
/// a write inside a read transaction could meet a newer snapshot.
pub fn save_message(conn: &Connection, answer: &StatusResponse) -> Result<(), AppError> {
    if let Some(message) = &answer.message_to_save {
        jobs::save_error_message(conn, answer.job_id, message)?;
    }
    Ok(())
}

fn job_state(job: &Job) -> JobState<'_> {
    JobState {
        status: job.job_status,
        error_message: job.error_message.as_deref(),
        number_of_errors: job.number_of_errors,
    }
}

/// Maps an upload job (with its validation job, if it counts) and builds
/// the answer, with the message to save on the job (see [`save_message`]).
pub fn status_response(
    storage: &dyn FileStore,
    url_ttl: u64,
    file_type: FileType,
    upload: &Job,
    validation: Option<&Job>,
) -> Result<StatusResponse, AppError> {
    let mapped = map_generation_status(job_state(upload), validation.map(job_state));
    let message_to_save = mapped
        .message
        .clone()
        .filter(|m| Some(m.as_str()) != non_empty(upload.error_message.as_deref()));
    let url = match (&mapped.status, upload.filename.as_deref()) {
        (GenerationStatus::Finished, Some(key)) if !key.is_empty() => {
            storage.signed_url(key, url_ttl)?
        }
        _ => "#".to_string(),
    };
    let dates = |date: &Option<String>| {
        spec(file_type)
            .dated
            .then(|| date.as_deref().map(iso_to_mdy).unwrap_or_default())
    };
    Ok(StatusResponse {
        job_id: upload.job_id,
        status: mapped.status.as_str(),
        file_type: file_type.as_str(),
        url,
        size: upload.file_size,
        start: dates(&upload.start_date),
        end: dates(&upload.end_date),
        message: match mapped.status {
            GenerationStatus::Failed => mapped.message.unwrap_or_default(),
            _ => String::new(),
        },
        generated_at: upload.updated_at.clone(),
        message_to_save,
    })
}

/// The status of a submission's file: its upload job and, for a validated
/// file type, the validation job that must exist beside it (read together).
pub fn submission_file_status(
    conn: &Connection,
    storage: &dyn FileStore,
    url_ttl: u64,
    submission_id: SubmissionId,
    file_type: FileType,
) -> Result<StatusResponse, AppError> {
    let found = jobs::find_file_jobs(conn, submission_id, file_type)?;
    let upload = found.upload.ok_or_else(|| {
        AppError::DataFault(messages::missing_upload_job(submission_id, file_type))
    })?;
    let validation = match (spec(file_type).validation, found.validation) {
        (None, _) => None,
        (Some(_), Some(validation)) => Some(validation),
        (Some(_), None) => {
            return Err(AppError::DataFault(messages::missing_validation_job(
                upload.job_id,
                submission_id,
            )));
        }
    };
    status_response(storage, url_ttl, file_type, &upload, validation.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use GenerationStatus as G;
    use JobStatus as J;

    fn state(status: JobStatus, message: Option<&str>, errors: i64) -> JobState<'_> {
        JobState {
            status,
            error_message: message,
            number_of_errors: errors,
        }
    }

    fn map(upload: JobState<'_>, validation: Option<JobState<'_>>) -> (G, Option<String>) {
        let m = map_generation_status(upload, validation);
        (m.status, m.message)
    }

    #[test]
    fn upload_job_alone_maps_like_the_broker() {
        let cases = [
            (J::Waiting, G::Waiting),
            (J::Ready, G::Invalid),
            (J::Running, G::Waiting),
            (J::Finished, G::Finished),
            (J::Invalid, G::Failed),
            (J::Failed, G::Failed),
        ];
        for (job, expected) in cases {
            assert_eq!(map(state(job, None, 0), None).0, expected, "{job}");
        }
    }

    #[test]
    fn failed_upload_without_message_gets_the_default() {
        assert_eq!(
            map(state(J::Failed, Some(""), 0), None),
            (G::Failed, Some(UPLOAD_FAILED_NO_MESSAGE.into()))
        );
        assert_eq!(
            map(state(J::Invalid, Some("bad"), 0), None),
            (G::Failed, Some("bad".into()))
        );
    }

    #[test]
    fn validation_job_counts_once_the_upload_finished() {
        let done = state(J::Finished, None, 0);
        for v in [J::Waiting, J::Ready, J::Running] {
            assert_eq!(map(done, Some(state(v, None, 0))).0, G::Waiting, "{v}");
        }
        assert_eq!(
            map(done, Some(state(J::Finished, None, 0))),
            (G::Finished, None)
        );
        assert_eq!(
            map(done, Some(state(J::Finished, None, 3))),
            (G::Failed, Some(ROW_LEVEL_ERRORS.into()))
        );
        assert_eq!(
            map(done, Some(state(J::Invalid, None, 0))),
            (G::Failed, Some(FILE_LEVEL_ERRORS.into()))
        );
        assert_eq!(
            map(done, Some(state(J::Failed, None, 0))),
            (G::Failed, Some(VALIDATION_INTERNAL_ERROR.into()))
        );
        assert_eq!(
            map(done, Some(state(J::Invalid, Some("header wrong"), 0))),
            (G::Failed, Some("header wrong".into()))
        );
        assert_eq!(
            map(
                state(J::Finished, Some("upload said"), 0),
                Some(state(J::Failed, Some("v"), 0))
            ),
            (G::Failed, Some("upload said".into()))
        );
    }

    #[test]
    fn validation_job_is_ignored_while_the_upload_is_not_finished() {
        let validation = Some(state(J::Finished, None, 5));
        assert_eq!(map(state(J::Running, None, 0), validation).0, G::Waiting);
        assert_eq!(map(state(J::Ready, None, 0), validation).0, G::Invalid);
        assert_eq!(
            map(state(J::Failed, None, 0), validation),
            (G::Failed, Some(UPLOAD_FAILED_NO_MESSAGE.into()))
        );
    }
}
