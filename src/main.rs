//! The `broker-lite` command line: `serve`, `fixtures`, `token`, `backup`,
//! `prune`.

use anyhow::Context;
use broker_lite::app::App;
use broker_lite::auth;
use broker_lite::base::config::{self, Config, S3Settings, StorageKind};
use broker_lite::base::util::unix_now;
use broker_lite::db;
use broker_lite::storage::FileStore;
use broker_lite::storage::links::LinkSigner;
use broker_lite::storage::local::LocalStore;
use broker_lite::storage::s3::S3Store;
use broker_lite::tools::demo;
use broker_lite::tools::fixtures::{self, FixtureSource};
use broker_lite::tools::operations;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "broker-lite",
    version,
    about = "The DATA Act Broker's file generation in one binary"
)]
struct Cli {
    /// Log lines as text, or as one JSON object per line.
    #[arg(
        long,
        global = true,
        env = "BROKER_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Sets up logging (`RUST_LOG`, default info). JSON lines carry `time`,
/// `level`, `target` and `message`, and a request line also `method`,
/// `path`, `status` and `ms`; both formats log the same lines, so the same
/// secrecy rules hold (no token, password or link signature is ever logged).
fn init_logging(format: LogFormat) {
    let mut logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    // The HTTP client logs request headers at debug level, and those carry
    // S3 request signatures: keep it (and rust-s3's retry warnings, which
    // print raw client errors) quiet whatever RUST_LOG says.
    for module in ["attohttpc", "rustls", "aws_creds", "s3"] {
        logger.filter_module(module, log::LevelFilter::Error);
    }
    if format == LogFormat::Json {
        logger.format(|out, record| {
            let mut line = serde_json::Map::new();
            let time = time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            line.insert("time".into(), time.into());
            line.insert("level".into(), record.level().as_str().into());
            line.insert("target".into(), record.target().into());
            line.insert("message".into(), record.args().to_string().into());
            let mut fields = JsonFields(&mut line);
            let _ = record.key_values().visit(&mut fields);
            writeln!(out, "{}", serde_json::Value::Object(line))
        });
    }
    logger.init();
}

/// Copies a log record's key-value pairs into a JSON line.
struct JsonFields<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl<'kvs> log::kv::VisitSource<'kvs> for JsonFields<'_> {
    fn visit_pair(
        &mut self,
        key: log::kv::Key<'kvs>,
        value: log::kv::Value<'kvs>,
    ) -> Result<(), log::kv::Error> {
        let json = if let Some(n) = value.to_u64() {
            n.into()
        } else if let Some(n) = value.to_i64() {
            n.into()
        } else {
            value.to_string().into()
        };
        self.0.insert(key.as_str().to_string(), json);
        Ok(())
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service and its worker.
    Serve(ServeArgs),
    /// Manage fixture data.
    Fixtures {
        #[command(subcommand)]
        command: FixturesCommand,
    },
    /// Print a session token for a user.
    Token(TokenArgs),
    /// Copy the database, the local files and the secret key into a new
    /// folder, safely while `serve` runs; `serve --data-dir` on it restores.
    Backup(BackupArgs),
    /// Remove generated files that no job and no cached generation points at.
    Prune(PruneArgs),
}

#[derive(Args)]
struct BackupArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Folder to create (or an empty one) for the backup.
    #[arg(long)]
    to: PathBuf,
    /// Where generated files are kept (with s3 they stay in the bucket).
    #[arg(long, env = "BROKER_STORAGE", value_enum, default_value = "local")]
    storage: StorageArg,
}

#[derive(Args)]
struct PruneArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Print what would be removed; remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// Keep unreferenced files younger than this many seconds (a generation
    /// may have stored one and not recorded it yet).
    #[arg(long, default_value_t = operations::PRUNE_GRACE_SECS)]
    min_age: u64,
    /// Where generated files are kept.
    #[arg(long, env = "BROKER_STORAGE", value_enum, default_value = "local")]
    storage: StorageArg,
}

