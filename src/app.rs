//! Tier 5: the wiring. `App::bind` opens the database, binds the listener
//! and picks the storage backend; `run` serves through the HTTP front end
//! with the routes and runs the workers until stopped.

use crate::auth::SessionKeys;
use crate::auth::password::PasswordChecker;
use crate::auth::throttle::LoginThrottle;
use crate::base::config::{Config, StorageKind};
use crate::db::{self, tasks::requeue_running};
use crate::http::{self, HttpServer};
use crate::state::{AppState, Wake};
use crate::storage::{FileStore, links::LinkSigner, local::LocalStore, s3::S3Store};
use crate::web;
use crate::worker::spawn_workers;
use rouille::{Request, Response};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A bound, not yet running server and its state.
pub struct App {
    server: HttpServer,
    handler: Arc<http::Handler>,
    pub state: Arc<AppState>,
}

impl App {
    /// Opens the database (applying the schema), binds `config.listen` and
    /// sets up storage.
    pub fn bind(config: Config) -> anyhow::Result<App> {
        config.validate()?;
        let mut config = config;
        config.http.max_connections = connection_cap(config.http.max_connections);
        let pool_size = (config.http.handler_threads + config.workers + 2) as u32;
        let pool = db::open_pool(&config.db_path, pool_size)?;
        let requeued = requeue_running(&*pool.get()?)?;
        if requeued > 0 {
            log::warn!("re-queued {requeued} generation task(s) a previous run left unfinished");
        }
        clean_scratch(&config.scratch_dir());
        let cell: Arc<OnceLock<Arc<AppState>>> = Arc::new(OnceLock::new());
        let handler_cell = Arc::clone(&cell);
        let handler: Arc<http::Handler> = Arc::new(move |req: &Request| -> Response {
            match handler_cell.get() {
                Some(state) => web::handle(req, state),
                None => crate::base::error::message_response(503, "Starting up"),
            }
        });
        let stop = Arc::new(AtomicBool::new(false));
        let server = HttpServer::bind(&config.listen, config.http.clone(), Arc::clone(&stop))
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", server.addr()))
            .trim_end_matches('/')
            .to_string();
        let (storage, local): (Arc<dyn FileStore>, _) = match config.storage {
            StorageKind::Local => {
                let signer = LinkSigner::new(config.secret.expose());
                let local = Arc::new(LocalStore::new(config.files_dir(), &public_url, signer)?);
                (local.clone(), Some(local))
            }
            StorageKind::S3 => {
                let settings = config.s3.as_ref().ok_or_else(|| {
                    anyhow::anyhow!("--storage s3 needs the BROKER_S3_* settings")
                })?;
                let store = Arc::new(S3Store::new(settings)?);
                probe_s3(Arc::clone(&store));
                (store as Arc<dyn FileStore>, None)
            }
        };
        let session_keys = SessionKeys::new(&config.secret);
        let state = Arc::new(AppState {
            config: Arc::new(config),
            pool,
            storage,
            local,
            public_url,
            wake: Wake::default(),
            stop,
            session_keys,
            passwords: PasswordChecker::default(),
            login_throttle: LoginThrottle::default(),
            http: server.shared(),
            metrics: Default::default(),
        });
        let _ = cell.set(Arc::clone(&state));
        Ok(App {
            server,
            handler,
            state,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Serves (and runs the workers) until `state.stop` is set, then stops
    /// accepting, lets open connections finish and each worker reach a safe
    /// point (an interrupted generation is queued again), all within the
    /// shutdown grace period: a client that never finishes its request
    /// cannot keep the process alive.
    pub fn run(self) {
        let stop = Arc::clone(&self.state.stop);
        let workers = if self.state.config.run_workers {
            spawn_workers(&self.state, self.state.config.workers, &stop)
        } else {
            Vec::new()
        };
        let stopped_at = self.server.run(self.handler);
        self.state.wake.notify();
        let deadline = stopped_at + self.state.config.http.shutdown_grace;
        while workers.iter().any(|w| !w.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        for worker in workers {
            if worker.is_finished() {
                let _ = worker.join();
            } else {
                log::warn!(
                    "a worker did not stop within the grace period; its task is queued again at the next start"
                );
            }
        }
    }

    /// Serves on a background thread; dropping the handle stops the server.
    pub fn spawn(self) -> RunningApp {
        let addr = self.addr();
        let state = Arc::clone(&self.state);
        let stop = Arc::clone(&self.state.stop);
        let thread = std::thread::Builder::new()
            .name("http".into())
            .spawn(move || self.run())
            .expect("cannot start the server thread");
        RunningApp {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }
}

/// A server running on a background thread (used by tests and tools).
pub struct RunningApp {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The connection cap, lowered to leave file descriptors for the database,
/// the files being written and the logs when the open-files limit is low.
fn connection_cap(wanted: usize) -> usize {
    match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok((soft, _)) => {
            let room = usize::try_from(soft.saturating_sub(128)).unwrap_or(usize::MAX);
            wanted.min(room.max(16))
        }
        Err(_) => wanted,
    }
}

/// Removes what a previous run left half-written in the scratch folder.
fn clean_scratch(dir: &std::path::Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Checks the S3 bucket in the background: an unreachable bucket is logged
/// loudly, and the service keeps answering (statuses come from SQLite).
fn probe_s3(store: Arc<S3Store>) {
    let spawned = std::thread::Builder::new()
        .name("s3-probe".into())
        .spawn(move || match store.check() {
            Ok(()) => log::info!("S3 storage is reachable"),
            Err(err) => log::error!(
                "{err:#}; the service keeps answering, but generations will fail until S3 is usable"
            ),
        });
    if let Err(err) = spawned {
        log::warn!("cannot start the S3 check: {err}");
    }
}
