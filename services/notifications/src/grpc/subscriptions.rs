//! Subscriptions: validated field by field (every problem reported at once), the channel's
//! own address check, and a signing secret for webhooks shown once.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tsunagu_proto::notifications::v1 as pb;
use tsunagu_runtime::error::{FieldViolation, ServiceError, ServiceResult};
use tsunagu_runtime::events;
use tsunagu_runtime::grpc::{Page, parse_id, timestamp};
use uuid::Uuid;

use crate::channels::{Channels, signature};
use crate::message::Audience;

/// The event types a subscription may name.
pub const EVENT_TYPES: &[&str] = &[
    events::MATCH_PROPOSED,
    events::MATCH_PENDING_APPROVAL,
    events::MATCH_ACCEPTED,
    events::MATCH_REJECTED,
    events::MATCH_EXPIRED,
    events::MATCH_WITHDRAWN,
    events::NEED_UNMATCHED,
    events::NEED_STATUS_CHANGED,
    events::NEED_FOLLOW_UP_DUE,
    events::RESOURCE_VERIFICATION_OVERDUE,
];

const MAX_NAME_CHARS: usize = 200;

/// A subscription as asked for, checked.
pub struct NewSubscription {
    pub audience: Audience,
    pub subscriber_kind: pb::SubscriberKind,
    pub subscriber_name: String,
    pub channel: String,
    pub address: String,
    pub event_types: Vec<String>,
    pub categories: Vec<String>,
    pub area_ids: Vec<Uuid>,
    pub quiet_hours: Option<(i32, i32)>,
    pub digest_minute: Option<i32>,
    pub locale: String,
}

pub fn check(
    subscription: pb::Subscription,
    channels: &Channels,
) -> ServiceResult<(NewSubscription, String)> {
    let mut violations: Vec<FieldViolation> = Vec::new();
    let mut invalid = |field: &str, reason: String| violations.push(FieldViolation::new(field, reason));
    let audience = match super::parse_recipient(subscription.recipient) {
        Ok(audience) => Some(audience),
        Err(ServiceError::InvalidArgument(found)) => {
            for violation in found {
                invalid(
                    &format!("subscription.{}", violation.field),
                    violation.description,
                );
            }
            None
        }
        Err(other) => return Err(other),
    };
    let subscriber_kind =
        pb::SubscriberKind::try_from(subscription.subscriber_kind).unwrap_or(pb::SubscriberKind::Unspecified);
    if subscriber_kind == pb::SubscriberKind::Unspecified {
        invalid(
            "subscription.subscriber_kind",
            "受け手の種類（事業主体・コーディネーター・支援者・紹介元・市区町村のシステム・代理）を選んでください / subscriber_kind is required".into(),
        );
    }
    let subscriber_name = subscription.subscriber_name.trim().to_string();
    if subscriber_name.is_empty() || subscriber_name.chars().count() > MAX_NAME_CHARS {
        invalid(
            "subscription.subscriber_name",
            format!(
                "受け手の名前を{MAX_NAME_CHARS}文字以内で入力してください / subscriber_name is required (at most {MAX_NAME_CHARS} characters)"
            ),
        );
    }
    let channel = subscription.channel.trim().to_string();
    match channels.get(&channel) {
        Some(adapter) => {
            if let Err(reason) = adapter.validate_address(subscription.address.trim()) {
                invalid("subscription.address", reason);
            }
        }
        None => invalid(
            "subscription.channel",
            format!(
                "チャネル「{channel}」はこの環境では使えません（使えるもの: {}） / channel not available",
                channels.names().collect::<Vec<_>>().join(", ")
            ),
        ),
    }
    for (index, event_type) in subscription.event_types.iter().enumerate() {
        if !EVENT_TYPES.contains(&event_type.as_str()) {
            invalid(
                &format!("subscription.event_types[{index}]"),
                format!(
                    "イベント「{event_type}」は通知されません（{}） / unknown event type",
                    EVENT_TYPES.join(", ")
                ),
            );
        }
    }
    let mut area_ids = Vec::new();
    for (index, id) in subscription.area_ids.iter().enumerate() {
        match parse_id(&format!("subscription.area_ids[{index}]"), id) {
            Ok(id) => area_ids.push(id),
            Err(ServiceError::InvalidArgument(found)) => {
                for violation in found {
                    invalid(&violation.field, violation.description);
                }
            }
            Err(other) => return Err(other),
        }
    }
    let quiet_hours = subscription.quiet_hours.map(|q| (q.start_minute, q.end_minute));
    if let Some((start, end)) = quiet_hours
        && (start >= 1440 || end >= 1440 || start == end)
    {
        invalid(
            "subscription.quiet_hours",
            "静かな時間帯は 0〜1439 分（日本時間）で、開始と終了を変えてください / quiet hours are minutes 0–1439 with start ≠ end".into(),
        );
    }
    if let Some(minute) = subscription.daily_digest_minute
        && minute >= 1440
    {
        invalid(
            "subscription.daily_digest_minute",
            "まとめ通知の時刻は 0〜1439 分（日本時間）です / the digest minute is 0–1439".into(),
        );
    }
    let locale = match subscription.locale.trim() {
        "" => "ja".to_string(),
        locale @ ("ja" | "en") => locale.to_string(),
        other => {
            invalid(
                "subscription.locale",
                format!("言語は ja か en です（入力: {other}） / locale must be ja or en"),
            );
            String::new()
        }
    };
    if !violations.is_empty() {
        return Err(ServiceError::InvalidArgument(violations));
    }
    Ok((
        NewSubscription {
            audience: audience.expect("checked above"),
            subscriber_kind,
            subscriber_name,
            channel,
            address: subscription.address.trim().to_string(),
            event_types: subscription.event_types,
            categories: subscription
                .categories
                .iter()
                .map(|c| c.trim().to_string())
                .collect(),
            area_ids,
            quiet_hours: quiet_hours.map(|(start, end)| (start as i32, end as i32)),
            digest_minute: subscription.daily_digest_minute.map(|m| m as i32),
            locale,
        },
        subscription.municipality_code.trim().to_string(),
    ))
}

