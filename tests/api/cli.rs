//! The real binary: `fixtures load`, `token`, and `serve --demo` end to end.

use crate::helpers::{BIN, HttpResponse, Served, post_json, raw_request};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

fn broker(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("BROKER_DATA_DIR", dir)
        .env_remove("BROKER_SECRET_KEY")
        .env_remove("BROKER_DB")
        .output()
        .unwrap()
}

fn user_count(dir: &Path) -> i64 {
    let conn = rusqlite::Connection::open(dir.join("broker.db")).unwrap();
    conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn fixtures_load_is_all_or_nothing_and_names_the_fault() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    std::fs::write(
        &good,
        r#"{"users": [{"user_id": 1, "email": "a@x", "password": "pw"}]}"#,
    )
    .unwrap();
    let out = broker(&["fixtures", "load", good.to_str().unwrap()], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "users: 1 rows\n");

    // A second file that is fine, and a third with a broken reference:
    // nothing of the three may land.
    let fine = dir.path().join("fine.json");
    std::fs::write(&fine, r#"{"users": [{"user_id": 2, "email": "b@x"}]}"#).unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"cgac": [{"cgac_code": "097", "agency_name": "A"}],
            "user_affiliations": [{"user_id": 1, "cgac_code": "097", "permission": "reader"},
                                  {"user_id": 77, "cgac_code": "097", "permission": "reader"}]}"#,
    )
    .unwrap();
    let out = broker(
        &[
            "fixtures",
            "load",
            fine.to_str().unwrap(),
            bad.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}: table user_affiliations, row 2, column user_id: refers to a row of users that does not exist",
            bad.display()
        )),
        "{stderr}"
    );
    assert_eq!(user_count(dir.path()), 1);

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, r#"{"users": [{"user_id": 3, "email": "c@x"}"#).unwrap();
    let out = broker(&["fixtures", "load", broken.to_str().unwrap()], dir.path());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.json: not valid JSON"));
    assert_eq!(user_count(dir.path()), 1);
}

