//! `replay:/dir`: loops over a folder's JPEGs (`*.jpg`, `*.jpeg`) in name
//! order, re-reading the listing at each loop so that files can be added.

use std::path::PathBuf;

use bytes::Bytes;

use crate::base::capture::CaptureError;

#[derive(Debug)]
pub struct Replay {
    dir: PathBuf,
    files: Vec<PathBuf>,
    next: usize,
}

impl Replay {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            files: Vec::new(),
            next: 0,
        }
    }

    async fn list(&self) -> Result<Vec<PathBuf>, CaptureError> {
        let mut entries = tokio::fs::read_dir(&self.dir).await.map_err(|e| {
            CaptureError::Unreachable(format!("cannot read {}: {e}", self.dir.display()))
        })?;
        let mut files = Vec::new();
        while let Ok(Some(e)) = entries.next_entry().await {
            let path = e.path();
            let is_jpeg = path
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| x.eq_ignore_ascii_case("jpg") || x.eq_ignore_ascii_case("jpeg"));
            if is_jpeg {
                files.push(path);
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(CaptureError::Unreachable(format!(
                "no JPEGs in {}",
                self.dir.display()
            )));
        }
        Ok(files)
    }

    pub async fn grab(&mut self) -> Result<Bytes, CaptureError> {
        if self.next >= self.files.len() {
            self.files = self.list().await?;
            self.next = 0;
        }
        let path = &self.files[self.next];
        self.next += 1;
        tokio::fs::read(path)
            .await
            .map(Bytes::from)
            .map_err(|e| CaptureError::Unreachable(format!("cannot read {}: {e}", path.display())))
    }
}
