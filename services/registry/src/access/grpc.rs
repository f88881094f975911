//! The gRPC edge of `tsunagu.access.v1.AccessService`.

use base64::Engine;
use sqlx::PgPool;
use tonic::service::Routes;
use tonic::{Request, Response, Status};
use tsunagu_proto::access::v1 as pb;
use tsunagu_proto::access::v1::access_service_server::{AccessService, AccessServiceServer};
use tsunagu_runtime::MunicipalityCode;
use tsunagu_runtime::auth::{PresentedKey, Principal, Role, principal_of};
use tsunagu_runtime::error::{ServiceError, ServiceResult, Violations};
use tsunagu_runtime::grpc::{parse_id, timestamp};
use uuid::Uuid;

use super::policy;
use super::store::{self, KeyGrant, KeyRow};

pub fn add_routes(routes: Routes, pool: PgPool) -> Routes {
    let server = AccessServiceServer::new(AccessApi { pool: pool.clone() });
    routes.add_service(crate::write_audit::Guarded::new(pool, server))
}

struct AccessApi {
    pool: PgPool,
}

const DEFAULT_VALID_DAYS: u32 = 365;
const MOST_VALID_DAYS: u32 = 730;
const DEFAULT_OVERLAP_SECONDS: u32 = 24 * 3600;
const MOST_OVERLAP_SECONDS: u32 = 30 * 24 * 3600;

