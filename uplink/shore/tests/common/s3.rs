//! The tests' view of an S3 bucket on moto: the `[blobs]` of a shore on
//! it, the test's own client of the bucket, what is stored there and under
//! which key a thumbnail must be.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use object_store::ObjectStore;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use seaframe_shore::adapters::blobs::s3::S3Settings;
use seaframe_shore::adapters::blobs::{BlobKey, BlobsConfig, S3Blobs};
use seaframe_shore::adapters::config::Secret;
use seaframe_testkit::MotoServer;
use seaframe_wire::Thumb;

pub const BUCKET: &str = "seaframe-fleet";
pub const PREFIX: &str = "shore";
pub const ACCESS_KEY_ID: &str = "seaframe-test";
pub const SECRET: &str = "seaframe-test-secret";

/// The `[blobs]` of a shore on `moto`.
pub fn blobs_config(moto: &MotoServer) -> BlobsConfig {
    BlobsConfig {
        url: Some(format!("s3://{BUCKET}/{PREFIX}")),
        endpoint: Some(moto.endpoint()),
        region: Some("us-east-1".into()),
        access_key_id: Some(ACCESS_KEY_ID.into()),
        secret_access_key: Some(Secret::new(SECRET)),
        allow_http: true,
    }
}

/// The test's own client of the bucket, to look at what the shore stored.
pub fn bucket(moto: &MotoServer) -> AmazonS3 {
    AmazonS3Builder::new()
        .with_endpoint(moto.endpoint())
        .with_allow_http(true)
        .with_bucket_name(BUCKET)
        .with_region("us-east-1")
        .with_access_key_id(ACCESS_KEY_ID)
        .with_secret_access_key(SECRET)
        .build()
        .unwrap()
}

/// Every key under `prefix` with how often it is listed.
pub async fn objects(moto: &MotoServer, prefix: &str) -> BTreeMap<String, usize> {
    let listed: Vec<_> = bucket(moto)
        .list(Some(&Path::from(prefix)))
        .try_collect()
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for o in listed {
        *out.entry(o.location.to_string()).or_insert(0) += 1;
    }
    out
}

/// The key the shore must have stored `t` under.
pub fn key_of(moto: &MotoServer, t: &Thumb) -> String {
    let s3 = S3Blobs::new(&S3Settings {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        endpoint: Some(moto.endpoint()),
        region: Some("us-east-1".into()),
        access_key_id: None,
        secret_access_key: None,
        allow_http: true,
    })
    .unwrap();
    s3.path(BlobKey {
        vessel: &t.meta.vessel,
        camera: &t.meta.camera,
        captured_at_ns: t.meta.captured_at_ns,
    })
    .to_string()
}
