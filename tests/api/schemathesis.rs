//! Fuzzing: schemathesis (PyPI) against the real binary loaded with the demo
//! data and a valid token, over every operation of openapi.json. Skipped,
//! saying so, only when schemathesis is not installed; `.ci/run` installs it.

use crate::helpers::{SECRET, Served, raw_request};
use std::process::Command;

#[test]
fn schemathesis_finds_no_failures_against_the_demo() {
    if Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: schemathesis is not installed (python3 -m pip install schemathesis)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Served::start(dir.path(), &["--demo"], &[("BROKER_SECRET_KEY", SECRET)]);
    // The demo's website admin (user 1) sees every submission.
    let token = broker_lite::auth::mint_token(
        &broker_lite::base::config::Secret::new(SECRET),
        broker_lite::base::ids::UserId(1),
        3600,
    )
    .unwrap()
    .0;
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    let run = Command::new("schemathesis")
        .args(["run", spec, "--url", &format!("http://{}", server.addr)])
        .args(["--header", &format!("x-session-id: {token}")])
        // Whether valid-looking data is accepted depends on the database
        // (which submissions and jobs exist), not on the schema.
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
        ])
        .args(["--max-examples", "40", "--seed", "1", "--workers", "1"])
        .env("NO_COLOR", "1")
        // schemathesis keeps a cache in its working directory.
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "schemathesis found failures:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("passed"), "{stdout}");
    let alive = raw_request(server.addr, "GET", "/v1/session/", &[], b"");
    assert_eq!(alive.status, 200, "the server survived the fuzzing");
    let log = server.stop();
    let server_errors: Vec<&str> = log.lines().filter(|l| l.contains(" 500 ")).collect();
    assert!(server_errors.is_empty(), "5xx answers: {server_errors:?}");
    assert!(!log.contains("panicked"), "a handler panicked");
}
