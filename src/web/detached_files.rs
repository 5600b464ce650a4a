//! Detached generation, for an agency and a date range without a submission:
//! `generate_detached_file`, `check_detached_generation_status` and
//! `get_detached_file_url` (the types whose spec is `detached`).

use super::guard::{require_user, require_user_on};
use super::params::{Query, date_and_format, file_type_param, json_str, read_params};
use crate::base::domain::JobStatus;
use crate::base::error::AppError;
use crate::base::ids::JobId;
use crate::base::messages;
use crate::db::jobs::{self, Job};
use crate::files::spec;
use crate::generation::queue::{self, DateRange};
use crate::generation::status::{self, StatusResponse};
use crate::state::AppState;
use rouille::{Request, Response};
use serde_json::{Map, Value};

const INVALID_FILE_TYPE: &str = "file_type: Must be either D1, D2, A or BOC";

fn element_numbers(params: &Map<String, Value>) -> Result<bool, AppError> {
    match params.get("element_numbers") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(AppError::bad_request(messages::ELEMENT_NUMBERS_INVALID)),
    }
}

/// An agency code: a string (empty means not given) or null.
fn agency_param(params: &Map<String, Value>, name: &str) -> Result<Option<String>, AppError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Some(_) => Err(AppError::bad_request(messages::not_a_string(name))),
    }
}

/// `POST /v1/generate_detached_file/`.
pub fn generate_detached_file(req: &Request, st: &AppState) -> Result<Response, AppError> {
    let user = require_user(req, st)?;
    let params = read_params(req)?;
    let raw_type = json_str(&params, "file_type");
    if let Some(gtas @ ("A" | "BOC")) = raw_type {
        return Err(AppError::bad_request(format!(
            "File {gtas} generation needs GTAS data, which broker-lite does not hold; only D1 and D2 files can be generated"
        )));
    }
    let file_type = file_type_param(raw_type, |s| s.detached, INVALID_FILE_TYPE)?;
    let spec = spec(file_type);
    let options = date_and_format(&params)?;
    // Only layouts with element numbers (D1's) have numbered headers.
    let numbered = element_numbers(&params)?
        && spec
            .columns()
            .iter()
            .any(|c| c.header_with_element_number.is_some());
    let (frec, cgac) = (
        agency_param(&params, "frec_code")?,
        agency_param(&params, "cgac_code")?,
    );
    let agency_code = frec
        .or(cgac)
        .ok_or_else(|| AppError::bad_request(messages::NEED_AGENCY))?;
    let (Some(start), Some(end)) = (options.start, options.end) else {
        return Err(AppError::bad_request(messages::NEED_DATES));
    };
    let range = DateRange {
        start,
        end,
        agency_type: options.agency_type,
        file_format: options.file_format,
        element_numbers: numbered,
    };
    let mut conn = st.pool.get()?;
    let job_id = queue::queue_detached_file(
        &mut conn,
        user.user.user_id,
        &range.request(file_type, &agency_code),
    )?;
    st.wake.notify();
    let job = jobs::find_job(&conn, job_id)?
        .ok_or_else(|| anyhow::anyhow!("new job {job_id} vanished"))?;
    Ok(Response::json(&detached_status(&conn, st, &job)?))
}

fn detached_status(
    conn: &rusqlite::Connection,
    st: &AppState,
    job: &Job,
) -> Result<StatusResponse, AppError> {
    let file_type = job
        .file_type
        .ok_or_else(|| AppError::bad_request(messages::NOT_DETACHED))?;
    status::status_response(
        conn,
        st.storage.as_ref(),
        st.config.url_ttl,
        file_type,
        job,
        None,
    )
}

/// The `job_id` query parameter: required and an integer.
fn job_id_param(req: &Request) -> Result<JobId, AppError> {
    let query = Query::of(req);
    let raw = query
        .get("job_id")
        .ok_or_else(|| AppError::bad_request(messages::JOB_ID_MISSING))?;
    raw.trim()
        .parse()
        .map(JobId)
        .map_err(|_| AppError::bad_request(messages::JOB_ID_NOT_INTEGER))
}

/// A detached job by id; `None` when there is no such job.
fn find_detached(conn: &rusqlite::Connection, job_id: JobId) -> Result<Option<Job>, AppError> {
    match jobs::find_job(conn, job_id)? {
        None => Ok(None),
        Some(job)
            if job.submission_id.is_some() || !job.file_type.is_some_and(|t| spec(t).detached) =>
        {
            Err(AppError::bad_request(messages::NOT_DETACHED))
        }
        Some(job) => Ok(Some(job)),
    }
}

/// `GET /v1/check_detached_generation_status/?job_id=N`.
pub fn check_detached_generation_status(
    req: &Request,
    st: &AppState,
) -> Result<Response, AppError> {
    let conn = st.pool.get()?;
    require_user_on(req, st, &conn)?;
    let job_id = job_id_param(req)?;
    match find_detached(&conn, job_id)? {
        Some(job) => Ok(Response::json(&detached_status(&conn, st, &job)?)),
        None => Ok(Response::json(&serde_json::json!({
            "job_id": job_id,
            "status": "invalid",
            "file_type": "",
            "url": "#",
            "size": null,
            "start": "",
            "end": "",
            "message": messages::NO_GENERATION_JOB,
            "generated_at": "",
        }))),
    }
}

/// `GET /v1/get_detached_file_url/?job_id=N`: a fresh signed link.
pub fn get_detached_file_url(req: &Request, st: &AppState) -> Result<Response, AppError> {
    let conn = st.pool.get()?;
    require_user_on(req, st, &conn)?;
    let job_id = job_id_param(req)?;
    let job = find_detached(&conn, job_id)?
        .ok_or_else(|| AppError::bad_request(messages::NO_GENERATION_JOB))?;
    let url = match (job.job_status, job.filename.as_deref()) {
        (JobStatus::Finished, Some(key)) if !key.is_empty() => {
            st.storage.signed_url(key, st.config.url_ttl)?
        }
        _ => "#".to_string(),
    };
    Ok(Response::json(&serde_json::json!({ "url": url })))
}