/// Where the address leads now (a webhook's host resolved and checked against the internal
/// networks), after the address itself passed `check`.
pub async fn check_destination(new: &NewSubscription, channels: &Channels) -> ServiceResult<()> {
    let Some(adapter) = channels.get(&new.channel) else {
        return Ok(());
    };
    adapter
        .check_destination(&new.address)
        .await
        .map_err(|reason| ServiceError::invalid("subscription.address", reason))
}

/// Whether notifications knows `need_id` as a need of `municipality_code` (from the events
/// about it: `need_context`). Read under the municipality's wall, so another municipality's
/// need and a need nobody heard of look the same: absent.
pub async fn need_in(pool: &PgPool, need_id: &str, municipality_code: &str) -> ServiceResult<bool> {
    let Ok(need_id) = need_id.parse::<Uuid>() else {
        return Ok(false);
    };
    let found: Option<(Uuid,)> = tsunagu_runtime::db::as_tenant(
        municipality_code,
        sqlx::query_as("SELECT need_id FROM need_context WHERE need_id = $1 AND municipality_code = $2")
            .bind(need_id)
            .bind(municipality_code)
            .fetch_optional(pool),
    )
    .await?;
    Ok(found.is_some())
}

#[derive(sqlx::FromRow)]
pub struct SubscriptionRow {
    id: Uuid,
    municipality_code: String,
    recipient_kind: String,
    recipient_id: String,
    subscriber_kind: String,
    subscriber_name: String,
    channel: String,
    address: String,
    event_types: Vec<String>,
    categories: Vec<String>,
    area_ids: Vec<Uuid>,
    quiet_start_minute: Option<i32>,
    quiet_end_minute: Option<i32>,
    digest_minute: Option<i32>,
    locale: String,
    created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, municipality_code, recipient_kind, recipient_id, subscriber_kind, subscriber_name, channel,
    address, event_types, categories, area_ids, quiet_start_minute, quiet_end_minute, digest_minute, locale, created_at";

/// Creates it; returns the row and, for webhooks, the signing secret.
pub async fn create(
    pool: &PgPool,
    new: NewSubscription,
    municipality_code: &str,
    created_by: &str,
) -> ServiceResult<(SubscriptionRow, Option<String>)> {
    let secret = (new.channel == "webhook").then(signature::new_secret);
    let row: SubscriptionRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO subscription (id, municipality_code, recipient_kind, recipient_id, subscriber_kind, subscriber_name,
                                   channel, address, secret, event_types, categories, area_ids, quiet_start_minute,
                                   quiet_end_minute, digest_minute, locale, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
         RETURNING {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(municipality_code)
    .bind(new.audience.kind())
    .bind(new.audience.id())
    .bind(new.subscriber_kind.as_str_name())
    .bind(&new.subscriber_name)
    .bind(&new.channel)
    .bind(&new.address)
    .bind(&secret)
    .bind(&new.event_types)
    .bind(&new.categories)
    .bind(&new.area_ids)
    .bind(new.quiet_hours.map(|q| q.0))
    .bind(new.quiet_hours.map(|q| q.1))
    .bind(new.digest_minute)
    .bind(&new.locale)
    .bind(created_by)
    .fetch_one(pool)
    .await?;
    Ok((row, secret))
}

pub async fn list(
    pool: &PgPool,
    municipality_code: Option<&str>,
    organization_id: Option<&str>,
    page: &Page,
) -> ServiceResult<Vec<SubscriptionRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM subscription
         WHERE deleted_at IS NULL AND ($1::uuid IS NULL OR id > $1)
           AND ($3::text IS NULL OR municipality_code = $3)
           AND ($4::text IS NULL OR (recipient_kind = 'organization' AND recipient_id = $4))
         ORDER BY id LIMIT $2"
    )))
    .bind(page.after)
    .bind(i64::from(page.size))
    .bind(municipality_code)
    .bind(organization_id)
    .fetch_all(pool)
    .await?)
}

