//! `POST /v1/generate_file/` and the worker: messages, the rows of every file
//! type, the cache, and the submission side effects, over HTTP.

use crate::helpers::{TestApp, assert_error, generate_and_finish, link_path, rows_of};
use broker_lite::base::domain::FileType;
use broker_lite::files::spec;
use serde_json::{Value, json};

const DENIED: &str = "User does not have permission to access that submission";

fn d1_request(submission_id: i64) -> Value {
    json!({"submission_id": submission_id, "file_type": "D1", "start": "10/01/2019", "end": "12/31/2019"})
}

fn column(rows: &[Vec<String>], header: &str) -> Vec<String> {
    let at = rows[0]
        .iter()
        .position(|h| h == header)
        .unwrap_or_else(|| panic!("no {header}"));
    rows[1..].iter().map(|r| r[at].clone()).collect()
}

fn headers(layout: &[broker_lite::files::Column]) -> Vec<String> {
    layout.iter().map(|c| c.header.clone()).collect()
}

#[test]
fn generate_file_checks_parameters_in_the_brokers_order() {
    let app = TestApp::spawn();
    let cases = [
        (
            json!({"file_type": "D1"}),
            1,
            400,
            "submission_id is required",
        ),
        (
            json!({"submission_id": 999, "file_type": "D1"}),
            1,
            400,
            "No such submission",
        ),
        (
            json!({"submission_id": "abc"}),
            1,
            400,
            "submission_id: Not a valid integer.",
        ),
        (
            json!({"submission_id": 10, "file_type": "D1"}),
            3,
            403,
            DENIED,
        ),
        (
            json!({"submission_id": 10, "file_type": "D1"}),
            7,
            403,
            DENIED,
        ),
        (
            json!({"submission_id": 10}),
            4,
            400,
            "file_type: Missing data for required field.",
        ),
        (
            json!({"submission_id": 10, "file_type": "B"}),
            4,
            400,
            "file_type: Must be either D1, D2, E or F",
        ),
        (
            json!({"submission_id": 10, "file_type": 1}),
            4,
            400,
            "file_type: Must be either D1, D2, E or F",
        ),
        (
            json!({"submission_id": 10, "file_type": "D1", "start": "2019-10-01", "end": "12/31/2019"}),
            4,
            400,
            "start: Must be in the format MM/DD/YYYY",
        ),
        (
            json!({"submission_id": 10, "file_type": "D1", "start": "10/01/2019", "end": "13/31/2019"}),
            4,
            400,
            "end: Must be in the format MM/DD/YYYY",
        ),
        (
            json!({"submission_id": 10, "file_type": "D1", "start": "10/01/2019", "end": "12/31/2019", "agency_type": "paying"}),
            4,
            400,
            "agency_type: Must be either awarding or funding if provided",
        ),
        (
            json!({"submission_id": 10, "file_type": "D1", "start": "10/01/2019", "end": "12/31/2019", "file_format": "xlsx"}),
            4,
            400,
            "file_format: Must be either csv or txt if provided",
        ),
        (
            json!({"submission_id": 12, "file_type": "D1"}),
            1,
            400,
            "Cannot generate files for FABS submissions.",
        ),
        (
            json!({"submission_id": 10, "file_type": "D2", "start": "10/01/2019"}),
            4,
            400,
            "Must have a start and end date for D file generation.",
        ),
    ];
    for (body, user, status, message) in cases {
        assert_error(&app.generate(body, user), status, message);
    }
    assert_error(
        &app.post_json("/v1/generate_file/", &d1_request(10), None),
        401,
        "Login Required",
    );
    let token = app.token_for(4);
    let resp = app.request(
        "POST",
        "/v1/generate_file/",
        &[
            ("x-session-id", &token),
            ("Content-Type", "application/json"),
        ],
        b"submission_id=10",
    );
    assert_error(&resp, 400, "The request body must be a JSON object");
    let huge = vec![b' '; 2 * 1024 * 1024];
    let resp = app.request(
        "POST",
        "/v1/generate_file/",
        &[("x-session-id", &token)],
        &huge,
    );
    assert_error(&resp, 413, "Request body is too large");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM generation_tasks"),
        0,
        "nothing was queued"
    );
}

