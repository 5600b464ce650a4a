//! Local filesystem storage under `<data-dir>/files/`, with links signed by
//! [`LinkSigner`] and served by `GET /v1/files/{key}`.

use super::links::{LinkError, LinkSigner};
use super::{FileStore, StoredObject, is_safe_key};
use crate::base::util::{random_hex, unix_now};
use anyhow::{Context, bail};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Characters escaped in a key segment of a link (RFC 3986 unreserved stay).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub struct LocalStore {
    root: PathBuf,
    public_url: String,
    signer: LinkSigner,
}

impl LocalStore {
    pub fn new(root: PathBuf, public_url: &str, signer: LinkSigner) -> anyhow::Result<Self> {
        fs::create_dir_all(&root)
            .with_context(|| format!("cannot create the files folder {}", root.display()))?;
        Ok(LocalStore {
            root,
            public_url: public_url.trim_end_matches('/').to_string(),
            signer,
        })
    }

    /// The file behind a key, if the key stays inside the files folder.
    pub fn path_of(&self, key: &str) -> Option<PathBuf> {
        is_safe_key(key).then(|| self.root.join(key))
    }

    /// Checks a link's signature and expiry for a key.
    pub fn check_link(&self, key: &str, expires: &str, signature: &str) -> Result<(), LinkError> {
        self.signer.verify(key, expires, signature, unix_now())
    }

    /// Opens a stored file for download; `None` when there is none.
    pub fn open(&self, key: &str) -> std::io::Result<Option<(File, u64)>> {
        let Some(path) = self.path_of(key) else {
            return Ok(None);
        };
        match File::open(&path) {
            Ok(file) => {
                let meta = file.metadata()?;
                Ok(meta.is_file().then_some((file, meta.len())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Every file under a local storage folder, by key; copies still being
/// written (`.partial-…`) and other hidden files are not files yet.
pub fn stored_files(root: &Path) -> anyhow::Result<Vec<StoredObject>> {
    let mut found = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).context("cannot list the files folder")? {
            let entry = entry.context("cannot list the files folder")?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let meta = entry.metadata().context("cannot list the files folder")?;
            if meta.is_dir() {
                folders.push(entry.path());
                continue;
            }
            let path = entry.path();
            let Ok(relative) = path.strip_prefix(root) else {
                continue;
            };
            let key = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            found.push(StoredObject {
                key,
                bytes: meta.len(),
                modified,
            });
        }
    }
    found.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(found)
}

impl FileStore for LocalStore {
    fn put(&self, key: &str, local_path: &Path) -> anyhow::Result<()> {
        let Some(target) = self.path_of(key) else {
            bail!("unsafe storage key")
        };
        let dir = target.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir).context("cannot create the storage folder")?;
        // Copy next to the target, then rename: readers never see half a file.
        let tmp = dir.join(format!(".partial-{}", random_hex(8)));
        let result = fs::copy(local_path, &tmp)
            .and_then(|_| File::open(&tmp)?.sync_all())
            .and_then(|_| fs::rename(&tmp, &target));
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.context("cannot write the file to local storage")
    }

    fn put_owned(&self, key: &str, local_path: &Path) -> anyhow::Result<()> {
        let Some(target) = self.path_of(key) else {
            bail!("unsafe storage key")
        };
        let dir = target.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir).context("cannot create the storage folder")?;
        // The scratch file is complete and synced: a rename publishes it
        // whole. Across file systems it cannot be renamed, so copy it.
        match fs::rename(local_path, &target) {
            Ok(()) => Ok(()),
            Err(_) => self.put(key, local_path),
        }
    }

    fn copy(&self, from: &str, to: &str) -> anyhow::Result<()> {
        let Some(source) = self.path_of(from) else {
            bail!("unsafe storage key")
        };
        self.put(to, &source)
    }

    fn open(&self, key: &str) -> anyhow::Result<Box<dyn Read + Send>> {
        match LocalStore::open(self, key).context("cannot read the stored file")? {
            Some((file, _)) => Ok(Box::new(file)),
            None => bail!("the stored file is missing"),
        }
    }

    fn list(&self) -> anyhow::Result<Vec<StoredObject>> {
        stored_files(&self.root)
    }

    fn delete(&self, key: &str) -> anyhow::Result<()> {
        let Some(path) = self.path_of(key) else {
            bail!("unsafe storage key")
        };
        match fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).context("cannot remove a stored file"),
        }
    }

    fn check_writable(&self) -> anyhow::Result<()> {
        let probe = self.root.join(format!(".health-{}", random_hex(8)));
        let written = File::create(&probe).and_then(|mut f| f.write_all(b"ok"));
        let _ = fs::remove_file(&probe);
        written.context("the files folder cannot be written")
    }

    fn signed_url(&self, key: &str, ttl_secs: u64) -> anyhow::Result<String> {
        let expires = unix_now() + ttl_secs;
        let signature = self.signer.sign(key, expires);
        let path: Vec<String> = key
            .split('/')
            .map(|seg| utf8_percent_encode(seg, SEGMENT).to_string())
            .collect();
        Ok(format!(
            "{}/v1/files/{}?expires={expires}&signature={signature}",
            self.public_url,
            path.join("/")
        ))
    }
}
