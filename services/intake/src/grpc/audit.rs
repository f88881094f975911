//! The audit trail's API: a municipality's administrator lists or exports its entries.

use chrono::{DateTime, Utc};
use tonic::{Response, Status};
use tsunagu_proto::intake::v1 as pb;
use tsunagu_runtime::error::{ServiceResult, Violations};
use tsunagu_runtime::grpc::{Page, parse_id, timestamp};

use super::IntakeApi;
use crate::audit::{self, EntryRow, Query};

/// Most entries one export holds.
const MOST_EXPORTED: i64 = 100_000;

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

pub async fn list(
    api: &IntakeApi,
    request: pb::ListAuditEntriesRequest,
) -> Result<Response<pb::ListAuditEntriesResponse>, Status> {
    let page = Page::from_request(request.page.clone())?;
    let query = query(&request, &page, i64::from(page.size))?;
    let rows = audit::list(&api.pool, &query).await?;
    let next_page_token = page.next_token_after(&rows, |row| row.id);
    Ok(Response::new(pb::ListAuditEntriesResponse {
        entries: rows.into_iter().map(entry_to_proto).collect(),
        next_page_token,
    }))
}

pub async fn export(
    api: &IntakeApi,
    request: pb::ListAuditEntriesRequest,
) -> Result<Response<pb::ExportAuditEntriesResponse>, Status> {
    let page = Page::parse(0, "")?;
    let query = query(&request, &page, MOST_EXPORTED)?;
    let rows = audit::list(&api.pool, &query).await?;
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
    Ok(Response::new(pb::ExportAuditEntriesResponse {
        content: tsunagu_tabular::write_csv(&HEADERS, &lines),
        file_name: format!(
            "監査記録_{}_{}.csv",
            query.municipality_code,
            chrono::Local::now().format("%Y%m%d")
        ),
    }))
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
