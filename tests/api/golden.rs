//! Generated files equal the broker's byte for byte: every file type is made
//! from `fixtures/test_golden.json` (commas, quotes, CR/LF, pipes, unicode,
//! `\.`, empty strings and NULLs, numerics, booleans, timestamp dates) and
//! compared with the file Postgres wrote for the same rows
//! (`tests/golden/make_golden.py`).

use crate::helpers::{BASE_FIXTURE, TestApp, generate_and_finish};
use serde_json::json;

const GOLDEN_FIXTURE: &str = include_str!("../../fixtures/test_golden.json");
const OWNER: i64 = 2;
const ADMIN: i64 = 1;

fn golden(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/golden/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[track_caller]
fn assert_same_bytes(got: &[u8], golden_name: &str) {
    let want = golden(golden_name);
    if got != want.as_slice() {
        let at = got
            .iter()
            .zip(&want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        let context = |b: &[u8]| {
            String::from_utf8_lossy(&b[at.saturating_sub(80)..(at + 80).min(b.len())]).into_owned()
        };
        panic!(
            "{golden_name}: differs at byte {at} ({} vs {} bytes)\n got: {:?}\nwant: {:?}",
            got.len(),
            want.len(),
            context(got),
            context(&want)
        );
    }
}

fn app() -> TestApp {
    TestApp::spawn_loaded(
        &[
            ("test_base.json", BASE_FIXTURE),
            ("test_golden.json", GOLDEN_FIXTURE),
        ],
        |_| {},
    )
}

#[test]
fn submission_files_are_the_brokers_byte_for_byte() {
    let app = app();
    let dates = json!({"start": "10/01/2019", "end": "12/31/2019"});
    for (file_type, golden_name) in [("D1", "submission_d1.csv"), ("D2", "submission_d2.csv")] {
        let mut body = json!({"submission_id": 30, "file_type": file_type});
        body.as_object_mut()
            .unwrap()
            .extend(dates.as_object().unwrap().clone());
        let status = generate_and_finish(&app, body, OWNER);
        let file = app.download(&status);
        assert_eq!(file.status, 200);
        assert_same_bytes(&file.body, golden_name);
        assert_eq!(status["size"], file.body.len());
    }
    // D files send the cross-file job back to waiting; E and F need it done.
    app.sql("UPDATE jobs SET job_status = 'finished' WHERE submission_id = 30 AND job_type = 'validation'");
    for (file_type, golden_name) in [("E", "submission_e.csv"), ("F", "submission_f.csv")] {
        let status = generate_and_finish(
            &app,
            json!({"submission_id": 30, "file_type": file_type}),
            OWNER,
        );
        assert_same_bytes(&app.download(&status).body, golden_name);
    }
}

#[test]
fn detached_txt_files_are_the_brokers_byte_for_byte() {
    let app = app();
    let token = app.token_for(ADMIN);
    let cases = [
        (
            json!({"file_type": "D1", "cgac_code": "097", "start": "10/01/2019", "end": "12/31/2019",
                   "file_format": "txt", "element_numbers": true}),
            "detached_d1_numbered.txt",
        ),
        (
            json!({"file_type": "D2", "cgac_code": "020", "start": "10/01/2019", "end": "12/31/2019",
                   "file_format": "txt", "agency_type": "funding"}),
            "detached_d2_funding.txt",
        ),
    ];
    for (body, golden_name) in cases {
        let resp = app.post_json("/v1/generate_detached_file/", &body, Some(&token));
        assert_eq!(resp.status, 200, "{}", resp.text());
        let job_id = resp.json()["job_id"].as_i64().unwrap();
        app.run_pending_jobs();
        let status = app
            .get(
                &format!("/v1/check_detached_generation_status/?job_id={job_id}"),
                Some(&token),
            )
            .json();
        assert_eq!(status["status"], "finished", "{status}");
        assert_same_bytes(&app.download(&status).body, golden_name);
    }
}