#[derive(Subcommand)]
enum FixturesCommand {
    /// Load fixture files into the database, all or nothing.
    Load {
        #[command(flatten)]
        db: DbArgs,
        /// Fixture JSON files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Fill the database with deterministic synthetic data (benchmarks, load).
    Synth {
        #[command(flatten)]
        db: DbArgs,
        /// D1 rows to create (D2 gets half as many, SAM a hundredth, subawards a tenth).
        #[arg(long)]
        rows: u64,
        /// TAS to create GTAS data for (40 SF-133 lines each in the 12
        /// periods of fiscal year 2020, failed edits, BOC balances, a
        /// published File B).
        #[arg(long, default_value_t = 2000)]
        tas: u64,
        /// Seed of the generator: the same seed gives the same rows.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Args)]
struct DbArgs {
    /// Folder for the database, the secret key and local files.
    #[arg(long, env = "BROKER_DATA_DIR", default_value = config::DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// SQLite database file [default: <data-dir>/broker.db].
    #[arg(long, env = "BROKER_DB")]
    db: Option<PathBuf>,
}

impl DbArgs {
    fn db_path(&self) -> PathBuf {
        self.db
            .clone()
            .unwrap_or_else(|| config::default_db_path(&self.data_dir))
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum StorageArg {
    Local,
    S3,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "BROKER_LISTEN", default_value = config::DEFAULT_LISTEN)]
    listen: String,
    /// Base URL of local download links [default: http://<listen>].
    #[arg(long, env = "BROKER_PUBLIC_URL")]
    public_url: Option<String>,
    /// Where generated files are kept.
    #[arg(long, env = "BROKER_STORAGE", value_enum, default_value = "local")]
    storage: StorageArg,
    /// Generation worker threads.
    #[arg(long, env = "BROKER_WORKERS", default_value_t = config::DEFAULT_WORKERS)]
    workers: usize,
    /// Lifetime of download links, in seconds.
    #[arg(long, env = "BROKER_URL_TTL", default_value_t = config::DEFAULT_URL_TTL)]
    url_ttl: u64,
    /// Allowed browser origin (repeatable) [default: *].
    #[arg(
        long = "cors-origin",
        env = "BROKER_CORS_ORIGINS",
        value_delimiter = ','
    )]
    cors_origins: Vec<String>,
    /// First retry delay of a failed generation, in seconds (later ones triple it).
    #[arg(long, env = "BROKER_RETRY_BACKOFF", default_value_t = config::DEFAULT_RETRY_BACKOFF_SECS)]
    retry_backoff: u64,
    /// Load the demo data into a fresh database.
    #[arg(long)]
    demo: bool,
}

#[derive(Args)]
struct TokenArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Email of the user.
    #[arg(long)]
    user: String,
    /// Lifetime of the token, in seconds.
    #[arg(long, default_value_t = config::SESSION_TTL_SECS)]
    ttl: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Fixtures {
            command: FixturesCommand::Load { db, files },
        } => load_fixtures(db, files),
        Command::Fixtures {
            command:
                FixturesCommand::Synth {
                    db,
                    rows,
                    tas,
                    seed,
                },
        } => db::open_migrated(&db.db_path())
            .and_then(|mut conn| broker_lite::tools::synth::synthesize(&mut conn, rows, tas, seed)),
        Command::Token(args) => token(args),
        Command::Backup(args) => backup(args),
        Command::Prune(args) => prune(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("broker-lite: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Every connection costs a file descriptor: take what the hard limit allows.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => log::debug!("open-files limit: {limit}"),
        Err(e) => log::warn!("cannot raise the open-files limit: {e}"),
    }
    let secret = config::load_secret(&args.db.data_dir)?;
    let storage = match args.storage {
        StorageArg::Local => StorageKind::Local,
        StorageArg::S3 => StorageKind::S3,
    };
    let s3 = match storage {
        StorageKind::S3 => Some(S3Settings::from_env()?),
        StorageKind::Local => None,
    };
    let mut config = Config::local(&args.db.data_dir, secret);
    config.db_path = args.db.db_path();
    config.listen = args.listen;
    config.public_url = args.public_url;
    config.storage = storage;
    config.s3 = s3;
    config.workers = args.workers;
    config.url_ttl = args.url_ttl;
    config.retry_backoff_secs = args.retry_backoff;
    if !args.cors_origins.is_empty() {
        config.cors_origins = args.cors_origins;
    }
    let app = App::bind(config)?;
    if args.demo {
        let st = &app.state;
        let mut conn = db::open(&st.config.db_path)?;
        if demo::load_demo(&mut conn, st.storage.as_ref(), &st.config.scratch_dir())? {
            log::info!("demo data loaded; see README.md for the demo users");
        } else {
            log::info!("the database already has users: demo data not loaded");
        }
    }
    log::info!(
        "broker-lite listening on http://{} (links: {})",
        app.addr(),
        app.state.public_url
    );
    // SIGTERM/SIGINT: stop accepting, let workers reach a safe point, exit.
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&app.state.stop))
            .context("cannot install the signal handlers")?;
    }
    app.run();
    log::info!("broker-lite stopped");
    Ok(())
}

