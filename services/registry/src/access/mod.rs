//! API keys and who may manage them (issue 7). The registry holds the keys because it owns
//! the tenancy; it checks them in its own database (`LocalKeys`) and answers the other
//! services' `IntrospectApiKey`.
//!
//! - `store`: the `api_key` table: create (the secret shown once, its hash kept), list,
//!   revoke, rotate, look up by prefix;
//! - `policy`: who may create, see and end which keys (pure);
//! - `grpc`: the `AccessService` edge.

mod grpc;
mod policy;
mod store;

use std::sync::Arc;

use sqlx::PgPool;
use tsunagu_runtime::auth::{BoxFuture, KeyResolver, PresentedKey, Principal, Refusal, Role};

pub use grpc::add_routes;
pub use store::{KeyGrant, create_key};

/// Keys checked in the registry's own database.
pub struct LocalKeys {
    pool: PgPool,
}

impl LocalKeys {
    pub fn new(pool: PgPool) -> Arc<LocalKeys> {
        Arc::new(LocalKeys { pool })
    }
}

impl KeyResolver for LocalKeys {
    fn resolve<'a>(&'a self, key: &'a PresentedKey) -> BoxFuture<'a, Result<Principal, Refusal>> {
        Box::pin(async move {
            let record = store::find_by_prefix(&self.pool, &key.prefix)
                .await
                .map_err(|error| Refusal::Unavailable(error.to_string()))?
                .ok_or(Refusal::Invalid)?;
            record.admit(key, chrono::Utc::now())
        })
    }
}

/// The first key of a deployment: a prefecture admin of `prefecture_code`, made only when the
/// prefecture has no live admin key yet. Returns the key to show, or `None` if one exists.
pub async fn bootstrap_prefecture_admin(
    pool: &PgPool,
    prefecture_code: &str,
    created_by: &str,
) -> anyhow::Result<Option<String>> {
    let live: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM api_key WHERE role = 'prefecture_admin' AND scope_code = $1
                        AND revoked_at IS NULL AND expires_at > now())",
    )
    .bind(prefecture_code)
    .fetch_one(pool)
    .await?;
    if live {
        return Ok(None);
    }
    let grant = KeyGrant {
        name: "初期管理者 / bootstrap admin".into(),
        role: Role::PrefectureAdmin,
        scope_code: prefecture_code.to_string(),
        organization_id: None,
        valid_days: 365,
        certificate_der: None,
    };
    let (_, key) = create_key(pool, &grant, created_by, None).await?;
    Ok(Some(key))
}
