//! The broker web app's routes: agency pickers, banners, the page a
//! submission has reached, its metadata header and links to its files.

use crate::helpers::{
    BASE_FIXTURE, GENERATION_FIXTURE, TestApp, assert_error, generate_and_finish, link_path,
};
use serde_json::{Value, json};

const WEB_FIXTURE: &str = include_str!("../../fixtures/test_web_app.json");
const ADMIN: i64 = 1;
const OWNER: i64 = 2;
const OTHER_AGENCY: i64 = 5;
const FREC_READER: i64 = 6;

fn app() -> TestApp {
    TestApp::spawn_loaded(
        &[
            ("test_base.json", BASE_FIXTURE),
            ("test_generation.json", GENERATION_FIXTURE),
            ("test_web_app.json", WEB_FIXTURE),
        ],
        |_| {},
    )
}

fn get_as(app: &TestApp, target: &str, user: i64) -> crate::helpers::HttpResponse {
    app.get(target, Some(&app.token_for(user)))
}

#[test]
fn list_all_agencies_answers_every_agency_by_code_without_login() {
    let app = TestApp::spawn();
    let resp = app.get("/v1/list_all_agencies/", None);
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.json(),
        json!({
            "agency_list": [
                {"agency_name": "Department of the Treasury", "cgac_code": "020"},
                {"agency_name": "Department of Defense", "cgac_code": "097"}
            ],
            "shared_agency_list": [{"agency_name": "Peace Corps", "frec_code": "1125"}]
        })
    );
}

#[test]
fn list_banners_answers_the_banners_open_today() {
    let none = TestApp::spawn();
    assert_eq!(
        none.get("/v1/list_banners/", None).json(),
        json!({"data": null})
    );
    let app = app();
    let open = json!({"data": [
        {"start_date": "2020-01-01", "end_date": "2099-12-31", "notice_block": true, "header": "Heads up",
         "message": "Open DABS banner", "type": "dabs", "banner_type": "warning"},
        {"start_date": "2020-01-01", "end_date": "2099-12-31", "notice_block": false, "header": null,
         "message": "Open banner for all", "type": "all", "banner_type": "info"}
    ]});
    assert_eq!(app.get("/v1/list_banners/", None).json(), open);
    assert_eq!(app.get("/v1/list_banners/?login=false", None).json(), open);
    let login = app.get("/v1/list_banners/?login=true", None).json();
    assert_eq!(login["data"].as_array().unwrap().len(), 1);
    assert_eq!(login["data"][0]["message"], "Login page banner");
    assert_error(
        &app.get("/v1/list_banners/?login=maybe", None),
        400,
        "login: Not a valid boolean.",
    );
}

#[test]
fn check_current_page_finds_each_step_by_the_brokers_rules() {
    let app = app();
    let cases = [
        (40, "1", "/validateData"),
        (41, "1", "/validateData"),
        (42, "2", "/generateFiles"),
        (43, "3", "/validateCrossFile"),
        (44, "4", "/generateEF"),
        (45, "5", "/reviewData"),
        (46, "6", "/FABSaddData"),
    ];
    for (sub, step, page) in cases {
        let resp = get_as(
            &app,
            &format!("/v1/check_current_page/?submission_id={sub}"),
            OWNER,
        );
        assert_eq!(resp.status, 200, "{sub}: {}", resp.text());
        assert_eq!(
            resp.json(),
            json!({"message": format!("This submission is currently on the {page} page."), "step": step}),
            "{sub}"
        );
    }
    assert_error(
        &get_as(&app, "/v1/check_current_page/?submission_id=47", OWNER),
        400,
        "The submission ID returns no response",
    );
}

/// The broker's order of checks on a submission route: login, id,
/// existence, permission.
fn assert_submission_checks(app: &TestApp, route: &str) {
    assert_error(
        &app.get(&format!("{route}?submission_id=42"), None),
        401,
        "Login Required",
    );
    assert_error(&get_as(app, route, OWNER), 400, "submission_id is required");
    assert_error(
        &get_as(app, &format!("{route}?submission_id=abc"), OWNER),
        400,
        "submission_id: Not a valid integer.",
    );
    assert_error(
        &get_as(app, &format!("{route}?submission_id=999"), OWNER),
        400,
        "No such submission",
    );
    assert_error(
        &get_as(app, &format!("{route}?submission_id=42"), OTHER_AGENCY),
        403,
        "User does not have permission to access that submission",
    );
}

#[test]
fn submission_routes_check_login_id_existence_and_permission_in_order() {
    let app = app();
    for route in [
        "/v1/check_current_page/",
        "/v1/submission_metadata/",
        "/v1/get_file_url/",
    ] {
        assert_submission_checks(&app, route);
    }
}

