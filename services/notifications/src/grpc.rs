//! The notifications gRPC edge.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tonic::service::Routes;
use tonic::{Request, Response, Status};
use tsunagu_proto::notifications::v1 as pb;
use tsunagu_proto::notifications::v1::notifications_service_server::{
    NotificationsService, NotificationsServiceServer,
};
use tsunagu_runtime::MunicipalityCode;
use tsunagu_runtime::auth::{Principal, Role, principal_of};
use tsunagu_runtime::error::ServiceError;
use tsunagu_runtime::grpc::{Page, parse_id, timestamp};
use uuid::Uuid;

use crate::handler::Recipient;

pub fn routes(pool: PgPool) -> Routes {
    Routes::new(NotificationsServiceServer::new(NotificationsApi { pool }))
}

struct NotificationsApi {
    pool: PgPool,
}

#[derive(sqlx::FromRow)]
struct NotificationRow {
    id: Uuid,
    municipality_code: String,
    recipient_kind: String,
    recipient_id: String,
    event_type: String,
    event_id: Uuid,
    title: String,
    body: String,
    need_id: Uuid,
    proposal_id: Option<Uuid>,
    created_at: DateTime<Utc>,
}

fn parse_recipient(recipient: Option<pb::Recipient>) -> Result<Recipient, ServiceError> {
    match recipient.and_then(|r| r.kind) {
        Some(pb::recipient::Kind::OrganizationId(id)) => Ok(Recipient::Organization(
            parse_id("recipient.organization_id", &id)?.to_string(),
        )),
        Some(pb::recipient::Kind::CoordinatorsOfMunicipality(code)) => MunicipalityCode::parse_known(&code)
            .map(|code| Recipient::CoordinatorsOf(code.to_string()))
            .map_err(|error| {
                ServiceError::invalid("recipient.coordinators_of_municipality", error.to_string())
            }),
        None => Err(ServiceError::invalid(
            "recipient",
            "宛先（事業主体IDまたは市区町村コード）を指定してください / recipient is required",
        )),
    }
}

/// Whose notifications the caller may read (issue 7): an organisation reads its own; a
/// municipality's administrators and coordinators read their coordinators' notifications and,
/// of an organisation's, those about their municipality's needs (returned as the filter).
/// Everyone else is refused.
fn visible_to(caller: &Principal, recipient: &Recipient) -> Result<Option<String>, ServiceError> {
    const STAFF: [Role; 2] = [Role::MunicipalAdmin, Role::Coordinator];
    if caller.role == Role::Service {
        return Ok(None);
    }
    match recipient {
        Recipient::Organization(id) => {
            let own = caller.role == Role::Provider
                && caller.organization_id.map(|own| own.to_string()).as_deref() == Some(id.as_str());
            if own {
                Ok(None)
            } else if STAFF.contains(&caller.role) {
                Ok(Some(caller.scope_code.clone()))
            } else {
                Err(ServiceError::Denied)
            }
        }
        Recipient::CoordinatorsOf(code) if caller.acts_in(code, &STAFF) => Ok(None),
        Recipient::CoordinatorsOf(_) => Err(ServiceError::Denied),
    }
}

#[tonic::async_trait]
impl NotificationsService for NotificationsApi {
    async fn list_notifications(
        &self,
        request: Request<pb::ListNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        let caller = principal_of(&request)?;
        let request = request.into_inner();
        let recipient = parse_recipient(request.recipient)?;
        let page = Page::from_request(request.page)?;
        let only_municipality = visible_to(&caller, &recipient)?;
        let rows: Vec<NotificationRow> = sqlx::query_as(
            "SELECT id, municipality_code, recipient_kind, recipient_id, event_type, event_id, title, body,
                    need_id, proposal_id, created_at
             FROM notification
             WHERE recipient_kind = $1 AND recipient_id = $2 AND ($3::uuid IS NULL OR id > $3)
               AND ($5::text IS NULL OR municipality_code = $5)
             ORDER BY id LIMIT $4",
        )
        .bind(recipient.kind())
        .bind(recipient.id())
        .bind(page.after)
        .bind(i64::from(page.size))
        .bind(only_municipality)
        .fetch_all(&self.pool)
        .await
        .map_err(ServiceError::from)?;
        let next_page_token = page.next_token_after(&rows, |row| row.id);
        let notifications = rows.into_iter().map(notification_to_proto).collect();
        Ok(Response::new(pb::ListNotificationsResponse {
            notifications,
            next_page_token,
        }))
    }
}

fn notification_to_proto(row: NotificationRow) -> pb::Notification {
    let kind = match row.recipient_kind.as_str() {
        "organization" => pb::recipient::Kind::OrganizationId(row.recipient_id),
        _ => pb::recipient::Kind::CoordinatorsOfMunicipality(row.recipient_id),
    };
    pb::Notification {
        id: row.id.to_string(),
        municipality_code: row.municipality_code,
        recipient: Some(pb::Recipient { kind: Some(kind) }),
        channel: pb::Channel::InApp.into(),
        event_type: row.event_type,
        event_id: row.event_id.to_string(),
        title: row.title,
        body: row.body,
        need_id: row.need_id.to_string(),
        proposal_id: row.proposal_id.map(|id| id.to_string()).unwrap_or_default(),
        created_at: Some(timestamp(row.created_at)),
    }
}
