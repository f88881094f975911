//! `tsunagu.audit.v1.AuditService` over the trail of the service that serves it: a
//! municipality's administrator lists or exports its entries, newest first.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use tsunagu_proto::audit::v1 as pb;
use tsunagu_proto::audit::v1::audit_service_server::{AuditService, AuditServiceServer};

use super::{EntryRow, Query};
use crate::auth::{Principal, Role, principal_of};
use crate::error::{ServiceError, ServiceResult, Violations};
use crate::grpc::{Page, parse_id, timestamp};

/// Most entries one export holds.
const MOST_EXPORTED: i64 = 100_000;

pub struct AuditApi {
    pool: PgPool,
}

pub fn server(pool: PgPool) -> AuditServiceServer<AuditApi> {
    AuditServiceServer::new(AuditApi { pool })
}

/// Only the municipality's administrator reads its trail.
pub fn may_read(caller: &Principal, municipality_code: &str) -> ServiceResult<()> {
    if caller.acts_in(municipality_code.trim(), &[Role::MunicipalAdmin]) {
        Ok(())
    } else {
        Err(ServiceError::Denied)
    }
}

fn parse_time(violations: &mut Violations, field: &str, raw: &str) -> Option<DateTime<Utc>> {
    match raw.trim() {
        "" => None,
        text => violations.check(
            field,
            DateTime::parse_from_rfc3339(text)
                .map(|at| at.with_timezone(&Utc))
                .map_err(|_| "RFC 3339 の日時で指定してください（例: 2026-11-30T09:00:00+09:00） / not an RFC 3339 time"),
        ),
    }
}

fn query(request: &pb::ListAuditEntriesRequest, page: &Page, limit: i64) -> ServiceResult<Query> {
    let mut violations = Violations::new();
    let since = parse_time(&mut violations, "since", &request.since);
    let until = parse_time(&mut violations, "until", &request.until);
    let object_id = match request.object_id.trim() {
        "" => None,
        raw => violations.absorb(parse_id("object_id", raw)),
    };
    violations.into_result()?;
    Ok(Query {
        municipality_code: request.municipality_code.trim().to_string(),
        since,
        until,
        object_id,
        before: page.after,
        limit,
    })
}

/// One page of the trail (the caller was admitted).
pub async fn list(
    pool: &PgPool,
    request: pb::ListAuditEntriesRequest,
) -> ServiceResult<pb::ListAuditEntriesResponse> {
    let page = Page::from_request(request.page.clone())?;
    let query = query(&request, &page, i64::from(page.size))?;
    let rows = super::list(pool, &query).await?;
    let next_page_token = page.next_token_after(&rows, |row| row.id);
    Ok(pb::ListAuditEntriesResponse {
        entries: rows.into_iter().map(entry_to_proto).collect(),
        next_page_token,
    })
}

/// The trail as CSV (the caller was admitted).
pub async fn export(
    pool: &PgPool,
    request: pb::ListAuditEntriesRequest,
) -> ServiceResult<pb::ExportAuditEntriesResponse> {
    let page = Page::parse(0, "")?;
    let query = query(&request, &page, MOST_EXPORTED)?;
    let rows = super::list(pool, &query).await?;
    const HEADERS: [&str; 10] = [
        "日時",
        "市区町村コード",
        "役割",
        "キー",
        "操作",
        "メソッド",
        "対象",
        "対象ID",
        "詳細",
        "クライアント",
    ];
    let lines: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| {
            vec![
                row.at.to_rfc3339(),
                row.municipality_code,
                row.actor_role,
                row.actor_key,
                row.action,
                row.method,
                row.object_kind,
                row.object_id.map(|id| id.to_string()).unwrap_or_default(),
                row.detail,
                row.client,
            ]
        })
        .collect();
    Ok(pb::ExportAuditEntriesResponse {
        content: tsunagu_tabular::write_csv(&HEADERS, &lines),
        file_name: format!(
            "監査記録_{}_{}.csv",
            query.municipality_code,
            chrono::Local::now().format("%Y%m%d")
        ),
    })
}

fn entry_to_proto(row: EntryRow) -> pb::AuditEntry {
    pb::AuditEntry {
        id: row.id.to_string(),
        at: Some(timestamp(row.at)),
        municipality_code: row.municipality_code,
        actor_role: row.actor_role,
        actor_key: row.actor_key,
        action: row.action,
        method: row.method,
        object_kind: row.object_kind,
        object_id: row.object_id.map(|id| id.to_string()).unwrap_or_default(),
        detail: row.detail,
        client: row.client,
    }
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    async fn list_audit_entries(
        &self,
        request: Request<pb::ListAuditEntriesRequest>,
    ) -> Result<Response<pb::ListAuditEntriesResponse>, Status> {
        let caller = principal_of(&request)?;
        let request = request.into_inner();
        may_read(&caller, &request.municipality_code)?;
        Ok(Response::new(list(&self.pool, request).await?))
    }

    async fn export_audit_entries(
        &self,
        request: Request<pb::ListAuditEntriesRequest>,
    ) -> Result<Response<pb::ExportAuditEntriesResponse>, Status> {
        let caller = principal_of(&request)?;
        let request = request.into_inner();
        may_read(&caller, &request.municipality_code)?;
        Ok(Response::new(export(&self.pool, request).await?))
    }
}
