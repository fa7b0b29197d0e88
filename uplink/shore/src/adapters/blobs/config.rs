//! `[blobs]`: where the thumbnails' JPEGs are kept. Absent (or `url =
//! "file:"`): `<data_dir>/thumbs`, as a shore always did; `file:/path`: that
//! folder; `s3://bucket/prefix`: S3-compatible object storage, with
//! `endpoint`, `region` and credentials. Checked without a request being
//! made ([`BlobsConfig::problems`]); [`BlobsConfig::open`] builds the store.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::adapters::blobs::s3::{S3Blobs, S3Settings};
use crate::adapters::blobs::{Blobs, DiskBlobs};
use seaframe_http::Secret;

use crate::base::problem::Problem;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobsConfig {
    /// `file:`, `file:/path` or `s3://bucket[/prefix]`; `None`: `file:`.
    pub url: Option<String>,
    /// An S3-compatible server (`https://minio.example:9000`); without
    /// it, AWS. Requests are path-style (`<endpoint>/<bucket>/<key>`).
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    /// Allow an `http://` endpoint (a test server on loopback).
    #[serde(default)]
    pub allow_http: bool,
}

/// Where the blobs are, read from `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobsUrl {
    /// `None`: `<data_dir>/thumbs`.
    Disk(Option<PathBuf>),
    S3 {
        bucket: String,
        prefix: String,
    },
}

impl BlobsUrl {
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(path) = s.strip_prefix("file:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            return match path {
                "" => Ok(Self::Disk(None)),
                p if p.starts_with('/') => Ok(Self::Disk(Some(PathBuf::from(p)))),
                p => Err(format!("file:{p}: the path must be absolute")),
            };
        }
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
            if bucket.len() < 3 || bucket.len() > 63 || !bucket.chars().all(ok) {
                return Err(format!(
                    "bucket {bucket:?} must be 3–63 characters of a-z, 0-9, '-', '.'"
                ));
            }
            let prefix = prefix.trim_matches('/');
            if prefix.split('/').any(|p| p == "." || p == "..") {
                return Err(format!("prefix {prefix:?} must not hold . or .."));
            }
            return Ok(Self::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
            });
        }
        Err("must be file:, file:/path or s3://bucket/prefix".into())
    }
}

impl BlobsConfig {
    fn url(&self) -> Result<BlobsUrl, String> {
        self.url
            .as_deref()
            .map_or(Ok(BlobsUrl::Disk(None)), BlobsUrl::parse)
    }

    fn s3_settings(&self, bucket: String, prefix: String) -> S3Settings {
        S3Settings {
            bucket,
            prefix,
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            allow_http: self.allow_http,
        }
    }

    /// Every problem at once, keys named `blobs.…`.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut bad = |key, message: String| problems.push(Problem { key, message });
        let url = match self.url() {
            Ok(url) => url,
            Err(e) => {
                bad("blobs.url", e);
                return problems;
            }
        };
        let s3_keys = self.endpoint.is_some()
            || self.region.is_some()
            || self.access_key_id.is_some()
            || self.secret_access_key.is_some()
            || self.allow_http;
        let BlobsUrl::S3 { bucket, prefix } = url else {
            if s3_keys {
                bad(
                    "blobs.endpoint",
                    "endpoint, region, credentials and allow_http go with an s3:// url".into(),
                );
            }
            return problems;
        };
        if self.access_key_id.is_some() != self.secret_access_key.is_some() {
            bad(
                "blobs.secret_access_key",
                "access_key_id and secret_access_key go together (set both or neither)".into(),
            );
        }
        if let Some(endpoint) = &self.endpoint {
            match url::Url::parse(endpoint) {
                Ok(u) if u.scheme() == "https" => {}
                Ok(u) if u.scheme() == "http" && !self.allow_http => bad(
                    "blobs.allow_http",
                    format!("endpoint {endpoint} is plain http: set allow_http = true to use it"),
                ),
                Ok(u) if u.scheme() == "http" => {}
                Ok(_) => bad(
                    "blobs.endpoint",
                    format!("{endpoint} is not http:// or https://"),
                ),
                Err(e) => bad("blobs.endpoint", format!("not a URL: {e}")),
            }
        }
        if problems.is_empty()
            && let Err(e) = S3Blobs::new(&self.s3_settings(bucket, prefix))
        {
            problems.push(Problem {
                key: "blobs.url",
                message: e.to_string(),
            });
        }
        problems
    }

    /// The store (no request made). Call after `problems` found none.
    pub fn open(&self, data_dir: &Path) -> Result<Blobs, String> {
        match self.url()? {
            BlobsUrl::Disk(None) => Ok(Blobs::Disk(DiskBlobs::new(data_dir))),
            BlobsUrl::Disk(Some(root)) => Ok(Blobs::Disk(DiskBlobs::at(root))),
            BlobsUrl::S3 { bucket, prefix } => S3Blobs::new(&self.s3_settings(bucket, prefix))
                .map(Blobs::S3)
                .map_err(|e| e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(BlobsUrl::parse("file:").unwrap(), BlobsUrl::Disk(None));
        assert_eq!(
            BlobsUrl::parse("file:///srv/thumbs").unwrap(),
            BlobsUrl::Disk(Some("/srv/thumbs".into()))
        );
        assert_eq!(
            BlobsUrl::parse("s3://fleet-thumbs/shore/").unwrap(),
            BlobsUrl::S3 {
                bucket: "fleet-thumbs".into(),
                prefix: "shore".into()
            }
        );
        assert!(BlobsUrl::parse("file:relative").is_err());
        assert!(BlobsUrl::parse("s3://A_B").is_err());
        assert!(BlobsUrl::parse("s3://fleet/../x").is_err());
        assert!(BlobsUrl::parse("gs://fleet").is_err());
    }

    #[test]
    fn problems_are_named() {
        let keys = |c: BlobsConfig| c.problems().iter().map(|p| p.key).collect::<Vec<_>>();
        assert!(keys(BlobsConfig::default()).is_empty());
        assert_eq!(
            keys(BlobsConfig {
                endpoint: Some("http://127.0.0.1:9000".into()),
                ..Default::default()
            }),
            ["blobs.endpoint"]
        );
        let s3 = BlobsConfig {
            url: Some("s3://fleet/thumbs".into()),
            endpoint: Some("http://127.0.0.1:9000".into()),
            access_key_id: Some("id".into()),
            ..Default::default()
        };
        assert_eq!(
            keys(s3.clone()),
            ["blobs.secret_access_key", "blobs.allow_http"]
        );
        let fixed = BlobsConfig {
            secret_access_key: Some(Secret::new("secret")),
            allow_http: true,
            ..s3
        };
        assert!(keys(fixed.clone()).is_empty());
        assert!(matches!(fixed.open(Path::new("/d")), Ok(Blobs::S3(_))));
    }
}
