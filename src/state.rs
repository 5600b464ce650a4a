//! Tier 2: what every handler and worker gets — the configuration, the
//! database pool, the storage backend, the session keys and login guards, and
//! the signals between requests and workers.

use crate::auth::SessionKeys;
use crate::auth::password::PasswordChecker;
use crate::auth::throttle::LoginThrottle;
use crate::base::config::Config;
use crate::base::metrics::Metrics;
use crate::db::Pool;
use crate::http;
use crate::storage::FileStore;
use crate::storage::local::LocalStore;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// What every handler and worker gets.
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
    /// Checks login passwords with bounded concurrency and memory.
    pub passwords: PasswordChecker,
    /// Back-off after failed logins.
    pub login_throttle: LoginThrottle,
    /// The HTTP front end's counters (open connections, accept trouble).
    pub http: Arc<http::Shared>,
    /// Request and generation counters for `GET /metrics`.
    pub metrics: Metrics,
}

/// Wakes sleeping workers when work is queued.
#[derive(Default)]
pub struct Wake {
    queued: Mutex<u64>,
    signal: Condvar,
}

impl Wake {
    pub fn notify(&self) {
        if let Ok(mut n) = self.queued.lock() {
            *n += 1;
        }
        self.signal.notify_all();
    }

    /// Waits for a notification newer than `seen`, at most `timeout`.
    pub fn wait(&self, seen: &mut u64, timeout: Duration) {
        let Ok(guard) = self.queued.lock() else {
            return;
        };
        if *guard == *seen {
            let _ = self
                .signal
                .wait_timeout(guard, timeout)
                .map(|(g, _)| *seen = *g);
        } else {
            *seen = *guard;
        }
    }
}
