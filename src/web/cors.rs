//! CORS for the broker web app, which calls these routes from another origin.

use rouille::{Request, Response};

const ALLOW_METHODS: &str = "GET, POST, OPTIONS";
const ALLOW_HEADERS: &str = "x-session-id, Authorization, Content-Type";

/// The answer to a preflight `OPTIONS` request (CORS headers come from [`apply`]).
pub fn preflight() -> Response {
    Response::empty_204()
        .with_unique_header("Access-Control-Allow-Methods", ALLOW_METHODS)
        .with_unique_header("Access-Control-Allow-Headers", ALLOW_HEADERS)
        .with_unique_header("Access-Control-Max-Age", "600")
}

/// Adds `Access-Control-Allow-Origin` when the request's origin is allowed.
pub fn apply(req: &Request, allowed: &[String], response: Response) -> Response {
    let any = allowed.iter().any(|o| o == "*");
    let origin = req.header("Origin");
    let allow_origin = if any {
        Some("*")
    } else {
        origin.filter(|o| allowed.iter().any(|a| a.trim_end_matches('/') == *o))
    };
    let response = if any {
        response
    } else {
        response.with_additional_header("Vary", "Origin")
    };
    match allow_origin {
        Some(value) => response
            .with_unique_header("Access-Control-Allow-Origin", value.to_string())
            .with_unique_header("Access-Control-Expose-Headers", "x-session-id"),
        None => response,
    }
}
