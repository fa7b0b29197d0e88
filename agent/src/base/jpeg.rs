//! The JPEG marker walk, shared with the shore: it lives in
//! [`seaframe_wire::jpeg`] so that both ends refuse the same bytes.

pub use seaframe_wire::jpeg::{JpegError, JpegInfo, inspect};
