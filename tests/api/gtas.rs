//! Detached File A and BOC comparison generation from GTAS data, over HTTP.
//! `fixtures/test_gtas.json` holds one case for every TAS bucketing rule,
//! failed-edit tier and comparison outcome; `tests/expected/` holds the
//! files worked out by hand from it (see the notes in `gtas_cases`).

use crate::helpers::{BASE_FIXTURE, TestApp, assert_error};
use serde_json::{Value, json};

const GTAS_FIXTURE: &str = include_str!("../../fixtures/test_gtas.json");
const USER: i64 = 8;

fn app() -> TestApp {
    TestApp::spawn_loaded(
        &[
            ("test_base.json", BASE_FIXTURE),
            ("test_gtas.json", GTAS_FIXTURE),
        ],
        |_| {},
    )
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/expected/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn request(app: &TestApp, body: &Value) -> crate::helpers::HttpResponse {
    app.post_json(
        "/v1/generate_detached_file/",
        body,
        Some(&app.token_for(USER)),
    )
}

fn check(app: &TestApp, job_id: &Value) -> Value {
    let target = format!("/v1/check_detached_generation_status/?job_id={job_id}");
    let resp = app.get(&target, Some(&app.token_for(USER)));
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()
}

/// Generates a file through the route, runs the worker, and returns the
/// final status and the downloaded bytes as text.
fn generate(app: &TestApp, body: Value) -> (Value, String) {
    let resp = request(app, &body);
    assert_eq!(resp.status, 200, "{body}: {}", resp.text());
    let answer = resp.json();
    assert_eq!(answer["status"], "waiting", "{answer}");
    app.run_pending_jobs();
    let status = check(app, &answer["job_id"]);
    assert_eq!(status["status"], "finished", "{status}");
    let file = app.download(&status);
    assert_eq!(file.status, 200);
    assert_eq!(status["size"].as_u64(), Some(file.body.len() as u64));
    (status, String::from_utf8(file.body).unwrap())
}

#[track_caller]
fn assert_file(got: &str, expected_name: &str) {
    let want = expected(expected_name);
    assert!(
        got == want,
        "{expected_name} differs\n--- got\n{got}--- want\n{want}"
    );
}

#[test]
fn file_a_follows_every_bucketing_rule_and_gtas_status() {
    let app = app();
    let cases = [
        // DOD: its own TAS (a fatal failed edit without override), a TAS
        // through ATA 017 (failed with override beats a certified one), an
        // AID-011 TAS of its FREC 1137 (passed required edits - override);
        // a financial account, lines of other periods and of other
        // agencies left out.
        (
            json!({"cgac_code": "097", "year": 2021, "period": 6}),
            "a_cgac_097_fy21p06.csv",
        ),
        // DOL as FREC 1601: an ATA 016 TAS (pending) and its own FREC's
        // TAS without ATA (certified).
        (
            json!({"frec_code": "1601", "year": 2021, "period": 6}),
            "a_frec_1601_fy21p06.csv",
        ),
        // Peace Corps as FREC 1125: an ATA 011 TAS (no edits) and the
        // AID-011 TAS of FREC 1125 (a fatal edit of another tier).
        (
            json!({"frec_code": "1125", "year": 2021, "period": 6}),
            "a_frec_1125_fy21p06.csv",
        ),
        // CGAC 011: every AID-011 TAS, also those of FREC-submitting
        // agencies (as the broker's query does); a warning is no edit.
        (
            json!({"cgac_code": "011", "year": 2021, "period": 6}),
            "a_cgac_011_fy21p06.csv",
        ),
        // Treasury: AID 580 grouped in, 020-X-5688-000 moved out to 070,
        // the AID-011 TAS of its FREC 1125.
        (
            json!({"cgac_code": "020", "year": 2021, "period": 6}),
            "a_cgac_020_fy21p06.csv",
        ),
        (
            json!({"cgac_code": "070", "year": 2021, "period": 6}),
            "a_cgac_070_fy21p06.csv",
        ),
        // A period whose window opens in the future.
        (
            json!({"cgac_code": "097", "year": 2021, "period": 7}),
            "a_cgac_097_fy21p07.csv",
        ),
        // No window for the period: no status; before FY 2021 adjustments
        // stop at line 1042.
        (
            json!({"cgac_code": "097", "year": 2020, "period": 6}),
            "a_cgac_097_fy20p06.csv",
        ),
    ];
    for (mut body, expected_name) in cases {
        body["file_type"] = json!("A");
        let (status, text) = generate(&app, body.clone());
        assert_file(&text, expected_name);
        assert_eq!(status["file_type"], "A");
        // A and BOC answers carry no dates, as the broker's.
        assert!(
            status.get("start").is_none() && status.get("end").is_none(),
            "{status}"
        );
        let fyp = format!(
            "FY{}P{:02}",
            body["year"].as_i64().unwrap() % 100,
            body["period"].as_i64().unwrap()
        );
        let url = status["url"].as_str().unwrap();
        assert!(
            url.contains(&format!("/v1/files/detached/File-A_{fyp}_")),
            "{url}"
        );
    }
}

#[test]
fn the_boc_comparison_matches_differs_and_shows_one_sided_rows() {
    let app = app();
    let (status, text) = generate(
        &app,
        json!({"file_type": "BOC", "cgac_code": "097", "year": 2021, "period": 6}),
    );
    assert_file(&text, "boc_cgac_097_fy21p06.csv");
    assert_eq!(status["file_type"], "BOC");
    let url = status["url"].as_str().unwrap();
    assert!(
        url.contains("/v1/files/detached/GTAS-Comparison-Report_FY21P06_CGAC-097_"),
        "{url}"
    );
    // A published submission but none of the period's BOC rows are its own
    // (020-X-5688-000 reports under 070): a header-only report.
    let (_, text) = generate(
        &app,
        json!({"file_type": "BOC", "cgac_code": "020", "year": 2021, "period": 6}),
    );
    assert_file(&text, "boc_cgac_020_fy21p06.csv");
    // The link route answers for A and BOC jobs too.
    let job_id = &status["job_id"];
    let resp = app.get(
        &format!("/v1/get_detached_file_url/?job_id={job_id}"),
        Some(&app.token_for(USER)),
    );
    assert_eq!(resp.status, 200);
    assert!(
        resp.json()["url"]
            .as_str()
            .unwrap()
            .contains("GTAS-Comparison-Report_FY21P06")
    );
}

#[test]
fn identical_requests_share_a_generation_only_while_it_runs() {
    let app = app();
    let body = json!({"file_type": "A", "cgac_code": "097", "year": 2021, "period": 6});
    let first = request(&app, &body).json();
    let second = request(&app, &body).json();
    assert_ne!(first["job_id"], second["job_id"]);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM file_generation WHERE file_type = 'A'"),
        1
    );
    app.run_pending_jobs();
    let (a, b) = (
        check(&app, &first["job_id"]),
        check(&app, &second["job_id"]),
    );
    assert_eq!(
        (&a["status"], &b["status"]),
        (&json!("finished"), &json!("finished"))
    );
    assert_eq!(app.download(&a).body, app.download(&b).body);
    // GTAS data has no load date to tell a stale file by: once finished,
    // the next request makes the file again, from the data as it is then.
    app.sql("UPDATE sf_133 SET amount = '2000.5' WHERE line = 1910 AND amount = '1000.5'");
    let (_, text) = generate(&app, body);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM file_generation WHERE file_type = 'A'"),
        2
    );
    assert!(text.contains(",097,,,X,0100,000,2000.5,"), "{text}");
}