/// The subscription, read under the caller's wall. Absent and hidden are one answer, the
/// refusal every other call gives (`ServiceError::Denied`): a NOT_FOUND here would tell a
/// caller which ids of other people's subscriptions are real.
pub async fn find(pool: &PgPool, id: Uuid) -> ServiceResult<SubscriptionRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM subscription WHERE id = $1 AND deleted_at IS NULL"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or(ServiceError::Denied)
}

/// Soft delete: its delivery log keeps naming it; pending deliveries are dead-lettered when
/// their turn comes.
pub async fn delete(pool: &PgPool, id: Uuid) -> ServiceResult<()> {
    sqlx::query("UPDATE subscription SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

impl SubscriptionRow {
    pub fn id(&self) -> Uuid {
        self.id
    }

    pub fn audience(&self) -> Option<Audience> {
        Audience::from_stored(&self.recipient_kind, self.recipient_id.clone())
    }

    pub fn channel(&self) -> &str {
        &self.channel
    }

    pub fn municipality_code(&self) -> &str {
        &self.municipality_code
    }

    pub fn into_proto(self) -> pb::Subscription {
        let recipient = self
            .audience()
            .map(|audience| super::recipient_to_proto(&audience));
        pb::Subscription {
            id: self.id.to_string(),
            municipality_code: self.municipality_code,
            recipient,
            subscriber_kind: pb::SubscriberKind::from_str_name(&self.subscriber_kind)
                .unwrap_or(pb::SubscriberKind::Unspecified)
                .into(),
            subscriber_name: self.subscriber_name,
            channel: self.channel,
            address: self.address,
            event_types: self.event_types,
            categories: self.categories,
            area_ids: self.area_ids.iter().map(Uuid::to_string).collect(),
            quiet_hours: self
                .quiet_start_minute
                .zip(self.quiet_end_minute)
                .map(|(start, end)| pb::QuietHours {
                    start_minute: start as u32,
                    end_minute: end as u32,
                }),
            daily_digest_minute: self.digest_minute.map(|m| m as u32),
            locale: self.locale,
            created_at: Some(timestamp(self.created_at)),
        }
    }
}
