//! S3 storage: streamed (multipart for large files) uploads, server-side
//! copies and SigV4-presigned download links, through rust-s3's blocking
//! client (no async runtime in the binary).

use super::{FileStore, StoredObject};
use crate::base::config::S3Settings;
use anyhow::Context;
use s3::creds::Credentials;
use s3::error::S3Error;
use s3::{Bucket, Region};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

/// Per-request timeout; with the worker's three attempts a failing upload
/// gives up within two minutes.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

pub struct S3Store {
    bucket: Box<Bucket>,
    /// Where the bucket is, for log lines (no credentials).
    location: String,
}

/// A short description of an S3 failure: the HTTP status and the S3 error
/// code only. Error bodies can echo request signatures, so they never go
/// into a message or a log line.
fn describe(err: &S3Error) -> String {
    match err {
        S3Error::HttpFailWithBody(status, body) => {
            let code = body
                .split_once("<Code>")
                .and_then(|(_, rest)| rest.split_once("</Code>"))
                .map(|(code, _)| code)
                .filter(|c| c.chars().all(|ch| ch.is_ascii_alphanumeric()))
                .unwrap_or("unknown error");
            format!("HTTP {status} ({code})")
        }
        S3Error::HttpFail => "HTTP error".into(),
        S3Error::Atto(_) => "the S3 endpoint is unreachable".into(),
        S3Error::Io(_) => "I/O error talking to S3".into(),
        _ => "S3 client error".into(),
    }
}

impl S3Store {
    pub fn new(settings: &S3Settings) -> anyhow::Result<Self> {
        let region = match &settings.endpoint {
            Some(endpoint) => Region::Custom {
                region: settings.region.clone(),
                endpoint: endpoint.trim_end_matches('/').to_string(),
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
            .map_err(|e| anyhow::anyhow!("invalid S3 bucket settings: {}", describe(&e)))?;
        if settings.endpoint.is_some() {
            bucket = bucket.with_path_style();
        }
        bucket.set_request_timeout(Some(REQUEST_TIMEOUT));
        let location = format!(
            "bucket {} at {}",
            settings.bucket,
            settings.endpoint.as_deref().unwrap_or(&settings.region)
        );
        Ok(S3Store { bucket, location })
    }

    /// Checks that the bucket answers with these credentials.
    pub fn check(&self) -> anyhow::Result<()> {
        // 404 means the bucket answered and the credentials work.
        match self.bucket.head_object("broker-lite-reachability-probe") {
            Ok((_, status)) if (200..300).contains(&status) || status == 404 => Ok(()),
            Ok((_, status)) => anyhow::bail!("S3 {} is not usable: HTTP {status}", self.location),
            Err(S3Error::HttpFailWithBody(404, _)) => Ok(()),
            Err(e) => anyhow::bail!("S3 {} is not usable: {}", self.location, describe(&e)),
        }
    }
}

impl FileStore for S3Store {
    fn put(&self, key: &str, local_path: &Path) -> anyhow::Result<()> {
        let mut file = File::open(local_path).context("cannot open the generated file")?;
        let status = self.bucket.put_object_stream(&mut file, key).map_err(|e| {
            anyhow::anyhow!("S3 upload to {} failed: {}", self.location, describe(&e))
        })?;
        anyhow::ensure!(
            (200..300).contains(&status),
            "S3 upload answered HTTP {status}"
        );
        Ok(())
    }

    fn copy(&self, from: &str, to: &str) -> anyhow::Result<()> {
        let status = self.bucket.copy_object_internal(from, to).map_err(|e| {
            anyhow::anyhow!("S3 copy in {} failed: {}", self.location, describe(&e))
        })?;
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
            .map_err(|e| {
                anyhow::anyhow!(
                    "S3 download from {} failed: {}",
                    self.location,
                    describe(&e)
                )
            })?;
        anyhow::ensure!(
            (200..300).contains(&status),
            "S3 download answered HTTP {status}"
        );
        spool.seek(SeekFrom::Start(0))?;
        Ok(Box::new(spool))
    }

    fn list(&self) -> anyhow::Result<Vec<StoredObject>> {
        let pages = self.bucket.list(String::new(), None).map_err(|e| {
            anyhow::anyhow!("S3 listing of {} failed: {}", self.location, describe(&e))
        })?;
        let mut found: Vec<StoredObject> = pages
            .into_iter()
            .flat_map(|page| page.contents)
            .map(|object| StoredObject {
                modified: time::OffsetDateTime::parse(
                    &object.last_modified,
                    &time::format_description::well_known::Rfc3339,
                )
                .map_or(0, |t| t.unix_timestamp().max(0) as u64),
                bytes: object.size,
                key: object.key,
            })
            .collect();
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    fn delete(&self, key: &str) -> anyhow::Result<()> {
        let response = self.bucket.delete_object(key).map_err(|e| {
            anyhow::anyhow!("S3 delete in {} failed: {}", self.location, describe(&e))
        })?;
        let status = response.status_code();
        anyhow::ensure!(
            (200..300).contains(&status) || status == 404,
            "S3 delete answered HTTP {status}"
        );
        Ok(())
    }

    fn check_writable(&self) -> anyhow::Result<()> {
        self.check()
    }

    fn signed_url(&self, key: &str, ttl_secs: u64) -> anyhow::Result<String> {
        let ttl = u32::try_from(ttl_secs).unwrap_or(u32::MAX);
        self.bucket
            .presign_get(key, ttl, None)
            .map_err(|e| anyhow::anyhow!("cannot presign an S3 link: {}", describe(&e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_failures_are_described_without_their_bodies() {
        let body = "<Error><Code>SignatureDoesNotMatch</Code><SignatureProvided>abc123</SignatureProvided></Error>";
        let text = describe(&S3Error::HttpFailWithBody(403, body.into()));
        assert_eq!(text, "HTTP 403 (SignatureDoesNotMatch)");
        assert_eq!(
            describe(&S3Error::HttpFailWithBody(500, "<x>".into())),
            "HTTP 500 (unknown error)"
        );
    }
}
