//! `POST /v1/generate_file/` and `GET /v1/check_generation_status/`: queue a
//! submission's file (D1, D2, E or F: the types whose spec is `in_submission`)
//! and report its status, with a download link once it is finished.

use super::guard::{authorized_submission, require_user_on};
use super::params::{self, Query, date_and_format, file_type_param, json_str, param_text};
use crate::access::Access;
use crate::base::domain::FileType;
use crate::base::error::AppError;
use crate::base::ids::SubmissionId;
use crate::base::messages;
use crate::db;
use crate::files::spec;
use crate::generation::queue::{self, DateRange};
use crate::generation::status;
use crate::state::AppState;
use rouille::{Request, Response};
use rusqlite::Connection;

const INVALID_FILE_TYPE: &str = "file_type: Must be either D1, D2, E or F";

/// The status body of a submission's file, as both routes answer it; the
/// reads happen in the caller's snapshot, the message is saved after it.
fn status_answer(
    conn: &Connection,
    st: &AppState,
    submission_id: SubmissionId,
    file_type: FileType,
) -> Result<status::StatusResponse, AppError> {
    let storage = st.storage.as_ref();
    status::submission_file_status(conn, storage, st.config.url_ttl, submission_id, file_type)
}

fn respond(conn: &Connection, answer: status::StatusResponse) -> Result<Response, AppError> {
    status::save_message(conn, &answer)?;
    Ok(Response::json(&answer))
}

/// `GET /v1/check_generation_status/?submission_id=N&file_type=T`.
pub fn check_generation_status(req: &Request, st: &AppState) -> Result<Response, AppError> {
    let conn = st.pool.get()?;
    let snapshot = db::ReadSnapshot::begin(&conn)?;
    let user = require_user_on(req, st, &snapshot)?;
    let query = Query::of(req);
    let raw_id = query
        .get("submission_id")
        .or_else(|| query.get("submission"));
    let submission = authorized_submission(&snapshot, &user, raw_id, Access::Read)?;
    let file_type = file_type_param(
        query.get("file_type"),
        |s| s.in_submission,
        INVALID_FILE_TYPE,
    )?;
    if submission.is_fabs {
        return Err(AppError::bad_request(messages::FABS_SUBMISSION));
    }
    let answer = status_answer(&snapshot, st, submission.submission_id, file_type)?;
    drop(snapshot);
    respond(&conn, answer)
}

/// `POST /v1/generate_file/`: queues a submission's file.
pub fn generate_file(req: &Request, st: &AppState) -> Result<Response, AppError> {
    let mut conn = st.pool.get()?;
    let user = require_user_on(req, st, &conn)?;
    let params = params::read_params(req)?;
    let raw_id = param_text(&params, "submission_id");
    let submission = authorized_submission(&conn, &user, raw_id.as_deref(), Access::WriteDabs)?;
    let file_type = file_type_param(
        json_str(&params, "file_type"),
        |s| s.in_submission,
        INVALID_FILE_TYPE,
    )?;
    let options = date_and_format(&params)?;
    if submission.is_fabs {
        return Err(AppError::bad_request(messages::FABS_SUBMISSION));
    }
    let range = if spec(file_type).dated {
        let (Some(start), Some(end)) = (options.start, options.end) else {
            return Err(AppError::bad_request(messages::NEED_DATES));
        };
        Some(DateRange {
            start,
            end,
            agency_type: options.agency_type,
            file_format: options.file_format,
            element_numbers: false,
        })
    } else {
        None
    };
    if !queue::prerequisites_finished(&conn, submission.submission_id, file_type)? {
        return Err(AppError::bad_request(messages::PREREQUISITES_UNFINISHED));
    }
    queue::queue_submission_file(&mut conn, &submission, file_type, range)?;
    st.wake.notify();
    let answer = status_answer(&conn, st, submission.submission_id, file_type)?;
    respond(&conn, answer)
}
