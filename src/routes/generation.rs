//! `GET /v1/check_generation_status/`: the status of a submission's D1, D2,
//! E or F file, with a download link once it is finished.

use super::{Query, parse_submission_id};
use crate::app::AppState;
use crate::auth;
use crate::db::submissions::{Submission, find_submission};
use crate::domain::FileType;
use crate::error::AppError;
use crate::permissions::{self, Access};
use crate::status;
use rouille::{Request, Response};
use rusqlite::Connection;

/// Loads the submission a request names and checks the user may access it.
pub fn authorized_submission(
    conn: &Connection,
    user: &auth::CurrentUser,
    raw_id: Option<&str>,
    access: Access,
) -> Result<Submission, AppError> {
    let submission_id = parse_submission_id(raw_id)?;
    let submission = find_submission(conn, submission_id)?
        .ok_or_else(|| AppError::bad_request("No such submission"))?;
    if !permissions::can(user, &submission, access) {
        return Err(AppError::no_permission());
    }
    Ok(submission)
}

/// `file_type` of the generation routes: required, one of D1, D2, E, F.
pub fn parse_file_type(raw: Option<&str>) -> Result<FileType, AppError> {
    let raw =
        raw.ok_or_else(|| AppError::bad_request("file_type: Missing data for required field."))?;
    FileType::parse(raw)
        .ok_or_else(|| AppError::bad_request("file_type: Must be either D1, D2, E or F"))
}

pub fn check_generation_status(req: &Request, st: &AppState) -> Result<Response, AppError> {
    let user = auth::require_user(req, st)?;
    let query = Query::of(req);
    let conn = st.pool.get()?;
    let raw_id = query
        .get("submission_id")
        .or_else(|| query.get("submission"));
    let submission = authorized_submission(&conn, &user, raw_id, Access::Read)?;
    let file_type = parse_file_type(query.get("file_type"))?;
    if submission.is_fabs {
        return Err(AppError::bad_request(
            "Cannot generate files for FABS submissions.",
        ));
    }
    let body = status::submission_file_status(
        &conn,
        st.storage.as_ref(),
        st.config.url_ttl,
        submission.submission_id,
        file_type,
    )?;
    Ok(Response::json(&body))
}
