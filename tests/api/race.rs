//! The last request for a job wins: its dates, its file and its award rows,
//! whatever the worker was doing when it arrived. The interleavings are
//! driven step by step (claim a task, make a request, run the task), then
//! the real binary with two workers is hammered with back-to-back requests.

use crate::helpers::{
    SECRET, Served, TestApp, generate_and_finish, post_json, raw_request, rows_of,
};
use broker_lite::worker::Worker;
use serde_json::{Value, json};
use std::sync::Arc;

const WRITER: i64 = 4;

fn d1(start: &str, end: &str) -> Value {
    json!({"submission_id": 10, "file_type": "D1", "start": start, "end": end})
}

/// A: the quarter (CONT_K1 and CONT_K2); B: October and November (CONT_K1).
fn a() -> Value {
    d1("10/01/2019", "12/31/2019")
}
fn b() -> Value {
    d1("10/01/2019", "11/30/2019")
}

/// Caches both generations, so that each request is answered by a copy.
fn with_both_cached(app: &TestApp) {
    generate_and_finish(app, a(), WRITER);
    generate_and_finish(app, b(), WRITER);
}

fn award_keys(app: &TestApp) -> Vec<String> {
    let conn = app.db();
    let mut stmt = conn
        .prepare(
            "SELECT unique_award_key FROM award_procurement WHERE submission_id = 10 ORDER BY 1",
        )
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The job ends with B's dates, B's rows in its file and B's award rows.
#[track_caller]
fn assert_b_won(app: &TestApp) {
    let status = app.status(10, "D1", WRITER).json();
    assert_eq!(status["status"], "finished", "{status}");
    assert_eq!(
        (status["start"].as_str(), status["end"].as_str()),
        (Some("10/01/2019"), Some("11/30/2019"))
    );
    let file = app.download(&status);
    let keys: Vec<String> = rows_of(&file.body, b',')[1..]
        .iter()
        .map(|r| r[1].clone())
        .collect();
    assert_eq!(keys, ["CONT_K1"], "the file is B's");
    assert!(
        link_name(&status).contains("_20191001_20191130_"),
        "{status}"
    );
    assert_eq!(award_keys(app), ["CONT_K1"], "the award rows are B's");
}

fn link_name(status: &Value) -> String {
    crate::helpers::link_path(status)
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn a_copy_claimed_before_a_newer_request_does_not_finish_the_job() {
    let app = TestApp::spawn();
    with_both_cached(&app);
    let worker = Worker::new(Arc::clone(&app.app.state));
    assert_eq!(app.generate(a(), WRITER).status, 200);
    let copy_a = worker.claim().unwrap().expect("A's copy task");
    assert_eq!(app.generate(b(), WRITER).status, 200);
    worker.run_claimed(copy_a).unwrap();
    app.run_pending_jobs();
    assert_b_won(&app);
}

#[test]
fn a_validation_overtaken_by_a_newer_request_leaves_no_rows_behind() {
    let app = TestApp::spawn();
    with_both_cached(&app);
    let worker = Worker::new(Arc::clone(&app.app.state));
    assert_eq!(app.generate(a(), WRITER).status, 200);
    worker.run_next_job().unwrap(); // A's copy: the job is finished with A's file
    let validate_a = worker.claim().unwrap().expect("A's validation task");
    assert_eq!(app.generate(b(), WRITER).status, 200);
    app.run_pending_jobs(); // B's copy and B's validation
    worker.run_claimed(validate_a).unwrap();
    assert_b_won(&app);
    assert_eq!(
        app.count("SELECT number_of_rows FROM jobs WHERE job_id = 1002"),
        1
    );
}

#[test]
fn an_older_e_file_finishing_last_does_not_replace_the_newer_one() {
    let app = TestApp::spawn();
    generate_and_finish(&app, a(), WRITER);
    app.sql("UPDATE jobs SET job_status = 'finished' WHERE job_id = 1007");
    let worker = Worker::new(Arc::clone(&app.app.state));
    let e = json!({"submission_id": 10, "file_type": "E"});
    assert_eq!(app.generate(e.clone(), WRITER).status, 200);
    let older = worker.claim().unwrap().expect("the first E task");
    // The newer request runs to the end first, with one more SAM row.
    assert_eq!(app.generate(e, WRITER).status, 200);
    app.sql("UPDATE sam_recipient SET legal_business_name = 'Newer name' WHERE uei = 'UEI1'");
    app.run_pending_jobs();
    let newer = app.status(10, "E", WRITER).json();
    assert!(app.download(&newer).text().contains("Newer name"));
    app.sql("UPDATE sam_recipient SET legal_business_name = 'Stale name' WHERE uei = 'UEI1'");
    worker.run_claimed(older).unwrap();
    let last = app.status(10, "E", WRITER).json();
    assert_eq!(
        last["url"].as_str().map(|u| u.split('?').next()),
        newer["url"].as_str().map(|u| u.split('?').next())
    );
    assert!(app.download(&last).text().contains("Newer name"));
}

#[test]
fn back_to_back_requests_with_real_workers_always_end_with_the_last_one() {
    let dir = tempfile::tempdir().unwrap();
    crate::helpers::load_fixtures(
        dir.path(),
        &[
            &crate::helpers::fixture_path("test_base.json"),
            &crate::helpers::fixture_path("test_generation.json"),
        ],
    );
    let server = Served::start(
        dir.path(),
        &["--workers", "2"],
        &[("BROKER_SECRET_KEY", SECRET)],
    );
    let token = broker_lite::auth::mint_token(
        &broker_lite::base::config::Secret::new(SECRET),
        broker_lite::base::ids::UserId(WRITER),
        600,
    )
    .unwrap()
    .0;
    let post = |body: &Value| {
        let resp = post_json(server.addr, "/v1/generate_file/", body, Some(&token));
        assert_eq!(resp.status, 200, "{}", resp.text());
    };
    let status = || {
        raw_request(
            server.addr,
            "GET",
            "/v1/check_generation_status/?submission_id=10&file_type=D1",
            &[("x-session-id", &token)],
            b"",
        )
        .json()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let settle = || loop {
        let s = status();
        if s["status"] != "waiting" {
            return s;
        }
        assert!(std::time::Instant::now() < deadline, "stuck waiting: {s}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    post(&a());
    settle();
    post(&b());
    settle();
    let conn = rusqlite::Connection::open(dir.path().join("broker.db")).unwrap();
    for round in 0..20 {
        let (first, last, last_end, last_keys) = if round % 2 == 0 {
            (a(), b(), "11/30/2019", vec!["CONT_K1"])
        } else {
            (b(), a(), "12/31/2019", vec!["CONT_K1", "CONT_K2"])
        };
        post(&first);
        post(&last);
        let s = settle();
        // The validation that follows the copy must be the last request's too.
        let s = loop {
            let rows: Option<i64> = conn
                .query_row("SELECT number_of_rows FROM jobs WHERE job_id = 1002 AND job_status = 'finished'", [], |r| r.get(0))
                .ok();
            if rows.is_some() && status()["status"] == "finished" {
                break status();
            }
            assert_ne!(s["status"], "failed", "{s}");
            assert!(
                std::time::Instant::now() < deadline,
                "round {round} stuck: {s}"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        assert_eq!(s["end"], last_end, "round {round}: {s}");
        let url = s["url"].as_str().unwrap();
        let target = url
            .strip_prefix(&format!("http://{}", server.addr))
            .unwrap();
        let file = raw_request(server.addr, "GET", target, &[], b"");
        let keys: Vec<String> = rows_of(&file.body, b',')[1..]
            .iter()
            .map(|r| r[1].clone())
            .collect();
        assert_eq!(keys, last_keys, "round {round}: the file");
        let mut stmt = conn
            .prepare("SELECT unique_award_key FROM award_procurement WHERE submission_id = 10 ORDER BY 1")
            .unwrap();
        let loaded: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(loaded, last_keys, "round {round}: the award rows");
    }
}
