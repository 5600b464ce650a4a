//! Runtime configuration: one plain struct, its defaults, the secret key and
//! the S3 settings. `main.rs` fills it from flags and `BROKER_*` variables.

use anyhow::{Context, bail};
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default `--url-ttl`: the broker's S3 link lifetime.
pub const DEFAULT_URL_TTL: u64 = 60;
/// Default `--workers`.
pub const DEFAULT_WORKERS: usize = 2;
/// Default `--listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default `--retry-backoff`: first retry delay of a failed generation.
pub const DEFAULT_RETRY_BACKOFF_SECS: u64 = 5;
/// Default `--data-dir`.
pub const DEFAULT_DATA_DIR: &str = "./broker-data";
/// Lifetime of a session token from `/v1/login/` (and the `token` default).
pub const SESSION_TTL_SECS: u64 = 24 * 3600;
/// Requests handled at once.
pub const HTTP_THREADS: usize = 8;

/// Deadlines and caps of the HTTP front end (`http`).
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Open connections at most; more are answered 503 and closed.
    pub max_connections: usize,
    /// Requests handled at once (handler permits).
    pub handler_threads: usize,
    /// How long an open connection may wait for its next request.
    pub idle_timeout: Duration,
    /// How long a request head may take once its first byte arrived.
    pub header_timeout: Duration,
    /// How long a request body may take once its head arrived.
    pub body_timeout: Duration,
    /// How long one write may wait for a client that does not read.
    pub write_timeout: Duration,
    /// How long a stopping server waits for connections and workers.
    pub shutdown_grace: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: 1024,
            handler_threads: HTTP_THREADS,
            idle_timeout: Duration::from_secs(15),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// A secret string whose `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Where generated files are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    Local,
    S3,
}

/// The S3 backend's settings (`BROKER_S3_*`, `AWS_*`).
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    pub region: String,
    pub endpoint: Option<String>,
    pub access_key: String,
    pub secret_key: Secret,
}

impl S3Settings {
    /// Reads the settings from the environment; a missing one is named.
    pub fn from_env() -> anyhow::Result<S3Settings> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let required = |name: &str| {
            var(name).with_context(|| format!("{name} must be set when --storage is s3"))
        };
        Ok(S3Settings {
            bucket: required("BROKER_S3_BUCKET")?,
            region: var("BROKER_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
            endpoint: var("BROKER_S3_ENDPOINT"),
            access_key: required("AWS_ACCESS_KEY_ID")?,
            secret_key: Secret::new(required("AWS_SECRET_ACCESS_KEY")?),
        })
    }
}

/// Everything `serve` needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub db_path: PathBuf,
    pub listen: String,
    /// Base of local download links; `None` means `http://<bound address>`.
    pub public_url: Option<String>,
    pub storage: StorageKind,
    pub s3: Option<S3Settings>,
    pub workers: usize,
    pub url_ttl: u64,
    pub cors_origins: Vec<String>,
    pub secret: Secret,
    pub http: HttpLimits,
    /// Start the worker threads with the server (tests drain the queue themselves).
    pub run_workers: bool,
    /// First retry delay of a failed task; later ones triple it.
    pub retry_backoff_secs: u64,
}

/// The database of a data dir when `--db` is not given.
pub fn default_db_path(data_dir: &Path) -> PathBuf {
    data_dir.join("broker.db")
}

impl Config {
    /// Defaults for a data dir with local storage, given the secret.
    pub fn local(data_dir: &Path, secret: Secret) -> Config {
        Config {
            data_dir: data_dir.to_path_buf(),
            db_path: default_db_path(data_dir),
            listen: DEFAULT_LISTEN.into(),
            public_url: None,
            storage: StorageKind::Local,
            s3: None,
            workers: DEFAULT_WORKERS,
            url_ttl: DEFAULT_URL_TTL,
            cors_origins: vec!["*".into()],
            secret,
            http: HttpLimits::default(),
            run_workers: true,
            retry_backoff_secs: DEFAULT_RETRY_BACKOFF_SECS,
        }
    }

    /// Checks the values a user can get wrong, with a readable message.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.workers == 0 || self.workers > 64 {
            bail!("--workers must be between 1 and 64");
        }
        if self.url_ttl == 0 || self.url_ttl > 7 * 24 * 3600 {
            bail!("--url-ttl must be between 1 and 604800 seconds (S3's limit)");
        }
        if self.storage == StorageKind::S3 && self.s3.is_none() {
            bail!("--storage s3 needs the BROKER_S3_* settings");
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!("--public-url must start with http:// or https://");
        }
        if self.cors_origins.iter().any(|o| o.trim().is_empty()) {
            bail!("--cors-origin must not be empty");
        }
        Ok(())
    }

    /// Folder for files being generated (emptied at start).
    pub fn scratch_dir(&self) -> PathBuf {
        self.data_dir.join("tmp")
    }

    /// Folder of the local storage backend.
    pub fn files_dir(&self) -> PathBuf {
        self.data_dir.join("files")
    }
}

/// The secret from `BROKER_SECRET_KEY`, else `<data-dir>/secret.key`, created
/// once (mode 0600) with 32 random bytes.
pub fn load_secret(data_dir: &Path) -> anyhow::Result<Secret> {
    if let Ok(value) = std::env::var("BROKER_SECRET_KEY")
        && !value.is_empty()
    {
        return Ok(Secret::new(value));
    }
    let path = data_dir.join("secret.key");
    match fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(Secret::new(text.trim())),
        Ok(_) => bail!("{} is empty; delete it to create a new key", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let key = hex::encode(bytes);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(key.as_bytes())?;
            file.sync_all()?;
            Ok(Secret::new(key))
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_secret(data_dir),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_key_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_secret(dir.path()).unwrap();
        let second = load_secret(dir.path()).unwrap();
        assert_eq!(first.expose(), second.expose());
        assert_eq!(first.expose().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("secret.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn debug_output_hides_secrets() {
        let config = Config::local(Path::new("/tmp/x"), Secret::new("hunter2-key"));
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
