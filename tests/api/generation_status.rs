//! `GET /v1/check_generation_status/`: messages, the status mapping and
//! permissions, over HTTP.

use crate::helpers::{TestApp, assert_error};
use serde_json::json;

const ROUTE: &str = "/v1/check_generation_status/";

#[test]
fn check_generation_status_requires_login() {
    let app = TestApp::spawn();
    let resp = app.get(&format!("{ROUTE}?submission_id=10&file_type=D1"), None);
    assert_error(&resp, 401, "Login Required");
}

#[test]
fn parameters_are_checked_in_the_brokers_order_with_its_messages() {
    let app = TestApp::spawn();
    let admin = app.token_for(1);
    let other = app.token_for(5);
    let cases: [(&str, &str, u16, &str); 10] = [
        (&admin, "file_type=D1", 400, "submission_id is required"),
        (
            &admin,
            "submission_id=&file_type=D1",
            400,
            "submission_id is required",
        ),
        (
            &admin,
            "submission_id=999&file_type=D1",
            400,
            "No such submission",
        ),
        (
            &admin,
            "submission_id=-1&file_type=D1",
            400,
            "No such submission",
        ),
        (
            &admin,
            "submission_id=99999999999999999999&file_type=D1",
            400,
            "No such submission",
        ),
        (
            &admin,
            "submission_id=abc&file_type=D1",
            400,
            "submission_id: Not a valid integer.",
        ),
        (
            &other,
            "submission_id=10&file_type=XX",
            403,
            "User does not have permission to access that submission",
        ),
        (
            &admin,
            "submission_id=10",
            400,
            "file_type: Missing data for required field.",
        ),
        (
            &admin,
            "submission_id=10&file_type=A",
            400,
            "file_type: Must be either D1, D2, E or F",
        ),
        (
            &admin,
            "submission_id=10&file_type=d1",
            400,
            "file_type: Must be either D1, D2, E or F",
        ),
    ];
    for (token, query, status, message) in cases {
        let resp = app.get(&format!("{ROUTE}?{query}"), Some(token));
        assert_error(&resp, status, message);
    }
}

#[test]
fn a_finished_d1_answers_the_brokers_body_with_a_signed_link() {
    let app = TestApp::spawn();
    let resp = app.status(10, "D1", 2);
    assert_eq!(resp.status, 200);
    let text = resp.text();
    let base = format!("http://{}", app.app.addr);
    let prefix = format!(
        r#"{{"job_id":1001,"status":"finished","file_type":"D1","url":"{base}/v1/files/10/SubID-10_File-D1_FY20Q1_20191001_20191231_awarding_1577000000.csv?expires="#
    );
    assert!(text.starts_with(&prefix), "{text}");
    let body = resp.json();
    assert_eq!(body["size"], 42);
    assert_eq!(body["start"], "10/01/2019");
    assert_eq!(body["end"], "12/31/2019");
    assert_eq!(body["message"], "");
    assert_eq!(body["generated_at"], "2020-01-15 14:25:40.123450");
    assert_eq!(body.as_object().unwrap().len(), 9);
}

#[test]
fn the_submission_parameter_is_an_alias_of_submission_id() {
    let app = TestApp::spawn();
    let token = app.token_for(1);
    let resp = app.get(&format!("{ROUTE}?submission=10&file_type=E"), Some(&token));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["job_id"], 1005);
}

#[test]
fn e_and_f_answers_carry_no_dates() {
    let app = TestApp::spawn();
    let e = app.status(10, "E", 1).json();
    assert_eq!(e["status"], "finished");
    assert!(e.get("start").is_none() && e.get("end").is_none(), "{e}");
    let f = app.status(10, "F", 1).json();
    assert_eq!(
        f,
        json!({"job_id": 1006, "status": "invalid", "file_type": "F", "url": "#", "size": null,
               "message": "", "generated_at": "2020-01-16 09:00:00"})
    );
}

#[test]
fn d_files_without_dates_answer_empty_start_and_end() {
    let app = TestApp::spawn();
    let body = app.status(10, "D2", 1).json();
    assert_eq!(
        (body["start"].as_str(), body["end"].as_str()),
        (Some(""), Some(""))
    );
    assert_eq!(body["status"], "waiting");
}

#[test]
fn every_upload_job_status_maps_like_the_broker() {
    let app = TestApp::spawn();
    let cases = [
        ("waiting", "waiting"),
        ("ready", "invalid"),
        ("running", "waiting"),
        ("finished", "finished"),
        ("invalid", "failed"),
        ("failed", "failed"),
    ];
    for (job_status, expected) in cases {
        app.sql(&format!(
            "UPDATE jobs SET job_status = '{job_status}', error_message = NULL WHERE job_id = 1005"
        ));
        let body = app.status(10, "E", 1).json();
        assert_eq!(body["status"], expected, "{job_status}");
        let url = body["url"].as_str().unwrap();
        assert_eq!(url == "#", expected != "finished", "{job_status}: {url}");
        let message = if expected == "failed" {
            "Upload job failed without error message"
        } else {
            ""
        };
        assert_eq!(body["message"], message, "{job_status}");
    }
}

