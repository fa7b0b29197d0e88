//! Who may sign in, without IO: accounts and their roles (`role`), the
//! hashing of passwords and tokens (`credential`) and the sign-in throttle
//! (`throttle`). The accounts' store and the request check are
//! `services::auth`.
pub mod credential;
pub mod role;
pub mod throttle;
