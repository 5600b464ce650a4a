//! Reference data the broker web app shows on every page, no login needed:
//! `list_all_agencies` (the agency pickers) and `list_banners`.

use super::params::Query;
use crate::base::error::AppError;
use crate::base::messages;
use crate::base::timefmt::today;
use crate::db::reference;
use crate::state::AppState;
use rouille::{Request, Response};
use serde_json::{Value, json};

/// `GET /v1/list_all_agencies/`: CGAC and FREC agencies, by code.
pub fn list_all_agencies(_req: &Request, st: &AppState) -> Result<Response, AppError> {
    let conn = st.pool.get()?;
    let cgac: Vec<Value> = reference::cgac_agencies(&conn)?
        .into_iter()
        .map(|a| json!({"agency_name": a.agency_name, "cgac_code": a.code}))
        .collect();
    let frec: Vec<Value> = reference::frec_agencies(&conn)?
        .into_iter()
        .map(|a| json!({"agency_name": a.agency_name, "frec_code": a.code}))
        .collect();
    Ok(Response::json(
        &json!({"agency_list": cgac, "shared_agency_list": frec}),
    ))
}

/// The `login` parameter: a boolean, false when absent.
fn login_param(query: &Query) -> Result<bool, AppError> {
    match query.get("login").map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "f" | "no" | "n" | "off") => Ok(false),
        Some("true" | "1" | "t" | "yes" | "y" | "on") => Ok(true),
        Some(_) => Err(AppError::bad_request(messages::LOGIN_NOT_BOOLEAN)),
    }
}

/// `GET /v1/list_banners/?login=true|false`: the banners open today, login
/// banners only for the login page; `{"data": null}` when there are none.
pub fn list_banners(req: &Request, st: &AppState) -> Result<Response, AppError> {
    let login = login_param(&Query::of(req))?;
    let banners = reference::open_banners(&*st.pool.get()?, &today(), login)?;
    let data: Option<Vec<Value>> = (!banners.is_empty()).then(|| {
        banners
            .into_iter()
            .map(|b| {
                json!({
                    "start_date": b.start_date,
                    "end_date": b.end_date,
                    "notice_block": b.notice_block,
                    "header": b.header,
                    "message": b.message,
                    "type": b.kind,
                    "banner_type": b.banner_type,
                })
            })
            .collect()
    });
    Ok(Response::json(&json!({ "data": data })))
}
