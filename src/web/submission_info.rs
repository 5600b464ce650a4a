//! What the broker web app's submission pages read: `check_current_page`
//! (which step a submission has reached), `submission_metadata` (its header)
//! and `get_file_url` (a link to any of its files).

use super::guard::{authorized_submission, require_user_on};
use super::params::Query;
use crate::access::Access;
use crate::base::error::AppError;
use crate::base::ids::SubmissionId;
use crate::base::messages;
use crate::base::timefmt::{iso_seconds, iso_to_mdy};
use crate::db::jobs::{self, Progress};
use crate::db::reference;
use crate::db::submissions::{self, Submission};
use crate::state::AppState;
use rouille::{Request, Response};
use serde::Serialize;

/// The step of the web app a submission is on, by the broker's rules: the
/// first rule that holds, from the last step back.
fn current_page(is_fabs: bool, p: Progress) -> Option<(&'static str, &'static str)> {
    let cross_file_done = p.cross_file_done > 0;
    if is_fabs {
        Some(("6", "/FABSaddData"))
    } else if p.ef_finished == 2 && cross_file_done {
        Some(("5", "/reviewData"))
    } else if cross_file_done {
        Some(("4", "/generateEF"))
    } else if p.d_validated == 2 && p.abc_validated == 3 {
        Some(("3", "/validateCrossFile"))
    } else if p.abc_validated == 3 {
        Some(("2", "/generateFiles"))
    } else if p.abc_with_errors > 0 || p.abc_unfinished > 0 {
        Some(("1", "/validateData"))
    } else {
        None
    }
}

/// `GET /v1/check_current_page/?submission_id=N`.
pub fn check_current_page(req: &Request, st: &AppState) -> Result<Response, AppError> {
    let conn = st.pool.get()?;
    let user = require_user_on(req, st, &conn)?;
    let query = Query::of(req);
    let sub = authorized_submission(&conn, &user, query.get("submission_id"), Access::Read)?;
    let progress = jobs::progress(&conn, sub.submission_id)?;
    let (step, page) = current_page(sub.is_fabs, progress)
        .ok_or_else(|| AppError::bad_request(messages::NO_RESPONSE_FOR_SUBMISSION))?;
    Ok(Response::json(&serde_json::json!({
        "message": format!("This submission is currently on the {page} page."),
        "step": step,
    })))
}

/// `Q1/2020`, `P07/2020` or `P01-P02/2020`; `None` without reporting dates.
fn reporting_period(sub: &Submission, has_dates: bool) -> Option<String> {
    let (Some(year), Some(period)) = (sub.reporting_fiscal_year, sub.reporting_fiscal_period)
    else {
        return None;
    };
    if !has_dates {
        None
    } else if sub.is_quarter_format {
        Some(format!("Q{}/{year}", period / 3))
    } else if period == 2 {
        Some(format!("P01-P02/{year}"))
    } else {
        Some(format!("P{period:02}/{year}"))
    }
}

#[derive(Serialize)]
struct FabsMeta {
    valid_rows: i64,
    total_rows: i64,
    publish_date: Option<String>,
    published_file: Option<String>,
}

#[derive(Serialize)]
struct MetadataResponse {
    cgac_code: Option<String>,
    frec_code: Option<String>,
    agency_name: String,
    number_of_errors: i64,
    number_of_warnings: i64,
    number_of_rows: i64,
    total_size: i64,
    created_on: String,
    last_updated: String,
    last_validated: String,
    reporting_period: Option<String>,
    reporting_start_date: Option<String>,
    reporting_end_date: Option<String>,
    publish_status: &'static str,
    quarterly_submission: bool,
    test_submission: bool,
    published_submission_ids: Vec<SubmissionId>,
    certified: bool,
    certification_deadline: String,
    fabs_submission: bool,
    fabs_meta: Option<FabsMeta>,
}

/// The FABS part of the metadata. broker-lite keeps no FABS rows of their
/// own: the rows and their errors come from the FABS validation job.
fn fabs_meta(
    conn: &rusqlite::Connection,
    sub: &Submission,
    updated_at: &str,
) -> Result<FabsMeta, AppError> {
    let found = jobs::find_file_jobs_of(conn, sub.submission_id, "FABS")?;
    let validation = found.validation.as_ref();
    let total_rows = validation
        .and_then(|v| v.number_of_rows)
        .map_or(0, |rows| (rows - 1).max(0));
    let errors = validation.map_or(0, |v| v.number_of_errors);
    let published = !matches!(
        sub.publish_status,
        crate::base::domain::PublishStatus::Unpublished
            | crate::base::domain::PublishStatus::Publishing
    );
    Ok(FabsMeta {
        valid_rows: (total_rows - errors).max(0),
        total_rows,
        publish_date: published.then(|| iso_seconds(updated_at)),
        published_file: None,
    })
}

