//! Tier 4: the routes. One entry point logs, dispatches by the `ROUTES`
//! table, turns errors and panics into the broker's JSON answers, and adds
//! CORS headers. Each route file is one resource of the broker's API.

pub mod cors;
pub mod detached_files;
pub mod downloads;
pub mod guard;
pub mod operations;
pub mod params;
pub mod reference;
pub mod session;
pub mod submission_files;
pub mod submission_info;

use crate::base::error::{AppError, INTERNAL_MESSAGE, message_response};
use crate::base::messages;
use crate::state::AppState;
use rouille::{Request, Response};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

/// Longest path logged; the rest is cut.
const MAX_LOGGED_PATH: usize = 200;

/// Answers one request. Never panics: a panic in a handler becomes a 500.
pub fn handle(req: &Request, st: &AppState) -> Response {
    let started = Instant::now();
    let route = route_label(req);
    // Sizes and framing were checked by the front end (`http`).
    let response = if req.method() == "OPTIONS" {
        cors::preflight()
    } else {
        guarded(req, || dispatch(req, st, route))
    };
    let response = cors::apply(req, &st.config.cors_origins, response);
    let elapsed = started.elapsed();
    let method = method_label(req);
    st.metrics
        .request(route, method, response.status_code, elapsed.as_secs_f64());
    // The path is copied (cut to length) only when the line is written.
    if log::log_enabled!(log::Level::Info) {
        let (path, status, ms) = (
            logged_path(req),
            response.status_code,
            elapsed.as_millis() as u64,
        );
        log::info!(
            method = method, path = path.as_str(), status = status, ms = ms;
            "{} {path} {status} {ms}ms",
            req.method()
        );
    }
    response
}

/// The route of local file downloads, as `route_label` names it.
const FILES_ROUTE: &str = "/v1/files/{key}";

/// The route a request is for: the pattern of `ROUTES` its path matches
/// (trailing slash optional), [`FILES_ROUTE`], or `unmatched`. Requests are
/// dispatched and counted by it, so ids in paths do not make a series each.
fn route_label(req: &Request) -> &'static str {
    let path = raw_path(req);
    if path.starts_with(FILES_PREFIX) {
        return FILES_ROUTE;
    }
    let trimmed = path.trim_end_matches('/');
    ROUTES
        .iter()
        .find(|(_, pattern, _)| pattern.trim_end_matches('/') == trimmed)
        .map_or("unmatched", |(_, pattern, _)| pattern)
}

fn method_label(req: &Request) -> &'static str {
    match req.method() {
        "GET" => "GET",
        "POST" => "POST",
        "OPTIONS" => "OPTIONS",
        "HEAD" => "HEAD",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        _ => "other",
    }
}

/// Runs a handler; its error, or its panic, becomes the broker's JSON answer.
fn guarded(req: &Request, handler: impl FnOnce() -> Result<Response, AppError>) -> Response {
    match catch_unwind(AssertUnwindSafe(handler)) {
        Ok(Ok(response)) => response,
        Ok(Err(err)) => err.into_response(),
        Err(_) => {
            log::error!("handler panicked on {} {}", req.method(), logged_path(req));
            message_response(500, INTERNAL_MESSAGE)
        }
    }
}

/// The raw path without its query string (which may hold link signatures).
pub fn raw_path(req: &Request) -> &str {
    let url = req.raw_url();
    url.split_once('?').map_or(url, |(path, _)| path)
}

fn logged_path(req: &Request) -> String {
    raw_path(req).chars().take(MAX_LOGGED_PATH).collect()
}

type Handler = fn(&Request, &AppState) -> Result<Response, AppError>;

/// Every route: method, path (trailing slash optional) and handler. The
/// OpenAPI description must list exactly these (a test checks it).
pub const ROUTES: &[(&str, &str, Handler)] = &[
    ("POST", "/v1/login/", session::login),
    ("POST", "/v1/logout/", session::logout),
    ("GET", "/v1/session/", session::session),
    ("GET", "/v1/active_user/", session::active_user),
    (
        "GET",
        "/v1/check_generation_status/",
        submission_files::check_generation_status,
    ),
    (
        "POST",
        "/v1/generate_file/",
        submission_files::generate_file,
    ),
    (
        "POST",
        "/v1/generate_detached_file/",
        detached_files::generate_detached_file,
    ),
    (
        "GET",
        "/v1/check_detached_generation_status/",
        detached_files::check_detached_generation_status,
    ),
    (
        "GET",
        "/v1/get_detached_file_url/",
        detached_files::get_detached_file_url,
    ),
    (
        "GET",
        "/v1/list_all_agencies/",
        reference::list_all_agencies,
    ),
    ("GET", "/v1/list_banners/", reference::list_banners),
    (
        "GET",
        "/v1/check_current_page/",
        submission_info::check_current_page,
    ),
    (
        "GET",
        "/v1/submission_metadata/",
        submission_info::submission_metadata,
    ),
    ("GET", "/v1/get_file_url/", submission_info::get_file_url),
    ("GET", "/v1/openapi.json", openapi),
    ("GET", "/v1/health/", operations::health),
    ("GET", "/metrics", operations::metrics),
];

/// Prefix of local file downloads, `GET /v1/files/{key}`.
pub const FILES_PREFIX: &str = "/v1/files/";

/// The OpenAPI description of these routes.
pub const OPENAPI: &str = include_str!("../../openapi.json");

fn openapi(_: &Request, _: &AppState) -> Result<Response, AppError> {
    Ok(Response::from_data("application/json", OPENAPI))
}

/// Runs the handler of `route` (from [`route_label`]) for the request's method.
fn dispatch(req: &Request, st: &AppState, route: &str) -> Result<Response, AppError> {
    if route == FILES_ROUTE {
        let key = &raw_path(req)[FILES_PREFIX.len()..];
        return match req.method() {
            "GET" => downloads::download(req, st, key),
            _ => Ok(method_not_allowed("GET")),
        };
    }
    let mut allowed = Vec::new();
    for (method, _, handler) in ROUTES.iter().filter(|(_, p, _)| *p == route) {
        if *method == req.method() {
            return handler(req, st);
        }
        allowed.push(*method);
    }
    if allowed.is_empty() {
        return Err(AppError::NotFound(messages::URL_NOT_FOUND.into()));
    }
    Ok(method_not_allowed(&allowed.join(", ")))
}

/// 405 with the `Allow` header RFC 9110 asks for.
fn method_not_allowed(allow: &str) -> Response {
    let allow = format!("{allow}, OPTIONS");
    AppError::MethodNotAllowed(messages::METHOD_NOT_ALLOWED.into())
        .into_response()
        .with_unique_header("Allow", allow)
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::io::Read;

    #[test]
    fn a_panicking_handler_becomes_a_json_500() {
        let req = Request::fake_http("GET", "/v1/session/", vec![], vec![]);
        let resp = guarded(&req, || panic!("boom"));
        assert_eq!(resp.status_code, 500);
        let (mut body, _) = resp.data.into_reader_and_size();
        let mut text = String::new();
        body.read_to_string(&mut text).unwrap();
        assert_eq!(text, r#"{"message":"An internal error occurred"}"#);
    }

    #[test]
    fn the_openapi_description_lists_exactly_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        let mut described: Vec<(String, String)> = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                described.push((method.to_uppercase(), path.clone()));
            }
        }
        let mut served: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p, _)| (m.to_string(), p.to_string()))
            .collect();
        served.push(("GET".into(), format!("{FILES_PREFIX}{{key}}")));
        described.sort();
        served.sort();
        assert_eq!(described, served);
    }
}
