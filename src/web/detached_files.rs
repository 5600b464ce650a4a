//! Detached generation, for an agency and a date range (D1, D2) or a fiscal
//! period (A, BOC) without a submission:
//! `generate_detached_file`, `check_detached_generation_status` and
//! `get_detached_file_url` (the types whose spec is `detached`).

use super::guard::{require_user, require_user_on};
use super::params::{Query, date_and_format, file_type_param, int_param, json_str, read_params};
use crate::base::domain::JobStatus;
use crate::base::domain::{AgencyType, FileFormat};
use crate::base::error::AppError;
use crate::base::fiscal::FiscalPeriod;
use crate::base::ids::JobId;
use crate::base::messages;
use crate::db::jobs::{self, Job};
use crate::db::{self, reference, submissions};
use crate::files::spec;
use crate::files::spec::Source;
use crate::generation::queue::{self, DateRange};
use crate::generation::status::{self, StatusResponse};
use crate::state::AppState;
use rouille::{Request, Response};
use serde_json::{Map, Value};

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

/// `POST /v1/generate_detached_file/`: checks in the broker's order (every
/// field's form, then the agency, then what the file type needs).
pub fn generate_detached_file(req: &Request, st: &AppState) -> Result<Response, AppError> {
    let user = require_user(req, st)?;
    let params = read_params(req)?;
    let file_type = file_type_param(
        json_str(&params, "file_type"),
        |s| s.detached,
        messages::DETACHED_FILE_TYPE_INVALID,
    )?;
    let spec = spec(file_type);
    let options = date_and_format(&params)?;
    // Only layouts with element numbers (D1's) have numbered headers.
    let numbered = element_numbers(&params)?
        && spec
            .columns()
            .iter()
            .any(|c| c.header_with_element_number.is_some());
    let year = int_param(&params, "year", messages::YEAR_NOT_INTEGER)?;
    let period = int_param(&params, "period", messages::PERIOD_NOT_INTEGER)?;
    if period.is_some_and(|p| !(2..=12).contains(&p)) {
        return Err(AppError::bad_request(messages::PERIOD_INVALID));
    }
    let (frec, cgac) = (
        agency_param(&params, "frec_code")?,
        agency_param(&params, "cgac_code")?,
    );
    let agency_code = frec
        .or(cgac)
        .ok_or_else(|| AppError::bad_request(messages::NEED_AGENCY))?;
    let mut conn = st.pool.get()?;
    let range = if spec.by_period {
        let (Some(year), Some(period)) = (year, period) else {
            return Err(AppError::bad_request(messages::NEED_YEAR_AND_PERIOD));
        };
        let (start, end) = i32::try_from(year)
            .ok()
            .filter(|y| (1000..=9999).contains(y))
            .and_then(|year| {
                FiscalPeriod {
                    year,
                    period: period as u8,
                }
                .dates()
            })
            .ok_or_else(|| AppError::bad_request(messages::YEAR_FORMAT_INVALID))?;
        if spec.source == Source::GtasBocComparison {
            let no_submission =
                submissions::published_for_period(&conn, &agency_code, year, period)?.is_none();
            let no_data = !reference::boc_data_exists(&conn, year, period)?;
            if no_submission || no_data {
                return Err(AppError::bad_request(
                    messages::no_published_submission_or_boc_data(no_submission, no_data),
                ));
            }
        }
        // One file for a period and agency: no format or agency type.
        DateRange {
            start,
            end,
            agency_type: AgencyType::Awarding,
            file_format: FileFormat::Csv,
            element_numbers: false,
        }
    } else {
        let (Some(start), Some(end)) = (options.start, options.end) else {
            return Err(AppError::bad_request(messages::NEED_DATES));
        };
        DateRange {
            start,
            end,
            agency_type: options.agency_type,
            file_format: options.file_format,
            element_numbers: numbered,
        }
    };
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
    let answer =
        status::status_response(st.storage.as_ref(), st.config.url_ttl, file_type, job, None)?;
    status::save_message(conn, &answer)?;
    Ok(answer)
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
    let snapshot = db::ReadSnapshot::begin(&conn)?;
    require_user_on(req, st, &snapshot)?;
    let job_id = job_id_param(req)?;
    let found = find_detached(&snapshot, job_id)?;
    drop(snapshot);
    match found {
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