/// `GET /v1/submission_metadata/?submission_id=N`.
pub fn submission_metadata(req: &Request, st: &AppState) -> Result<Response, AppError> {
    let conn = st.pool.get()?;
    let user = require_user_on(req, st, &conn)?;
    let query = Query::of(req);
    let sub = authorized_submission(&conn, &user, query.get("submission_id"), Access::Read)?;
    let meta = submissions::find_metadata(&conn, sub.submission_id)?
        .ok_or_else(|| AppError::bad_request(messages::NO_SUCH_SUBMISSION))?;
    let agency_name =
        reference::agency_name(&conn, sub.cgac_code.as_deref(), sub.frec_code.as_deref())?;
    let deadline = match (
        sub.is_fabs,
        sub.reporting_fiscal_year,
        sub.reporting_fiscal_period,
    ) {
        (false, Some(year), Some(period)) => {
            reference::certification_deadline(&conn, year, period)?
        }
        _ => None,
    };
    let updated_at = meta.updated_at.clone().unwrap_or_default();
    let has_dates = meta.reporting_start_date.is_some() || meta.reporting_end_date.is_some();
    let body = MetadataResponse {
        cgac_code: sub.cgac_code.clone(),
        frec_code: sub.frec_code.clone(),
        agency_name,
        number_of_errors: meta.number_of_errors,
        number_of_warnings: meta.number_of_warnings,
        number_of_rows: meta.number_of_rows,
        total_size: meta.total_size,
        created_on: meta
            .created_at
            .as_deref()
            .map(iso_seconds)
            .unwrap_or_default(),
        last_updated: iso_seconds(&updated_at),
        last_validated: jobs::oldest_last_validated(&conn, sub.submission_id)?
            .as_deref()
            .map(iso_seconds)
            .unwrap_or_default(),
        reporting_period: reporting_period(&sub, has_dates),
        reporting_start_date: meta.reporting_start_date.as_deref().map(iso_to_mdy),
        reporting_end_date: meta.reporting_end_date.as_deref().map(iso_to_mdy),
        publish_status: sub.publish_status.as_str(),
        quarterly_submission: sub.is_quarter_format,
        test_submission: meta.test_submission,
        published_submission_ids: submissions::published_in_period(&conn, &sub)?,
        certified: meta.certified,
        certification_deadline: deadline
            .as_deref()
            .and_then(|d| d.get(..10))
            .unwrap_or_default()
            .to_string(),
        fabs_submission: sub.is_fabs,
        fabs_meta: if sub.is_fabs {
            Some(fabs_meta(&conn, &sub, &updated_at)?)
        } else {
            None
        },
    };
    Ok(Response::json(&body))
}

/// File types `get_file_url` takes, as the broker's route lists them.
const FILE_URL_TYPES: &[&str] = &["A", "B", "BOC", "C", "D1", "D2", "E", "F", "FABS"];

/// `GET /v1/get_file_url/?submission_id=N&file_type=T`: a signed link to
/// the file of that type's upload job.
pub fn get_file_url(req: &Request, st: &AppState) -> Result<Response, AppError> {
    let conn = st.pool.get()?;
    let user = require_user_on(req, st, &conn)?;
    let query = Query::of(req);
    let sub = authorized_submission(&conn, &user, query.get("submission_id"), Access::Read)?;
    let file_type = query
        .get("file_type")
        .ok_or_else(|| AppError::bad_request(messages::FILE_TYPE_MISSING))?;
    if !FILE_URL_TYPES.contains(&file_type) {
        return Err(AppError::bad_request(messages::FILE_URL_TYPE_INVALID));
    }
    if sub.is_fabs != (file_type == "FABS") {
        return Err(AppError::bad_request(
            messages::FILE_TYPE_WRONG_FOR_SUBMISSION,
        ));
    }
    let key = jobs::find_upload_job(&conn, sub.submission_id, file_type)?
        .and_then(|job| job.filename)
        .filter(|key| !key.is_empty())
        .ok_or_else(|| AppError::bad_request(messages::NO_FILE_FOR_TYPE))?;
    let url = st.storage.signed_url(&key, st.config.url_ttl)?;
    Ok(Response::json(&serde_json::json!({ "url": url })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(ef: i64, cross: i64, d: i64, abc: i64, errors: i64, unfinished: i64) -> Progress {
        Progress {
            ef_finished: ef,
            cross_file_done: cross,
            d_validated: d,
            abc_validated: abc,
            abc_with_errors: errors,
            abc_unfinished: unfinished,
        }
    }

    #[test]
    fn steps_follow_the_brokers_rules() {
        let step = |p| current_page(false, p).map(|(s, _)| s);
        assert_eq!(
            current_page(true, Progress::default()),
            Some(("6", "/FABSaddData"))
        );
        assert_eq!(step(progress(2, 1, 2, 3, 0, 0)), Some("5"));
        assert_eq!(step(progress(1, 1, 2, 3, 0, 0)), Some("4"));
        assert_eq!(step(progress(0, 0, 2, 3, 0, 0)), Some("3"));
        assert_eq!(step(progress(0, 0, 1, 3, 0, 0)), Some("2"));
        assert_eq!(step(progress(0, 0, 0, 2, 1, 0)), Some("1"));
        assert_eq!(step(progress(0, 0, 0, 2, 0, 1)), Some("1"));
        assert_eq!(step(progress(0, 0, 0, 0, 0, 0)), None);
    }
}
