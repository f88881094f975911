//! The `api_key` table.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tsunagu_runtime::auth::{self, KeyRecord, Role};
use tsunagu_runtime::error::{ServiceError, ServiceResult};
use uuid::Uuid;

/// What a new key may do, validated.
#[derive(Debug, Clone)]
pub struct KeyGrant {
    pub name: String,
    pub role: Role,
    pub scope_code: String,
    pub organization_id: Option<Uuid>,
    pub valid_days: u32,
    /// The client certificate (DER) the key is bound to, instead of a secret.
    pub certificate_der: Option<Vec<u8>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRow {
    pub id: Uuid,
    pub prefix: String,
    pub secret_hash: String,
    pub name: String,
    pub role: String,
    pub scope_code: String,
    pub organization_id: Option<Uuid>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_reason: Option<String>,
    pub rotated_from: Option<Uuid>,
    pub client_certificate_sha256: Option<String>,
}

const COLUMNS: &str =
    "id, prefix, secret_hash, name, role, scope_code, organization_id, created_by, created_at,
     expires_at, revoked_at, revoked_reason, rotated_from, client_certificate_sha256";

impl KeyRow {
    pub fn role(&self) -> Role {
        Role::parse(&self.role).expect("the CHECK constraint admits known roles only")
    }

    pub fn record(&self) -> KeyRecord {
        KeyRecord {
            id: self.id,
            prefix: self.prefix.clone(),
            secret_hash: self.secret_hash.clone(),
            role: self.role(),
            scope_code: self.scope_code.clone(),
            organization_id: self.organization_id,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
        }
    }
}

/// Stores a new key for `grant`; returns its row and the key to show once.
pub async fn create_key(
    pool: &PgPool,
    grant: &KeyGrant,
    created_by: &str,
    rotated_from: Option<Uuid>,
) -> ServiceResult<(KeyRow, String)> {
    let key = match &grant.certificate_der {
        Some(der) => auth::certificate_key(der),
        None => auth::generate(),
    };
    let fingerprint = grant
        .certificate_der
        .as_deref()
        .map(auth::certificate_fingerprint);
    let row = sqlx::query_as::<_, KeyRow>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO api_key (id, prefix, secret_hash, name, role, scope_code, organization_id, created_by,
                              expires_at, rotated_from, client_certificate_sha256)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(days => $9), $10, $11)
         RETURNING {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(&key.prefix)
    .bind(&key.secret_hash)
    .bind(&grant.name)
    .bind(grant.role.as_str())
    .bind(&grant.scope_code)
    .bind(grant.organization_id)
    .bind(created_by)
    .bind(i32::try_from(grant.valid_days).unwrap_or(i32::MAX))
    .bind(rotated_from)
    .bind(fingerprint)
    .fetch_one(pool)
    .await?;
    Ok((row, key.text))
}

pub async fn find_by_prefix(pool: &PgPool, prefix: &str) -> sqlx::Result<Option<KeyRecord>> {
    let row = sqlx::query_as::<_, KeyRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM api_key WHERE prefix = $1"
    )))
    .bind(prefix)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| row.record()))
}

pub async fn find(pool: &PgPool, id: Uuid) -> ServiceResult<KeyRow> {
    sqlx::query_as::<_, KeyRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM api_key WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or(ServiceError::Denied)
}

pub async fn find_row_by_prefix(pool: &PgPool, prefix: &str) -> ServiceResult<Option<KeyRow>> {
    Ok(sqlx::query_as::<_, KeyRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM api_key WHERE prefix = $1"
    )))
    .bind(prefix)
    .fetch_optional(pool)
    .await?)
}

/// The keys of the scopes `scopes`, newest first; ended ones only when asked.
pub async fn list(pool: &PgPool, scopes: &[String], include_ended: bool) -> ServiceResult<Vec<KeyRow>> {
    Ok(sqlx::query_as::<_, KeyRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM api_key
         WHERE scope_code = ANY($1) AND ($2 OR (revoked_at IS NULL AND expires_at > now()))
         ORDER BY created_at DESC, id DESC LIMIT 1000"
    )))
    .bind(scopes)
    .bind(include_ended)
    .fetch_all(pool)
    .await?)
}

/// Ends the key at `at` (now, or after a rotation's overlap), unless it already ended sooner.
pub async fn revoke(pool: &PgPool, id: Uuid, reason: &str, at: DateTime<Utc>) -> ServiceResult<KeyRow> {
    Ok(sqlx::query_as::<_, KeyRow>(sqlx::AssertSqlSafe(format!(
        "UPDATE api_key SET revoked_at = LEAST(COALESCE(revoked_at, $3), $3),
                            revoked_reason = COALESCE(revoked_reason, $2)
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(reason)
    .bind(at)
    .fetch_one(pool)
    .await?)
}