fn load_fixtures(args: DbArgs, files: Vec<PathBuf>) -> anyhow::Result<()> {
    let texts = files
        .iter()
        .map(|path| {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
        })
        .collect::<anyhow::Result<Vec<String>>>()?;
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let sources: Vec<FixtureSource<'_>> = names
        .iter()
        .zip(&texts)
        .map(|(name, text)| FixtureSource { name, text })
        .collect();
    let mut conn = db::open_migrated(&args.db_path())?;
    let report = fixtures::load(&mut conn, &sources)?;
    for (table, rows) in report {
        println!("{table}: {rows} rows");
    }
    Ok(())
}

fn token(args: TokenArgs) -> anyhow::Result<()> {
    let secret = config::load_secret(&args.db.data_dir)?;
    let conn = db::open_migrated(&args.db.db_path())?;
    let user = db::users::find_user_by_email(&conn, &args.user)?
        .with_context(|| format!("no user with email {}", args.user))?;
    let (token, _) = auth::mint_token(&secret, user.user_id, args.ttl)?;
    println!("{token}");
    Ok(())
}

fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let db_path = args.db.db_path();
    anyhow::ensure!(
        db_path.exists(),
        "there is no database at {}",
        db_path.display()
    );
    let secret = config::load_secret(&args.db.data_dir)?;
    let files_dir = match args.storage {
        StorageArg::Local => Some(args.db.data_dir.join("files")),
        StorageArg::S3 => None,
    };
    let report = operations::backup(&db_path, files_dir.as_deref(), &secret, &args.to)?;
    println!(
        "backup written to {}: database {} bytes, {} files ({} bytes), secret key",
        args.to.display(),
        report.database_bytes,
        report.files,
        report.file_bytes
    );
    if files_dir.is_none() {
        println!("generated files stay in the S3 bucket");
    }
    Ok(())
}

fn prune(args: PruneArgs) -> anyhow::Result<()> {
    let conn = db::open_migrated(&args.db.db_path())?;
    let store: Box<dyn FileStore> = match args.storage {
        // Pruning signs no links: the store gets a throwaway link key.
        StorageArg::Local => Box::new(LocalStore::new(
            args.db.data_dir.join("files"),
            "http://127.0.0.1",
            LinkSigner::new(&broker_lite::base::util::random_hex(16)),
        )?),
        StorageArg::S3 => Box::new(S3Store::new(&S3Settings::from_env()?)?),
    };
    let report = operations::prune(
        &conn,
        store.as_ref(),
        args.dry_run,
        args.min_age,
        unix_now(),
    )?;
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for object in &report.removed {
        println!("{verb} {} ({} bytes)", object.key, object.bytes);
    }
    println!(
        "{verb} {} files, {} bytes{}",
        report.removed.len(),
        report.bytes(),
        if args.dry_run { "" } else { " freed" }
    );
    if report.kept_young > 0 {
        println!(
            "kept {} unreferenced files younger than {} seconds (a generation may be storing them)",
            report.kept_young, args.min_age
        );
    }
    Ok(())
}
