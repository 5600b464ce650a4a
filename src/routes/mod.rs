//! HTTP routing: one entry point that logs, dispatches, turns errors and
//! panics into the broker's JSON answers, and adds CORS headers.

pub mod cors;
pub mod detached;
pub mod files;
pub mod generation;
pub mod login;

use crate::app::AppState;
use crate::error::{AppError, INTERNAL_MESSAGE, message_response};
use percent_encoding::percent_decode_str;
use rouille::{Request, Response};
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

/// Largest request body accepted (413 beyond it; the front end refuses a
/// larger declared body before reading it).
pub const MAX_BODY_BYTES: usize = crate::http::MAX_BODY_BYTES as usize;
/// Longest path logged; the rest is cut.
const MAX_LOGGED_PATH: usize = 200;

/// Answers one request. Never panics: a panic in a handler becomes a 500.
pub fn handle(req: &Request, st: &AppState) -> Response {
    let started = Instant::now();
    // Sizes and framing were checked by the front end (`http`).
    let response = if req.method() == "OPTIONS" {
        cors::preflight()
    } else {
        guarded(req, || dispatch(req, st))
    };
    let response = cors::apply(req, &st.config.cors_origins, response);
    log::info!(
        "{} {} {} {}ms",
        req.method(),
        logged_path(req),
        response.status_code,
        started.elapsed().as_millis()
    );
    response
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
fn raw_path(req: &Request) -> &str {
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
    ("POST", "/v1/login/", login::login),
    ("POST", "/v1/logout/", login::logout),
    ("GET", "/v1/session/", login::session),
    ("GET", "/v1/active_user/", login::active_user),
    (
        "GET",
        "/v1/check_generation_status/",
        generation::check_generation_status,
    ),
    ("POST", "/v1/generate_file/", generation::generate_file),
    (
        "POST",
        "/v1/generate_detached_file/",
        detached::generate_detached_file,
    ),
    (
        "GET",
        "/v1/check_detached_generation_status/",
        detached::check_detached_generation_status,
    ),
    (
        "GET",
        "/v1/get_detached_file_url/",
        detached::get_detached_file_url,
    ),
    ("GET", "/v1/openapi.json", openapi),
];

/// Prefix of local file downloads, `GET /v1/files/{key}`.
pub const FILES_PREFIX: &str = "/v1/files/";

/// The OpenAPI description of these routes.
pub const OPENAPI: &str = include_str!("../../openapi.json");

fn openapi(_: &Request, _: &AppState) -> Result<Response, AppError> {
    Ok(Response::from_data("application/json", OPENAPI))
}

fn dispatch(req: &Request, st: &AppState) -> Result<Response, AppError> {
    let path = raw_path(req);
    if let Some(key) = path.strip_prefix(FILES_PREFIX) {
        return match req.method() {
            "GET" => files::download(req, st, key),
            _ => Ok(method_not_allowed("GET")),
        };
    }
    let route = path.trim_end_matches('/');
    let mut allowed = Vec::new();
    for (method, pattern, handler) in ROUTES {
        if pattern.trim_end_matches('/') == route {
            if *method == req.method() {
                return handler(req, st);
            }
            allowed.push(*method);
        }
    }
    if allowed.is_empty() {
        return Err(AppError::NotFound(
            "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.".into(),
        ));
    }
    Ok(method_not_allowed(&allowed.join(", ")))
}

/// 405 with the `Allow` header RFC 9110 asks for.
fn method_not_allowed(allow: &str) -> Response {
    let allow = format!("{allow}, OPTIONS");
    AppError::MethodNotAllowed("The method is not allowed for the requested URL.".into())
        .into_response()
        .with_unique_header("Allow", allow)
}

/// Decoded query parameters, in order; the first of a repeated name wins.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: &str) -> Query {
        let decode = |s: &str| {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        Query(
            raw.split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(name), decode(value))
                })
                .collect(),
        )
    }

    pub fn of(req: &Request) -> Query {
        Query::parse(req.raw_query_string())
    }

    /// A parameter's value; an empty value counts as missing.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// Reads the body, refusing more than [`MAX_BODY_BYTES`].
pub fn read_body(req: &Request) -> Result<Vec<u8>, AppError> {
    let too_large = || AppError::PayloadTooLarge("Request body is too large".into());
    if let Some(length) = req
        .header("Content-Length")
        .and_then(|v| v.trim().parse::<u64>().ok())
        && length > MAX_BODY_BYTES as u64
    {
        return Err(too_large());
    }
    let Some(body) = req.data() else {
        return Ok(Vec::new());
    };
    let mut bytes = Vec::new();
    body.take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| AppError::bad_request("The request body could not be read"))?;
    if bytes.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Request parameters from a JSON object body or a form body.
pub fn read_params(req: &Request) -> Result<serde_json::Map<String, serde_json::Value>, AppError> {
    let body = read_body(req)?;
    let is_form = req
        .header("Content-Type")
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        let text = std::str::from_utf8(&body)
            .map_err(|_| AppError::bad_request("The request body is not valid UTF-8"))?;
        let Query(pairs) = Query::parse(text);
        let mut map = serde_json::Map::new();
        for (name, value) in pairs {
            map.entry(name).or_insert(serde_json::Value::String(value));
        }
        return Ok(map);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice(&body) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => Err(AppError::bad_request(
            "The request body must be a JSON object",
        )),
    }
}

/// `submission_id` as the broker checks it: required, then an integer that
/// names an existing submission.
pub fn parse_submission_id(raw: Option<&str>) -> Result<i64, AppError> {
    let raw = raw.map(str::trim).filter(|r| !r.is_empty());
    let raw = raw.ok_or_else(|| AppError::bad_request("submission_id is required"))?;
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::bad_request("submission_id: Not a valid integer."));
    }
    // Negative and out-of-range ids cannot name a submission.
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id >= 0)
        .ok_or_else(|| AppError::bad_request("No such submission"))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn query_parameters_are_decoded_and_first_wins() {
        let q = Query::parse("a=1&b=x%20y+z&a=2&c=&d");
        assert_eq!(q.get("a"), Some("1"));
        assert_eq!(q.get("b"), Some("x y z"));
        assert_eq!(q.get("c"), None);
        assert_eq!(q.get("d"), None);
    }

    #[test]
    fn submission_ids_are_checked_like_the_broker() {
        let msg = |r: Result<i64, AppError>| r.unwrap_err().to_string();
        assert_eq!(parse_submission_id(Some("12")).unwrap(), 12);
        assert_eq!(msg(parse_submission_id(None)), "submission_id is required");
        assert_eq!(msg(parse_submission_id(Some("-3"))), "No such submission");
        assert_eq!(
            msg(parse_submission_id(Some("99999999999999999999"))),
            "No such submission"
        );
        assert_eq!(
            msg(parse_submission_id(Some("1e3"))),
            "submission_id: Not a valid integer."
        );
    }
}
