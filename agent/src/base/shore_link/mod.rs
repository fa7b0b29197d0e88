//! The link to shore without IO: when the link may send and within which
//! budget (`link`), and how a thumbnail is made (`thumbnail`).
pub mod link;
pub mod thumbnail;
