//! Login, sessions, logout and every way a token can be refused.

use crate::helpers::{SECRET, TestApp, assert_error};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

const PROTECTED: &str = "/v1/check_generation_status/?submission_id=10&file_type=E";

#[test]
fn login_answers_the_brokers_payload_and_a_working_token() {
    let app = TestApp::spawn();
    let resp = app.post_json(
        "/v1/login/",
        &json!({"username": "READER@test.local", "password": "reader-pw"}),
        None,
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let mut body = resp.json();
    let token = body["session_id"].as_str().unwrap().to_string();
    assert_eq!(resp.header("x-session-id"), Some(token.as_str()));
    body.as_object_mut().unwrap().remove("session_id");
    assert_eq!(
        body,
        json!({"message": "Login successful", "user_id": 3, "name": "Reader", "title": "Analyst",
               "website_admin": false,
               "affiliations": [{"agency_name": "Department of Defense", "permission": "reader"}]})
    );
    assert_eq!(app.get(PROTECTED, Some(&token)).status, 200);
    let bearer = format!("Bearer {token}");
    let resp = app.request("GET", PROTECTED, &[("Authorization", &bearer)], b"");
    assert_eq!(resp.status, 200);
}

#[test]
fn login_accepts_a_form_body() {
    let app = TestApp::spawn();
    let resp = app.request(
        "POST",
        "/v1/login/",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"username=writer%40test.local&password=writer-pw",
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["user_id"], 4);
}

#[test]
fn login_refuses_missing_parameters_and_bad_credentials() {
    let app = TestApp::spawn();
    let cases = [
        (
            json!({"password": "x"}),
            400,
            "username: Missing data for required field.",
        ),
        (
            json!({"username": "reader@test.local"}),
            400,
            "password: Missing data for required field.",
        ),
        (
            json!({"username": 5, "password": "x"}),
            400,
            "username: Not a valid string.",
        ),
        (
            json!({"username": "reader@test.local", "password": "wrong"}),
            401,
            "Invalid username or password",
        ),
        (
            json!({"username": "ghost@test.local", "password": "reader-pw"}),
            401,
            "Invalid username or password",
        ),
    ];
    for (body, status, message) in cases {
        assert_error(&app.post_json("/v1/login/", &body, None), status, message);
    }
    let resp = app.request(
        "POST",
        "/v1/login/",
        &[("Content-Type", "application/json")],
        b"{not json",
    );
    assert_error(&resp, 400, "The request body must be a JSON object");
}

#[test]
fn session_and_active_user_reflect_the_token() {
    let app = TestApp::spawn();
    assert_eq!(
        app.get("/v1/session/", None).json(),
        json!({"status": "False"})
    );
    let token = app.login("admin@test.local", "admin-pw");
    assert_eq!(
        app.get("/v1/session/", Some(&token)).json(),
        json!({"status": "True"})
    );
    assert_eq!(
        app.get("/v1/active_user/", Some(&token)).json(),
        json!({"user_id": 1, "name": "Admin", "title": "Admin", "website_admin": true, "affiliations": [],
               "skip_guide": false, "session_id": token})
    );
    assert_error(&app.get("/v1/active_user/", None), 401, "Login Required");
}

#[test]
fn logout_revokes_the_token_and_the_revocation_survives_a_restart() {
    let app = TestApp::spawn();
    let token = app.login("reader@test.local", "reader-pw");
    let other = app.login("reader@test.local", "reader-pw");
    let resp = app.request("POST", "/v1/logout/", &[("x-session-id", &token)], b"");
    assert_eq!(resp.json(), json!({"message": "Logout successful"}));
    assert_error(&app.get(PROTECTED, Some(&token)), 401, "Login Required");
    assert_eq!(
        app.get(PROTECTED, Some(&other)).status,
        200,
        "other sessions stay valid"
    );

    let mut app = app;
    app.restart();
    assert_error(&app.get(PROTECTED, Some(&token)), 401, "Login Required");
}

fn encode(claims: serde_json::Value, alg: Algorithm, key: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap()
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

#[test]
fn bad_tokens_are_all_login_required() {
    let app = TestApp::spawn();
    let valid =
        json!({"sub": "1", "exp": now() + 600, "iat": now(), "jti": "j1", "iss": "broker-lite"});
    let mut expired = valid.clone();
    expired["exp"] = json!(now() - 1);
    let mut no_exp = valid.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    let mut wrong_issuer = valid.clone();
    wrong_issuer["iss"] = json!("someone-else");
    let mut unknown_user = valid.clone();
    unknown_user["sub"] = json!("999");
    let header_none = base64url(br#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{header_none}.{}.", base64url(valid.to_string().as_bytes()));
    let tokens = [
        "garbage".to_string(),
        encode(expired, Algorithm::HS256, SECRET),
        encode(no_exp, Algorithm::HS256, SECRET),
        encode(valid.clone(), Algorithm::HS256, "wrong-key"),
        encode(valid.clone(), Algorithm::HS512, SECRET),
        encode(wrong_issuer, Algorithm::HS256, SECRET),
        encode(unknown_user, Algorithm::HS256, SECRET),
        alg_none,
        "a".repeat(5000),
    ];
    assert_eq!(
        app.get(PROTECTED, Some(&encode(valid, Algorithm::HS256, SECRET)))
            .status,
        200
    );
    for token in tokens {
        assert_error(&app.get(PROTECTED, Some(&token)), 401, "Login Required");
    }
}

#[test]
fn a_deleted_user_loses_access() {
    let app = TestApp::spawn();
    let token = app.token_for(8);
    app.sql("DELETE FROM users WHERE user_id = 8");
    assert_error(&app.get(PROTECTED, Some(&token)), 401, "Login Required");
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn login_as(app: &TestApp, email: &str, password: &str) -> crate::helpers::HttpResponse {
    app.post_json(
        "/v1/login/",
        &serde_json::json!({"username": email, "password": password}),
        None,
    )
}

#[test]
fn repeated_failures_lock_the_login_with_the_brokers_message() {
    let app = TestApp::spawn();
    for _ in 0..6 {
        let resp = login_as(&app, "writer@test.local", "guess");
        assert_error(&resp, 401, "Invalid username or password");
        assert_eq!(resp.header("Retry-After"), None);
    }
    // Locked now: refused unread, even with the right password.
    let locked = login_as(&app, "WRITER@test.local", "writer-pw");
    assert_error(&locked, 401, "Invalid username or password");
    assert_eq!(locked.header("Retry-After"), Some("1"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(login_as(&app, "writer@test.local", "writer-pw").status, 200);
    // Success starts afresh: one failure does not lock.
    assert_eq!(
        login_as(&app, "writer@test.local", "guess").header("Retry-After"),
        None
    );
    assert_eq!(login_as(&app, "writer@test.local", "writer-pw").status, 200);
}

#[test]
fn a_login_flood_neither_grows_memory_nor_stalls_the_routes() {
    use crate::helpers::{SECRET, Served, fixture_path, load_fixtures, raw_request};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    assert!(
        load_fixtures(dir.path(), &[&fixture_path("test_base.json")])
            .status
            .success()
    );
    let server = Served::start(dir.path(), &[], &[("BROKER_SECRET_KEY", SECRET)]);
    let addr = server.addr;
    let body =
        serde_json::json!({"username": "writer@test.local", "password": "guess"}).to_string();
    let flood_until = Instant::now() + Duration::from_secs(3);
    let (answers, slowest_status) = std::thread::scope(|s| {
        let flooders: Vec<_> = (0..16)
            .map(|_| {
                s.spawn(|| {
                    let mut codes = Vec::new();
                    while Instant::now() < flood_until {
                        let resp = raw_request(
                            addr,
                            "POST",
                            "/v1/login/",
                            &[("Content-Type", "application/json")],
                            body.as_bytes(),
                        );
                        codes.push((resp.status, resp.header("Retry-After").is_some()));
                    }
                    codes
                })
            })
            .collect();
        let prober = s.spawn(|| {
            let mut slowest = Duration::ZERO;
            while Instant::now() < flood_until {
                let started = Instant::now();
                assert_eq!(
                    raw_request(addr, "GET", "/v1/session/", &[], b"").status,
                    200
                );
                slowest = slowest.max(started.elapsed());
                std::thread::sleep(Duration::from_millis(50));
            }
            slowest
        });
        let answers: Vec<(u16, bool)> = flooders
            .into_iter()
            .flat_map(|f| f.join().unwrap())
            .collect();
        (answers, prober.join().unwrap())
    });
    let peak_kib: u64 = std::fs::read_to_string(format!("/proc/{}/status", server.child.id()))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap();
    assert!(
        peak_kib < 100 * 1024,
        "peak RSS {peak_kib} KiB during the flood"
    );
    assert!(
        slowest_status < Duration::from_secs(2),
        "status answered in {slowest_status:?} at worst"
    );
    assert!(
        answers.iter().all(|(code, _)| *code == 401 || *code == 503),
        "{answers:?}"
    );
    let throttled = answers.iter().filter(|(_, retry)| *retry).count();
    assert!(
        throttled * 2 > answers.len(),
        "{throttled} of {} refused unread",
        answers.len()
    );
}
