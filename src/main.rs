//! The `broker-lite` command line: `serve`, `fixtures load`, `token`.

use anyhow::Context;
use broker_lite::app::App;
use broker_lite::auth;
use broker_lite::base::config::{self, Config, S3Settings, StorageKind};
use broker_lite::db;
use broker_lite::tools::demo;
use broker_lite::tools::fixtures::{self, FixtureSource};
use clap::{Args, Parser, Subcommand, ValueEnum};
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
    #[command(subcommand)]
    command: Command,
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
    let mut logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    // The HTTP client logs request headers at debug level, and those carry
    // S3 request signatures: keep it (and rust-s3's retry warnings, which
    // print raw client errors) quiet whatever RUST_LOG says.
    for module in ["attohttpc", "rustls", "aws_creds", "s3"] {
        logger.filter_module(module, log::LevelFilter::Error);
    }
    logger.init();
    let cli = Cli::parse();
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