fn metadata(app: &TestApp, sub: i64, user: i64) -> Value {
    let resp = get_as(
        app,
        &format!("/v1/submission_metadata/?submission_id={sub}"),
        user,
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()
}

#[test]
fn submission_metadata_answers_every_field_of_the_broker() {
    let app = app();
    assert_eq!(
        metadata(&app, 42, OWNER),
        json!({
            "cgac_code": "097", "frec_code": null, "agency_name": "Department of Defense",
            "number_of_errors": 0, "number_of_warnings": 0, "number_of_rows": 30, "total_size": 600,
            "created_on": "2020-01-02T03:04:05", "last_updated": "2020-01-05T06:07:08", "last_validated": "",
            "reporting_period": "Q1/2020", "reporting_start_date": "10/01/2019", "reporting_end_date": "12/31/2019",
            "publish_status": "unpublished", "quarterly_submission": true, "test_submission": false,
            "published_submission_ids": [51, 50], "certified": false, "certification_deadline": "2020-02-14",
            "fabs_submission": false, "fabs_meta": null
        })
    );
    assert_eq!(
        metadata(&app, 41, OWNER)["last_validated"],
        "2020-01-04T10:00:00"
    );
    // A monthly FREC submission, published, certified, a test.
    assert_eq!(
        metadata(&app, 48, FREC_READER),
        json!({
            "cgac_code": null, "frec_code": "1125", "agency_name": "Peace Corps",
            "number_of_errors": 4, "number_of_warnings": 9, "number_of_rows": 0, "total_size": 0,
            "created_on": "2020-01-02T03:04:05", "last_updated": "2020-01-05T06:07:08", "last_validated": "",
            "reporting_period": "P07/2020", "reporting_start_date": "04/01/2020", "reporting_end_date": "04/30/2020",
            "publish_status": "published", "quarterly_submission": false, "test_submission": true,
            "published_submission_ids": [], "certified": true, "certification_deadline": "2020-08-14",
            "fabs_submission": false, "fabs_meta": null
        })
    );
    // Period 2 is reported with period 1; no window scheduled, no deadline.
    let p2 = metadata(&app, 49, ADMIN);
    assert_eq!(p2["reporting_period"], "P01-P02/2021");
    assert_eq!(
        (&p2["reporting_start_date"], &p2["reporting_end_date"]),
        (&json!("10/01/2020"), &json!("11/30/2020"))
    );
    assert_eq!(p2["certification_deadline"], "");
    assert_eq!(p2["publish_status"], "published");
    let fabs = metadata(&app, 46, OWNER);
    assert_eq!(fabs["fabs_submission"], true);
    assert_eq!(fabs["reporting_period"], "P06/2020");
    assert_eq!(fabs["certification_deadline"], "");
    assert_eq!(
        fabs["fabs_meta"],
        json!({"valid_rows": 3, "total_rows": 5, "publish_date": null, "published_file": null})
    );
    let undated = metadata(&app, 53, OWNER);
    assert_eq!(
        (
            &undated["reporting_period"],
            &undated["reporting_start_date"]
        ),
        (&Value::Null, &Value::Null)
    );
}

#[test]
fn get_file_url_links_a_jobs_file_and_answers_the_brokers_400s() {
    let app = app();
    let url = |sub: i64, file_type: &str| {
        get_as(
            &app,
            &format!("/v1/get_file_url/?submission_id={sub}&file_type={file_type}"),
            ADMIN,
        )
    };
    assert_error(
        &get_as(&app, "/v1/get_file_url/?submission_id=42", ADMIN),
        400,
        "file_type: Missing data for required field.",
    );
    assert_error(
        &url(42, "G"),
        400,
        "file_type: Must be one of: A, B, BOC, C, D1, D2, E, F, FABS.",
    );
    assert_error(
        &url(42, "FABS"),
        400,
        "Invalid file type for this submission",
    );
    assert_error(&url(46, "D1"), 400, "Invalid file type for this submission");
    assert_error(
        &url(42, "A"),
        400,
        "No file uploaded or generated for this type",
    );
    assert_error(
        &url(42, "BOC"),
        400,
        "No file uploaded or generated for this type",
    );
    let fabs = url(46, "FABS");
    assert_eq!(fabs.status, 200, "{}", fabs.text());
    assert_eq!(
        link_path(&fabs.json()),
        format!("http://{}/v1/files/46/fabs_upload.csv", app.app.addr)
    );

    // A generated D1: the link serves the file the status link serves.
    let status = generate_and_finish(
        &app,
        json!({"submission_id": 10, "file_type": "D1", "start": "10/01/2019", "end": "12/31/2019"}),
        4,
    );
    let link = url(10, "D1").json();
    assert_eq!(link_path(&link), link_path(&status));
    let file = app.download(&link);
    assert_eq!(file.status, 200);
    assert_eq!(file.body, app.download(&status).body);
}

#[test]
fn active_user_carries_skip_guide_and_the_session_token() {
    let app = app();
    app.sql("UPDATE users SET skip_guide = 1 WHERE user_id = 3");
    let token = app.token_for(3);
    let resp = app.get("/v1/active_user/", Some(&token));
    assert_eq!(resp.status, 200);
    let body = resp.json();
    assert_eq!(body["skip_guide"], true);
    assert_eq!(body["session_id"], token.as_str());
    assert_eq!(
        body["affiliations"],
        json!([{"agency_name": "Department of Defense", "permission": "reader"}])
    );
    let bearer = app.request(
        "GET",
        "/v1/active_user/",
        &[("Authorization", &format!("Bearer {token}"))],
        b"",
    );
    assert_eq!(bearer.json()["session_id"], token.as_str());
    assert_eq!(
        get_as(&app, "/v1/active_user/", 4).json()["skip_guide"],
        false
    );
}
