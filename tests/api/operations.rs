//! Running broker-lite as a long-lived service: health, metrics, backup and
//! restore, and pruning old files (issue: operating on one host for years).

use crate::crash::{ROWS, big_data_dir, query, start_generation, token, wait_for};
use crate::helpers::{
    BIN, SECRET, Served, TestApp, fixture_path, load_fixtures, post_json, raw_request,
};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

fn cli(args: &[&str], dir: &Path, envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env("BROKER_DATA_DIR", dir)
        .env_remove("BROKER_DB")
        .env_remove("BROKER_SECRET_KEY")
        .env_remove("BROKER_STORAGE");
    for (name, value) in envs {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn health_names_the_storage_when_files_cannot_be_stored_and_recovers() {
    let app = TestApp::spawn();
    let health = || app.get("/v1/health/", None);
    let ok = health();
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.json(),
        json!({"status": "ok", "database": "ok", "storage": "ok", "workers": 0, "queued": 0})
    );
    // The files folder replaced by a plain file: nothing can be stored.
    let files = app.app.state.config.files_dir();
    let aside = files.with_extension("aside");
    std::fs::rename(&files, &aside).unwrap();
    std::fs::write(&files, b"not a folder").unwrap();
    let failing = health();
    assert_eq!(failing.status, 503);
    let body = failing.json();
    assert_eq!(
        (&body["status"], &body["database"], &body["storage"]),
        (&json!("unavailable"), &json!("ok"), &json!("unavailable"))
    );
    assert_eq!(body["message"], "generated files cannot be stored");
    assert!(
        !failing.text().contains(&*files.to_string_lossy()),
        "no paths"
    );
    std::fs::remove_file(&files).unwrap();
    std::fs::rename(&aside, &files).unwrap();
    assert_eq!(health().status, 200);
}

/// The value of one series of the exposition (0 when absent).
fn series(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[test]
fn metrics_count_requests_by_route_and_generations_by_outcome() {
    let app = TestApp::spawn();
    let scrape = || {
        let resp = app.get("/metrics", None);
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.header("Content-Type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        resp.text()
    };
    let refused =
        r#"broker_lite_http_requests_total{route="/v1/active_user/",method="GET",status="401"}"#;
    let before = scrape();
    for _ in 0..3 {
        assert_eq!(app.get("/v1/active_user/", Some("not-a-token")).status, 401);
    }
    // A status route named with an id is counted under its pattern.
    let token = app.token_for(2);
    app.get(
        "/v1/check_generation_status/?submission_id=10&file_type=D1",
        Some(&token),
    );
    let body =
        json!({"file_type": "D1", "cgac_code": "097", "start": "10/01/2019", "end": "12/31/2019"});
    let resp = app.post_json("/v1/generate_detached_file/", &body, Some(&token));
    assert_eq!(resp.status, 200);
    let queued = scrape();
    assert_eq!(
        series(&queued, r#"broker_lite_queue_depth{state="queued"}"#),
        1.0
    );
    app.run_pending_jobs();
    let after = scrape();
    assert_eq!(series(&after, refused) - series(&before, refused), 3.0);
    assert_eq!(
        series(
            &after,
            r#"broker_lite_http_requests_total{route="/v1/check_generation_status/",method="GET",status="200"}"#
        ),
        1.0
    );
    assert!(
        !after.contains("submission_id=10"),
        "series are per route, not per URL"
    );
    assert_eq!(
        series(
            &after,
            r#"broker_lite_generations_total{file_type="D1",outcome="finished"}"#
        ),
        1.0
    );
    assert_eq!(
        series(
            &after,
            r#"broker_lite_generation_duration_seconds_count{file_type="D1"}"#
        ),
        1.0
    );
    assert_eq!(
        series(&after, r#"broker_lite_queue_depth{state="queued"}"#),
        0.0
    );
    assert!(after.contains("# TYPE broker_lite_http_request_duration_seconds histogram"));
    assert!(after.contains("broker_lite_workers 0"));
}

/// Every status a base-fixture submission answers, links without their
/// expiry and signature (they are minted per request).
fn statuses(addr: SocketAddr, token: &str) -> Vec<Value> {
    let mut all = Vec::new();
    for submission in [10, 11, 13] {
        for file_type in ["D1", "D2", "E", "F"] {
            let target = format!(
                "/v1/check_generation_status/?submission_id={submission}&file_type={file_type}"
            );
            let mut status =
                raw_request(addr, "GET", &target, &[("x-session-id", token)], b"").json();
            if let Some(url) = status["url"].as_str().map(String::from) {
                status["url"] = json!(
                    url.split('?')
                        .next()
                        .unwrap()
                        .replace(&addr.to_string(), "HOST")
                );
            }
            all.push(json!([submission, file_type, status]));
        }
    }
    all
}

fn download(addr: SocketAddr, url: &str) -> Vec<u8> {
    let path = url.strip_prefix(&format!("http://{addr}")).unwrap();
    let resp = raw_request(addr, "GET", path, &[], b"");
    assert_eq!(resp.status, 200);
    resp.body
}

fn detached_status(addr: SocketAddr, token: &str, job_id: &Value) -> Value {
    let target = format!("/v1/check_detached_generation_status/?job_id={job_id}");
    raw_request(addr, "GET", &target, &[("x-session-id", token)], b"").json()
}

#[test]
fn a_backup_taken_during_a_generation_under_load_serves_as_the_original_did() {
    let dir = big_data_dir();
    let envs = [("BROKER_SECRET_KEY", SECRET)];
    let server = Served::start(dir.path(), &["--workers", "1"], &envs);
    let (addr, token) = (server.addr, token());
    // A finished detached file, to compare byte for byte on the copy.
    let body = serde_json::json!({"file_type": "D2", "cgac_code": "097",
                                  "start": "10/01/2019", "end": "12/31/2019"});
    let job = post_json(addr, "/v1/generate_detached_file/", &body, Some(&token)).json()["job_id"]
        .clone();
    let mut detached = Value::Null;
    wait_for("the detached file", Duration::from_secs(60), || {
        detached = detached_status(addr, &token, &job);
        detached["status"] == "finished"
    });
    let detached_bytes = download(addr, detached["url"].as_str().unwrap());
    let before = statuses(addr, &token);

    // The long D1 of submission 10 is running while clients poll.
    start_generation(dir.path(), addr, &token);
    let stop = Arc::new(AtomicBool::new(false));
    let polls = Arc::new(AtomicUsize::new(0));
    let pollers: Vec<_> = (0..2)
        .map(|_| {
            let (stop, polls, token) = (Arc::clone(&stop), Arc::clone(&polls), token.clone());
            std::thread::spawn(move || {
                let target = "/v1/check_generation_status/?submission_id=10&file_type=D1";
                while !stop.load(Ordering::Relaxed) {
                    let resp = raw_request(addr, "GET", target, &[("x-session-id", &token)], b"");
                    assert_eq!(resp.status, 200);
                    polls.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let backup_root = tempfile::tempdir().unwrap();
    let copy = backup_root.path().join("nightly");
    let out = cli(
        &["backup", "--to", copy.to_str().unwrap()],
        dir.path(),
        &envs,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("backup written to"), "{}", text(&out));
    assert_eq!(
        query::<String>(
            dir.path(),
            "SELECT job_status FROM jobs WHERE job_id = 1001"
        ),
        "running",
        "the backup was taken while the generation ran"
    );
    stop.store(true, Ordering::Relaxed);
    for poller in pollers {
        poller.join().unwrap();
    }
    assert!(polls.load(Ordering::Relaxed) > 0);
    // The original dies hard; the copy is what is left.
    drop(server.stop());

    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(copy.join("secret.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    // Served with no secret in the environment: the copy's key signs.
    let restored = Served::start(&copy, &["--workers", "1"], &[]);
    let (raddr, after) = (restored.addr, statuses(restored.addr, &token));
    let unchanged = |all: &[Value]| -> Vec<Value> {
        all.iter()
            .filter(|s| s[0] != 10 || s[1] != "D1")
            .cloned()
            .collect()
    };
    let host = |v: Vec<Value>, a: SocketAddr| -> String {
        serde_json::to_string(&v)
            .unwrap()
            .replace(&a.to_string(), "HOST")
    };
    assert_eq!(
        host(unchanged(&after), raddr),
        host(unchanged(&before), addr)
    );
    let copied = detached_status(raddr, &token, &job);
    assert_eq!(copied["status"], "finished");
    assert_eq!(
        download(raddr, copied["url"].as_str().unwrap()),
        detached_bytes
    );
    // The generation that was running at backup time finishes on the copy.
    let target = "/v1/check_generation_status/?submission_id=10&file_type=D1";
    let mut status = Value::Null;
    wait_for(
        "the resumed generation on the copy",
        Duration::from_secs(180),
        || {
            status = raw_request(raddr, "GET", target, &[("x-session-id", &token)], b"").json();
            status["status"] != "waiting"
        },
    );
    assert_eq!(status["status"], "finished", "{status}");
    let file = download(raddr, status["url"].as_str().unwrap());
    let lines = file
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as i64;
    assert_eq!(lines, ROWS + 1);
    drop(restored.stop());
    assert_eq!(query::<String>(&copy, "PRAGMA integrity_check"), "ok");
}

#[test]
fn a_backup_refuses_a_used_or_unwritable_target_and_leaves_nothing_half_made() {
    let dir = tempfile::tempdir().unwrap();
    let out = load_fixtures(dir.path(), &[&fixture_path("test_base.json")]);
    assert!(out.status.success());
    let root = tempfile::tempdir().unwrap();
    let used = root.path().join("used");
    std::fs::create_dir(&used).unwrap();
    std::fs::write(used.join("keep.txt"), b"mine").unwrap();
    let out = cli(&["backup", "--to", used.to_str().unwrap()], dir.path(), &[]);
    assert!(!out.status.success());
    assert!(text(&out).contains("is not empty"), "{}", text(&out));
    assert_eq!(std::fs::read(used.join("keep.txt")).unwrap(), b"mine");
    // A target under a plain file cannot be written.
    let blocker = root.path().join("a-file");
    std::fs::write(&blocker, b"x").unwrap();
    let under = blocker.join("backup");
    let out = cli(
        &["backup", "--to", under.to_str().unwrap()],
        dir.path(),
        &[],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("cannot"), "{}", text(&out));
    // An empty folder is taken; nothing partial is left beside it.
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = cli(
        &["backup", "--to", empty.to_str().unwrap()],
        dir.path(),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(empty.join("broker.db").is_file() && empty.join("secret.key").is_file());
    let names: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("partial")), "{names:?}");
}

fn age(path: &Path, seconds: u64) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(seconds))
        .unwrap();
}

#[test]
fn prune_removes_only_old_files_nothing_points_at() {
    let dir = tempfile::tempdir().unwrap();
    let out = load_fixtures(dir.path(), &[&fixture_path("test_base.json")]);
    assert!(out.status.success());
    let files = dir.path().join("files");
    let put = |key: &str, bytes: usize, old: bool| {
        let path = files.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, vec![b'x'; bytes]).unwrap();
        if old {
            age(&path, 3 * 86_400);
        }
    };
    put("10/SubID-10_File-D1_job.csv", 100, true);
    put("detached/File-D1_cached.csv", 200, true);
    put("10/SubID-10_File-D1_replaced.csv", 300, true);
    put("detached/File-D2_replaced.txt", 400, true);
    put("10/SubID-10_File-E_just-stored.csv", 500, false);
    put("10/.partial-abc123", 600, true);
    put("notes/not-generated.txt", 700, true);
    let conn = rusqlite::Connection::open(dir.path().join("broker.db")).unwrap();
    conn.execute_batch(
        "UPDATE jobs SET filename = '10/SubID-10_File-D1_job.csv'
         WHERE submission_id = 10 AND file_type = 'D1' AND job_type = 'file_upload';
         INSERT INTO file_generation (request_date, start_date, end_date, agency_code, file_type,
             is_cached_file, file_path)
         VALUES ('2019-12-01', '2019-10-01', '2019-12-31', '097', 'D1', 1, 'detached/File-D1_cached.csv');",
    )
    .unwrap();
    drop(conn);
    let present = || -> Vec<bool> {
        [
            "10/SubID-10_File-D1_job.csv",
            "detached/File-D1_cached.csv",
            "10/SubID-10_File-D1_replaced.csv",
            "detached/File-D2_replaced.txt",
            "10/SubID-10_File-E_just-stored.csv",
            "10/.partial-abc123",
            "notes/not-generated.txt",
        ]
        .iter()
        .map(|k| files.join(k).exists())
        .collect()
    };
    let dry = cli(&["prune", "--dry-run"], dir.path(), &[]);
    assert!(dry.status.success(), "{}", text(&dry));
    let report = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(
        report.contains("would remove 10/SubID-10_File-D1_replaced.csv (300 bytes)"),
        "{report}"
    );
    assert!(
        report.contains("would remove detached/File-D2_replaced.txt (400 bytes)"),
        "{report}"
    );
    assert!(
        report.contains("would remove 2 files, 700 bytes"),
        "{report}"
    );
    assert!(
        report.contains("kept 1 unreferenced files younger than 900 seconds"),
        "{report}"
    );
    assert_eq!(present(), [true; 7], "a dry run removes nothing");
    let real = cli(&["prune"], dir.path(), &[]);
    assert!(real.status.success(), "{}", text(&real));
    let report = String::from_utf8_lossy(&real.stdout).into_owned();
    assert!(
        report.contains("removed 2 files, 700 bytes freed"),
        "{report}"
    );
    assert_eq!(present(), [true, true, false, false, true, true, true]);
    let again = cli(&["prune"], dir.path(), &[]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("removed 0 files, 0 bytes freed"));
}
