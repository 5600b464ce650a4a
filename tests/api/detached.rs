//! Detached D1/D2 generation over HTTP.

use crate::helpers::{TestApp, assert_error, link_path, rows_of};
use broker_lite::base::domain::FileType;
use broker_lite::files::spec;
use serde_json::{Value, json};

fn d1(agency: &str) -> Value {
    json!({"file_type": "D1", "cgac_code": agency, "start": "10/01/2019", "end": "12/31/2019"})
}

fn generate(app: &TestApp, body: Value) -> Value {
    let resp = app.post_json(
        "/v1/generate_detached_file/",
        &body,
        Some(&app.token_for(8)),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()
}

fn check(app: &TestApp, job_id: &Value) -> Value {
    let target = format!("/v1/check_detached_generation_status/?job_id={job_id}");
    let resp = app.get(&target, Some(&app.token_for(8)));
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()
}

#[test]
fn generate_detached_file_checks_its_parameters() {
    let app = TestApp::spawn();
    let token = app.token_for(8);
    let cases = [
        (
            json!({"cgac_code": "097"}),
            "file_type: Missing data for required field.",
        ),
        (
            json!({"file_type": "E", "cgac_code": "097"}),
            "file_type: Must be one of: A, BOC, D1, D2.",
        ),
        (
            json!({"file_type": "D1", "cgac_code": "097", "start": "1/1/2019"}),
            "start: Must be in the format MM/DD/YYYY",
        ),
        (
            json!({"file_type": "D1", "cgac_code": "097", "end": "2019-12-31"}),
            "end: Must be in the format MM/DD/YYYY",
        ),
        (
            json!({"file_type": "D2", "cgac_code": "097", "agency_type": "x"}),
            "agency_type: Must be either awarding or funding if provided",
        ),
        (
            json!({"file_type": "D2", "cgac_code": "097", "file_format": "pdf"}),
            "file_format: Must be either csv or txt if provided",
        ),
        (
            json!({"file_type": "D1", "start": "10/01/2019", "end": "12/31/2019"}),
            "Detached file generation requires CGAC or FR Entity Code",
        ),
        (
            json!({"file_type": "D1", "cgac_code": "097", "start": "10/01/2019"}),
            "Must have a start and end date for D file generation.",
        ),
    ];
    for (body, message) in cases {
        let resp = app.post_json("/v1/generate_detached_file/", &body, Some(&token));
        assert_error(&resp, 400, message);
    }
    assert_error(
        &app.post_json("/v1/generate_detached_file/", &d1("097"), None),
        401,
        "Login Required",
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs WHERE submission_id IS NULL"),
        0
    );
}

#[test]
fn a_detached_d1_is_generated_for_any_logged_in_user() {
    let app = TestApp::spawn();
    let answer = generate(&app, d1("097"));
    assert_eq!(answer["status"], "waiting");
    assert_eq!(
        (answer["start"].as_str(), answer["end"].as_str()),
        (Some("10/01/2019"), Some("12/31/2019"))
    );
    let job_id = answer["job_id"].clone();
    let user: i64 = app.count(&format!("SELECT user_id FROM jobs WHERE job_id = {job_id}"));
    assert_eq!(user, 8, "the requesting user is recorded");
    app.run_pending_jobs();
    let status = check(&app, &job_id);
    assert_eq!(status["status"], "finished", "{status}");
    let url = status["url"].as_str().unwrap();
    assert!(
        url.contains("/v1/files/detached/File-D1_20191001_20191231_awarding_"),
        "{url}"
    );
    let file = app.download(&status);
    let rows = rows_of(&file.body, b',');
    let expected: Vec<String> = spec(FileType::D1)
        .columns()
        .iter()
        .map(|c| c.header.clone())
        .collect();
    assert_eq!(rows[0], expected);
    let keys: Vec<&str> = rows[1..].iter().map(|r| r[1].as_str()).collect();
    assert_eq!(keys, ["CONT_K1", "CONT_K2"]);
    assert_eq!(status["size"].as_u64(), Some(file.body.len() as u64));
}

#[test]
fn a_detached_d2_uses_the_frec_code_and_the_txt_format() {
    let app = TestApp::spawn();
    app.sql("UPDATE published_fabs SET awarding_agency_code = '1125' WHERE published_fabs_id = 4");
    let body = json!({"file_type": "D2", "cgac_code": "097", "frec_code": "1125", "start": "10/01/2019",
                      "end": "12/31/2019", "file_format": "txt"});
    let job_id = generate(&app, body)["job_id"].clone();
    app.run_pending_jobs();
    let status = check(&app, &job_id);
    assert!(link_path(&status).ends_with(".txt"), "{status}");
    let rows = rows_of(&app.download(&status).body, b'|');
    let keys: Vec<&str> = rows[1..].iter().map(|r| r[1].as_str()).collect();
    assert_eq!(keys, ["ASST_F4"]);
    assert_eq!(rows[0].len(), 76);
}

#[test]
fn element_numbers_change_the_d1_header() {
    let app = TestApp::spawn();
    let mut body = d1("097");
    body["element_numbers"] = json!(true);
    let job_id = generate(&app, body)["job_id"].clone();
    app.run_pending_jobs();
    let rows = rows_of(&app.download(&check(&app, &job_id)).body, b',');
    let expected: Vec<String> = spec(FileType::D1)
        .columns()
        .iter()
        .map(|c| c.header_with_element_number.clone().unwrap())
        .collect();
    assert_eq!(rows[0], expected);
    assert_eq!(rows[0][2], "PIID (1A)");
    assert_eq!(rows.len(), 3);
}

#[test]
fn an_empty_detached_result_has_its_header() {
    let app = TestApp::spawn();
    let job_id = generate(&app, d1("999"))["job_id"].clone();
    app.run_pending_jobs();
    let rows = rows_of(&app.download(&check(&app, &job_id)).body, b',');
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], "ContractTransactionUniqueKey");
}

