//! One client connection: read a bounded request head before a deadline,
//! check its framing, read the body before a deadline, run the handler under
//! a permit, write the answer under a write deadline; again while the client
//! keeps the connection open and the server is not stopping.

use super::framing::{self, Body, Refusal};
use super::{Handler, Shared, respond};
use crate::base::config::HttpLimits as Limits;
use rouille::Request;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

/// Longest request target (path and query) accepted (414 beyond it).
pub const MAX_URL_BYTES: usize = 8 * 1024;
/// Most header bytes accepted (431 beyond them).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Largest request body accepted (413 beyond it).
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;
/// Most header lines accepted (431 beyond them).
const MAX_HEADERS: usize = 100;
/// A head is never buffered beyond this, whatever arrives.
const MAX_HEAD_BYTES: usize = MAX_URL_BYTES + MAX_HEADER_BYTES + 1024;
/// How often a waiting read looks at its deadline and the stop flag.
const POLL: Duration = Duration::from_millis(200);
/// Longest chunk-size line or trailer section of a chunked body.
const MAX_CHUNK_LINE: usize = 1024;

const TIMEOUT: Refusal = Refusal {
    status: 408,
    message: "The request took too long to arrive",
};
const URL_TOO_LONG: Refusal = Refusal {
    status: 414,
    message: "The request URL is too long",
};
const HEADERS_TOO_LARGE: Refusal = Refusal {
    status: 431,
    message: "The request headers are too large",
};
const MALFORMED: Refusal = Refusal {
    status: 400,
    message: "The request is malformed",
};
const BAD_CHUNK: Refusal = Refusal {
    status: 400,
    message: "The request has a malformed chunked body",
};

/// Why reading stopped short of a whole request.
enum Stop {
    /// Close without a word: the client went away, was idle, or we stop.
    Quietly,
    /// Answer, then close.
    Refuse(Refusal),
}

impl From<Refusal> for Stop {
    fn from(r: Refusal) -> Stop {
        Stop::Refuse(r)
    }
}

/// A request head, owned.
struct Head {
    method: String,
    target: String,
    version: u8,
    headers: Vec<(String, String)>,
    framing: framing::Framing,
}

pub(super) struct Conn<'a> {
    stream: TcpStream,
    peer: SocketAddr,
    /// Bytes read and not yet consumed (a pipelined request may follow).
    buf: Vec<u8>,
    shared: &'a Shared,
    limits: &'a Limits,
}

impl<'a> Conn<'a> {
    pub(super) fn new(stream: TcpStream, peer: SocketAddr, shared: &'a Shared) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(POLL))?;
        stream.set_write_timeout(Some(shared.limits.write_timeout))?;
        Ok(Conn {
            stream,
            peer,
            buf: Vec::with_capacity(4096),
            shared,
            limits: &shared.limits,
        })
    }

    /// Answers requests until the client or the server ends the connection.
    pub(super) fn serve(mut self, handler: &Handler) {
        loop {
            let started = Instant::now();
            let head = match self.read_head() {
                Ok(head) => head,
                Err(Stop::Quietly) => return,
                Err(Stop::Refuse(r)) => return self.refuse(r, "-", "-", started),
            };
            let body = match self.read_body(&head) {
                Ok(body) => body,
                Err(Stop::Quietly) => return,
                Err(Stop::Refuse(r)) => {
                    return self.refuse(r, &head.method, &head.target, started);
                }
            };
            let keep_alive = head.framing.keep_alive && !self.shared.stopping();
            let head_only = head.method == "HEAD";
            let request =
                Request::fake_http_from(self.peer, head.method, head.target, head.headers, body);
            let response = {
                let _permit = self.shared.permits.acquire();
                catch_unwind(AssertUnwindSafe(|| handler(&request))).unwrap_or_else(|_| {
                    log::error!("handler panicked");
                    crate::base::error::message_response(500, crate::base::error::INTERNAL_MESSAGE)
                })
            };
            drop(request);
            match respond::write(&self.stream, response, head.version, head_only, keep_alive) {
                Ok(true) => continue,
                Ok(false) | Err(_) => return,
            }
        }
    }

    /// Answers a refused request and closes.
    fn refuse(&mut self, refusal: Refusal, method: &str, target: &str, started: Instant) {
        let path: String = target
            .split('?')
            .next()
            .unwrap_or("-")
            .chars()
            .take(200)
            .collect();
        log::info!(
            "{method} {path} {} {}ms",
            refusal.status,
            started.elapsed().as_millis()
        );
        let response = crate::base::error::message_response(refusal.status, refusal.message);
        let _ = respond::write(&self.stream, response, 1, false, false);
        // Let the answer leave before the close, without reading what follows.
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
    }

