//! Account management for admins (`/api/v1/accounts…`), the same
//! operations as `seaframe-shore account …`. A generated password and a
//! new API token are in the answer that made them and nowhere else.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::base::auth::role::Role;
use crate::base::when::rfc3339_ns;
use crate::services::api::ApiState;
use crate::services::api::session::account_error;
use crate::services::auth::Principal;
use crate::services::auth::accounts;
use seaframe_http::ApiError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    name: String,
    role: String,
    /// None: one is generated and returned.
    password: Option<String>,
}

impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// `GET /api/v1/accounts`.
pub async fn list(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let accounts = accounts::list(&*state.index).await.map_err(account_error)?;
    Ok(Json(json!({
        "accounts": accounts.iter().map(|a| json!({
            "name": a.name,
            "role": a.role.as_str(),
            "created_at": rfc3339_ns(a.created_at_ns),
            "tokens": a.tokens,
            "sessions": a.sessions,
        })).collect::<Vec<_>>()
    })))
}

/// `POST /api/v1/accounts` `{"name", "role", "password"?}` → 201
/// `{"name", "role", "password"?}` (the password only when generated).
pub async fn add(
    State(state): State<ApiState>,
    Extension(by): Extension<Principal>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: NewAccount = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad(
            "body",
            format!("{{\"name\", \"role\", \"password\" (optional)}}: {e}"),
        )
    })?;
    let role: Role = body.role.parse().map_err(|e| ApiError::bad("role", e))?;
    let generated = accounts::add(&*state.index, &body.name, role, body.password)
        .await
        .map_err(account_error)?;
    tracing::info!(name = %body.name, %role, by = %by.name, "account added");
    let mut answer = json!({ "name": body.name, "role": role.as_str() });
    if let Some(p) = generated {
        answer["password"] = p.into();
    }
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `DELETE /api/v1/accounts/{name}`: the account, its tokens and its
/// sessions. One's own account cannot be removed (no admin locks the
/// shore out by a slip).
pub async fn remove(
    State(state): State<ApiState>,
    Extension(by): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if name == by.name {
        return Err(ApiError::Conflict(
            "you cannot remove the account you are signed in with".into(),
        ));
    }
    accounts::remove(&*state.index, &name)
        .await
        .map_err(account_error)?;
    tracing::info!(%name, by = %by.name, "account removed");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/accounts/{name}/tokens` → 201 `{"token"}` (shown once).
pub async fn new_token(
    State(state): State<ApiState>,
    Extension(by): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let token = accounts::new_token(&*state.index, &name)
        .await
        .map_err(account_error)?;
    tracing::info!(%name, by = %by.name, "API token issued");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "name": name, "token": token })),
    )
        .into_response())
}

/// `DELETE /api/v1/accounts/{name}/tokens` → `{"revoked": n}`.
pub async fn revoke_tokens(
    State(state): State<ApiState>,
    Extension(by): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let n = accounts::revoke_tokens(&*state.index, &name)
        .await
        .map_err(account_error)?;
    tracing::info!(%name, revoked = n, by = %by.name, "API tokens revoked");
    Ok(Json(json!({ "name": name, "revoked": n })))
}
