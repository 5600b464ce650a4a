//! Application state and the server: `App::bind` opens the database, binds
//! the listener and picks the storage backend; `run` serves until stopped.

use crate::auth::SessionKeys;
use crate::config::{Config, StorageKind};
use crate::db::generation::requeue_running;
use crate::db::{self, Pool};
use crate::routes;
use crate::storage::{FileStore, links::LinkSigner, local::LocalStore, s3::S3Store};
use crate::worker::{Wake, spawn_workers};
use rouille::{Request, Response, Server};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// What every handler gets.
pub struct AppState {
    pub config: Arc<Config>,
    pub pool: Pool,
    pub storage: Arc<dyn FileStore>,
    /// The local backend, when it is the one in use (it serves `/v1/files/`).
    pub local: Option<Arc<LocalStore>>,
    /// Base URL of this server as clients reach it.
    pub public_url: String,
    /// Wakes the workers when a request queues work.
    pub wake: Wake,
    /// Set to shut down: the server stops accepting, workers stop at a safe point.
    pub stop: Arc<AtomicBool>,
    /// Checks session tokens (built once: the hot path of every route).
    pub session_keys: SessionKeys,
}

type Handler = Box<dyn Fn(&Request) -> Response + Send + Sync>;

/// A bound, not yet running server and its state.
pub struct App {
    server: Server<Handler>,
    pub state: Arc<AppState>,
}

impl App {
    /// Opens the database (applying the schema), binds `config.listen` and
    /// sets up storage.
    pub fn bind(config: Config) -> anyhow::Result<App> {
        config.validate()?;
        let pool_size = (config.http_threads + config.workers + 2) as u32;
        let pool = db::open_pool(&config.db_path, pool_size)?;
        let requeued = requeue_running(&*pool.get()?)?;
        if requeued > 0 {
            log::warn!("re-queued {requeued} generation task(s) a previous run left unfinished");
        }
        clean_scratch(&config.scratch_dir());
        let cell: Arc<OnceLock<Arc<AppState>>> = Arc::new(OnceLock::new());
        let handler_cell = Arc::clone(&cell);
        let handler: Handler = Box::new(move |req| match handler_cell.get() {
            Some(state) => routes::handle(req, state),
            None => crate::error::message_response(503, "Starting up"),
        });
        let server = Server::new(&config.listen, handler)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?
            .pool_size(config.http_threads);
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", server.server_addr()))
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
            stop: Arc::new(AtomicBool::new(false)),
            session_keys,
        });
        let _ = cell.set(Arc::clone(&state));
        Ok(App { server, state })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.server_addr()
    }

    /// Serves (and runs the workers) until `state.stop` is set, then stops
    /// accepting, waits for requests in flight and for each worker to reach
    /// a safe point (an interrupted generation is queued again).
    pub fn run(self) {
        let stop = Arc::clone(&self.state.stop);
        let workers = if self.state.config.run_workers {
            spawn_workers(&self.state, self.state.config.workers, &stop)
        } else {
            Vec::new()
        };
        while !stop.load(Ordering::SeqCst) {
            self.server.poll_timeout(Duration::from_millis(200));
        }
        self.server.join();
        drop(self.server);
        self.state.wake.notify();
        for worker in workers {
            let _ = worker.join();
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