#[test]
fn token_prints_a_session_token_for_a_user() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("f.json");
    std::fs::write(&fixture, r#"{"users": [{"user_id": 42, "email": "t@x"}]}"#).unwrap();
    assert!(
        broker(&["fixtures", "load", fixture.to_str().unwrap()], dir.path())
            .status
            .success()
    );
    let out = broker(&["token", "--user", "t@x", "--ttl", "120"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    let secret = std::fs::read_to_string(dir.path().join("secret.key")).unwrap();
    let claims = broker_lite::auth::decode_token(
        &broker_lite::base::config::Secret::new(secret),
        token.trim(),
    )
    .unwrap();
    assert_eq!(claims.sub, "42");
    assert!(claims.exp - claims.iat == 120);
    let out = broker(&["token", "--user", "nobody@x"], dir.path());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user with email nobody@x"));
}

fn post_login(addr: SocketAddr, email: &str, password: &str) -> HttpResponse {
    let body = serde_json::json!({"username": email, "password": password});
    post_json(addr, "/v1/login/", &body, None)
}

#[test]
fn serve_demo_gives_a_working_system_in_one_command() {
    let dir = tempfile::tempdir().unwrap();
    let server = Served::start(dir.path(), &["--demo"], &[]);
    let login = post_login(server.addr, "submitter@broker.local", "submitter-demo-pw");
    assert_eq!(login.status, 200, "{}", login.text());
    let token = login.json()["session_id"].as_str().unwrap().to_string();
    let status = |file_type: &str| {
        let target = format!("/v1/check_generation_status/?submission_id=1&file_type={file_type}");
        raw_request(
            server.addr,
            "GET",
            &target,
            &[("x-session-id", &token)],
            b"",
        )
        .json()
    };
    let d1 = status("D1");
    assert_eq!(d1["status"], "finished");
    assert_eq!(status("D2")["status"], "waiting");
    assert_eq!(status("F")["status"], "failed");
    let url = d1["url"].as_str().unwrap();
    let target = url
        .strip_prefix(&format!("http://{}", server.addr))
        .unwrap();
    let file = raw_request(server.addr, "GET", target, &[], b"");
    assert_eq!(file.status, 200);
    assert!(
        file.text()
            .starts_with("ContractTransactionUniqueKey,PrimeAwardUniqueKey,PIID,")
    );
    assert_eq!(Some(file.body.len() as u64), d1["size"].as_u64());
    drop(server);

    // A second start on the same data dir keeps the data and the secret.
    let again = Served::start(dir.path(), &["--demo"], &[]);
    let target = "/v1/check_generation_status/?submission_id=1&file_type=D1";
    let resp = raw_request(again.addr, "GET", target, &[("x-session-id", &token)], b"");
    assert_eq!(resp.status, 200);
    assert_eq!(user_count(dir.path()), 7);
}

#[test]
fn serve_logs_requests_without_query_strings_or_tokens() {
    let log = log_of_a_session_with_secrets(&[]);
    assert!(
        log.contains("GET /v1/check_generation_status/ 200 "),
        "{log}"
    );
    assert!(log.contains("POST /v1/login/ 200 "), "{log}");
    assert!(
        log.contains("GET /v1/check_generation_status/ 401 "),
        "{log}"
    );
}

#[test]
fn json_logs_are_one_object_per_line_with_the_request_fields_and_no_secrets() {
    let log = log_of_a_session_with_secrets(&["--log-format", "json"]);
    let mut requests = Vec::new();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let entry: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        for field in ["time", "level", "target", "message"] {
            assert!(entry[field].is_string(), "{field} in {line}");
        }
        if entry.get("status").is_some() {
            assert!(
                entry["method"].is_string() && entry["path"].is_string(),
                "{line}"
            );
            assert!(entry["ms"].is_u64(), "{line}");
            requests.push((
                entry["method"].as_str().unwrap().to_string(),
                entry["path"].as_str().unwrap().to_string(),
                entry["status"].as_u64().unwrap(),
            ));
        }
    }
    for expected in [
        ("POST", "/v1/login/", 200),
        ("GET", "/v1/check_generation_status/", 200),
        ("GET", "/v1/check_generation_status/", 401),
        ("GET", "/v1/active_user/", 200),
    ] {
        assert!(
            requests
                .iter()
                .any(|(m, p, s)| (m.as_str(), p.as_str(), *s) == expected),
            "{expected:?} not in {requests:?}"
        );
    }
}

/// Runs the demo with `args`, logs in, downloads through a signed link, and
/// sends bad tokens and passwords; returns the server's log after checking
/// that no token, password, signature or secret is in it.
fn log_of_a_session_with_secrets(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut all_args = vec!["--demo"];
    all_args.extend_from_slice(args);
    let server = Served::start(dir.path(), &all_args, &[("RUST_LOG", "debug")]);
    let addr = server.addr;
    let password = "submitter-demo-pw";
    let token = post_login(addr, "submitter@broker.local", password).json()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let target = "/v1/check_generation_status/?submission_id=1&file_type=D1";
    let url = raw_request(addr, "GET", target, &[("x-session-id", &token)], b"").json()["url"]
        .as_str()
        .unwrap()
        .to_string();
    let signature = url.split("signature=").nth(1).unwrap().to_string();
    raw_request(
        addr,
        "GET",
        url.strip_prefix(&format!("http://{addr}")).unwrap(),
        &[],
        b"",
    );
    raw_request(
        addr,
        "GET",
        target,
        &[("x-session-id", "garbage-token-value")],
        b"",
    );
    post_login(addr, "submitter@broker.local", "wrong-password-xyz");
    let bearer = format!("Bearer {token}");
    raw_request(
        addr,
        "GET",
        "/v1/active_user/",
        &[("Authorization", &bearer)],
        b"",
    );
    let log = server.stop();
    let secret = std::fs::read_to_string(dir.path().join("secret.key")).unwrap();
    for needle in [
        token.as_str(),
        password,
        signature.as_str(),
        secret.trim(),
        "garbage-token-value",
        "wrong-password-xyz",
        "file_type=",
    ] {
        assert!(!log.contains(needle), "log leaks {needle}");
    }
    log
}

#[test]
fn synth_data_generates_a_d1_with_every_kind_of_value() {
    let dir = tempfile::tempdir().unwrap();
    let out = broker(
        &[
            "fixtures", "synth", "--rows", "400", "--tas", "0", "--seed", "7",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Served::start(dir.path(), &[], &[]);
    let token = post_login(server.addr, "admin@synth.local", "synth-admin-pw").json()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = serde_json::json!({"submission_id": 1, "file_type": "D1",
                                  "start": "10/01/2019", "end": "09/30/2020"});
    let resp = post_json(server.addr, "/v1/generate_file/", &body, Some(&token));
    assert_eq!(resp.status, 200, "{}", resp.text());
    let target = "/v1/check_generation_status/?submission_id=1&file_type=D1";
    let status = (0..200)
        .map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            raw_request(server.addr, "GET", target, &[("x-session-id", &token)], b"").json()
        })
        .find(|s| s["status"] != "waiting")
        .expect("the generation finishes");
    assert_eq!(status["status"], "finished", "{status}");
    let url = status["url"].as_str().unwrap();
    let file = raw_request(
        server.addr,
        "GET",
        url.strip_prefix(&format!("http://{}", server.addr))
            .unwrap(),
        &[],
        b"",
    );
    let text = file.text();
    let rows = crate::helpers::rows_of(&file.body, b',');
    // Every synthetic D1 row is dated inside fiscal year 2020, half of them as timestamps.
    assert_eq!(rows.len(), 401);
    let col = |name: &str| rows[0].iter().position(|h| h == name).unwrap();
    let (action, obligation) = (col("ActionDate"), col("FederalActionObligation"));
    for row in &rows[1..] {
        assert!(
            row[action].len() == 8 && row[action].bytes().all(|b| b.is_ascii_digit()),
            "{row:?}"
        );
        assert_eq!(
            broker_lite::base::pgtext::numeric(&row[obligation]).as_deref(),
            Some(row[obligation].as_str())
        );
    }
    assert!(text.contains(",\"\","), "empty strings are written as \"\"");
    assert!(text.contains(",,"), "NULLs are written as nothing");
    assert!(!text.contains('\r'), "LF line ends");
}

#[test]
fn synth_gtas_data_makes_a_and_boc_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = broker(
        &[
            "fixtures", "synth", "--rows", "10", "--tas", "48", "--seed", "3",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conn = rusqlite::Connection::open(dir.path().join("broker.db")).unwrap();
    let count =
        |sql: &str| -> usize { conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap() as usize };
    assert_eq!(count("SELECT COUNT(*) FROM sf_133"), 48 * 40 * 12);
    // DOD's TAS: its own AID and ATA 017, financial accounts left out.
    let dod_tas = count(
        "SELECT COUNT(*) FROM tas_lookup WHERE coalesce(financial_indicator2, '') <> 'F'
         AND (allocation_transfer_agency IN ('017', '021', '057', '097')
              OR (allocation_transfer_agency IS NULL AND agency_identifier IN ('017', '021', '057', '097')))",
    );
    let server = Served::start(dir.path(), &[], &[]);
    let token = post_login(server.addr, "admin@synth.local", "synth-admin-pw").json()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let fetch = |file_type: &str| {
        detached_file(
            server.addr,
            &token,
            serde_json::json!({"file_type": file_type, "cgac_code": "097", "year": 2020, "period": 6}),
        )
    };
    let a = fetch("A");
    assert_eq!(a[0][0], "AllocationTransferAgencyIdentifier");
    assert_eq!(a.len() - 1, dod_tas, "one row per DOD TAS");
    let boc = fetch("BOC");
    assert_eq!(boc[0][19], "FileBRows");
    let matched = boc[1..]
        .iter()
        .filter(|r| !r[19].is_empty() && r[16] != "0")
        .count();
    assert!(matched > 0, "File B lines meet GTAS balances");
    for row in &boc[1..] {
        let amount = |i: usize| row[i].parse::<f64>().unwrap();
        assert!(
            (amount(16) - amount(17) - amount(18)).abs() < 1e-6,
            "{row:?}"
        );
    }
}

/// Generates a detached file through the API, waits for it, and returns
/// its rows (header first).
fn detached_file(addr: SocketAddr, token: &str, body: serde_json::Value) -> Vec<Vec<String>> {
    let resp = post_json(addr, "/v1/generate_detached_file/", &body, Some(token));
    assert_eq!(resp.status, 200, "{}", resp.text());
    let target = format!(
        "/v1/check_detached_generation_status/?job_id={}",
        resp.json()["job_id"]
    );
    let status = (0..200)
        .map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            raw_request(addr, "GET", &target, &[("x-session-id", token)], b"").json()
        })
        .find(|s| s["status"] != "waiting")
        .expect("the generation finishes");
    assert_eq!(status["status"], "finished", "{status}");
    let url = status["url"].as_str().unwrap();
    let path = url.strip_prefix(&format!("http://{addr}")).unwrap();
    crate::helpers::rows_of(&raw_request(addr, "GET", path, &[], b"").body, b',')
}

