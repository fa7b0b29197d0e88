//! What the cameras' sources share without IO: the error a source returns,
//! the parsers of what cameras send (`multipart` MJPEG, `jpegstream` for
//! ffmpeg's output), HTTP Basic and Digest answers (`http_auth`, `digest`)
//! and the test pattern's font.
pub mod digest;
pub mod font;
pub mod http_auth;
pub mod jpegstream;
pub mod multipart;

/// Why a capture attempt failed; the message is what `/cameras` shows.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CaptureError {
    /// Refused, timed out, stalled, ended, unreadable: reconnect later.
    #[error("{0}")]
    Unreachable(String),
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The bytes were not a whole JPEG.
    #[error("{0}")]
    BadJpeg(#[from] crate::base::jpeg::JpegError),
    #[error("{0}")]
    BadStream(String),
    #[error("{0}")]
    Setup(String),
}
