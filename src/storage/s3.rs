//! S3 storage: streamed uploads and SigV4-presigned download links, through
//! rust-s3's blocking client (no async runtime in the binary).

use super::FileStore;
use crate::config::S3Settings;
use anyhow::Context;
use s3::creds::Credentials;
use s3::{Bucket, Region};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

pub struct S3Store {
    bucket: Box<Bucket>,
}

impl S3Store {
    pub fn new(settings: &S3Settings) -> anyhow::Result<Self> {
        let region = match &settings.endpoint {
            Some(endpoint) => Region::Custom {
                region: settings.region.clone(),
                endpoint: endpoint.clone(),
            },
            None => settings
                .region
                .parse()
                .context("BROKER_S3_REGION is not a known region")?,
        };
        let credentials = Credentials::new(
            Some(&settings.access_key),
            Some(settings.secret_key.expose()),
            None,
            None,
            None,
        )
        .context("invalid S3 credentials")?;
        let mut bucket = Bucket::new(&settings.bucket, region, credentials)
            .context("invalid S3 bucket settings")?;
        if settings.endpoint.is_some() {
            bucket = bucket.with_path_style();
        }
        bucket.set_request_timeout(Some(Duration::from_secs(30)));
        Ok(S3Store { bucket })
    }
}

impl FileStore for S3Store {
    fn put(&self, key: &str, local_path: &Path) -> anyhow::Result<()> {
        let mut file = File::open(local_path).context("cannot open the generated file")?;
        let status = self
            .bucket
            .put_object_stream(&mut file, key)
            .map_err(|e| anyhow::anyhow!("S3 upload failed: {e}"))?;
        anyhow::ensure!(
            (200..300).contains(&status),
            "S3 upload answered HTTP {status}"
        );
        Ok(())
    }

    fn copy(&self, from: &str, to: &str) -> anyhow::Result<()> {
        let status = self
            .bucket
            .copy_object_internal(from, to)
            .map_err(|e| anyhow::anyhow!("S3 copy failed: {e}"))?;
        anyhow::ensure!(
            (200..300).contains(&status),
            "S3 copy answered HTTP {status}"
        );
        Ok(())
    }

    fn open(&self, key: &str) -> anyhow::Result<Box<dyn Read + Send>> {
        // Spool to an anonymous temporary file: memory stays flat.
        let mut spool = tempfile::tempfile().context("cannot create a temporary file")?;
        let status = self
            .bucket
            .get_object_to_writer(key, &mut spool)
            .map_err(|e| anyhow::anyhow!("S3 download failed: {e}"))?;
        anyhow::ensure!(
            (200..300).contains(&status),
            "S3 download answered HTTP {status}"
        );
        spool.seek(SeekFrom::Start(0))?;
        Ok(Box::new(spool))
    }

    fn signed_url(&self, key: &str, ttl_secs: u64) -> anyhow::Result<String> {
        let ttl = u32::try_from(ttl_secs).unwrap_or(u32::MAX);
        self.bucket
            .presign_get(key, ttl, None)
            .map_err(|e| anyhow::anyhow!("cannot presign an S3 link: {e}"))
    }
}
