//! Tier 1: the SQLite database — pool, per-connection settings, schema
//! versions, and one module of plain-SQL functions per table.

pub mod columns;
pub mod file_generation;
pub mod jobs;
pub mod reference;
pub mod submissions;
pub mod tasks;
pub mod tokens;
pub mod upgrade;
pub mod users;
pub mod value_kinds;

use anyhow::Context;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

pub type Pool = r2d2::Pool<SqliteConnectionManager>;

/// The whole schema of a fresh database (older ones are upgraded step by step).
pub const SCHEMA: &str = include_str!("../../schema.sql");
pub use upgrade::{SCHEMA_VERSION, migrate};

/// Settings every connection needs (they are per connection in SQLite).
const CONNECTION_PRAGMAS: &str =
    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;";

/// Opens one connection with the per-connection settings.
pub fn open(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(path)
        .with_context(|| format!("cannot open database {}", path.display()))?;
    conn.execute_batch(CONNECTION_PRAGMAS)?;
    Ok(conn)
}

/// Opens (creating it if needed) a database in WAL mode with the schema applied.
pub fn open_migrated(path: &Path) -> anyhow::Result<Connection> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut conn = open(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        log::warn!("database journal mode is {mode}, not wal");
    }
    migrate(&mut conn)?;
    drop_stat4_samples(&conn)?;
    Ok(conn)
}

/// Drops ANALYZE's STAT4 samples, keeping `sqlite_stat1`. With samples
/// present SQLite re-prepares every statement whose bound values could change
/// its plan, on every new binding: that cost the status route a third of its
/// throughput (see BENCHMARKS.md).
pub fn drop_stat4_samples(conn: &Connection) -> rusqlite::Result<()> {
    let has_stat4: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat4')",
        [],
        |r| r.get(0),
    )?;
    if has_stat4 {
        conn.execute("DELETE FROM sqlite_stat4", [])?;
    }
    Ok(())
}

/// A read transaction for a request's queries: they see one snapshot, and
/// SQLite takes and drops its file locks once for all of them instead of
/// once per statement (under load, lock traffic was most of a read's cost).
/// `BEGIN` and `COMMIT` come from the statement cache, not parsed each time.
/// It must not write; dropping it ends the transaction.
pub struct ReadSnapshot<'c> {
    conn: &'c Connection,
}

impl<'c> ReadSnapshot<'c> {
    pub fn begin(conn: &'c Connection) -> rusqlite::Result<ReadSnapshot<'c>> {
        conn.prepare_cached("BEGIN DEFERRED")?.execute([])?;
        Ok(ReadSnapshot { conn })
    }
}

impl std::ops::Deref for ReadSnapshot<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for ReadSnapshot<'_> {
    fn drop(&mut self) {
        let ended = self
            .conn
            .prepare_cached("COMMIT")
            .and_then(|mut stmt| stmt.execute([]));
        if ended.is_err() && !self.conn.is_autocommit() {
            // Never hand a connection back to the pool inside a transaction.
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                log::error!("cannot end a read transaction: {e}");
            }
        }
    }
}

/// Opens the pool, switches the database to WAL and applies the schema.
pub fn open_pool(path: &Path, size: u32) -> anyhow::Result<Pool> {
    drop(open_migrated(path)?);
    let manager = SqliteConnectionManager::file(path).with_init(|conn| {
        // Room for every statement the routes and the worker prepare.
        conn.set_prepared_statement_cache_capacity(64);
        conn.execute_batch(CONNECTION_PRAGMAS)
    });
    r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        // A checkout test would run a statement per request for nothing:
        // a broken SQLite connection fails its next query anyway.
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(30))
        .build(manager)
        .context("cannot open the database pool")
}

#[cfg(test)]
pub(crate) fn in_memory() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(CONNECTION_PRAGMAS).unwrap();
    migrate(&mut conn).unwrap();
    conn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_leaves_trailing_nulls_out_and_every_value_reads_back() {
        // `.cargo/config.toml` builds SQLite with ENABLE_NULL_TRIM.
        let conn = in_memory();
        let options: Vec<String> = conn
            .prepare("PRAGMA compile_options")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            options.iter().any(|o| o == "ENABLE_NULL_TRIM"),
            "{options:?}"
        );
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT DEFAULT 'dflt', c TEXT, d TEXT);
             INSERT INTO t (id, a, b) VALUES (1, 'x', NULL);
             INSERT INTO t (id, a) VALUES (2, 'y');
             ALTER TABLE t ADD COLUMN e TEXT NOT NULL DEFAULT 'added';
             INSERT INTO t (id, a, b, c) VALUES (3, 'z', 'set', NULL);",
        )
        .unwrap();
        let rows: Vec<String> = conn
            .prepare("SELECT quote(id), quote(a), quote(b), quote(c), quote(e) FROM t ORDER BY id")
            .unwrap()
            .query_map([], |r| {
                (0..5)
                    .map(|i| r.get::<_, String>(i))
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map(|v| v.join(" "))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            rows,
            [
                "1 'x' NULL NULL 'added'",
                "2 'y' 'dflt' NULL 'added'",
                "3 'z' 'set' NULL 'added'",
            ]
        );
    }

    #[test]
    fn schema_applies_twice_and_records_its_version() {
        let mut conn = in_memory();
        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }
}
