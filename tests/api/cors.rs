//! CORS: the broker web app calls the routes from another origin.

use crate::helpers::TestApp;

#[test]
fn a_real_preflight_is_answered_with_the_allowed_methods_and_headers() {
    let app = TestApp::spawn();
    let resp = app.request(
        "OPTIONS",
        "/v1/check_generation_status/?submission_id=10&file_type=D1",
        &[
            ("Origin", "http://localhost:3000"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "x-session-id"),
        ],
        b"",
    );
    assert_eq!(resp.status, 204);
    assert_eq!(resp.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(
        resp.header("Access-Control-Allow-Methods"),
        Some("GET, POST, OPTIONS")
    );
    assert_eq!(
        resp.header("Access-Control-Allow-Headers"),
        Some("x-session-id, Authorization, Content-Type")
    );
}

#[test]
fn only_configured_origins_are_allowed() {
    let app = TestApp::spawn_with(|c| c.cors_origins = vec!["https://broker.example.gov".into()]);
    let allowed = app.request(
        "GET",
        "/v1/session/",
        &[("Origin", "https://broker.example.gov")],
        b"",
    );
    assert_eq!(
        allowed.header("Access-Control-Allow-Origin"),
        Some("https://broker.example.gov")
    );
    assert_eq!(
        allowed.header("Access-Control-Expose-Headers"),
        Some("x-session-id")
    );
    let other = app.request(
        "GET",
        "/v1/session/",
        &[("Origin", "https://evil.example")],
        b"",
    );
    assert_eq!(other.status, 200);
    assert_eq!(other.header("Access-Control-Allow-Origin"), None);
    let preflight = app.request(
        "OPTIONS",
        "/v1/login/",
        &[
            ("Origin", "https://evil.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
        b"",
    );
    assert_eq!(preflight.header("Access-Control-Allow-Origin"), None);
}
