//! Tier 1: where generated files live — a small trait with two real
//! backends, the local filesystem (links signed by broker-lite and served by
//! it) and S3 (presigned links).

pub mod links;
pub mod local;
pub mod s3;

use std::io::Read;
use std::path::Path;

/// A place to publish generated files and to hand out expiring links to them.
pub trait FileStore: Send + Sync {
    /// Publishes the file at `local_path` under `key`, completely or not at all.
    fn put(&self, key: &str, local_path: &Path) -> anyhow::Result<()>;
    /// Publishes the file at `local_path` under `key` and may take the file
    /// away (the local store renames it instead of copying).
    fn put_owned(&self, key: &str, local_path: &Path) -> anyhow::Result<()> {
        self.put(key, local_path)
    }
    /// Publishes a copy of the stored `from` under `to`.
    fn copy(&self, from: &str, to: &str) -> anyhow::Result<()>;
    /// Reads a stored file.
    fn open(&self, key: &str) -> anyhow::Result<Box<dyn Read + Send>>;
    /// A download link for `key` that expires after `ttl_secs`.
    fn signed_url(&self, key: &str, ttl_secs: u64) -> anyhow::Result<String>;
    /// Every stored file (files still being written are not listed).
    fn list(&self) -> anyhow::Result<Vec<StoredObject>>;
    /// Removes a stored file; a missing one is not an error.
    fn delete(&self, key: &str) -> anyhow::Result<()>;
    /// Whether a file could be stored now (the health check).
    fn check_writable(&self) -> anyhow::Result<()>;
}

/// A stored file as a listing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub key: String,
    pub bytes: u64,
    /// Last change, in Unix seconds.
    pub modified: u64,
}

/// Whether a key has the form of a generated file's key: `{submission
/// id}/{name}` or `detached/{name}`, no hidden segment.
pub fn is_generated_key(key: &str) -> bool {
    let Some((folder, name)) = key.split_once('/') else {
        return false;
    };
    let folder_ok =
        folder == "detached" || (!folder.is_empty() && folder.bytes().all(|b| b.is_ascii_digit()));
    folder_ok
        && !name.is_empty()
        && !name.contains('/')
        && !name.starts_with('.')
        && is_safe_key(key)
}

/// Storage key of a generated file: `{submission_id}/{name}` inside a
/// submission, `detached/{name}` otherwise.
pub fn file_key(submission_id: Option<crate::base::ids::SubmissionId>, file_name: &str) -> String {
    match submission_id {
        Some(id) => format!("{id}/{file_name}"),
        None => format!("detached/{file_name}"),
    }
}

/// Whether a key is a plain relative path that stays inside the store:
/// no empty, `.` or `..` segment, no leading `/`, no backslash or NUL.
pub fn is_safe_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 1024
        && !key.contains(['\\', '\0'])
        && key
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_escape_the_store_are_unsafe() {
        assert!(is_safe_key("12/SubID-12_File-E_FY20Q1_1.csv"));
        assert!(is_safe_key("detached/File-D1_x.txt"));
        for key in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a\\..\\b",
            "a\0b",
            "a/",
        ] {
            assert!(!is_safe_key(key), "{key:?}");
        }
    }

    #[test]
    fn only_generated_file_keys_are_generated_keys() {
        assert!(is_generated_key("12/SubID-12_File-E_FY20Q1_1.csv"));
        assert!(is_generated_key("detached/File-A_FY21P06_1.csv"));
        for key in [
            "x/File.csv",
            "12/.partial-abc",
            "detached/.health",
            "12/a/b.csv",
            "backups/db",
            "12/",
            "file.csv",
        ] {
            assert!(!is_generated_key(key), "{key:?}");
        }
    }
}
