//! Crash safety with the real binary: a generation killed with SIGKILL
//! resumes after a restart and finishes with a complete file.

use crate::helpers::{SECRET, raw_request};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_broker-lite");
const ROWS: i64 = 150_000;

fn start(dir: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--workers", "1"])
        .env("BROKER_DATA_DIR", dir)
        .env("BROKER_SECRET_KEY", SECRET)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

fn query<T: rusqlite::types::FromSql>(dir: &Path, sql: &str) -> T {
    let conn = rusqlite::Connection::open(dir.join("broker.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_generation_killed_mid_way_resumes_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let base = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/test_base.json");
    let out = Command::new(BIN)
        .args(["fixtures", "load", base])
        .env("BROKER_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conn = rusqlite::Connection::open(dir.path().join("broker.db")).unwrap();
    conn.execute_batch(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS})
         INSERT INTO detached_award_procurement (detached_award_proc_unique, unique_award_key, piid,
             action_date, awarding_agency_code, awardee_or_recipient_uei, award_description,
             federal_action_obligation, legal_entity_city_name, naics_description)
         SELECT 'TX' || i, 'AWD' || i, 'P' || i, '2019-11-01', '097', 'UEI' || (i % 100),
                'Description of award number ' || i, i || '.00', 'Springfield', 'Engineering services'
         FROM n;"
    ))
    .unwrap();
    drop(conn);

    let (mut server, addr) = start(dir.path());
    let token = broker_lite::auth::mint_token(&broker_lite::config::Secret::new(SECRET), 2, 600)
        .unwrap()
        .0;
    let body =
        r#"{"submission_id": 10, "file_type": "D1", "start": "10/01/2019", "end": "12/31/2019"}"#;
    let headers = [
        ("x-session-id", token.as_str()),
        ("Content-Type", "application/json"),
    ];
    let resp = raw_request(
        addr,
        "POST",
        "/v1/generate_file/",
        &headers,
        body.as_bytes(),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    wait_for("the generation to start", Duration::from_secs(60), || {
        query::<String>(
            dir.path(),
            "SELECT job_status FROM jobs WHERE job_id = 1001",
        ) == "running"
    });
    std::thread::sleep(Duration::from_millis(200));
    server.kill().unwrap();
    server.wait().unwrap();
    let state: String = query(
        dir.path(),
        "SELECT state FROM generation_tasks WHERE kind = 'generate_d'",
    );
    assert_eq!(state, "running", "the kill must land during the generation");

    let (mut server, addr) = start(dir.path());
    let target = "/v1/check_generation_status/?submission_id=10&file_type=D1";
    let mut status = serde_json::Value::Null;
    wait_for("the resumed generation", Duration::from_secs(180), || {
        status = raw_request(addr, "GET", target, &[("x-session-id", &token)], b"").json();
        status["status"] != "waiting"
    });
    assert_eq!(status["status"], "finished", "{status}");
    let url = status["url"].as_str().unwrap();
    let file = raw_request(
        addr,
        "GET",
        url.strip_prefix(&format!("http://{addr}")).unwrap(),
        &[],
        b"",
    );
    assert_eq!(file.status, 200);
    let lines = file
        .body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as i64;
    assert_eq!(lines, ROWS + 1, "header plus every row");
    assert_eq!(status["size"].as_u64(), Some(file.body.len() as u64));
    server.kill().unwrap();
    server.wait().unwrap();
    let check: String = query(dir.path(), "PRAGMA integrity_check");
    assert_eq!(check, "ok");
    let scratch = std::fs::read_dir(dir.path().join("tmp")).unwrap().count();
    assert_eq!(scratch, 0, "no half-written scratch file is left");
}
