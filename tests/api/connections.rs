//! Hostile clients at the connection level (issue: "hostile clients cannot
//! crash, stall or desynchronise the service"): huge declared bodies, slow
//! and idle clients, clients that never read, ambiguous framing, upgrade
//! requests, giant header lines, file-descriptor exhaustion and a shutdown
//! while a client hangs. Every case ends with the server still answering.

use crate::helpers::{BIN, SECRET, Served, TestApp};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Everything the server sends until it closes (or 10 s pass).
fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // A reset after the answer: the answer is what counts.
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One response on a connection that stays open: head and Content-Length body.
fn read_one(stream: &mut TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).unwrap(),
            1,
            "connection closed early"
        );
        raw.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&raw).into_owned();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn responses_in(text: &str) -> usize {
    text.matches("HTTP/1.1 ").count()
}

fn status_of(text: &str) -> u16 {
    text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// The time one anonymous request takes, on a fresh connection.
fn timed_session(app: &TestApp) -> Duration {
    let started = Instant::now();
    assert_eq!(app.get("/v1/session/", None).status, 200);
    started.elapsed()
}

#[test]
fn a_huge_declared_body_is_refused_unread_and_the_server_lives_on() {
    let app = TestApp::spawn();
    for length in ["4611686018427387904", "50000000000", "1048577"] {
        let mut stream = connect(app.app.addr);
        write!(
            stream,
            "GET /v1/session/ HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n"
        )
        .unwrap();
        let answer = read_to_close(&mut stream);
        assert_eq!(status_of(&answer), 413, "{answer}");
        assert!(
            answer.ends_with(r#"{"message":"Request body is too large"}"#),
            "{answer}"
        );
        assert!(answer.contains("Connection: close"));
    }
    assert_eq!(app.get("/v1/session/", None).status, 200);
}

#[test]
fn ambiguous_framing_is_refused_and_nothing_after_it_is_answered() {
    let app = TestApp::spawn();
    let cases = [
        (
            "Content-Length: abc\r\n",
            "The request has an invalid Content-Length",
        ),
        (
            "Content-Length: -1\r\n",
            "The request has an invalid Content-Length",
        ),
        (
            "Content-Length: 5, 5\r\n",
            "The request has an invalid Content-Length",
        ),
        (
            "Content-Length: 5\r\nContent-Length: 6\r\n",
            "The request has an invalid Content-Length",
        ),
        (
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            "The request has both Content-Length and Transfer-Encoding",
        ),
        (
            "Transfer-Encoding: identity\r\n",
            "The request has an unsupported Transfer-Encoding",
        ),
    ];
    for (headers, message) in cases {
        let mut stream = connect(app.app.addr);
        // A smuggled second request follows the ambiguous one.
        write!(
            stream,
            "POST /v1/logout/ HTTP/1.1\r\nHost: x\r\n{headers}\r\nhelloGET /v1/session/ HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        .unwrap();
        let answer = read_to_close(&mut stream);
        assert_eq!(responses_in(&answer), 1, "{headers:?}: {answer}");
        assert_eq!(status_of(&answer), 400, "{headers:?}: {answer}");
        assert!(
            answer.ends_with(&format!(r#"{{"message":"{message}"}}"#)),
            "{answer}"
        );
    }
    let mut stream = connect(app.app.addr);
    stream
        .write_all(b"\x16\x03\x01\x02\x00 not http\r\n\r\n")
        .unwrap();
    let answer = read_to_close(&mut stream);
    assert_eq!(status_of(&answer), 400, "{answer}");
    assert_eq!(app.get("/v1/session/", None).status, 200);
}

#[test]
fn keep_alive_pipelining_chunked_bodies_and_upgrade_requests_are_plain_http() {
    let app = TestApp::spawn();
    let mut stream = connect(app.app.addr);
    // Two pipelined requests in one write: two answers, in order.
    stream
        .write_all(
            b"GET /v1/session/ HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/nope HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .unwrap();
    assert_eq!(read_one(&mut stream), (200, r#"{"status":"False"}"#.into()));
    assert_eq!(read_one(&mut stream).0, 404);
    // What `curl --http2` sends to an http URL: answered at once as HTTP/1.1.
    stream
        .write_all(
            b"GET /v1/session/ HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n",
        )
        .unwrap();
    assert_eq!(read_one(&mut stream), (200, r#"{"status":"False"}"#.into()));
    // A chunked body, with Expect: 100-continue.
    let body = br#"{"username": "admin@test.local", "password": "admin-pw"}"#;
    write!(
        stream,
        "POST /v1/login/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n\r\n"
    )
    .unwrap();
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    let (first, rest) = body.split_at(10);
    write!(stream, "{:x}\r\n", first.len()).unwrap();
    stream.write_all(first).unwrap();
    write!(stream, "\r\n{:x};ext=1\r\n", rest.len()).unwrap();
    stream.write_all(rest).unwrap();
    stream.write_all(b"\r\n0\r\nTrailer: x\r\n\r\n").unwrap();
    let (status, text) = read_one(&mut stream);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("Login successful"));
}

fn slow_config(c: &mut broker_lite::base::config::Config) {
    c.http.idle_timeout = Duration::from_secs(1);
    c.http.header_timeout = Duration::from_secs(1);
    c.http.body_timeout = Duration::from_secs(1);
    c.http.write_timeout = Duration::from_secs(1);
}

#[test]
fn slow_and_idle_clients_are_cut_off_at_their_deadlines() {
    let app = TestApp::spawn_with(slow_config);
    let started = Instant::now();
    let mut partial_head = connect(app.app.addr);
    partial_head
        .write_all(b"GET /v1/session/ HTTP/1.1\r\nHo")
        .unwrap();
    let mut partial_body = connect(app.app.addr);
    write!(
        partial_body,
        "POST /v1/login/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{}",
        "x".repeat(1100)
    )
    .unwrap();
    let mut idle = connect(app.app.addr);
    let head_answer = read_to_close(&mut partial_head);
    let body_answer = read_to_close(&mut partial_body);
    assert_eq!(status_of(&head_answer), 408, "{head_answer}");
    assert_eq!(status_of(&body_answer), 408, "{body_answer}");
    assert!(body_answer.ends_with(r#"{"message":"The request took too long to arrive"}"#));
    assert_eq!(
        read_to_close(&mut idle),
        "",
        "an idle connection is closed silently"
    );
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "cut off after {took:?}");
    assert_eq!(app.get("/v1/session/", None).status, 200);
}

#[test]
fn three_hundred_slow_clients_do_not_stall_the_routes() {
    let app = TestApp::spawn();
    let token = app.token_for(1);
    let mut slow = Vec::new();
    for i in 0..300 {
        let mut stream = TcpStream::connect(app.app.addr).unwrap();
        match i % 3 {
            0 => write!(
                stream,
                "POST /v1/generate_file/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{}",
                "x".repeat(1100)
            ),
            1 => write!(
                stream,
                "GET /v1/session/ HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"
            ),
            _ => write!(stream, "GET /v1/session/ HTTP/1.1\r\nX-Slow: "),
        }
        .unwrap();
        slow.push(stream);
    }
    // Give the server the time to take them all in.
    while app.app.state.http.open_connections() < 300 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut times: Vec<Duration> = (0..20)
        .map(|_| {
            let started = Instant::now();
            let resp = app.status(10, "D1", 1);
            assert_eq!(resp.status, 200);
            started.elapsed()
        })
        .collect();
    times.sort();
    // A stall would be the 10 s head deadline or worse; the figure on a quiet
    // machine (a few ms) is in RELIABILITY.md, from bench/hostile.sh.
    assert!(
        times[19] < Duration::from_secs(2),
        "slowest {:?}",
        times[19]
    );
    assert!(timed_session(&app) < Duration::from_secs(2));
    drop(token);
    drop(slow);
}

#[test]
fn clients_that_never_read_their_answers_cannot_stall_the_routes() {
    let app = TestApp::spawn_with(slow_config);
    let mut pipeliners = Vec::new();
    for _ in 0..16 {
        let mut stream = TcpStream::connect(app.app.addr).unwrap();
        stream
            .set_write_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        // Each answer is 25 KB: the socket buffers fill and the server blocks.
        let request = b"GET /v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n";
        for _ in 0..400 {
            if stream.write_all(request).is_err() {
                break;
            }
        }
        pipeliners.push(stream);
    }
    for _ in 0..10 {
        assert!(timed_session(&app) < Duration::from_secs(2));
    }
    // The server gives up on them at its write deadline.
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.app.state.http.open_connections() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(app.app.state.http.open_connections(), 0);
    drop(pipeliners);
}

/// Peak resident memory of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_giant_header_line_is_refused_without_buffering_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Served::start(dir.path(), &[], &[("BROKER_SECRET_KEY", SECRET)]);
    let before = peak_rss_kib(server.child.id());
    let line = vec![b'a'; 48 * 1024 * 1024];
    let mut answers = Vec::new();
    for _ in 0..3 {
        let mut stream = connect(server.addr);
        stream
            .write_all(b"GET /v1/session/ HTTP/1.1\r\nX-Big: ")
            .unwrap();
        // The server answers and closes long before 48 MiB are sent.
        let _ = stream.write_all(&line);
        answers.push(read_to_close(&mut stream));
    }
    let after = peak_rss_kib(server.child.id());
    assert!(
        after < before + 16 * 1024,
        "peak RSS grew from {before} KiB to {after} KiB"
    );
    assert!(answers.iter().any(|a| status_of(a) == 431), "{answers:?}");
    let resp = crate::helpers::raw_request(server.addr, "GET", "/v1/session/", &[], b"");
    assert_eq!(resp.status, 200);
}

/// `serve` under a lowered open-files limit (soft and hard, or soft only).
fn serve_with_nofile(dir: &std::path::Path, ulimit: &str) -> (std::process::Child, SocketAddr) {
    use std::io::BufRead;
    let mut child = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit {ulimit} && exec \"$0\" serve --listen 127.0.0.1:0"
        ))
        .arg(BIN)
        .env("BROKER_DATA_DIR", dir)
        .env("BROKER_SECRET_KEY", SECRET)
        .env("RUST_LOG", "info")
        .env_remove("BROKER_DB")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("server output").unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}

#[test]
fn running_out_of_file_descriptors_never_stops_the_listener() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = serve_with_nofile(dir.path(), "-n 40");
    // Far more connections than descriptors: accept fails (EMFILE) or the
    // connection cap answers 503; either way the listener must survive.
    let hogs: Vec<TcpStream> = (0..120)
        .filter_map(|_| TcpStream::connect(addr).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    drop(hogs);
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut answered = false;
    while Instant::now() < deadline && !answered {
        if let Ok(mut stream) = TcpStream::connect(addr) {
            stream
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let _ = stream
                .write_all(b"GET /v1/session/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            answered = status_of(&read_to_close(&mut stream)) == 200;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        answered,
        "the server stopped answering after descriptor exhaustion"
    );
}

#[test]
fn serve_raises_its_soft_open_files_limit_to_the_hard_one() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _addr) = serve_with_nofile(dir.path(), "-S -n 64");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let numbers: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers[0], numbers[1], "{line}");
    assert_ne!(numbers[0], "64", "{line}");
}

#[test]
fn sigterm_exits_promptly_while_a_client_hangs_mid_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = Served::start(dir.path(), &[], &[("BROKER_SECRET_KEY", SECRET)]);
    let mut hanging = connect(server.addr);
    hanging
        .write_all(b"POST /v1/login/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\nx")
        .unwrap();
    let mut idle = connect(server.addr);
    idle.write_all(b"GET /v1/session/ HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let _ = read_one(&mut idle);
    std::thread::sleep(Duration::from_millis(200));
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut server = server;
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(12),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    assert!(
        TcpStream::connect(server.addr).is_err(),
        "the port still accepts"
    );
    drop(hanging);
}

#[test]
fn a_kept_alive_connection_sees_a_revoked_token_and_a_changed_job_at_once() {
    // One connection is one server thread, which remembers the token it
    // verified last: revocation and job changes must still show on the
    // very next request.
    let app = TestApp::spawn();
    let token = app.token_for(2);
    let mut stream = connect(app.app.addr);
    let mut send = |request: String| {
        stream.write_all(request.as_bytes()).unwrap();
        read_one(&mut stream)
    };
    let status = format!(
        "GET /v1/check_generation_status/?submission_id=10&file_type=D1 HTTP/1.1\r\n\
         Host: x\r\nx-session-id: {token}\r\n\r\n"
    );
    let (code, first) = send(status.clone());
    assert_eq!(code, 200, "{first}");
    let (code, again) = send(status.clone());
    assert_eq!((code, &again), (200, &first));
    app.sql(
        "UPDATE jobs SET job_status = 'failed', error_message = 'disk on fire'
         WHERE submission_id = 10 AND file_type = 'D1' AND job_type = 'file_upload'",
    );
    let (code, changed) = send(status.clone());
    assert_eq!(code, 200);
    let changed: serde_json::Value = serde_json::from_str(&changed).unwrap();
    assert_eq!(
        (&changed["status"], &changed["message"]),
        (
            &serde_json::json!("failed"),
            &serde_json::json!("disk on fire")
        )
    );
    let (code, _) = send(format!(
        "POST /v1/logout/ HTTP/1.1\r\nHost: x\r\nx-session-id: {token}\r\nContent-Length: 0\r\n\r\n"
    ));
    assert_eq!(code, 200);
    let (code, refused) = send(status);
    assert_eq!(code, 401, "{refused}");
}
