//! S3 storage against a real S3 server (s3s-fs, which checks SigV4
//! signatures). Skipped, saying so, only when s3s-fs is not installed;
//! `.ci/run` installs it.

use crate::helpers::{
    HttpResponse, SECRET, Served, TestApp, fixture_path, generate_and_finish, load_fixtures,
    post_json, raw_request,
};
use broker_lite::base::config::{S3Settings, Secret, StorageKind};
use serde_json::json;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BUCKET: &str = "broker-files";
const ACCESS_KEY: &str = "AKTESTBROKERLITE";
const SECRET_KEY: &str = "s3-secret-never-logged-0123456789";

fn s3s_binary() -> Option<PathBuf> {
    let from_path = std::env::var_os("PATH").into_iter().flat_map(|p| {
        std::env::split_paths(&p)
            .map(|dir| dir.join("s3s-fs"))
            .collect::<Vec<_>>()
    });
    let from_cargo =
        std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo/bin/s3s-fs"));
    from_path.chain(from_cargo).find(|p| p.is_file())
}

/// A running s3s-fs on a loopback port, with one bucket.
struct S3Server {
    binary: PathBuf,
    root: tempfile::TempDir,
    addr: SocketAddr,
    child: Option<Child>,
}

impl S3Server {
    fn start() -> Option<S3Server> {
        let Some(binary) = s3s_binary() else {
            eprintln!(
                "skipped: s3s-fs is not installed (cargo install s3s-fs --version 0.14.1 --features binary --locked)"
            );
            return None;
        };
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join(BUCKET)).unwrap();
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut server = S3Server {
            binary,
            root,
            addr,
            child: None,
        };
        server.resume();
        Some(server)
    }

    fn resume(&mut self) {
        let child = Command::new(&self.binary)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &self.addr.port().to_string(),
            ])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(self.root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let started = Instant::now();
        while TcpStream::connect(self.addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "s3s-fs did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn settings(&self, secret_key: &str) -> S3Settings {
        S3Settings {
            bucket: BUCKET.into(),
            region: "us-east-1".into(),
            endpoint: Some(format!("http://{}", self.addr)),
            access_key: ACCESS_KEY.into(),
            secret_key: Secret::new(secret_key),
        }
    }

    fn app(&self) -> TestApp {
        let settings = self.settings(SECRET_KEY);
        TestApp::spawn_with(move |c| {
            c.storage = StorageKind::S3;
            c.s3 = Some(settings);
        })
    }

    /// GETs a presigned URL of this server.
    fn get(&self, url: &str) -> HttpResponse {
        let base = format!("http://{}", self.addr);
        let target = url
            .strip_prefix(&base)
            .unwrap_or_else(|| panic!("not an s3s-fs link: {url}"));
        raw_request(self.addr, "GET", target, &[], b"")
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One column of a generated CSV file, header row left out.
fn column_of(bytes: &[u8], at: usize) -> Vec<String> {
    csv::Reader::from_reader(bytes)
        .records()
        .map(|r| r.unwrap()[at].to_string())
        .collect()
}

fn keys_of(bytes: &[u8]) -> Vec<String> {
    column_of(bytes, 1)
}

#[test]
fn presigned_links_serve_the_uploaded_bytes_and_refuse_tampering() {
    let Some(s3) = S3Server::start() else { return };
    let app = s3.app();
    let store = &app.app.state.storage;
    let local = tempfile::NamedTempFile::new().unwrap();
    let bytes = b"PrimeAwardUniqueKey\r\nAWARD-1\r\n".repeat(1000);
    std::fs::write(local.path(), &bytes).unwrap();
    store.put("10/upload-test.csv", local.path()).unwrap();
    assert_eq!(
        std::fs::read(s3.root.path().join(BUCKET).join("10/upload-test.csv")).unwrap(),
        bytes
    );

    let url = store.signed_url("10/upload-test.csv", 60).unwrap();
    assert!(
        url.contains("X-Amz-Signature=") && url.contains("X-Amz-Expires=60"),
        "{url}"
    );
    let resp = s3.get(&url);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, bytes);

    let sig_at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut tampered = url.clone();
    let flipped = if &url[sig_at..sig_at + 1] == "a" {
        "b"
    } else {
        "a"
    };
    tampered.replace_range(sig_at..sig_at + 1, flipped);
    assert_eq!(s3.get(&tampered).status, 403, "tampered signature");
    let extended = url.replace("X-Amz-Expires=60", "X-Amz-Expires=6000");
    assert_eq!(s3.get(&extended).status, 403, "raised X-Amz-Expires");

    let short = store.signed_url("10/upload-test.csv", 1).unwrap();
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(s3.get(&short).status, 403, "expired link");
}

#[test]
fn every_file_type_is_generated_into_s3() {
    let Some(s3) = S3Server::start() else { return };
    let app = s3.app();
    let d1 =
        json!({"submission_id": 10, "file_type": "D1", "start": "10/01/2019", "end": "12/31/2019"});
    let status = generate_and_finish(&app, d1.clone(), 4);
    let url = status["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "http://{}/{BUCKET}/10/SubID-10_File-D1_FY20Q1_",
            s3.addr
        )),
        "{url}"
    );
    assert!(url.contains("X-Amz-Expires=60"));
    let file = s3.get(url);
    assert_eq!(file.status, 200);
    assert_eq!(keys_of(&file.body), ["CONT_K1", "CONT_K2"]);
    assert_eq!(
        app.job_status(1002),
        "finished",
        "validation read the file back from S3"
    );

    let d2 =
        json!({"submission_id": 10, "file_type": "D2", "start": "10/01/2019", "end": "12/31/2019"});
    let status = generate_and_finish(&app, d2, 4);
    assert_eq!(
        keys_of(&s3.get(status["url"].as_str().unwrap()).body),
        ["ASST_F1"]
    );

    app.sql("UPDATE jobs SET job_status = 'finished' WHERE job_id = 1007");
    let e = generate_and_finish(&app, json!({"submission_id": 10, "file_type": "E"}), 4);
    let names = column_of(&s3.get(e["url"].as_str().unwrap()).body, 1);
    assert_eq!(names, ["New Name, Inc", "Grantee LLC"]);
    let f = generate_and_finish(&app, json!({"submission_id": 10, "file_type": "F"}), 4);
    assert_eq!(
        column_of(&s3.get(f["url"].as_str().unwrap()).body, 0),
        ["CONT_K1", "ASST_F1"]
    );

    // A cached generation reused by another submission is copied inside S3.
    let mut same = d1;
    same["submission_id"] = json!(14);
    let copy = generate_and_finish(&app, same, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM generation_tasks WHERE kind = 'generate_d'"),
        2
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM generation_tasks WHERE kind = 'attach'"),
        1
    );
    assert_eq!(
        keys_of(&s3.get(copy["url"].as_str().unwrap()).body),
        ["CONT_K1", "CONT_K2"]
    );
}