fn saved_message(app: &TestApp, job_id: i64) -> (Option<String>, String) {
    app.db()
        .query_row(
            "SELECT error_message, updated_at FROM jobs WHERE job_id = ?1",
            [job_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

#[test]
fn d1_validation_job_rules_and_the_saved_messages() {
    let app = TestApp::spawn();
    // (upload status, upload message, validation status, errors, validation message)
    // -> (status, message)
    let cases = [
        ("finished", None, "waiting", 0, None, "waiting", ""),
        ("finished", None, "ready", 0, None, "waiting", ""),
        ("finished", None, "running", 0, None, "waiting", ""),
        ("finished", None, "finished", 0, None, "finished", ""),
        (
            "finished",
            None,
            "finished",
            4,
            None,
            "failed",
            "Validation completed but row-level errors were found",
        ),
        (
            "finished",
            None,
            "invalid",
            0,
            None,
            "failed",
            "Generated file had file-level errors",
        ),
        (
            "finished",
            None,
            "failed",
            0,
            None,
            "failed",
            "Validation job had an internal error",
        ),
        (
            "finished",
            None,
            "invalid",
            0,
            Some("Bad header"),
            "failed",
            "Bad header",
        ),
        (
            "finished",
            Some("Upload note"),
            "failed",
            0,
            Some("v"),
            "failed",
            "Upload note",
        ),
        ("running", None, "finished", 9, None, "waiting", ""),
        (
            "failed",
            None,
            "finished",
            0,
            None,
            "failed",
            "Upload job failed without error message",
        ),
        (
            "invalid",
            Some("Broken"),
            "invalid",
            0,
            None,
            "failed",
            "Broken",
        ),
    ];
    for (upload, upload_msg, validation, errors, validation_msg, status, message) in cases {
        let quote = |m: Option<&str>| m.map_or("NULL".to_string(), |m| format!("'{m}'"));
        app.sql(&format!(
            "UPDATE jobs SET job_status = '{upload}', error_message = {} WHERE job_id = 1001;
             UPDATE jobs SET job_status = '{validation}', number_of_errors = {errors},
                 error_message = {} WHERE job_id = 1002;",
            quote(upload_msg),
            quote(validation_msg)
        ));
        let (_, updated_before) = saved_message(&app, 1001);
        let body = app.status(10, "D1", 2).json();
        let case = format!("{upload}/{validation}/{errors}");
        assert_eq!(body["status"], status, "{case}");
        assert_eq!(body["message"], message, "{case}");
        let (saved, updated_after) = saved_message(&app, 1001);
        if status == "failed" {
            assert_eq!(
                saved.as_deref(),
                Some(message),
                "{case}: saved on the upload job"
            );
        } else {
            assert_eq!(saved.as_deref(), upload_msg, "{case}: message untouched");
        }
        assert_eq!(
            updated_before, updated_after,
            "{case}: generated_at must not move"
        );
        assert_eq!(body["generated_at"], "2020-01-15 14:25:40.123450");
    }
}

#[test]
fn a_d1_upload_job_without_its_validation_job_is_the_brokers_500() {
    let app = TestApp::spawn();
    let resp = app.status(13, "D1", 1);
    assert_error(
        &resp,
        500,
        "The upload Job 1301 with submission_id 13 is missing its validation Job",
    );
}

#[test]
fn fabs_submissions_have_no_d_files() {
    let app = TestApp::spawn();
    assert_error(
        &app.status(12, "D1", 1),
        400,
        "Cannot generate files for FABS submissions.",
    );
}

#[test]
fn a_finished_job_without_a_stored_file_has_no_link() {
    let app = TestApp::spawn();
    app.sql("UPDATE jobs SET filename = NULL WHERE job_id = 1005");
    let body = app.status(10, "E", 1).json();
    assert_eq!(
        (body["status"].as_str(), body["url"].as_str()),
        (Some("finished"), Some("#"))
    );
}

#[test]
fn permissions_follow_the_brokers_rules() {
    let app = TestApp::spawn();
    let denied = "User does not have permission to access that submission";
    // (user, submission, allowed)
    let cases = [
        (2, 10, true),  // creator, no affiliation
        (3, 10, true),  // reader of the agency
        (4, 10, true),  // writer of the agency
        (7, 10, true),  // FABS-only affiliation still reads
        (1, 10, true),  // website admin
        (5, 10, false), // another agency
        (8, 10, false), // no affiliation at all
        (6, 11, true),  // FREC affiliation on a FREC submission
        (6, 10, false), // FREC affiliation on another agency's submission
        (3, 11, false), // CGAC reader on a FREC submission
    ];
    for (user, submission, allowed) in cases {
        let resp = app.status(submission, "E", user);
        if allowed {
            assert_eq!(
                resp.status,
                200,
                "user {user} on {submission}: {}",
                resp.text()
            );
        } else {
            assert_error(&resp, 403, denied);
        }
    }
}
