//! `POST /v1/generate_file/` and `GET /v1/check_generation_status/`: queue a
//! submission's D1, D2, E or F file and report its status, with a download
//! link once it is finished.

use super::{Query, parse_submission_id, read_params};
use crate::app::AppState;
use crate::auth;
use crate::db::jobs;
use crate::db::submissions::{Submission, find_submission};
use crate::domain::{AgencyType, FileFormat, FileType, JobType};
use crate::error::AppError;
use crate::generate::{self, DParams};
use crate::permissions::{self, Access};
use crate::status;
use crate::timefmt::parse_mdy_date;
use rouille::{Request, Response};
use rusqlite::Connection;
use serde_json::{Map, Value};
use time::Date;

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

/// The status body of a submission's file, as both routes answer it.
fn status_answer(
    conn: &Connection,
    st: &AppState,
    submission_id: i64,
    file_type: FileType,
) -> Result<Response, AppError> {
    let storage = st.storage.as_ref();
    let body =
        status::submission_file_status(conn, storage, st.config.url_ttl, submission_id, file_type)?;
    Ok(Response::json(&body))
}

pub fn check_generation_status(req: &Request, st: &AppState) -> Result<Response, AppError> {
    let conn = st.pool.get()?;
    let user = auth::require_user_on(req, st, &conn)?;
    let query = Query::of(req);
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
    status_answer(&conn, st, submission.submission_id, file_type)
}

/// A request parameter as text: strings as they are, numbers as written.
pub fn param_text(params: &Map<String, Value>, name: &str) -> Option<String> {
    match params.get(name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An optional `MM/DD/YYYY` date parameter.
pub fn date_param(params: &Map<String, Value>, name: &str) -> Result<Option<Date>, AppError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => parse_mdy_date(s).map(Some).ok_or_else(|| {
            AppError::bad_request(format!("{name}: Must be in the format MM/DD/YYYY"))
        }),
        Some(_) => Err(AppError::bad_request(format!(
            "{name}: Must be in the format MM/DD/YYYY"
        ))),
    }
}

/// An optional enum parameter with the broker's "if provided" message.
pub fn choice_param<T>(
    params: &Map<String, Value>,
    name: &str,
    parse: fn(&str) -> Option<T>,
    default: T,
    message: &str,
) -> Result<T, AppError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::String(s)) => parse(s).ok_or_else(|| AppError::bad_request(message)),
        Some(_) => Err(AppError::bad_request(message)),
    }
}

/// The D-file parameters shared by the submission and detached routes, in
/// the broker's order: dates, agency type, file format.
pub struct DateAndFormat {
    pub start: Option<Date>,
    pub end: Option<Date>,
    pub agency_type: AgencyType,
    pub file_format: FileFormat,
}

pub fn date_and_format(params: &Map<String, Value>) -> Result<DateAndFormat, AppError> {
    Ok(DateAndFormat {
        start: date_param(params, "start")?,
        end: date_param(params, "end")?,
        agency_type: choice_param(
            params,
            "agency_type",
            AgencyType::parse,
            AgencyType::Awarding,
            "agency_type: Must be either awarding or funding if provided",
        )?,
        file_format: choice_param(
            params,
            "file_format",
            FileFormat::parse,
            FileFormat::Csv,
            "file_format: Must be either csv or txt if provided",
        )?,
    })
}

pub const NEED_DATES: &str = "Must have a start and end date for D file generation.";

/// `POST /v1/generate_file/`: queues a submission's D1, D2, E or F file.
pub fn generate_file(req: &Request, st: &AppState) -> Result<Response, AppError> {
    let mut conn = st.pool.get()?;
    let user = auth::require_user_on(req, st, &conn)?;
    let params = read_params(req)?;
    let raw_id = param_text(&params, "submission_id");
    let submission = authorized_submission(&conn, &user, raw_id.as_deref(), Access::WriteDabs)?;
    let file_type = match params.get("file_type") {
        None | Some(Value::Null) => parse_file_type(None)?,
        Some(Value::String(s)) => parse_file_type(Some(s))?,
        Some(_) => parse_file_type(Some(""))?,
    };
    let options = date_and_format(&params)?;
    if submission.is_fabs {
        return Err(AppError::bad_request(
            "Cannot generate files for FABS submissions.",
        ));
    }
    let d = if file_type.is_d_file() {
        let (Some(start), Some(end)) = (options.start, options.end) else {
            return Err(AppError::bad_request(NEED_DATES));
        };
        Some(DParams {
            start,
            end,
            agency_type: options.agency_type,
            file_format: options.file_format,
            element_numbers: false,
        })
    } else {
        None
    };
    if jobs::unfinished_prerequisites(&conn, submission.submission_id, file_type)? > 0 {
        return Err(AppError::bad_request(
            "Must wait for completion of prerequisite validation job",
        ));
    }
    let upload = jobs::find_submission_job(
        &conn,
        submission.submission_id,
        file_type,
        JobType::FileUpload,
    )?
    .ok_or_else(|| {
        AppError::DataFault(format!(
            "The submission {} has no upload Job for file type {file_type}",
            submission.submission_id
        ))
    })?;
    generate::queue_submission_file(&mut conn, &submission, &upload, file_type, d)?;
    st.wake.notify();
    status_answer(&conn, st, submission.submission_id, file_type)
}
