//! Detached D1/D2 generation, for an agency and a date range without a
//! submission: `generate_detached_file`, `check_detached_generation_status`
//! and `get_detached_file_url`.

use super::generation::{NEED_DATES, date_and_format};
use super::{Query, read_params};
use crate::app::AppState;
use crate::auth;
use crate::db::generation::DRequest;
use crate::db::jobs::{self, Job};
use crate::domain::FileType;
use crate::error::AppError;
use crate::generate;
use crate::status::{self, StatusResponse};
use crate::timefmt::format_iso_date;
use rouille::{Request, Response};
use serde_json::{Map, Value};

const NOT_FOUND: &str = "No generation job found with the specified ID";
const NOT_DETACHED: &str = "This is not a detached generation job.";

fn element_numbers(params: &Map<String, Value>) -> Result<bool, AppError> {
    match params.get("element_numbers") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(AppError::bad_request(
            "element_numbers: Not a valid boolean.",
        )),
    }
}

/// An agency code: a string (empty means not given) or null.
fn agency_param(params: &Map<String, Value>, name: &str) -> Result<Option<String>, AppError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Some(_) => Err(AppError::bad_request(format!(
            "{name}: Not a valid string."
        ))),
    }
}

/// `POST /v1/generate_detached_file/`.
pub fn generate_detached_file(req: &Request, st: &AppState) -> Result<Response, AppError> {
    let user = auth::require_user(req, st)?;
    let params = read_params(req)?;
    let file_type = match params.get("file_type") {
        None | Some(Value::Null) => {
            return Err(AppError::bad_request("file_type: Missing data for required field."));
        }
        Some(Value::String(s)) if s == "A" || s == "BOC" => {
            return Err(AppError::bad_request(format!(
                "File {s} generation needs GTAS data, which broker-lite does not hold; only D1 and D2 files can be generated"
            )));
        }
        Some(Value::String(s)) => FileType::parse(s).filter(|t| t.is_d_file()),
        Some(_) => None,
    }
    .ok_or_else(|| AppError::bad_request("file_type: Must be either D1, D2, A or BOC"))?;
    let options = date_and_format(&params)?;
    let numbered = element_numbers(&params)? && file_type == FileType::D1;
    let (frec, cgac) = (
        agency_param(&params, "frec_code")?,
        agency_param(&params, "cgac_code")?,
    );
    let agency_code = frec.or(cgac).ok_or_else(|| {
        AppError::bad_request("Detached file generation requires CGAC or FR Entity Code")
    })?;
    let (Some(start), Some(end)) = (options.start, options.end) else {
        return Err(AppError::bad_request(NEED_DATES));
    };
    let request = DRequest {
        file_type,
        start: format_iso_date(start),
        end: format_iso_date(end),
        agency_code,
        agency_type: options.agency_type,
        file_format: options.file_format,
        element_numbers: numbered,
    };
    let mut conn = st.pool.get()?;
    let job_id = generate::queue_detached_file(&mut conn, user.user.user_id, &request)?;
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
        .ok_or_else(|| AppError::bad_request(NOT_DETACHED))?;
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
fn job_id_param(req: &Request) -> Result<i64, AppError> {
    let query = Query::of(req);
    let raw = query
        .get("job_id")
        .ok_or_else(|| AppError::bad_request("job_id: Missing data for required field."))?;
    raw.trim()
        .parse()
        .map_err(|_| AppError::bad_request("job_id: Not a valid integer."))
}

/// A detached job by id; `None` when there is no such job.
fn find_detached(conn: &rusqlite::Connection, job_id: i64) -> Result<Option<Job>, AppError> {
    match jobs::find_job(conn, job_id)? {
        None => Ok(None),
        Some(job)
            if job.submission_id.is_some() || !job.file_type.is_some_and(FileType::is_d_file) =>
        {
            Err(AppError::bad_request(NOT_DETACHED))
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
    auth::require_user_on(req, st, &conn)?;
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
            "message": NOT_FOUND,
            "generated_at": "",
        }))),
    }
}

/// `GET /v1/get_detached_file_url/?job_id=N`: a fresh signed link.
pub fn get_detached_file_url(req: &Request, st: &AppState) -> Result<Response, AppError> {
    let conn = st.pool.get()?;
    auth::require_user_on(req, st, &conn)?;
    let job_id = job_id_param(req)?;
    let job = find_detached(&conn, job_id)?.ok_or_else(|| AppError::bad_request(NOT_FOUND))?;
    let url = match (job.job_status, job.filename.as_deref()) {
        (crate::domain::JobStatus::Finished, Some(key)) if !key.is_empty() => {
            st.storage.signed_url(key, st.config.url_ttl)?
        }
        _ => "#".to_string(),
    };
    Ok(Response::json(&serde_json::json!({ "url": url })))
}
