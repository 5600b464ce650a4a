//! Crash safety with the real binary: SIGKILL during a generation, a fixture
//! load and a download, and SIGTERM during a generation. SQLite stays intact
//! after each.

use crate::helpers::{BIN, SECRET, Served, fixture_path, load_fixtures, post_json, raw_request};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const ROWS: i64 = 150_000;

fn start(dir: &Path) -> Served {
    Served::start(dir, &["--workers", "1"], &[("BROKER_SECRET_KEY", SECRET)])
}

pub(crate) fn query<T: rusqlite::types::FromSql>(dir: &Path, sql: &str) -> T {
    let conn = rusqlite::Connection::open(dir.join("broker.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

pub(crate) fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A data dir with the base fixture and `ROWS` D1 rows for submission 10.
pub(crate) fn big_data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = load_fixtures(dir.path(), &[&fixture_path("test_base.json")]);
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
    dir
}

pub(crate) fn token() -> String {
    broker_lite::auth::mint_token(
        &broker_lite::base::config::Secret::new(SECRET),
        broker_lite::base::ids::UserId(2),
        600,
    )
    .unwrap()
    .0
}

/// Starts the D1 generation of submission 10 and waits until it runs.
pub(crate) fn start_generation(dir: &Path, addr: SocketAddr, token: &str) {
    let body = serde_json::json!({"submission_id": 10, "file_type": "D1",
                                  "start": "10/01/2019", "end": "12/31/2019"});
    let resp = post_json(addr, "/v1/generate_file/", &body, Some(token));
    assert_eq!(resp.status, 200, "{}", resp.text());
    wait_for("the generation to start", Duration::from_secs(60), || {
        query::<String>(dir, "SELECT job_status FROM jobs WHERE job_id = 1001") == "running"
    });
    std::thread::sleep(Duration::from_millis(200));
}

/// Restarts the server, waits for the D1 to finish and checks the file.
fn finishes_after_restart(dir: &Path, token: &str) {
    let server = start(dir);
    let addr = server.addr;
    let target = "/v1/check_generation_status/?submission_id=10&file_type=D1";
    let mut status = serde_json::Value::Null;
    wait_for("the resumed generation", Duration::from_secs(180), || {
        status = raw_request(addr, "GET", target, &[("x-session-id", token)], b"").json();
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
    server.stop();
    assert_intact(dir);
}

fn assert_intact(dir: &Path) {
    let check: String = query(dir, "PRAGMA integrity_check");
    assert_eq!(check, "ok");
}

#[test]
fn a_generation_killed_mid_way_resumes_after_a_restart() {
    let dir = big_data_dir();
    let server = start(dir.path());
    let addr = server.addr;
    let token = token();
    start_generation(dir.path(), addr, &token);
    server.stop();
    let state: String = query(
        dir.path(),
        "SELECT state FROM generation_tasks WHERE kind = 'generate_d'",
    );
    assert_eq!(state, "running", "the kill must land during the generation");

    finishes_after_restart(dir.path(), &token);
    let scratch = std::fs::read_dir(dir.path().join("tmp")).unwrap().count();
    assert_eq!(scratch, 0, "no half-written scratch file is left");
}

#[test]
fn sigterm_stops_accepting_and_the_next_start_resumes_the_generation() {
    let dir = big_data_dir();
    let mut server = start(dir.path());
    let addr = server.addr;
    let token = token();
    start_generation(dir.path(), addr, &token);
    let killed = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "SIGTERM did not stop the server"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "no longer accepting"
    );
    let state: String = query(
        dir.path(),
        "SELECT state FROM generation_tasks WHERE kind = 'generate_d'",
    );
    assert_eq!(
        state, "queued",
        "the interrupted generation is queued again"
    );
    assert_intact(dir.path());
    finishes_after_restart(dir.path(), &token);
}

#[test]
fn a_fixture_load_killed_mid_way_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = load_fixtures(dir.path(), &[&fixture_path("test_base.json")]);
    assert!(out.status.success());
    let big = dir.path().join("big.json");
    let rows: Vec<String> = (0..300_000)
        .map(|i| format!(r#"{{"subaward_id": {i}, "unique_award_key": "AWD{i}", "subaward_type": "sub-grant", "subaward_number": "S{i}", "subaward_description": "subaward number {i} of a large fixture"}}"#, i = i + 1))
        .collect();
    std::fs::write(&big, format!(r#"{{"subaward": [{}]}}"#, rows.join(","))).unwrap();
    let mut loader = Command::new(BIN)
        .args(["fixtures", "load", big.to_str().unwrap()])
        .env("BROKER_DATA_DIR", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let wal = dir.path().join("broker.db-wal");
    wait_for("the load to write", Duration::from_secs(120), || {
        std::fs::metadata(&wal)
            .map(|m| m.len() > 4_000_000)
            .unwrap_or(false)
    });
    assert!(
        loader.try_wait().unwrap().is_none(),
        "the kill must land during the load"
    );
    loader.kill().unwrap();
    loader.wait().unwrap();
    assert_eq!(query::<i64>(dir.path(), "SELECT COUNT(*) FROM subaward"), 0);
    assert_eq!(query::<i64>(dir.path(), "SELECT COUNT(*) FROM users"), 8);
    assert_intact(dir.path());
}

#[test]
fn a_server_killed_during_a_download_serves_the_file_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let key = "detached/big.csv";
    let bytes: Vec<u8> = (0..30 * 1024 * 1024u32)
        .map(|i| b'a' + (i % 26) as u8)
        .collect();
    let path = dir.path().join("files").join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    let expires = broker_lite::base::util::unix_now() + 600;
    let signature = broker_lite::storage::links::LinkSigner::new(SECRET).sign(key, expires);
    let target = format!("/v1/files/{key}?expires={expires}&signature={signature}");

    let server = start(dir.path());
    let addr = server.addr;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(stream, "GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut first = [0u8; 65536];
    let mut got = 0;
    while got < first.len() {
        got += stream.read(&mut first[got..]).unwrap();
    }
    server.stop();
    drop(stream);

    let server = start(dir.path());
    let addr = server.addr;
    let file = raw_request(addr, "GET", &target, &[], b"");
    assert_eq!(file.status, 200);
    assert!(file.body == bytes, "the whole file is served again");
    server.stop();
    assert_intact(dir.path());
}

#[test]
fn a_server_killed_while_it_loads_award_rows_keeps_the_old_rows_until_the_restart_loads_all() {
    let dir = big_data_dir();
    let conn = rusqlite::Connection::open(dir.path().join("broker.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.execute_batch(
        "INSERT INTO award_procurement (submission_id, unique_award_key)
         VALUES (10, 'OLD_1'), (10, 'OLD_2');",
    )
    .unwrap();
    let award_keys = |conn: &rusqlite::Connection| -> (i64, i64) {
        conn.query_row(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE unique_award_key LIKE 'OLD%')
             FROM award_procurement WHERE submission_id = 10",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let server = start(dir.path());
    let token = token();
    start_generation(dir.path(), server.addr, &token);
    // The validation (job 1002) loads ROWS award rows in one transaction.
    let validation = |conn: &rusqlite::Connection| -> String {
        conn.query_row("SELECT job_status FROM jobs WHERE job_id = 1002", [], |r| {
            r.get(0)
        })
        .unwrap()
    };
    wait_for("the validation to start", Duration::from_secs(120), || {
        validation(&conn) == "running"
    });
    server.stop();
    assert_eq!(
        validation(&conn),
        "running",
        "the kill must land during the validation"
    );
    assert_eq!(
        award_keys(&conn),
        (2, 2),
        "the old rows, and none of the new"
    );

    let server = start(dir.path());
    wait_for("the resumed validation", Duration::from_secs(120), || {
        validation(&conn) == "finished"
    });
    server.stop();
    assert_eq!(award_keys(&conn), (ROWS, 0), "every row of the new file");
    assert_intact(dir.path());
}
