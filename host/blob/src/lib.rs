//! Blob storage for media files and derived images, through OpenDAL.
//!
//! Architecture invariant: only this crate knows OpenDAL. Callers see keys and bytes; the backend
//! (local files by default, S3 or memory) is chosen by one URL at start-up.
//!
//! Keys are laid out `{company_id}/{folder_id}/{file}` so a folder or a whole company is removed
//! with one prefix delete.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use opendal::{Operator, services};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob storage: {0}")]
    Backend(#[from] opendal::Error),
    #[error("blob url '{url}': {reason}")]
    BadUrl { url: String, reason: String },
}

impl BlobError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, BlobError::Backend(e) if e.kind() == opendal::ErrorKind::NotFound)
    }
}

pub type Result<T, E = BlobError> = std::result::Result<T, E>;

/// S3 credentials given by configuration; without them `AWS_ACCESS_KEY_ID` /
/// `AWS_SECRET_ACCESS_KEY` are read.
#[derive(Clone)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Credentials({}, ***)", self.access_key_id)
    }
}

/// A configured blob store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Blob {
    op: Operator,
    scheme: &'static str,
}

fn bad(url: &str, reason: impl Into<String>) -> BlobError {
    BlobError::BadUrl { url: url.to_string(), reason: reason.into() }
}

impl Blob {
    /// Opens the store named by `url`:
    /// - none: files under `<data_dir>/blobs`;
    /// - `fs:///abs/path` or a plain path: files there;
    /// - `memory://`: in-process (tests, throw-away runs);
    /// - `s3://bucket/prefix?endpoint=…&region=…`: S3 or a compatible server. Credentials come from
    ///   `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, endpoint and region may also come from
    ///   `AWS_ENDPOINT_URL` / `AWS_REGION`.
    pub fn open(url: Option<&str>, data_dir: &Path, creds: Option<&S3Credentials>) -> Result<Blob> {
        let Some(url) = url.filter(|u| !u.is_empty()) else {
            return Self::fs(&data_dir.join("blobs"));
        };
        if url == "memory://" || url == "memory" {
            return Ok(Blob { op: Operator::new(services::Memory::default())?, scheme: "memory" });
        }
        if let Some(path) = url.strip_prefix("fs://") {
            return Self::fs(Path::new(path));
        }
        if url.starts_with("s3://") {
            return Self::s3(url, creds);
        }
        if !url.contains("://") {
            return Self::fs(Path::new(url));
        }
        Err(bad(url, "unsupported scheme; use fs://, s3:// or memory://"))
    }

    fn fs(dir: &Path) -> Result<Blob> {
        let root = std::path::absolute(dir).map_err(|e| bad(&dir.display().to_string(), e.to_string()))?;
        let op = Operator::new(services::Fs::default().root(&root.to_string_lossy()))?;
        Ok(Blob { op, scheme: "fs" })
    }

    fn s3(raw: &str, creds: Option<&S3Credentials>) -> Result<Blob> {
        let u = url::Url::parse(raw).map_err(|e| bad(raw, e.to_string()))?;
        let bucket = u.host_str().filter(|b| !b.is_empty()).ok_or_else(|| bad(raw, "missing bucket"))?;
        let q = |k: &str| u.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut b = services::S3::default().bucket(bucket).root(u.path()).disable_config_load().disable_ec2_metadata();
        if let Some(e) = q("endpoint").or_else(|| env("AWS_ENDPOINT_URL")) {
            b = b.endpoint(&e);
        }
        b = b.region(&q("region").or_else(|| env("AWS_REGION")).unwrap_or_else(|| "us-east-1".into()));
        let creds = creds.cloned().or_else(|| {
            Some(S3Credentials {
                access_key_id: env("AWS_ACCESS_KEY_ID")?,
                secret_access_key: env("AWS_SECRET_ACCESS_KEY")?,
            })
        });
        if let Some(c) = creds {
            b = b.access_key_id(&c.access_key_id).secret_access_key(&c.secret_access_key);
        }
        if q("virtual_host").as_deref() == Some("true") {
            b = b.enable_virtual_host_style();
        }
        Ok(Blob { op: Operator::new(b)?, scheme: "s3" })
    }

    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// Verifies the backend answers (for the health check).
    pub async fn check(&self) -> Result<()> {
        Ok(self.op.check().await?)
    }

    /// Starts a streaming write; nothing is visible under `key` until [`BlobWriter::close`].
    pub async fn writer(&self, key: &str) -> Result<BlobWriter> {
        Ok(BlobWriter { inner: self.op.writer(key).await? })
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        self.op.write(key, bytes).await?;
        Ok(())
    }

    pub async fn read(&self, key: &str) -> Result<Bytes> {
        Ok(self.op.read(key).await?.to_bytes())
    }

    /// The object as a stream of chunks, for responses that must not buffer whole videos.
    pub async fn stream(&self, key: &str) -> Result<impl Stream<Item = std::io::Result<Bytes>> + Send + 'static> {
        let s = self.op.reader(key).await?.into_bytes_stream(..).await?;
        Ok(s.map(|r| r.map_err(std::io::Error::other)))
    }

    pub async fn size(&self, key: &str) -> Result<u64> {
        Ok(self.op.stat(key).await?.content_length())
    }

    pub async fn exists(&self, key: &str) -> Result<bool> {
        Ok(self.op.exists(key).await?)
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        Ok(self.op.delete(key).await?)
    }

    /// Removes every object under `prefix` (which must end with `/`).
    pub async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        debug_assert!(prefix.ends_with('/'));
        Ok(self.op.delete_with(prefix).recursive(true).await?)
    }
}

/// A write in progress. Dropped without `close`, it is aborted so no partial object remains.
pub struct BlobWriter {
    inner: opendal::Writer,
}

impl BlobWriter {
    pub async fn write(&mut self, chunk: Bytes) -> Result<()> {
        Ok(self.inner.write(chunk).await?)
    }
    pub async fn close(mut self) -> Result<()> {
        self.inner.close().await?;
        Ok(())
    }
    pub async fn abort(mut self) -> Result<()> {
        Ok(self.inner.abort().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_roundtrip_and_prefix_delete() {
        let b = Blob::open(Some("memory://"), Path::new("/nonexistent"), None).unwrap();
        let mut w = b.writer("c/f/a.jpg").await.unwrap();
        w.write(Bytes::from_static(b"hello ")).await.unwrap();
        w.write(Bytes::from_static(b"world")).await.unwrap();
        w.close().await.unwrap();
        b.put("c/g/b.jpg", Bytes::from_static(b"x")).await.unwrap();
        assert_eq!(b.read("c/f/a.jpg").await.unwrap(), Bytes::from_static(b"hello world"));
        b.delete_prefix("c/f/").await.unwrap();
        assert!(!b.exists("c/f/a.jpg").await.unwrap());
        assert!(b.exists("c/g/b.jpg").await.unwrap());
        assert!(Blob::open(Some("ftp://x"), Path::new("."), None).is_err());
    }
}