#[tonic::async_trait]
impl AccessService for AccessApi {
    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> Result<Response<pb::CreateApiKeyResponse>, Status> {
        let caller = principal_of(&request)?;
        let request = request.into_inner();
        let grant = parse_grant(&self.pool, &request).await?;
        if !policy::may_manage(&caller, grant.role, &grant.scope_code) {
            return Err(ServiceError::Denied.into());
        }
        let (row, key) = store::create_key(&self.pool, &grant, &caller.actor(), None).await?;
        tracing::info!(
            key_prefix = row.prefix,
            role = row.role,
            scope = row.scope_code,
            by = caller.actor(),
            "api key created"
        );
        audit_key(&self.pool, &row, "created").await?;
        Ok(Response::new(pb::CreateApiKeyResponse {
            api_key: Some(key_to_proto(row)),
            key,
        }))
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> Result<Response<pb::ListApiKeysResponse>, Status> {
        let caller = principal_of(&request)?;
        let request = request.into_inner();
        let scope = match request.scope_code.trim() {
            "" => caller.scope_code.clone(),
            code => code.to_string(),
        };
        if !policy::may_list(&caller, &scope) {
            return Err(ServiceError::Denied.into());
        }
        let rows = store::list(&self.pool, &[scope], request.include_ended).await?;
        Ok(Response::new(pb::ListApiKeysResponse {
            api_keys: rows.into_iter().map(key_to_proto).collect(),
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<pb::RevokeApiKeyRequest>,
    ) -> Result<Response<pb::RevokeApiKeyResponse>, Status> {
        let caller = principal_of(&request)?;
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let reason = request.reason.trim();
        if reason.is_empty() {
            return Err(ServiceError::invalid(
                "reason",
                "失効の理由を入力してください / a reason is required",
            )
            .into());
        }
        let row = managed_key(&self.pool, &caller, id).await?;
        let row = store::revoke(&self.pool, row.id, reason, chrono::Utc::now()).await?;
        tracing::info!(key_prefix = row.prefix, by = caller.actor(), "api key revoked");
        audit_key(&self.pool, &row, "revoked").await?;
        Ok(Response::new(pb::RevokeApiKeyResponse {
            api_key: Some(key_to_proto(row)),
        }))
    }

    async fn rotate_api_key(
        &self,
        request: Request<pb::RotateApiKeyRequest>,
    ) -> Result<Response<pb::CreateApiKeyResponse>, Status> {
        let caller = principal_of(&request)?;
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let overlap = match request.overlap_seconds {
            0 => DEFAULT_OVERLAP_SECONDS,
            seconds if seconds <= MOST_OVERLAP_SECONDS => seconds,
            _ => {
                return Err(ServiceError::invalid(
                    "overlap_seconds",
                    format!("重なりの期間は最長 {MOST_OVERLAP_SECONDS} 秒（30日）です / at most 30 days"),
                )
                .into());
            }
        };
        // A key may rotate itself; otherwise an administrator of its scope rotates it.
        let row = if caller.key_id == Some(id) {
            store::find(&self.pool, id).await?
        } else {
            managed_key(&self.pool, &caller, id).await?
        };
        if row.revoked_at.is_some_and(|at| at <= chrono::Utc::now()) || row.expires_at <= chrono::Utc::now() {
            return Err(ServiceError::FailedPrecondition(
                "終了したAPIキーは更新できません。新しいキーを作成してください / an ended key cannot be rotated".into(),
            )
            .into());
        }
        if row.client_certificate_sha256.is_some() {
            return Err(ServiceError::FailedPrecondition(
                "クライアント証明書のキーは更新できません。新しい証明書を発行して CreateApiKey で結び付けてください / \
                 a certificate's key is not rotated: bind a new certificate with CreateApiKey"
                    .into(),
            )
            .into());
        }
        let grant = KeyGrant {
            name: row.name.clone(),
            role: row.role(),
            scope_code: row.scope_code.clone(),
            organization_id: row.organization_id,
            valid_days: DEFAULT_VALID_DAYS,
            certificate_der: None,
        };
        let (new_row, key) = store::create_key(&self.pool, &grant, &caller.actor(), Some(row.id)).await?;
        let ends = chrono::Utc::now() + chrono::Duration::seconds(i64::from(overlap));
        store::revoke(&self.pool, row.id, "更新 / rotated", ends).await?;
        tracing::info!(
            old = row.prefix,
            new = new_row.prefix,
            overlap,
            by = caller.actor(),
            "api key rotated"
        );
        audit_key(&self.pool, &new_row, &format!("rotated from {}", row.prefix)).await?;
        Ok(Response::new(pb::CreateApiKeyResponse {
            api_key: Some(key_to_proto(new_row)),
            key,
        }))
    }

    async fn introspect_api_key(
        &self,
        request: Request<pb::IntrospectApiKeyRequest>,
    ) -> Result<Response<pb::IntrospectApiKeyResponse>, Status> {
        let caller = principal_of(&request)?;
        if caller.role != Role::Service {
            return Err(ServiceError::Denied.into());
        }
        let request = request.into_inner();
        let invalid = || Status::unauthenticated("APIキーが無効です / invalid API key");
        let presented = PresentedKey::parse_introspected(&request.key).ok_or_else(invalid)?;
        let row = store::find_row_by_prefix(&self.pool, &presented.prefix)
            .await?
            .ok_or_else(invalid)?;
        // The secret is checked here; expiry and revocation are the asking service's to judge
        // (it keeps them with the answer).
        if !presented.matches(&row.secret_hash) {
            return Err(invalid());
        }
        Ok(Response::new(pb::IntrospectApiKeyResponse {
            api_key: Some(key_to_proto(row)),
        }))
    }
}

/// Keys are changes like any other: on the trail of the scope they are for (a municipality's
/// administrator sees who made and revoked its keys). The prefix names the key; no secret.
async fn audit_key(pool: &PgPool, row: &KeyRow, what: &str) -> ServiceResult<()> {
    let detail = format!("{what} {} role={}", row.prefix, row.role);
    let mut connection = pool.acquire().await?;
    crate::write_audit::changed(&mut connection, "api_key", &row.scope_code, Some(row.id), &detail).await
}

/// The key `id`, if the caller may manage it; otherwise the same refusal as for no such key.
async fn managed_key(pool: &PgPool, caller: &Principal, id: Uuid) -> ServiceResult<KeyRow> {
    let row = store::find(pool, id).await?;
    if !policy::may_manage(caller, row.role(), &row.scope_code) {
        return Err(ServiceError::Denied);
    }
    Ok(row)
}

async fn parse_grant(pool: &PgPool, request: &pb::CreateApiKeyRequest) -> ServiceResult<KeyGrant> {
    let mut violations = Violations::new();
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        violations.add(
            "name",
            "キーの名前（用途）を100文字以内で入力してください / a name of 1–100 characters is required",
        );
    }
    let role = Role::from_proto(request.role);
    if role.is_none() {
        violations.add("role", "役割を指定してください / a role is required");
    }
    let scope = violations.check(
        "scope_code",
        MunicipalityCode::parse_known(request.scope_code.trim()),
    );
    if let (Some(role), Some(scope)) = (role, &scope) {
        let is_prefecture = scope.official().is_some_and(|entry| entry.is_prefecture());
        if role.is_prefectural() && !is_prefecture {
            violations.add(
                "scope_code",
                "都道府県の役割には都道府県のコードを指定してください / a prefecture role needs a prefecture's code",
            );
        }
        if !role.is_prefectural() && is_prefecture {
            violations.add(
                "scope_code",
                "市区町村の役割には市区町村のコードを指定してください / a municipal role needs a municipality's code",
            );
        }
    }
    let organization_id = match (role, request.organization_id.trim()) {
        (Some(Role::Provider), "") => {
            violations.add(
                "organization_id",
                "提供団体のキーには団体IDが必要です / a provider key needs its organisation",
            );
            None
        }
        (Some(Role::Provider), id) => violations.absorb(parse_id("organization_id", id)),
        (_, "") => None,
        (_, _) => {
            violations.add(
                "organization_id",
                "団体IDは提供団体のキーにだけ指定します / only provider keys name an organisation",
            );
            None
        }
    };
    if let (Some(organization_id), Some(scope)) = (organization_id, &scope) {
        let found: Option<String> =
            sqlx::query_scalar("SELECT municipality_code FROM organization WHERE id = $1")
                .bind(organization_id)
                .fetch_optional(pool)
                .await?;
        if found.as_deref() != Some(scope.as_str()) {
            violations.add(
                "organization_id",
                "この市区町村の団体ではありません / no such organisation in this municipality",
            );
        }
    }
    let valid_days = match request.valid_days {
        0 => DEFAULT_VALID_DAYS,
        days if days <= MOST_VALID_DAYS => days,
        _ => {
            violations.add(
                "valid_days",
                format!("有効期間は1〜{MOST_VALID_DAYS}日です / 1–{MOST_VALID_DAYS} days"),
            );
            DEFAULT_VALID_DAYS
        }
    };
    let certificate_der = match request.client_certificate_pem.trim() {
        "" => None,
        pem => violations.check("client_certificate_pem", certificate_der(pem)),
    };
    if let Some(der) = &certificate_der {
        let prefix = tsunagu_runtime::auth::certificate_key(der).prefix;
        if store::find_row_by_prefix(pool, &prefix).await?.is_some() {
            violations.add(
                "client_certificate_pem",
                "この証明書にはすでにAPIキーがあります（失効したものも含む）。新しい証明書を発行してください / \
                 this certificate already has (or had) a key: issue a new certificate",
            );
        }
    }
    violations.into_result()?;
    Ok(KeyGrant {
        name: name.to_string(),
        role: role.expect("checked above"),
        scope_code: scope.expect("checked above").as_str().to_string(),
        organization_id,
        valid_days,
        certificate_der,
    })
}

/// The DER bytes of the one certificate in `pem`.
fn certificate_der(pem: &str) -> Result<Vec<u8>, &'static str> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    const NOT_PEM: &str = "PEM形式の証明書（-----BEGIN CERTIFICATE----- で始まるもの）を1つ指定してください / \
                           one PEM certificate is expected";
    let start = pem.find(BEGIN).ok_or(NOT_PEM)? + BEGIN.len();
    let end = start + pem[start..].find(END).ok_or(NOT_PEM)?;
    if pem[end + END.len()..].contains(BEGIN) {
        return Err(NOT_PEM);
    }
    let body: String = pem[start..end].chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| NOT_PEM)?;
    // A certificate is a DER SEQUENCE.
    if der.first() != Some(&0x30) {
        return Err(NOT_PEM);
    }
    Ok(der)
}

fn key_to_proto(row: KeyRow) -> pb::ApiKey {
    pb::ApiKey {
        role: row.role().to_proto().into(),
        id: row.id.to_string(),
        prefix: match row.client_certificate_sha256 {
            Some(_) => format!("tsc_{}", row.prefix),
            None => format!("tsk_{}", row.prefix),
        },
        client_certificate_sha256: row.client_certificate_sha256.clone().unwrap_or_default(),
        name: row.name,
        scope_code: row.scope_code,
        organization_id: row.organization_id.map(|id| id.to_string()).unwrap_or_default(),
        created_by: row.created_by,
        created_at: Some(timestamp(row.created_at)),
        expires_at: Some(timestamp(row.expires_at)),
        revoked_at: row.revoked_at.map(timestamp),
        revoked_reason: row.revoked_reason.unwrap_or_default(),
        rotated_from: row.rotated_from.map(|id| id.to_string()).unwrap_or_default(),
    }
}
