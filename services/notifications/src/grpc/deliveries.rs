//! The delivery log over gRPC: list, one with its attempts, and replay of dead letters.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tsunagu_proto::notifications::v1 as pb;
use tsunagu_runtime::error::{ServiceError, ServiceResult};
use tsunagu_runtime::grpc::{Page, timestamp};
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub struct DeliveryRow {
    id: Uuid,
    subscription_id: Uuid,
    pub municipality_code: String,
    channel: String,
    event_type: String,
    event_id: Uuid,
    state: String,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
    urgent: bool,
    subject: String,
    digest_id: Option<Uuid>,
    template_key: String,
    template_version: i32,
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    attempt: i32,
    started_at: DateTime<Utc>,
    latency_ms: i32,
    outcome: String,
    detail: String,
}

const COLUMNS: &str = "id, subscription_id, municipality_code, channel, event_type, event_id, state, attempts,
    next_attempt_at, last_error, created_at, delivered_at, urgent, subject, digest_id, template_key, template_version";

pub fn state_name(state: pb::DeliveryState) -> Option<&'static str> {
    Some(match state {
        pb::DeliveryState::Unspecified => return None,
        pb::DeliveryState::Pending => "pending",
        pb::DeliveryState::Digest => "digest",
        pb::DeliveryState::Sending => "sending",
        pb::DeliveryState::Delivered => "delivered",
        pb::DeliveryState::Dead => "dead",
        pb::DeliveryState::Digested => "digested",
    })
}

fn state_of(stored: &str) -> pb::DeliveryState {
    match stored {
        "pending" => pb::DeliveryState::Pending,
        "digest" => pb::DeliveryState::Digest,
        "sending" => pb::DeliveryState::Sending,
        "delivered" => pb::DeliveryState::Delivered,
        "dead" => pb::DeliveryState::Dead,
        "digested" => pb::DeliveryState::Digested,
        _ => pb::DeliveryState::Unspecified,
    }
}

pub struct Filter<'a> {
    pub municipality_code: &'a str,
    pub state: Option<&'static str>,
    pub subscription_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
}

pub async fn list(pool: &PgPool, filter: Filter<'_>, page: &Page) -> ServiceResult<Vec<DeliveryRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM delivery
         WHERE municipality_code = $1 AND ($2::text IS NULL OR state = $2)
           AND ($3::uuid IS NULL OR subscription_id = $3) AND ($4::uuid IS NULL OR event_id = $4)
           AND ($5::uuid IS NULL OR id > $5)
         ORDER BY id LIMIT $6"
    )))
    .bind(filter.municipality_code)
    .bind(filter.state)
    .bind(filter.subscription_id)
    .bind(filter.event_id)
    .bind(page.after)
    .bind(i64::from(page.size))
    .fetch_all(pool)
    .await?)
}

pub async fn find(pool: &PgPool, id: Uuid) -> ServiceResult<DeliveryRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM delivery WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?
    // Absent answers as hidden does (see `NotificationsApi::operable_delivery`).
    .ok_or(ServiceError::Denied)
}

pub async fn attempts(pool: &PgPool, id: Uuid) -> ServiceResult<Vec<pb::DeliveryAttempt>> {
    let rows: Vec<AttemptRow> = sqlx::query_as(
        "SELECT attempt, started_at, latency_ms, outcome, detail FROM delivery_attempt
         WHERE delivery_id = $1 ORDER BY attempt",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| pb::DeliveryAttempt {
            attempt: row.attempt.max(0) as u32,
            started_at: Some(timestamp(row.started_at)),
            latency_ms: row.latency_ms.max(0) as u32,
            outcome: row.outcome,
            detail: row.detail,
        })
        .collect())
}

/// Dead deliveries start over: pending now, no attempts (the log of earlier attempts stays,
/// numbered on from where it was).
pub async fn replay(pool: &PgPool, ids: &[Uuid]) -> ServiceResult<u64> {
    Ok(sqlx::query(
        "UPDATE delivery SET state = 'pending', next_attempt_at = now(), last_error = NULL, attempts = 0,
                attempt_base = (SELECT COALESCE(max(attempt), 0) FROM delivery_attempt WHERE delivery_id = delivery.id)
         WHERE id = ANY ($1) AND state = 'dead'",
    )
    .bind(ids)
    .execute(pool)
    .await?
    .rows_affected())
}

impl DeliveryRow {
    pub fn id(&self) -> Uuid {
        self.id
    }

    pub fn into_proto(self, attempt_log: Vec<pb::DeliveryAttempt>) -> pb::Delivery {
        pb::Delivery {
            id: self.id.to_string(),
            subscription_id: self.subscription_id.to_string(),
            municipality_code: self.municipality_code,
            channel: self.channel,
            event_type: self.event_type,
            event_id: self.event_id.to_string(),
            state: state_of(&self.state).into(),
            attempts: self.attempts.max(0) as u32,
            next_attempt_at: Some(timestamp(self.next_attempt_at)),
            last_error: self.last_error.unwrap_or_default(),
            created_at: Some(timestamp(self.created_at)),
            delivered_at: self.delivered_at.map(timestamp),
            urgent: self.urgent,
            subject: self.subject,
            digest_id: self.digest_id.map(|id| id.to_string()).unwrap_or_default(),
            template_key: self.template_key,
            template_version: self.template_version.max(0) as u32,
            attempt_log,
        }
    }
}
