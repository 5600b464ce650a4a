//! Hostile input: size limits, broken encodings, injection attempts and
//! clients that go away mid-answer. Each gets a clear 4xx and changes nothing.

use crate::helpers::{TestApp, assert_error};
use std::io::{Read, Write};
use std::net::TcpStream;

#[test]
fn oversized_urls_and_headers_are_refused() {
    let app = TestApp::spawn();
    let long = format!("/v1/session/?x={}", "a".repeat(9000));
    assert_error(&app.get(&long, None), 414, "The request URL is too long");
    let big = "b".repeat(17 * 1024);
    let resp = app.request("GET", "/v1/session/", &[("X-Padding", &big)], b"");
    assert_error(&resp, 431, "The request headers are too large");
    assert_eq!(app.get("/v1/session/", None).status, 200);
}

#[test]
fn broken_encodings_and_injection_attempts_are_plain_bad_requests() {
    let app = TestApp::spawn();
    let token = app.token_for(1);
    let cases = [
        (
            "/v1/check_generation_status/?submission_id=10&file_type=%FF%FE",
            "file_type: Must be either D1, D2, E or F",
        ),
        (
            "/v1/check_generation_status/?submission_id=10%27%20OR%201%3D1&file_type=D1",
            "submission_id: Not a valid integer.",
        ),
        (
            "/v1/check_generation_status/?submission_id=10;DROP%20TABLE%20jobs&file_type=D1",
            "submission_id: Not a valid integer.",
        ),
        (
            "/v1/check_generation_status/?submission_id=10&file_type=D1%27--",
            "file_type: Must be either D1, D2, E or F",
        ),
        (
            "/v1/check_detached_generation_status/?job_id=1%20OR%201=1",
            "job_id: Not a valid integer.",
        ),
    ];
    for (target, message) in cases {
        assert_error(&app.get(target, Some(&token)), 400, message);
    }
    let body = serde_json::json!({"file_type": "D1", "cgac_code": "097' OR '1'='1", "start": "10/01/2019", "end": "12/31/2019"});
    let resp = app.post_json("/v1/generate_detached_file/", &body, Some(&token));
    assert_eq!(resp.status, 200, "an odd agency code is just data");
    app.run_pending_jobs();
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs"),
        16,
        "nothing else changed"
    );
    let login = app.request(
        "POST",
        "/v1/login/",
        &[("Content-Type", "application/json")],
        b"{\"username\": \"\\u0000admin@test.local\", \"password\": \"x\"}",
    );
    assert_error(&login, 401, "Invalid username or password");
}

#[test]
fn a_client_that_drops_a_download_leaves_the_server_answering() {
    let app = TestApp::spawn();
    let key = "detached/large.csv";
    app.store_file(key, &vec![b'x'; 8 * 1024 * 1024]);
    let link = app.app.state.storage.signed_url(key, 60).unwrap();
    let target = link.split_once(&app.app.addr.to_string()).unwrap().1;
    for _ in 0..5 {
        let mut stream = TcpStream::connect(app.app.addr).unwrap();
        write!(stream, "GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut some = [0u8; 4096];
        stream.read_exact(&mut some).unwrap();
        drop(stream);
    }
    assert_eq!(app.get("/v1/session/", None).status, 200);
    let file = app.get(target, None);
    assert_eq!(file.body.len(), 8 * 1024 * 1024);
}