    /// Reads into the buffer (at most up to `max_len` bytes in all); `Ok(0)`
    /// at end of stream, `Err(WouldBlock)` when nothing came within the poll
    /// interval. Only what arrives is kept: an idle connection costs no more
    /// than its buffer's small starting capacity.
    fn fill(&mut self, max_len: usize) -> io::Result<usize> {
        let mut chunk = [0u8; 8192];
        let room = max_len.saturating_sub(self.buf.len()).clamp(1, chunk.len());
        let n = self.stream.read(&mut chunk[..room])?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Waits for more bytes before `deadline`; `Stop::Quietly` when the client
    /// closed or the server stops, `on_timeout` when the deadline passes.
    fn more(&mut self, deadline: Instant, max_len: usize, on_timeout: Stop) -> Result<(), Stop> {
        loop {
            if self.shared.stopping() {
                return Err(Stop::Quietly);
            }
            if Instant::now() >= deadline {
                return Err(on_timeout);
            }
            match self.fill(max_len) {
                Ok(0) => return Err(Stop::Quietly),
                Ok(_) => return Ok(()),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => return Err(Stop::Quietly),
            }
        }
    }

    fn read_head(&mut self) -> Result<Head, Stop> {
        // An idle keep-alive connection may wait for its next request; once
        // the first byte is in, the whole head must follow in time.
        let mut deadline = Instant::now() + self.limits.idle_timeout;
        let mut started = !self.buf.is_empty();
        if started {
            deadline = Instant::now() + self.limits.header_timeout;
        }
        loop {
            if !self.buf.is_empty() {
                if let Some(head) = self.parse_head()? {
                    return Ok(head);
                }
                if !started {
                    started = true;
                    deadline = Instant::now() + self.limits.header_timeout;
                }
            }
            let timeout = if self.buf.is_empty() {
                Stop::Quietly
            } else {
                Stop::Refuse(TIMEOUT)
            };
            self.more(deadline, MAX_HEAD_BYTES, timeout)?;
        }
    }

    /// A complete head, `None` if more bytes are needed; the head's bytes are
    /// taken out of the buffer.
    fn parse_head(&mut self) -> Result<Option<Head>, Stop> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        let len = match parsed.parse(&self.buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => {
                let line_done = self.buf.contains(&b'\n');
                if !line_done && self.buf.len() > MAX_URL_BYTES + 32 {
                    return Err(URL_TOO_LONG.into());
                }
                if self.buf.len() >= MAX_HEAD_BYTES {
                    return Err(HEADERS_TOO_LARGE.into());
                }
                return Ok(None);
            }
            Err(httparse::Error::TooManyHeaders) => return Err(HEADERS_TOO_LARGE.into()),
            Err(_) => return Err(MALFORMED.into()),
        };
        let (Some(method), Some(target), Some(version)) =
            (parsed.method, parsed.path, parsed.version)
        else {
            return Err(MALFORMED.into());
        };
        if target.len() > MAX_URL_BYTES {
            return Err(URL_TOO_LONG.into());
        }
        let header_bytes: usize = parsed
            .headers
            .iter()
            .map(|h| h.name.len() + h.value.len() + 4)
            .sum();
        if header_bytes > MAX_HEADER_BYTES {
            return Err(HEADERS_TOO_LARGE.into());
        }
        let framing = framing::check(version, parsed.headers, MAX_BODY_BYTES)?;
        let head = Head {
            method: method.to_string(),
            target: target.to_string(),
            version,
            headers: parsed
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_string(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect(),
            framing,
        };
        self.buf.drain(..len);
        Ok(Some(head))
    }

    fn read_body(&mut self, head: &Head) -> Result<Vec<u8>, Stop> {
        let deadline = Instant::now() + self.limits.body_timeout;
        if head.framing.expect_continue && self.buf.is_empty() {
            self.stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .map_err(|_| Stop::Quietly)?;
        }
        match head.framing.body {
            Body::None => Ok(Vec::new()),
            Body::Length(n) => {
                let n = n as usize;
                while self.buf.len() < n {
                    self.more(deadline, n, Stop::Refuse(TIMEOUT))?;
                }
                Ok(self.buf.drain(..n).collect())
            }
            Body::Chunked => self.read_chunked(deadline),
        }
    }

    fn read_chunked(&mut self, deadline: Instant) -> Result<Vec<u8>, Stop> {
        let mut body = Vec::new();
        loop {
            let (consumed, size) = loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete(found)) => break found,
                    Ok(httparse::Status::Partial) if self.buf.len() < MAX_CHUNK_LINE => {
                        self.more(deadline, MAX_CHUNK_LINE, Stop::Refuse(TIMEOUT))?;
                    }
                    _ => return Err(BAD_CHUNK.into()),
                }
            };
            self.buf.drain(..consumed);
            if size == 0 {
                self.skip_trailers(deadline)?;
                return Ok(body);
            }
            if body.len() as u64 + size > MAX_BODY_BYTES {
                return Err(framing::TOO_LARGE.into());
            }
            let need = size as usize + 2;
            while self.buf.len() < need {
                self.more(deadline, need, Stop::Refuse(TIMEOUT))?;
            }
            if &self.buf[need - 2..need] != b"\r\n" {
                return Err(BAD_CHUNK.into());
            }
            body.extend_from_slice(&self.buf[..need - 2]);
            self.buf.drain(..need);
        }
    }

    /// Reads past the trailer section that ends a chunked body.
    fn skip_trailers(&mut self, deadline: Instant) -> Result<(), Stop> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let empty = end == 0;
                self.buf.drain(..end + 2);
                if empty {
                    return Ok(());
                }
                continue;
            }
            if self.buf.len() >= MAX_CHUNK_LINE {
                return Err(BAD_CHUNK.into());
            }
            self.more(deadline, MAX_CHUNK_LINE, Stop::Refuse(TIMEOUT))?;
        }
    }
}
