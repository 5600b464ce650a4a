//! The HTTP/1.1 front end: broker-lite's own accept loop and connection
//! handling in front of the rouille handler.
//!
//! rouille's server hands connections to tiny_http, whose connection layer
//! cannot be made safe by settings: it allocates an unread body's declared
//! length on drop, has no read or write deadlines, lets its accept thread die
//! on EMFILE, reads a header line whole before checking its size, and takes
//! ambiguous framing. So broker-lite owns the socket: a connection cap,
//! accept errors backed off and never fatal, a bounded head parsed by
//! `httparse`, strict framing (`framing`), deadlines on every read and write,
//! and only then a complete, validated request handed to the application as a
//! `rouille::Request`. Handlers run under a fixed number of permits, so slow
//! or idle clients can hold a connection but never a handler.

mod conn;
pub mod framing;
mod respond;

pub use conn::{MAX_BODY_BYTES, MAX_HEADER_BYTES, MAX_URL_BYTES};

use crate::base::config::HttpLimits as Limits;
use rouille::{Request, Response};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The application: one request in, one response out.
pub type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// A counting semaphore (std has none).
struct Permits {
    free: Mutex<usize>,
    freed: Condvar,
}

struct Permit<'a>(&'a Permits);

impl Permits {
    fn new(n: usize) -> Permits {
        Permits {
            free: Mutex::new(n.max(1)),
            freed: Condvar::new(),
        }
    }

    fn acquire(&self) -> Permit<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Permit(self)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

/// State shared by the accept loop and the connections.
pub struct Shared {
    limits: Limits,
    stop: Arc<AtomicBool>,
    active: AtomicUsize,
    permits: Permits,
    /// Set while `accept` fails (file descriptors exhausted, say).
    accept_failing: AtomicBool,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Whether the listener's last `accept` failed.
    pub fn accept_failing(&self) -> bool {
        self.accept_failing.load(Ordering::SeqCst)
    }
}

/// Counts a connection as open until dropped.
struct Open<'a>(&'a AtomicUsize);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A bound listener, not yet accepting.
pub struct HttpServer {
    listener: TcpListener,
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl HttpServer {
    /// Binds `addr`; `stop` ends [`HttpServer::run`].
    pub fn bind(addr: &str, limits: Limits, stop: Arc<AtomicBool>) -> std::io::Result<HttpServer> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let permits = Permits::new(limits.handler_threads);
        Ok(HttpServer {
            listener,
            addr,
            shared: Arc::new(Shared {
                limits,
                stop,
                active: AtomicUsize::new(0),
                permits,
                accept_failing: AtomicBool::new(false),
            }),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// Accepts and serves until the stop flag is set; then stops accepting
    /// (the port refuses connections) and gives open connections the grace
    /// period to finish. Returns when it stopped accepting.
    pub fn run(self, handler: Arc<Handler>) -> Instant {
        let waker = self.spawn_waker();
        let mut last_error_log: Option<Instant> = None;
        while !self.shared.stopping() {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    self.shared.accept_failing.store(false, Ordering::SeqCst);
                    if self.shared.stopping() {
                        break;
                    }
                    self.start_connection(stream, peer, &handler);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => {}
                Err(e) => {
                    // EMFILE and friends: the listener stays; try again shortly.
                    self.shared.accept_failing.store(true, Ordering::SeqCst);
                    if last_error_log.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                        log::error!("cannot accept connections ({e}); retrying");
                        last_error_log = Some(Instant::now());
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        drop(self.listener);
        let stopped_at = Instant::now();
        let deadline = stopped_at + self.shared.limits.shutdown_grace;
        while self.shared.open_connections() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let left = self.shared.open_connections();
        if left > 0 {
            log::warn!("{left} connection(s) still open after the shutdown grace period; closing");
        }
        let _ = waker.join();
        stopped_at
    }

    fn start_connection(&self, stream: TcpStream, peer: SocketAddr, handler: &Arc<Handler>) {
        let open = self.shared.active.fetch_add(1, Ordering::SeqCst) + 1;
        if open > self.shared.limits.max_connections {
            self.shared.active.fetch_sub(1, Ordering::SeqCst);
            refuse_busy(stream);
            return;
        }
        let (shared, handler) = (Arc::clone(&self.shared), Arc::clone(handler));
        let spawned = std::thread::Builder::new()
            .name("http-conn".into())
            .stack_size(1024 * 1024)
            .spawn(move || {
                let _open = Open(&shared.active);
                match conn::Conn::new(stream, peer, &shared) {
                    Ok(conn) => conn.serve(&*handler),
                    Err(e) => log::debug!("cannot set up a connection: {e}"),
                }
            });
        if let Err(e) = spawned {
            // The closure (and its stream) is gone; count it closed.
            self.shared.active.fetch_sub(1, Ordering::SeqCst);
            log::error!("cannot start a connection thread: {e}");
        }
    }

    /// Wakes the blocking `accept` once the stop flag is set.
    fn spawn_waker(&self) -> std::thread::JoinHandle<()> {
        let shared = Arc::clone(&self.shared);
        let mut target = self.addr;
        if target.ip().is_unspecified() {
            target.set_ip(match target {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        std::thread::Builder::new()
            .name("http-waker".into())
            .spawn(move || {
                while !shared.stopping() {
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = TcpStream::connect_timeout(&target, Duration::from_secs(1));
            })
            .expect("cannot start the accept waker thread")
    }
}

/// Answers 503 without waiting on the client, then closes.
fn refuse_busy(stream: TcpStream) {
    let body = br#"{"message":"The server is busy; try again shortly"}"#;
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if stream.set_nonblocking(true).is_ok() {
        let mut stream = &stream;
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
    }
}
