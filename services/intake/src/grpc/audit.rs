//! Intake's own audit calls (`IntakeService.ListAuditEntries`, `ExportAuditEntries`), kept
//! for the clients that use them: the same as `tsunagu.audit.v1.AuditService` on intake's
//! port (`tsunagu_runtime::audit::api`), in intake's message types.

use tonic::{Response, Status};
use tsunagu_proto::audit::v1 as audit_pb;
use tsunagu_proto::intake::v1 as pb;
use tsunagu_runtime::audit::api;

use super::IntakeApi;

fn request(request: pb::ListAuditEntriesRequest) -> audit_pb::ListAuditEntriesRequest {
    audit_pb::ListAuditEntriesRequest {
        municipality_code: request.municipality_code,
        since: request.since,
        until: request.until,
        object_id: request.object_id,
        page: request.page,
    }
}

fn entry(entry: audit_pb::AuditEntry) -> pb::AuditEntry {
    pb::AuditEntry {
        id: entry.id,
        at: entry.at,
        municipality_code: entry.municipality_code,
        actor_role: entry.actor_role,
        actor_key: entry.actor_key,
        action: entry.action,
        method: entry.method,
        object_kind: entry.object_kind,
        object_id: entry.object_id,
        detail: entry.detail,
        client: entry.client,
    }
}

pub async fn list(
    api: &IntakeApi,
    listed: pb::ListAuditEntriesRequest,
) -> Result<Response<pb::ListAuditEntriesResponse>, Status> {
    let listed = api::list(&api.pool, request(listed)).await?;
    Ok(Response::new(pb::ListAuditEntriesResponse {
        entries: listed.entries.into_iter().map(entry).collect(),
        next_page_token: listed.next_page_token,
    }))
}

pub async fn export(
    api: &IntakeApi,
    listed: pb::ListAuditEntriesRequest,
) -> Result<Response<pb::ExportAuditEntriesResponse>, Status> {
    let exported = api::export(&api.pool, request(listed)).await?;
    Ok(Response::new(pb::ExportAuditEntriesResponse {
        content: exported.content,
        file_name: exported.file_name,
    }))
}
