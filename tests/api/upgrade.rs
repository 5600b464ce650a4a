//! A database made by release 1 (`tests/upgrade/v1`, schema version 1)
//! opens with this binary and answers as it did: every status, every stored
//! file, logins, and the token revoked back then.

use crate::helpers::{Served, post_json, raw_request};
use serde_json::Value;
use std::path::Path;

const SECRET: &str = "upgrade-test-secret-v1";
const V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/upgrade/v1");

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
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new(V1), dir.path());
    let server = Served::start(
        dir.path(),
        &["--public-url", "http://broker.test"],
        &[("BROKER_SECRET_KEY", SECRET)],
    );
    let version: i64 = rusqlite::Connection::open(dir.path().join("broker.db"))
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, broker_lite::db::SCHEMA_VERSION);

    // A login with a password hashed by release 1.
    let body = serde_json::json!({"username": "admin@broker.local", "password": "admin-demo-pw"});
    let login = post_json(server.addr, "/v1/login/", &body, None);
    assert_eq!(login.status, 200, "{}", login.text());
    let token = login.json()["session_id"].as_str().unwrap().to_string();

    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{V1}/expected.json")).unwrap())
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
            // The file behind the link is the one release 1 stored, byte for byte.
            let path = link.strip_prefix("http://broker.test").unwrap();
            let file = raw_request(server.addr, "GET", path, &[], b"");
            assert_eq!(file.status, 200, "{name}");
            let key = path
                .split('?')
                .next()
                .unwrap()
                .strip_prefix("/v1/files/")
                .unwrap();
            let stored = std::fs::read(format!("{V1}/files/{key}")).unwrap();
            assert_eq!(file.body, stored, "{name}");
        }
        assert_eq!(body, answer[1], "{name}");
    }

    // The token revoked by release 1 stays revoked.
    let revoked = std::fs::read_to_string(format!("{V1}/revoked_token.txt")).unwrap();
    let session = raw_request(
        server.addr,
        "GET",
        "/v1/session/",
        &[("x-session-id", revoked.trim())],
        b"",
    );
    assert_eq!(session.json()["status"], "False");
}
