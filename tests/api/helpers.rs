//! TestApp: a real server on 127.0.0.1:0 with a temporary data dir, plus a
//! small raw HTTP client (raw so that tests control every byte of the path).

use broker_lite::app::{App, RunningApp};
use broker_lite::base::config::{Config, Secret};
use broker_lite::tools::fixtures::{self, FixtureSource};
use broker_lite::worker::Worker;
use rusqlite::Connection;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

pub const SECRET: &str = "test-secret-key-0123456789";
pub const BASE_FIXTURE: &str = include_str!("../../fixtures/test_base.json");
pub const GENERATION_FIXTURE: &str = include_str!("../../fixtures/test_generation.json");

pub struct TestApp {
    /// Keeps the data dir alive as long as the server.
    pub _dir: TempDir,
    pub app: RunningApp,
}

impl TestApp {
    /// A server loaded with `fixtures/test_base.json`.
    pub fn spawn() -> TestApp {
        Self::spawn_with(|_| {})
    }

    /// A server loaded with the test fixtures, with a config tweak.
    pub fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_loaded(
            &[
                ("test_base.json", BASE_FIXTURE),
                ("test_generation.json", GENERATION_FIXTURE),
            ],
            tweak,
        )
    }

    /// A server loaded with the given fixtures (name, text), with a config tweak.
    pub fn spawn_loaded(
        fixture_texts: &[(&str, &str)],
        tweak: impl FnOnce(&mut Config),
    ) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::local(dir.path(), Secret::new(SECRET));
        config.listen = "127.0.0.1:0".into();
        // Tests drain the queue on their own thread, without retry delays.
        config.run_workers = false;
        config.retry_backoff_secs = 0;
        tweak(&mut config);
        let app = App::bind(config).unwrap();
        let mut conn = broker_lite::db::open(&app.state.config.db_path).unwrap();
        let sources: Vec<FixtureSource<'_>> = fixture_texts
            .iter()
            .map(|(name, text)| FixtureSource { name, text })
            .collect();
        fixtures::load(&mut conn, &sources).unwrap();
        TestApp {
            _dir: dir,
            app: app.spawn(),
        }
    }

    /// Starts a new server on the same data dir and stops the old one.
    pub fn restart(&mut self) {
        let mut config = (*self.app.state.config).clone();
        config.listen = "127.0.0.1:0".into();
        let fresh = App::bind(config).unwrap().spawn();
        drop(std::mem::replace(&mut self.app, fresh));
    }

    /// Runs every queued task on this thread (the worker is off in tests).
    pub fn run_pending_jobs(&self) -> usize {
        let worker = Worker::new(Arc::clone(&self.app.state));
        let mut ran = 0;
        while worker.run_next_job().unwrap().is_some() {
            ran += 1;
        }
        ran
    }

    /// Counts rows of a query.
    pub fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// A job's status as stored.
    pub fn job_status(&self, job_id: i64) -> String {
        self.db()
            .query_row(
                "SELECT job_status FROM jobs WHERE job_id = ?1",
                [job_id],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// `POST /v1/generate_file/` as a user.
    pub fn generate(&self, body: serde_json::Value, user_id: i64) -> HttpResponse {
        self.post_json("/v1/generate_file/", &body, Some(&self.token_for(user_id)))
    }

    /// Downloads a status answer's link.
    pub fn download(&self, status: &serde_json::Value) -> HttpResponse {
        let url = status["url"].as_str().expect("a url");
        let base = format!("http://{}", self.app.addr);
        let target = url
            .strip_prefix(&base)
            .unwrap_or_else(|| panic!("link not on this server: {url}"));
        self.get(target, None)
    }

    pub fn db(&self) -> Connection {
        broker_lite::db::open(&self.app.state.config.db_path).unwrap()
    }

    /// Runs SQL against the server's database (test arrangement only).
    pub fn sql(&self, sql: &str) {
        self.db().execute_batch(sql).unwrap();
    }

    pub fn files_dir(&self) -> PathBuf {
        self.app.state.config.files_dir()
    }

    /// Puts a file into local storage under `key`.
    pub fn store_file(&self, key: &str, bytes: &[u8]) {
        let path = self.files_dir().join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// A valid session token for a user, minted with the server's secret.
    pub fn token_for(&self, user_id: i64) -> String {
        broker_lite::auth::mint_token(
            &Secret::new(SECRET),
            broker_lite::base::ids::UserId(user_id),
            3600,
        )
        .unwrap()
        .0
    }

    pub fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        raw_request(self.app.addr, method, target, headers, body)
    }

    pub fn get(&self, target: &str, token: Option<&str>) -> HttpResponse {
        match token {
            Some(t) => self.request("GET", target, &[("x-session-id", t)], b""),
            None => self.request("GET", target, &[], b""),
        }
    }

    pub fn post_json(
        &self,
        target: &str,
        body: &serde_json::Value,
        token: Option<&str>,
    ) -> HttpResponse {
        post_json(self.app.addr, target, body, token)
    }

    /// Logs in through the route and returns the session token.
    pub fn login(&self, email: &str, password: &str) -> String {
        let resp = self.post_json(
            "/v1/login/",
            &serde_json::json!({"username": email, "password": password}),
            None,
        );
        assert_eq!(resp.status, 200, "{}", resp.text());
        resp.json()["session_id"].as_str().unwrap().to_string()
    }

    /// `check_generation_status` for a submission and file type, as a user.
    pub fn status(&self, submission_id: i64, file_type: &str, user_id: i64) -> HttpResponse {
        let token = self.token_for(user_id);
        self.get(
            &format!(
                "/v1/check_generation_status/?submission_id={submission_id}&file_type={file_type}"
            ),
            Some(&token),
        )
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let left = self
            .count("SELECT COUNT(*) FROM generation_tasks WHERE state IN ('queued', 'running')");
        assert_eq!(
            left, 0,
            "the test left queued work; call run_pending_jobs()"
        );
    }
}

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Asserts a broker error answer: status and exact `{"message": ...}`.
#[track_caller]
pub fn assert_error(resp: &HttpResponse, status: u16, message: &str) {
    assert_eq!(resp.status, status, "body: {}", resp.text());
    assert_eq!(resp.json(), serde_json::json!({ "message": message }));
}

/// A JSON POST to the server at `addr`, with a session token if given.
pub fn post_json(
    addr: std::net::SocketAddr,
    target: &str,
    body: &serde_json::Value,
    token: Option<&str>,
) -> HttpResponse {
    let text = body.to_string();
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(t) = token {
        headers.push(("x-session-id", t));
    }
    raw_request(addr, "POST", target, &headers, text.as_bytes())
}

/// One HTTP/1.1 request on a fresh connection, sent byte for byte.
pub fn raw_request(
    addr: std::net::SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    // A server may answer (413) and close before reading a large body.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> HttpResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// The real binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_broker-lite");

/// `broker-lite serve` running as a child process on a random loopback port,
/// its log collected; killed when dropped.
pub struct Served {
    pub child: std::process::Child,
    pub addr: std::net::SocketAddr,
    log: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Served {
    /// Starts `serve --listen 127.0.0.1:0 ARGS` on a data dir; `envs` may set
    /// `BROKER_SECRET_KEY`, `RUST_LOG` and the S3 settings.
    pub fn start(dir: &std::path::Path, args: &[&str], envs: &[(&str, &str)]) -> Served {
        use std::io::BufRead;
        let mut command = std::process::Command::new(BIN);
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("BROKER_DATA_DIR", dir)
            .env("RUST_LOG", "info")
            .env_remove("BROKER_SECRET_KEY")
            .env_remove("BROKER_DB")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        for (name, value) in envs {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap();
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = Vec::new();
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                panic!("server exited before listening: {}", seen.join("\n"));
            };
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.split_whitespace().next().unwrap().parse().unwrap();
            }
            seen.push(line);
        };
        let log = std::thread::spawn(move || {
            seen.extend(lines.map_while(Result::ok));
            seen
        });
        Served {
            child,
            addr,
            log: Some(log),
        }
    }

    /// Kills the server and returns its whole log.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log
            .take()
            .map(|t| t.join().unwrap().join("\n"))
            .unwrap_or_default()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Loads fixture files into a data dir with the real binary.
pub fn load_fixtures(dir: &std::path::Path, files: &[&str]) -> std::process::Output {
    std::process::Command::new(BIN)
        .args(["fixtures", "load"])
        .args(files)
        .env("BROKER_DATA_DIR", dir)
        .env_remove("BROKER_DB")
        .output()
        .unwrap()
}

/// Path of a fixture shipped in `fixtures/`.
pub fn fixture_path(name: &str) -> String {
    format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Generates through the route, drains the queue and answers the final
/// status, which must be finished.
pub fn generate_and_finish(
    app: &TestApp,
    body: serde_json::Value,
    user_id: i64,
) -> serde_json::Value {
    let resp = app.generate(body.clone(), user_id);
    assert_eq!(resp.status, 200, "{}", resp.text());
    app.run_pending_jobs();
    let sub = body["submission_id"].as_i64().unwrap();
    let status = app
        .status(sub, body["file_type"].as_str().unwrap(), user_id)
        .json();
    assert_eq!(status["status"], "finished", "{status}");
    status
}

/// Parses a generated file into rows of fields (header row included).
pub fn rows_of(bytes: &[u8], delimiter: u8) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .from_reader(bytes)
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect()
}

/// The path of a status answer's link, without its query (signature).
pub fn link_path(status: &serde_json::Value) -> &str {
    let url = status["url"].as_str().expect("a url");
    url.split_once('?').map_or(url, |(path, _)| path)
}