#[test]
fn prerequisites_must_be_finished_without_errors() {
    let app = TestApp::spawn();
    app.sql(
        "INSERT INTO jobs (job_id, submission_id, job_type, file_type, job_status, updated_at)
         VALUES (1010, 10, 'csv_record_validation', 'B', 'finished', '2020-01-01 00:00:00');
         UPDATE jobs SET number_of_errors = 2 WHERE job_id = 1010;
         UPDATE jobs SET job_status = 'running' WHERE job_id = 1007;",
    );
    let wait = "Must wait for completion of prerequisite validation job";
    assert_error(&app.generate(d1_request(10), 4), 400, wait);
    assert_error(
        &app.generate(json!({"submission_id": 10, "file_type": "E"}), 4),
        400,
        wait,
    );
    app.sql("UPDATE jobs SET number_of_errors = 0 WHERE job_id = 1010; UPDATE jobs SET job_status = 'finished' WHERE job_id = 1007;");
    assert_eq!(app.generate(d1_request(10), 4).status, 200);
    app.run_pending_jobs();
}

#[test]
fn a_d1_file_is_generated_downloaded_and_validated() {
    let app = TestApp::spawn();
    let answer = app.generate(d1_request(10), 4);
    assert_eq!(answer.status, 200, "{}", answer.text());
    let answer = answer.json();
    assert_eq!(
        (
            answer["status"].as_str(),
            answer["url"].as_str(),
            answer["start"].as_str(),
            answer["end"].as_str()
        ),
        (
            Some("waiting"),
            Some("#"),
            Some("10/01/2019"),
            Some("12/31/2019")
        )
    );
    assert_ne!(
        answer["generated_at"], "2020-01-15 14:25:40.123450",
        "generated_at moves"
    );
    assert_eq!(app.job_status(1002), "waiting", "validation job reset");
    assert_eq!(
        app.job_status(1007),
        "waiting",
        "cross-file job back to waiting"
    );

    app.run_pending_jobs();
    let status = app.status(10, "D1", 4).json();
    assert_eq!(status["status"], "finished", "{status}");
    let name = link_path(&status).split("/v1/files/10/").nth(1).unwrap();
    assert!(
        name.starts_with("SubID-10_File-D1_FY20Q1_20191001_20191231_awarding_"),
        "{name}"
    );
    assert!(name.ends_with(".csv"));

    let file = app.download(&status);
    assert_eq!(file.status, 200);
    assert_eq!(status["size"].as_u64(), Some(file.body.len() as u64));
    let rows = rows_of(&file.body, b',');
    assert_eq!(rows[0], headers(spec(FileType::D1).columns()));
    assert_eq!(column(&rows, "PrimeAwardUniqueKey"), ["CONT_K1", "CONT_K2"]);
    assert_eq!(column(&rows, "ActionDate"), ["20191001", "20191231"]);
    assert_eq!(
        column(&rows, "PeriodOfPerformanceStartDate"),
        ["20191001", "20191231"]
    );
    assert_eq!(
        column(&rows, "AwardDescription")[1],
        "Widgets, \"deluxe\"\nsecond line"
    );
    let text = file.text();
    assert!(
        text.contains(",\"Widgets, \"\"deluxe\"\"\nsecond line\","),
        "RFC 4180 quoting"
    );
    assert!(
        text.ends_with('\n') && !text.contains("\r\n"),
        "LF line ends"
    );

    assert_eq!(app.job_status(1002), "finished");
    assert_eq!(
        app.count("SELECT number_of_rows FROM jobs WHERE job_id = 1002"),
        2
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM award_procurement WHERE submission_id = 10 AND awardee_or_recipient_uei IS NOT NULL"),
        2
    );
}

