//! Running broker-lite for years on one host: `backup` (a consistent copy of
//! the database, the local files and the secret key, safe while `serve`
//! runs) and `prune` (generated files nothing points at any more).

use crate::base::config::Secret;
use crate::base::util::random_hex;
use crate::storage::local::stored_files;
use crate::storage::{FileStore, StoredObject, is_generated_key};
use anyhow::{Context, bail};
use rusqlite::Connection;
use rusqlite::backup::{Backup, StepResult};
use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub database_bytes: u64,
    pub files: u64,
    pub file_bytes: u64,
}

/// Copies the database (one consistent snapshot, through SQLite's online
/// backup), the local files folder (`files_dir`, none with S3 storage) and
/// the secret key into `to`, which must be missing or an empty folder.
/// Everything is written into a hidden folder beside `to` and renamed into
/// place at the end: a backup that fails leaves nothing that looks whole.
pub fn backup(
    db_path: &Path,
    files_dir: Option<&Path>,
    secret: &Secret,
    to: &Path,
) -> anyhow::Result<BackupReport> {
    match fs::symlink_metadata(to) {
        Ok(meta) if !meta.is_dir() => {
            bail!("{} exists and is not a folder", to.display())
        }
        Ok(_) => {
            let mut entries = fs::read_dir(to)
                .with_context(|| format!("cannot read the folder {}", to.display()))?;
            if entries.next().is_some() {
                bail!(
                    "{} is not empty: a backup goes into a new or empty folder",
                    to.display()
                );
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot use {}", to.display())),
    }
    let name = to
        .file_name()
        .with_context(|| format!("{} has no folder name", to.display()))?;
    let parent = match to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create the folder {}", parent.display()))?;
    let staging = parent.join(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        random_hex(6)
    ));
    fs::create_dir(&staging).with_context(|| {
        format!(
            "cannot write in {}: the backup needs a writable folder",
            parent.display()
        )
    })?;
    let result = write_backup(db_path, files_dir, secret, &staging).and_then(|report| {
        if to.exists() {
            // An empty folder: rename replaces it.
            fs::rename(&staging, to).or_else(|_| {
                fs::remove_dir(to)?;
                fs::rename(&staging, to)
            })
        } else {
            fs::rename(&staging, to)
        }
        .with_context(|| format!("cannot move the backup into {}", to.display()))?;
        sync_dir(&parent);
        Ok(report)
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result
}

fn write_backup(
    db_path: &Path,
    files_dir: Option<&Path>,
    secret: &Secret,
    staging: &Path,
) -> anyhow::Result<BackupReport> {
    let target_db = staging.join("broker.db");
    {
        let source = crate::db::open(db_path)?;
        let mut target = Connection::open(&target_db)
            .with_context(|| format!("cannot create {}", target_db.display()))?;
        let copy = Backup::new(&source, &mut target).context("cannot start the database backup")?;
        // All pages in one step: one read snapshot, so the copy is the
        // database at one moment (writers go on in the WAL meanwhile).
        loop {
            match copy.step(-1).context("the database backup failed")? {
                StepResult::Done => break,
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
    fs::File::open(&target_db)
        .and_then(|f| f.sync_all())
        .context("cannot sync the database copy")?;
    let database_bytes = fs::metadata(&target_db)?.len();

    let (mut files, mut file_bytes) = (0u64, 0u64);
    if let Some(files_dir) = files_dir.filter(|d| d.exists()) {
        let target_files = staging.join("files");
        for object in stored_files(files_dir)? {
            let target = target_files.join(&object.key);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)?;
            }
            file_bytes += fs::copy(files_dir.join(&object.key), &target)
                .with_context(|| format!("cannot copy the stored file {}", object.key))?;
            files += 1;
        }
    }

    let key_path = staging.join("secret.key");
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut key = options
        .open(&key_path)
        .context("cannot write the secret key")?;
    key.write_all(secret.expose().as_bytes())?;
    key.sync_all()?;
    sync_dir(staging);
    Ok(BackupReport {
        database_bytes,
        files,
        file_bytes,
    })
}

/// Makes a folder's new entries durable (best effort: not every file
/// system can sync a directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Files younger than this (by default) are kept whatever the database
/// says: a generation stores its file a moment before it records the file
/// on its job, and a prune running in between must not take it.
pub const PRUNE_GRACE_SECS: u64 = 15 * 60;

/// What a prune removed (or, dry, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub removed: Vec<StoredObject>,
    /// Unreferenced files kept because they are younger than the grace period.
    pub kept_young: usize,
}

impl PruneReport {
    pub fn bytes(&self) -> u64 {
        self.removed.iter().map(|o| o.bytes).sum()
    }
}

/// Storage keys some job or cached generation points at.
fn referenced_keys(conn: &Connection) -> rusqlite::Result<HashSet<String>> {
    let mut stmt = conn.prepare(
        "SELECT filename FROM jobs WHERE filename IS NOT NULL
         UNION
         SELECT g.file_path FROM file_generation g
         WHERE g.file_path IS NOT NULL
           AND (g.is_cached_file = 1
                OR EXISTS (SELECT 1 FROM jobs j WHERE j.file_generation_id = g.file_generation_id))",
    )?;
    let keys = stmt.query_map([], |r| r.get::<_, String>(0))?;
    keys.collect()
}

/// Removes the generated files of `store` that no job and no cached
/// generation references, at least `min_age` seconds old at `now` (Unix
/// seconds); with `dry_run`, removes nothing and reports what it would.
pub fn prune(
    conn: &Connection,
    store: &dyn FileStore,
    dry_run: bool,
    min_age: u64,
    now: u64,
) -> anyhow::Result<PruneReport> {
    let before = referenced_keys(conn)?;
    let listed = store.list()?;
    let mut report = PruneReport::default();
    let mut candidates = Vec::new();
    for object in listed {
        if !is_generated_key(&object.key) || before.contains(&object.key) {
            continue;
        }
        if object.modified.saturating_add(min_age) > now {
            report.kept_young += 1;
            continue;
        }
        candidates.push(object);
    }
    // Look again just before removing: a request may have pointed a job at
    // one of them since (a cached file copied to a new job).
    let now_referenced = referenced_keys(conn)?;
    for object in candidates {
        if now_referenced.contains(&object.key) {
            continue;
        }
        if !dry_run {
            store.delete(&object.key)?;
        }
        report.removed.push(object);
    }
    Ok(report)
}
