//! seaframe-http: the pieces the agent's API and the shore's API have in
//! common, so that both check a token and read a query string the same
//! way. Each service keeps its own `ApiError` and routes.

mod bearer;
mod query;
mod secret;

pub use bearer::bearer_matches;
pub use query::{Params, QueryParams};
pub use secret::Secret;