#[test]
fn funding_agency_and_txt_format_select_rows_and_delimiter() {
    let app = TestApp::spawn();
    let mut body = d1_request(10);
    body["agency_type"] = json!("funding");
    body["file_format"] = json!("txt");
    let status = generate_and_finish(&app, body, 4);
    assert!(status["url"].as_str().unwrap().contains("_funding_"));
    assert!(link_path(&status).ends_with(".txt"), "{status}");
    let file = app.download(&status);
    assert_eq!(
        file.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    let rows = rows_of(&file.body, b'|');
    assert_eq!(rows[0].len(), 267);
    assert_eq!(column(&rows, "PrimeAwardUniqueKey"), ["CONT_K1", "CONT_K4"]);
    assert!(
        file.text()
            .starts_with("ContractTransactionUniqueKey|PrimeAwardUniqueKey|PIID|")
    );
}

#[test]
fn a_frec_submission_uses_its_frec_code_and_a_published_one_becomes_updated() {
    let app = TestApp::spawn();
    let body =
        json!({"submission_id": 11, "file_type": "D1", "start": "10/01/2019", "end": "12/31/2019"});
    let status = generate_and_finish(&app, body, 1);
    let rows = rows_of(&app.download(&status).body, b',');
    assert_eq!(column(&rows, "PrimeAwardUniqueKey"), ["CONT_K5"]);
    assert!(
        status["url"]
            .as_str()
            .unwrap()
            .contains("SubID-11_File-D1_FY20P06_")
    );
    let publish: String = app
        .db()
        .query_row(
            "SELECT publish_status FROM submissions WHERE submission_id = 11",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(publish, "updated");
}

#[test]
fn d2_keeps_only_active_rows_in_range() {
    let app = TestApp::spawn();
    let body =
        json!({"submission_id": 10, "file_type": "D2", "start": "10/01/2019", "end": "12/31/2019"});
    let status = generate_and_finish(&app, body, 2);
    let rows = rows_of(&app.download(&status).body, b',');
    assert_eq!(rows[0], headers(spec(FileType::D2).columns()));
    assert_eq!(column(&rows, "PrimeAwardUniqueKey"), ["ASST_F1"]);
    assert_eq!(column(&rows, "ActionDate"), ["20191005"]);
    assert_eq!(column(&rows, "LastModifiedDate"), ["20191202"]);
}

#[test]
fn an_empty_result_still_has_its_header_row() {
    let app = TestApp::spawn();
    let body =
        json!({"submission_id": 10, "file_type": "D1", "start": "01/01/2010", "end": "01/31/2010"});
    let status = generate_and_finish(&app, body, 4);
    let file = app.download(&status);
    let rows = rows_of(&file.body, b',');
    assert_eq!(rows, vec![headers(spec(FileType::D1).columns())]);
    assert_eq!(app.job_status(1002), "finished");
}

/// Generates D1 and D2 for submission 10, then lets its cross-file job finish
/// (broker-lite does not run cross-file rules).
fn with_d_files(app: &TestApp) {
    generate_and_finish(app, d1_request(10), 4);
    let d2 =
        json!({"submission_id": 10, "file_type": "D2", "start": "10/01/2019", "end": "12/31/2019"});
    generate_and_finish(app, d2, 4);
    app.sql("UPDATE jobs SET job_status = 'finished' WHERE job_id = 1007");
}

#[test]
fn e_lists_the_latest_sam_row_of_each_recipient() {
    let app = TestApp::spawn();
    with_d_files(&app);
    let status = generate_and_finish(&app, json!({"submission_id": 10, "file_type": "E"}), 4);
    assert!(status.get("start").is_none());
    assert!(
        status["url"]
            .as_str()
            .unwrap()
            .contains("/v1/files/10/SubID-10_File-E_FY20Q1_")
    );
    let rows = rows_of(&app.download(&status).body, b',');
    assert_eq!(rows[0], headers(spec(FileType::E).columns()));
    assert_eq!(column(&rows, "AwardeeOrRecipientUEI"), ["UEI1", "UEI3"]);
    assert_eq!(
        column(&rows, "AwardeeOrRecipientLegalEntityName"),
        ["New Name, Inc", "Grantee LLC"]
    );
}

#[test]
fn f_lists_sub_contracts_of_d1_awards_and_sub_grants_of_d2_awards() {
    let app = TestApp::spawn();
    with_d_files(&app);
    let status = generate_and_finish(&app, json!({"submission_id": 10, "file_type": "F"}), 4);
    let rows = rows_of(&app.download(&status).body, b',');
    assert_eq!(rows[0], headers(spec(FileType::F).columns()));
    assert_eq!(column(&rows, "PrimeAwardUniqueKey"), ["CONT_K1", "ASST_F1"]);
    assert_eq!(column(&rows, "SubAwardNumber"), ["SC-1", "SG-1"]);
}

#[test]
fn identical_requests_reuse_one_generation_until_fpds_loads_again() {
    let app = TestApp::spawn();
    let first = generate_and_finish(&app, d1_request(10), 4);
    let second = generate_and_finish(&app, d1_request(14), 1);
    let generations = "SELECT COUNT(*) FROM generation_tasks WHERE kind = 'generate_d'";
    assert_eq!(
        app.count(generations),
        1,
        "the second request reused the cache"
    );
    assert!(
        second["url"]
            .as_str()
            .unwrap()
            .contains("/v1/files/14/SubID-14_File-D1_")
    );
    assert_eq!(app.download(&first).body, app.download(&second).body);
    assert_eq!(
        app.job_status(1402),
        "finished",
        "validation of the copy ran too"
    );

    let tomorrow = "strftime('%Y-%m-%d %H:%M:%f', 'now', '+1 day')";
    app.sql(&format!(
        "INSERT INTO external_data_load_date (external_data_type, last_load_date_start)
         VALUES ('fpds', {tomorrow})"
    ));
    generate_and_finish(&app, d1_request(10), 4);
    assert_eq!(
        app.count(generations),
        2,
        "a D1 older than the FPDS load is made again"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM file_generation WHERE is_cached_file = 1"),
        1
    );
}

#[test]
fn identical_requests_at_the_same_instant_produce_one_generation() {
    let app = TestApp::spawn();
    let barrier = std::sync::Barrier::new(4);
    std::thread::scope(|s| {
        for (sub, user) in [(10, 4), (14, 1), (10, 4), (14, 1)] {
            let (app, barrier) = (&app, &barrier);
            s.spawn(move || {
                let token = app.token_for(user);
                barrier.wait();
                let resp = app.post_json("/v1/generate_file/", &d1_request(sub), Some(&token));
                assert_eq!(resp.status, 200, "{}", resp.text());
            });
        }
    });
    app.run_pending_jobs();
    assert_eq!(app.count("SELECT COUNT(*) FROM file_generation"), 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM generation_tasks WHERE kind = 'generate_d'"),
        1
    );
    for (sub, user) in [(10, 4), (14, 1)] {
        let status = app.status(sub, "D1", user).json();
        assert_eq!(status["status"], "finished");
        let prefix = format!("/v1/files/{sub}/SubID-{sub}_File-D1_");
        assert!(status["url"].as_str().unwrap().contains(&prefix));
    }
}

#[test]
fn the_worker_leaves_fixture_jobs_alone() {
    let mut app = TestApp::spawn();
    assert_eq!(app.run_pending_jobs(), 0);
    app.restart();
    assert_eq!(app.run_pending_jobs(), 0);
    assert_eq!(app.job_status(1003), "waiting");
    assert_eq!(app.job_status(1101), "running");
    assert_eq!(app.job_status(1401), "waiting");
}

#[test]
fn a_storage_failure_fails_the_job_with_a_clear_message() {
    let app = TestApp::spawn();
    // A plain file where the submission's folder should be: every put fails.
    std::fs::create_dir_all(app.files_dir()).unwrap();
    std::fs::write(app.files_dir().join("10"), b"in the way").unwrap();
    assert_eq!(
        app.generate(json!({"submission_id": 10, "file_type": "E"}), 4)
            .status,
        200
    );
    app.run_pending_jobs();
    let status = app.status(10, "E", 4).json();
    assert_eq!(status["status"], "failed");
    let message = status["message"].as_str().unwrap();
    assert!(
        message.starts_with("The generated file could not be stored"),
        "{message}"
    );
    assert!(!message.contains(app.files_dir().to_str().unwrap()));
    assert_eq!(
        app.count("SELECT attempts FROM generation_tasks WHERE kind = 'generate_ef'"),
        3
    );
    // Once storage is fixed, a new request succeeds.
    std::fs::remove_file(app.files_dir().join("10")).unwrap();
    generate_and_finish(&app, json!({"submission_id": 10, "file_type": "E"}), 4);
}

#[test]
fn a_data_dir_that_cannot_be_written_fails_the_generation_clearly() {
    let app = TestApp::spawn();
    let scratch = app.app.state.config.scratch_dir();
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::write(&scratch, b"not a folder").unwrap();
    assert_eq!(app.generate(d1_request(10), 4).status, 200);
    app.run_pending_jobs();
    let status = app.status(10, "D1", 4).json();
    assert_eq!(status["status"], "failed");
    let message = status["message"].as_str().unwrap();
    assert!(
        message.starts_with("The file could not be written in the data directory"),
        "{message}"
    );
    assert_eq!(
        app.get("/v1/session/", None).status,
        200,
        "the service keeps answering"
    );
}

#[test]
fn a_request_made_while_its_file_is_generated_is_not_lost() {
    let app = TestApp::spawn();
    assert_eq!(
        app.generate(json!({"submission_id": 10, "file_type": "E"}), 4)
            .status,
        200
    );
    // A second request arrives while the first task runs: its task is queued
    // behind the running one (the first is not cancelled, it is running).
    app.sql(
        "INSERT INTO generation_tasks (kind, job_id, created_at)
         VALUES ('generate_ef', 1005, '2020-01-01 00:00:00')",
    );
    let worker = broker_lite::worker::Worker::new(std::sync::Arc::clone(&app.app.state));
    worker.run_next_job().unwrap();
    assert_eq!(
        app.status(10, "E", 4).json()["status"],
        "waiting",
        "the newer request still counts"
    );
    worker.run_next_job().unwrap();
    assert_eq!(app.status(10, "E", 4).json()["status"], "finished");
    assert_eq!(app.run_pending_jobs(), 0);
}