#[test]
fn a_and_boc_requests_get_the_brokers_messages_and_change_nothing() {
    let app = app();
    let boc_missing = |what: &str| {
        format!("There is no {what} for the selected agency in the selected year and period")
    };
    let cases = [
        (
            json!({"file_type": "E", "cgac_code": "097"}),
            "file_type: Must be one of: A, BOC, D1, D2.".to_string(),
        ),
        (
            json!({"file_type": "a", "cgac_code": "097"}),
            "file_type: Must be one of: A, BOC, D1, D2.".into(),
        ),
        (
            json!({"file_type": "A", "cgac_code": "097"}),
            "Must have a year and period for A or BOC file generation.".into(),
        ),
        (
            json!({"file_type": "A", "cgac_code": "097", "year": 2021}),
            "Must have a year and period for A or BOC file generation.".into(),
        ),
        (
            json!({"file_type": "BOC", "cgac_code": "097", "period": 6}),
            "Must have a year and period for A or BOC file generation.".into(),
        ),
        (
            json!({"file_type": "A", "cgac_code": "097", "year": 2021, "period": 1}),
            "period: Period must be an integer 2-12.".into(),
        ),
        (
            json!({"file_type": "A", "cgac_code": "097", "year": 2021, "period": 13}),
            "period: Period must be an integer 2-12.".into(),
        ),
        (
            json!({"file_type": "A", "cgac_code": "097", "year": 2021, "period": "six"}),
            "period: Not a valid integer.".into(),
        ),
        (
            json!({"file_type": "A", "cgac_code": "097", "year": 2021, "period": 6.5}),
            "period: Not a valid integer.".into(),
        ),
        (
            json!({"file_type": "A", "cgac_code": "097", "year": "20x1", "period": 6}),
            "year: Not a valid integer.".into(),
        ),
        (
            json!({"file_type": "A", "cgac_code": "097", "year": 21, "period": 6}),
            "Year must be in YYYY format.".into(),
        ),
        (
            json!({"file_type": "A", "cgac_code": "097", "year": -2021, "period": 6}),
            "Year must be in YYYY format.".into(),
        ),
        // Field checks come before the agency check.
        (
            json!({"file_type": "A", "year": 2021, "period": 0}),
            "period: Period must be an integer 2-12.".into(),
        ),
        (
            json!({"file_type": "A", "year": 2021, "period": 6}),
            "Detached file generation requires CGAC or FR Entity Code".into(),
        ),
        (
            json!({"file_type": "BOC", "cgac_code": "012", "year": 2021, "period": 6}),
            boc_missing("published submission"),
        ),
        (
            json!({"file_type": "BOC", "cgac_code": "097", "year": 2021, "period": 8}),
            boc_missing("published submission or BOC data"),
        ),
        (
            json!({"file_type": "BOC", "cgac_code": "097", "year": 2021, "period": 9}),
            boc_missing("BOC data"),
        ),
        (
            json!({"file_type": "BOC", "frec_code": "1601", "year": 2021, "period": 6}),
            boc_missing("published submission"),
        ),
    ];
    for (body, message) in cases {
        assert_error(&request(&app, &body), 400, &message);
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs WHERE submission_id IS NULL"),
        0
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM file_generation"), 0);
    // Period given as text of a number, as form bodies send it, is taken.
    let resp = request(
        &app,
        &json!({"file_type": "A", "cgac_code": "097", "year": "2021", "period": "6"}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    app.run_pending_jobs();
}