#[test]
fn the_demo_has_gtas_data_for_a_and_boc() {
    let dir = tempfile::tempdir().unwrap();
    let server = Served::start(dir.path(), &["--demo"], &[]);
    let token =
        post_login(server.addr, "submitter@broker.local", "submitter-demo-pw").json()["session_id"]
            .as_str()
            .unwrap()
            .to_string();
    let a = detached_file(
        server.addr,
        &token,
        serde_json::json!({"file_type": "A", "cgac_code": "097", "year": 2020, "period": 6}),
    );
    // DOD's two own TAS and one through ATA 017, NULLs last; the financial
    // account is left out.
    let tas: Vec<(&str, &str, &str)> = a[1..]
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str(), r[5].as_str()))
        .collect();
    assert_eq!(
        tas,
        [
            ("017", "021", "1810"),
            ("", "097", "1804"),
            ("", "097", "0100")
        ]
    );
    assert_eq!(a[3][7], "6310000.00");
    assert_eq!(a[2][20], "failed fatal edit - no override");
    let boc = detached_file(
        server.addr,
        &token,
        serde_json::json!({"file_type": "BOC", "cgac_code": "020", "year": 2020, "period": 3}),
    );
    assert!(boc.len() > 1, "{boc:?}");
    assert!(
        boc[1..]
            .iter()
            .any(|r| r[18] != "0.00" && !r[19].is_empty())
    );
}
