//! The thumbnails' JPEGs in S3-compatible object storage (AWS S3, MinIO,
//! Ceph RGW…), through the `object_store` crate on its public API: keys
//! `<prefix>/<vessel>/<camera>/<YYYY>/<MM>/<DD>/<HH>/<mm>-<ss>.<ns9>.jpg`
//! ([`super::layout`]), path-style requests to `endpoint` when one is set.
//!
//! A PUT is atomic (the object is there whole or not at all) and is made
//! with `If-None-Match: *`, so an object already stored is never replaced
//! and the duplicate check costs no request of its own. Each request is
//! retried by `object_store` with exponential back-off ([`retry`]), for a
//! bounded time; past that the batch fails and ingest retries it whole,
//! with its own back-off, acking nothing meanwhile.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt, stream};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::{Path, PathPart};
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    RetryConfig,
};

use crate::adapters::blobs::{BlobError, BlobKey, BlobName, NewBlob, layout};
use seaframe_http::Secret;

/// PUTs of one batch in flight at once.
pub const UPLOAD_CONCURRENCY: usize = 32;
/// A request that has not answered within this is failed (and retried).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How `object_store` retries one request (5xx, connection errors,
/// timeouts of idempotent requests): 100 ms doubling to 2 s, at most 5
/// times within 15 s. A store down for longer fails the request; the
/// caller's own back-off takes over (ingest: up to 10 s between tries).
pub fn retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
        },
        max_retries: 5,
        retry_timeout: Duration::from_secs(15),
    }
}

/// What the S3 back end needs, from `[blobs]`.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    /// Key prefix, without a leading or trailing `/` (may be empty).
    pub prefix: String,
    /// `http(s)://host:port` of an S3-compatible server; `None`: AWS.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    pub allow_http: bool,
}

/// A bucket (and prefix) holding the thumbnails.
#[derive(Clone)]
pub struct S3Blobs {
    store: Arc<AmazonS3>,
    prefix: Path,
    bucket: String,
}

impl fmt::Debug for S3Blobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The store's own Debug holds its configuration: not printed.
        f.debug_struct("S3Blobs")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix.as_ref())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for S3Blobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

impl S3Blobs {
    /// Builds the client (no request is made). Credentials not in
    /// `settings` come from the environment as the AWS tools read it
    /// (`AWS_ACCESS_KEY_ID`…, then the instance's role).
    pub fn new(settings: &S3Settings) -> Result<Self, object_store::Error> {
        // The client options hold allow_http too: set as one.
        let client = ClientOptions::new()
            .with_allow_http(settings.allow_http)
            .with_timeout(REQUEST_TIMEOUT)
            .with_connect_timeout(CONNECT_TIMEOUT);
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&settings.bucket)
            .with_virtual_hosted_style_request(false)
            .with_client_options(client)
            .with_retry(retry());
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &settings.region {
            builder = builder.with_region(region);
        }
        if let (Some(id), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret.expose());
        }
        Ok(Self {
            store: Arc::new(builder.build()?),
            prefix: Path::from(settings.prefix.as_str()),
            bucket: settings.bucket.clone(),
        })
    }

    /// A thumbnail's object key.
    pub fn path(&self, key: BlobKey<'_>) -> Path {
        let parts = layout(key);
        Path::from_iter(
            self.prefix
                .parts()
                .chain(parts.iter().map(|p| PathPart::from(p.as_str()))),
        )
    }

    /// Stores a batch, [`UPLOAD_CONCURRENCY`] PUTs at a time; the same key
    /// twice in a batch is stored once.
    pub async fn write_batch(&self, items: &[NewBlob]) -> Result<(), BlobError> {
        let mut seen = HashSet::with_capacity(items.len());
        let todo = items.iter().filter(|item| seen.insert(&item.name));
        stream::iter(todo.map(Ok))
            .try_for_each_concurrent(UPLOAD_CONCURRENCY, |item| self.put_new(item))
            .await
    }

    /// One PUT that never replaces: an object already there is kept.
    async fn put_new(&self, item: &NewBlob) -> Result<(), BlobError> {
        let path = self.path(item.name.key());
        let opts = PutOptions::from(PutMode::Create);
        let payload = PutPayload::from_bytes(item.jpeg.clone());
        match self.store.put_opts(&path, payload, opts).await {
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
            Err(source) => Err(BlobError::Store {
                op: "PUT",
                key: path.to_string(),
                source,
            }),
        }
    }

    /// A stored JPEG.
    pub async fn read(&self, name: &BlobName) -> Result<bytes::Bytes, BlobError> {
        let path = self.path(name.key());
        let failed = |source| BlobError::Store {
            op: "GET",
            key: path.to_string(),
            source,
        };
        let got = self.store.get(&path).await.map_err(failed)?;
        got.bytes().await.map_err(failed)
    }

    /// Whether an object is stored under `name` (a HEAD request).
    pub async fn exists(&self, name: &BlobName) -> Result<bool, BlobError> {
        let path = self.path(name.key());
        match self.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(source) => Err(BlobError::Store {
                op: "HEAD",
                key: path.to_string(),
                source,
            }),
        }
    }

    /// Deletes the objects of `names` (multi-object deletes); one already
    /// gone is fine.
    pub async fn remove_batch(&self, names: Vec<BlobName>) -> Result<(), BlobError> {
        let paths: Vec<_> = names.iter().map(|n| Ok(self.path(n.key()))).collect();
        let mut results = self.store.delete_stream(stream::iter(paths).boxed());
        while let Some(done) = results.next().await {
            match done {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                // The error names the key that failed.
                Err(source) => {
                    return Err(BlobError::Store {
                        op: "DELETE",
                        key: format!("(one of {} keys)", names.len()),
                        source,
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seaframe_wire::{CameraId, VesselName};

    #[test]
    fn keys_are_the_disk_layout_under_the_prefix_and_secrets_stay_out_of_debug() {
        let settings = S3Settings {
            bucket: "fleet".into(),
            prefix: "shore/thumbs".into(),
            endpoint: Some("http://127.0.0.1:9".into()),
            region: Some("eu-north-1".into()),
            access_key_id: Some("AKIDEXAMPLE".into()),
            secret_access_key: Some(Secret::new("hunter2-secret")),
            allow_http: true,
        };
        let blobs = S3Blobs::new(&settings).unwrap();
        let (vessel, camera) = (
            VesselName::parse("aurora").unwrap(),
            CameraId::parse("mast").unwrap(),
        );
        let key = BlobKey {
            vessel: &vessel,
            camera: &camera,
            captured_at_ns: 1_764_460_800_123_456_789,
        };
        assert_eq!(
            blobs.path(key).as_ref(),
            "shore/thumbs/aurora/mast/2025/11/30/00/00-00.123456789.jpg"
        );
        assert!(!format!("{blobs:?} {settings:?}").contains("hunter2"));
        assert_eq!(blobs.to_string(), "s3://fleet/shore/thumbs");
    }
}
