//! Databases made by earlier releases (`tests/upgrade/v1`, schema version
//! 1, and `tests/upgrade/v2`, schema version 2) open with this binary and
//! answer as they did: every status, every stored file, logins, and the
//! token revoked back then.

use crate::helpers::{Served, post_json, raw_request};
use serde_json::Value;
use std::path::Path;

const RELEASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/upgrade");

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_release_1_database_opens_and_answers_as_it_did() {
    opens_and_answers_as_it_did("v1");
}

#[test]
fn a_release_2_database_opens_and_answers_as_it_did() {
    opens_and_answers_as_it_did("v2");
}

/// Serves a copy of `tests/upgrade/{release}` with the secret it was made
/// with, and compares every answer with the one recorded then.
fn opens_and_answers_as_it_did(release: &str) {
    let made = format!("{RELEASES}/{release}");
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new(&made), dir.path());
    let secret = format!("upgrade-test-secret-{release}");
    let server = Served::start(
        dir.path(),
        &["--public-url", "http://broker.test"],
        &[("BROKER_SECRET_KEY", secret.as_str())],
    );
    let version: i64 = rusqlite::Connection::open(dir.path().join("broker.db"))
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, broker_lite::db::SCHEMA_VERSION);

    // A login with a password hashed by that release.
    let body = serde_json::json!({"username": "admin@broker.local", "password": "admin-demo-pw"});
    let login = post_json(server.addr, "/v1/login/", &body, None);
    assert_eq!(login.status, 200, "{}", login.text());
    let token = login.json()["session_id"].as_str().unwrap().to_string();

    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{made}/expected.json")).unwrap())
            .unwrap();
    for (name, answer) in expected.as_object().unwrap() {
        let target = match name.split(' ').collect::<Vec<_>>()[..] {
            ["status", sub, file_type] => {
                format!("/v1/check_generation_status/?submission_id={sub}&file_type={file_type}")
            }
            ["detached", job] => format!("/v1/check_detached_generation_status/?job_id={job}"),
            _ => panic!("unknown case {name}"),
        };
        let resp = raw_request(
            server.addr,
            "GET",
            &target,
            &[("x-session-id", &token)],
            b"",
        );
        assert_eq!(resp.status as i64, answer[0].as_i64().unwrap(), "{name}");
        let mut body = resp.json();
        let link = body["url"].as_str().unwrap_or("#").to_string();
        if link != "#" {
            body["url"] = Value::String(link.split('?').next().unwrap().to_string());
            // The file behind the link is the one that release stored, byte for byte.
            let path = link.strip_prefix("http://broker.test").unwrap();
            let file = raw_request(server.addr, "GET", path, &[], b"");
            assert_eq!(file.status, 200, "{name}");
            let key = path
                .split('?')
                .next()
                .unwrap()
                .strip_prefix("/v1/files/")
                .unwrap();
            let stored = std::fs::read(format!("{made}/files/{key}")).unwrap();
            assert_eq!(file.body, stored, "{name}");
        }
        assert_eq!(body, answer[1], "{name}");
    }

    // The token revoked by that release stays revoked.
    let revoked = std::fs::read_to_string(format!("{made}/revoked_token.txt")).unwrap();
    let session = raw_request(
        server.addr,
        "GET",
        "/v1/session/",
        &[("x-session-id", revoked.trim())],
        b"",
    );
    assert_eq!(session.json()["status"], "False");
}