#[test]
fn detached_and_submission_generations_share_the_cache() {
    let app = TestApp::spawn();
    let detached = generate(&app, d1("097"))["job_id"].clone();
    app.run_pending_jobs();
    let body =
        json!({"submission_id": 10, "file_type": "D1", "start": "10/01/2019", "end": "12/31/2019"});
    assert_eq!(app.generate(body, 4).status, 200);
    app.run_pending_jobs();
    assert_eq!(
        app.count("SELECT COUNT(*) FROM generation_tasks WHERE kind = 'generate_d'"),
        1
    );
    let submission = app.status(10, "D1", 4).json();
    assert_eq!(submission["status"], "finished");
    assert_eq!(
        app.download(&submission).body,
        app.download(&check(&app, &detached)).body
    );
}

#[test]
fn status_and_url_routes_answer_the_brokers_messages() {
    let app = TestApp::spawn();
    let token = app.token_for(8);
    let get = |target: &str| app.get(target, Some(&token));
    assert_error(
        &get("/v1/check_detached_generation_status/"),
        400,
        "job_id: Missing data for required field.",
    );
    assert_error(
        &get("/v1/check_detached_generation_status/?job_id=x"),
        400,
        "job_id: Not a valid integer.",
    );
    assert_eq!(
        get("/v1/check_detached_generation_status/?job_id=424242").json(),
        json!({"job_id": 424242, "status": "invalid", "file_type": "", "url": "#", "size": null,
               "start": "", "end": "", "message": "No generation job found with the specified ID",
               "generated_at": ""})
    );
    assert_error(
        &get("/v1/check_detached_generation_status/?job_id=1001"),
        400,
        "This is not a detached generation job.",
    );
    assert_error(
        &get("/v1/get_detached_file_url/"),
        400,
        "job_id: Missing data for required field.",
    );
    assert_error(
        &get("/v1/get_detached_file_url/?job_id=424242"),
        400,
        "No generation job found with the specified ID",
    );
    assert_error(
        &get("/v1/get_detached_file_url/?job_id=1001"),
        400,
        "This is not a detached generation job.",
    );
    assert_error(
        &app.get("/v1/get_detached_file_url/?job_id=1", None),
        401,
        "Login Required",
    );

    let job_id = generate(&app, d1("097"))["job_id"].clone();
    let pending = get(&format!("/v1/get_detached_file_url/?job_id={job_id}")).json();
    assert_eq!(pending, json!({"url": "#"}));
    app.run_pending_jobs();
    let link = get(&format!("/v1/get_detached_file_url/?job_id={job_id}")).json();
    let file = app.download(&link);
    assert_eq!(file.status, 200);
    assert!(file.text().starts_with("ContractTransactionUniqueKey,"));
}