#[test]
fn s3_down_fails_the_job_cleanly_and_a_new_request_succeeds_once_it_is_back() {
    let Some(mut s3) = S3Server::start() else {
        return;
    };
    let app = s3.app();
    s3.stop();
    let e = json!({"submission_id": 10, "file_type": "E"});
    assert_eq!(app.generate(e.clone(), 4).status, 200);
    app.run_pending_jobs();
    let status = app.status(10, "E", 4);
    assert_eq!(status.status, 200, "status reads come from SQLite");
    let status = status.json();
    assert_eq!(status["status"], "failed");
    let message = status["message"].as_str().unwrap();
    assert!(
        message.starts_with("The generated file could not be stored"),
        "{message}"
    );
    assert!(!message.contains(SECRET_KEY) && !message.contains(ACCESS_KEY));
    assert_eq!(
        app.count("SELECT attempts FROM generation_tasks WHERE kind = 'generate_ef'"),
        3
    );
    assert_eq!(app.get("/v1/session/", None).status, 200);

    s3.resume();
    let status = generate_and_finish(&app, e, 4);
    assert_eq!(s3.get(status["url"].as_str().unwrap()).status, 200);
}

#[test]
fn a_wrong_secret_key_fails_the_job_and_never_reaches_the_log() {
    let Some(s3) = S3Server::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    assert!(
        load_fixtures(dir.path(), &[&fixture_path("test_base.json")])
            .status
            .success()
    );
    let wrong_secret = "wrong-s3-secret-must-stay-hidden";
    let endpoint = format!("http://{}", s3.addr);
    let envs = [
        ("BROKER_SECRET_KEY", SECRET),
        ("BROKER_S3_BUCKET", BUCKET),
        ("BROKER_S3_ENDPOINT", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", wrong_secret),
        ("RUST_LOG", "debug"),
    ];
    let server = Served::start(
        dir.path(),
        &["--storage", "s3", "--retry-backoff", "0"],
        &envs,
    );
    let addr = server.addr;
    let token =
        broker_lite::auth::mint_token(&Secret::new(SECRET), broker_lite::base::ids::UserId(2), 600)
            .unwrap()
            .0;
    let body = serde_json::json!({"submission_id": 10, "file_type": "E"});
    assert_eq!(
        post_json(addr, "/v1/generate_file/", &body, Some(&token)).status,
        200
    );
    let target = "/v1/check_generation_status/?submission_id=10&file_type=E";
    let started = Instant::now();
    let status = loop {
        let status = raw_request(addr, "GET", target, &[("x-session-id", &token)], b"").json();
        if status["status"] != "waiting" {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the job never ended"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status["status"], "failed");
    let message = status["message"].as_str().unwrap();
    assert!(
        message.starts_with("The generated file could not be stored"),
        "{message}"
    );
    let log = server.stop();
    assert!(
        log.contains("is not usable"),
        "an unusable bucket is logged loudly: {log}"
    );
    assert!(log.contains("HTTP 403"), "{log}");
    for secret in [
        wrong_secret,
        SECRET,
        token.as_str(),
        "X-Amz-Signature",
        "Signature=",
    ] {
        assert!(!log.contains(secret), "the log leaks {secret}");
        assert!(!message.contains(secret));
    }
}

#[test]
fn large_files_upload_in_parts_and_download_whole() {
    let Some(s3) = S3Server::start() else { return };
    let app = s3.app();
    let local = tempfile::NamedTempFile::new().unwrap();
    // Over rust-s3's 8 MiB part size, so the upload is multipart.
    let bytes: Vec<u8> = (0..20 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(local.path(), &bytes).unwrap();
    let store = &app.app.state.storage;
    store.put("detached/large.csv", local.path()).unwrap();
    let resp = s3.get(&store.signed_url("detached/large.csv", 60).unwrap());
    assert_eq!(resp.status, 200);
    assert!(
        resp.body == bytes,
        "the downloaded file differs from the uploaded one"
    );
}

#[test]
fn serve_names_a_missing_s3_setting_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_broker-lite"))
        .args(["serve", "--listen", "127.0.0.1:0", "--storage", "s3"])
        .env("BROKER_DATA_DIR", dir.path())
        .env_remove("BROKER_S3_BUCKET")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("BROKER_S3_BUCKET must be set when --storage is s3"),
        "{stderr}"
    );
    assert!(!stderr.contains(SECRET_KEY));
}

#[test]
fn an_unreachable_bucket_at_start_is_logged_and_statuses_still_answer() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        load_fixtures(dir.path(), &[&fixture_path("test_base.json")])
            .status
            .success()
    );
    // Nothing listens on this port.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let endpoint = format!("http://{closed}");
    let envs = [
        ("BROKER_SECRET_KEY", SECRET),
        ("BROKER_S3_BUCKET", BUCKET),
        ("BROKER_S3_ENDPOINT", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
    ];
    let server = Served::start(dir.path(), &["--storage", "s3"], &envs);
    let token =
        broker_lite::auth::mint_token(&Secret::new(SECRET), broker_lite::base::ids::UserId(2), 600)
            .unwrap()
            .0;
    let target = "/v1/check_generation_status/?submission_id=10&file_type=E";
    let status = raw_request(server.addr, "GET", target, &[("x-session-id", &token)], b"");
    assert_eq!(status.status, 200, "{}", status.text());
    assert!(
        status.json()["url"]
            .as_str()
            .unwrap()
            .contains("X-Amz-Signature="),
        "presigned at request time"
    );
    // rust-s3 retries once after a second before the check gives up.
    std::thread::sleep(Duration::from_millis(2500));
    let log = server.stop();
    let line = log
        .lines()
        .find(|l| l.contains("is not usable"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        line.contains("ERROR") && line.contains("unreachable"),
        "{line}"
    );
    assert!(!log.contains(SECRET_KEY));
}

#[test]
fn prune_removes_unreferenced_generated_keys_from_the_bucket() {
    use broker_lite::storage::FileStore;
    let Some(s3) = S3Server::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = load_fixtures(dir.path(), &[&fixture_path("test_base.json")]);
    assert!(out.status.success());
    let store = broker_lite::storage::s3::S3Store::new(&s3.settings(SECRET_KEY)).unwrap();
    let local = dir.path().join("upload.csv");
    std::fs::write(&local, b"a,b\n1,2\n").unwrap();
    for key in [
        "10/SubID-10_File-D1_job.csv",
        "10/SubID-10_File-D1_old.csv",
        "reports/not-generated.txt",
    ] {
        store.put(key, &local).unwrap();
    }
    let conn = rusqlite::Connection::open(dir.path().join("broker.db")).unwrap();
    conn.execute(
        "UPDATE jobs SET filename = '10/SubID-10_File-D1_job.csv'
         WHERE submission_id = 10 AND file_type = 'D1' AND job_type = 'file_upload'",
        [],
    )
    .unwrap();
    drop(conn);
    let endpoint = format!("http://{}", s3.addr);
    let prune = |extra: &[&str]| {
        let output = Command::new(crate::helpers::BIN)
            .args(["prune", "--storage", "s3", "--min-age", "0"])
            .args(extra)
            .env("BROKER_DATA_DIR", dir.path())
            .env("BROKER_S3_BUCKET", BUCKET)
            .env("BROKER_S3_ENDPOINT", &endpoint)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env_remove("BROKER_DB")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let keys = || -> Vec<String> { store.list().unwrap().into_iter().map(|o| o.key).collect() };
    let dry = prune(&["--dry-run"]);
    assert!(
        dry.contains("would remove 10/SubID-10_File-D1_old.csv (8 bytes)"),
        "{dry}"
    );
    assert_eq!(keys().len(), 3);
    let done = prune(&[]);
    assert!(done.contains("removed 1 files, 8 bytes freed"), "{done}");
    assert_eq!(
        keys(),
        ["10/SubID-10_File-D1_job.csv", "reports/not-generated.txt"]
    );
}

#[test]
fn health_follows_the_bucket() {
    let Some(mut s3) = S3Server::start() else {
        return;
    };
    let app = s3.app();
    assert_eq!(app.get("/v1/health/", None).status, 200);
    s3.stop();
    let down = app.get("/v1/health/", None);
    assert_eq!(down.status, 503);
    assert_eq!(down.json()["storage"], "unavailable");
    assert!(!down.text().contains(SECRET_KEY) && !down.text().contains(ACCESS_KEY));
    s3.resume();
    assert_eq!(app.get("/v1/health/", None).status, 200);
}

#[test]
fn a_backup_with_s3_storage_serves_the_same_files_from_the_bucket() {
    let Some(s3) = S3Server::start() else { return };
    let app = s3.app();
    let d1 =
        json!({"submission_id": 10, "file_type": "D1", "start": "10/01/2019", "end": "12/31/2019"});
    let status = generate_and_finish(&app, d1, 4);
    let bytes = s3.get(status["url"].as_str().unwrap()).body;
    let data_dir = app.app.state.config.data_dir.clone();
    let root = tempfile::tempdir().unwrap();
    let copy = root.path().join("copy");
    let out = Command::new(crate::helpers::BIN)
        .args(["backup", "--storage", "s3", "--to", copy.to_str().unwrap()])
        .env("BROKER_DATA_DIR", &data_dir)
        .env("BROKER_SECRET_KEY", SECRET)
        .env_remove("BROKER_DB")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("stay in the S3 bucket"));
    assert!(!copy.join("files").exists());
    let endpoint = format!("http://{}", s3.addr);
    let envs = [
        ("BROKER_S3_BUCKET", BUCKET),
        ("BROKER_S3_ENDPOINT", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
    ];
    let restored = Served::start(&copy, &["--storage", "s3"], &envs);
    let token =
        broker_lite::auth::mint_token(&Secret::new(SECRET), broker_lite::base::ids::UserId(4), 600)
            .unwrap()
            .0;
    let target = "/v1/check_generation_status/?submission_id=10&file_type=D1";
    let again = raw_request(
        restored.addr,
        "GET",
        target,
        &[("x-session-id", &token)],
        b"",
    )
    .json();
    assert_eq!(again["status"], "finished", "{again}");
    assert_eq!(again["job_id"], status["job_id"]);
    assert_eq!(s3.get(again["url"].as_str().unwrap()).body, bytes);
    drop(restored.stop());
}
