//! Signed local download links: `GET /v1/files/{key}`.

use crate::helpers::{SECRET, TestApp, assert_error};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::{SystemTime, UNIX_EPOCH};

const E_KEY: &str = "10/SubID-10_File-E_FY20Q1_1577000000.csv";
const E_BYTES: &[u8] =
    b"AwardeeOrRecipientUEI,AwardeeOrRecipientLegalEntityName\r\nUEI1,\"Acme, Inc\"\r\n";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A signature made the way DESIGN tells other tools to make one.
fn independent_signature(key: &str, expires: u64) -> String {
    let mut derive = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    derive.update(b"broker-lite links");
    let link_key = derive.finalize().into_bytes();
    let mut mac = Hmac::<Sha256>::new_from_slice(&link_key).unwrap();
    mac.update(format!("{key}\n{expires}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The path and query of the link the status route hands out for job 1005.
fn status_link(app: &TestApp) -> String {
    let url = app.status(10, "E", 1).json()["url"]
        .as_str()
        .unwrap()
        .to_string();
    let base = format!("http://{}", app.app.addr);
    url.strip_prefix(&base)
        .expect("link on this server")
        .to_string()
}

#[test]
fn a_status_link_downloads_the_stored_bytes() {
    let app = TestApp::spawn();
    app.store_file(E_KEY, E_BYTES);
    let resp = app.get(&status_link(&app), None);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.body, E_BYTES);
    assert_eq!(
        resp.header("Content-Length"),
        Some(E_BYTES.len().to_string().as_str())
    );
    assert_eq!(resp.header("Content-Type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        resp.header("Content-Disposition"),
        Some("attachment; filename=\"SubID-10_File-E_FY20Q1_1577000000.csv\"")
    );
}

#[test]
fn links_expire_after_the_configured_ttl() {
    let app = TestApp::spawn_with(|c| c.url_ttl = 300);
    let link = status_link(&app);
    let expires: u64 = link
        .split("expires=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let expected = now() + 300;
    assert!(expires.abs_diff(expected) <= 2, "{expires} vs {expected}");
}

#[test]
fn links_minted_by_another_tool_with_the_secret_work() {
    let app = TestApp::spawn();
    app.store_file(E_KEY, E_BYTES);
    let expires = now() + 60;
    let sig = independent_signature(E_KEY, expires);
    let resp = app.get(
        &format!("/v1/files/{E_KEY}?expires={expires}&signature={sig}"),
        None,
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, E_BYTES);
}

#[test]
fn tampered_extended_expired_and_missing_signatures_are_refused() {
    let app = TestApp::spawn();
    app.store_file(E_KEY, E_BYTES);
    app.store_file("10/other.csv", b"other");
    let expires = now() + 60;
    let sig = independent_signature(E_KEY, expires);
    let mut tampered = sig.clone();
    tampered.replace_range(0..1, if sig.starts_with('a') { "b" } else { "a" });
    let past = now() - 5;
    let expired_sig = independent_signature(E_KEY, past);
    let cases = [
        (
            format!("/v1/files/{E_KEY}?expires={expires}&signature={tampered}"),
            "Invalid link signature",
        ),
        (
            format!(
                "/v1/files/{E_KEY}?expires={}&signature={sig}",
                expires + 3600
            ),
            "Invalid link signature",
        ),
        (
            format!("/v1/files/10/other.csv?expires={expires}&signature={sig}"),
            "Invalid link signature",
        ),
        (
            format!("/v1/files/{E_KEY}?expires={past}&signature={expired_sig}"),
            "This link has expired",
        ),
        (
            format!("/v1/files/{E_KEY}?expires={expires}"),
            "Missing link signature",
        ),
        (format!("/v1/files/{E_KEY}"), "Missing link signature"),
        (
            format!("/v1/files/{E_KEY}?expires=soon&signature={sig}"),
            "Invalid link signature",
        ),
    ];
    for (target, message) in cases {
        assert_error(&app.get(&target, None), 403, message);
    }
}

#[test]
fn an_unknown_key_with_a_valid_signature_is_not_found() {
    let app = TestApp::spawn();
    let key = "10/missing.csv";
    let expires = now() + 60;
    let sig = independent_signature(key, expires);
    assert_error(
        &app.get(
            &format!("/v1/files/{key}?expires={expires}&signature={sig}"),
            None,
        ),
        404,
        "File not found",
    );
}

#[test]
fn keys_that_escape_the_files_folder_are_forbidden_even_when_signed() {
    let app = TestApp::spawn();
    let expires = now() + 60;
    // secret.key sits one level above files/.
    let attempts = [
        ("../secret.key", "../secret.key"),
        ("%2e%2e/secret.key", "../secret.key"),
        ("%2E%2E%2Fsecret.key", "../secret.key"),
        ("10/../../secret.key", "10/../../secret.key"),
        ("/etc/passwd", "/etc/passwd"),
        ("%2Fetc%2Fpasswd", "/etc/passwd"),
        ("..%5Csecret.key", "..\\secret.key"),
        ("10/%00x.csv", "10/\0x.csv"),
    ];
    for (raw, key) in attempts {
        let sig = independent_signature(key, expires);
        let resp = app.get(
            &format!("/v1/files/{raw}?expires={expires}&signature={sig}"),
            None,
        );
        assert_error(&resp, 403, "Invalid file path");
    }
}
