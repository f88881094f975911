//! Turns one event's [`Message`] into rows, inside the consumer's inbox transaction: an in-app
//! notification per inbox audience, and a delivery per matching subscription, scheduled by the
//! subscriber's preferences. Unique keys on (event, recipient, channel) and (event,
//! subscription) make a redelivered event write nothing twice.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use tracing::Instrument;
use tsunagu_runtime::amqp::Envelope;
use tsunagu_runtime::db;
use tsunagu_runtime::error::ServiceResult;
use uuid::Uuid;

use crate::message::{Audience, Message};
use crate::schedule::{self, Plan, Preferences};
use crate::templates;

#[derive(sqlx::FromRow)]
struct SubscriptionRow {
    id: Uuid,
    channel: String,
    locale: String,
    quiet_start_minute: Option<i32>,
    quiet_end_minute: Option<i32>,
    digest_minute: Option<i32>,
}

impl SubscriptionRow {
    fn preferences(&self) -> Preferences {
        Preferences {
            quiet_hours: self
                .quiet_start_minute
                .zip(self.quiet_end_minute)
                .map(|(start, end)| (start as u16, end as u16)),
            digest_minute: self.digest_minute.map(|minute| minute as u16),
        }
    }
}

/// What one event wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub notifications: u64,
    pub deliveries: u64,
}

pub async fn fan_out(
    tx: &mut PgConnection,
    event: &Envelope,
    message: &mut Message,
    now: DateTime<Utc>,
) -> ServiceResult<Written> {
    remember_context(tx, message).await?;
    let mut written = Written::default();
    for audience in message.audiences.clone() {
        let key = audience.template_key(&message.event_type);
        if audience.has_inbox()
            && let Some(text) =
                templates::render(tx, &key, "ja", &message.municipality_code, &message.vars).await?
        {
            written.notifications += record_notification(tx, event, message, &audience, &text).await?;
        }
        for subscription in subscriptions_for(tx, message, &audience).await? {
            // The texts of the need's municipality (or its prefecture): whose recipients these are.
            let Some(text) = templates::render(
                tx,
                &key,
                &subscription.locale,
                &message.municipality_code,
                &message.vars,
            )
            .await?
            else {
                continue;
            };
            written.deliveries +=
                record_delivery(tx, event, message, &audience, &subscription, &text, now).await?;
        }
    }
    Ok(written)
}

/// Keeps the need's area and category from the events that carry them, and fills them in
/// for the events that do not. A message about no need has no context to keep.
async fn remember_context(tx: &mut PgConnection, message: &mut Message) -> ServiceResult<()> {
    let Some(need_id) = message.need_id else {
        return Ok(());
    };
    if message.area_id.is_some() && !message.category.is_empty() {
        sqlx::query(
            "INSERT INTO need_context (need_id, municipality_code, area_id, category) VALUES ($1, $2, $3, $4)
             ON CONFLICT (need_id) DO UPDATE SET area_id = EXCLUDED.area_id, category = EXCLUDED.category",
        )
        .bind(need_id)
        .bind(&message.municipality_code)
        .bind(message.area_id)
        .bind(&message.category)
        .execute(&mut *tx)
        .await?;
        return Ok(());
    }
    // Every event about a need names its municipality: kept, so that a subscription to the
    // need's proxies can be checked against it (`subscriptions::need_in`).
    sqlx::query(
        "INSERT INTO need_context (need_id, municipality_code, category) VALUES ($1, $2, '')
         ON CONFLICT (need_id) DO NOTHING",
    )
    .bind(need_id)
    .bind(&message.municipality_code)
    .execute(&mut *tx)
    .await?;
    let known: Option<(Option<Uuid>, String)> =
        sqlx::query_as("SELECT area_id, category FROM need_context WHERE need_id = $1")
            .bind(need_id)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((area_id, category)) = known {
        message.area_id = message.area_id.or(area_id);
        if message.category.is_empty() {
            message
                .vars
                .insert("category", crate::message::category_name(&category));
            message.category = category;
        }
    }
    Ok(())
}

/// The live subscriptions of `audience` that want this event. Outside an organisation's own
/// subscriptions, a subscription only ever hears of its own municipality's needs, whatever
/// recipient id it names.
async fn subscriptions_for(
    tx: &mut PgConnection,
    message: &Message,
    audience: &Audience,
) -> ServiceResult<Vec<SubscriptionRow>> {
    let same_municipality_only = !matches!(audience, Audience::Organization(_));
    if let Audience::Organization(id) = audience {
        // The consumer acts as the event's municipality; an organisation's subscriptions may
        // have been made in its own: admit that organisation's rows for this transaction.
        sqlx::query("SELECT set_config('tsunagu.organization', $1, true)")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(sqlx::query_as(
        "SELECT id, channel, locale, quiet_start_minute, quiet_end_minute, digest_minute
         FROM subscription
         WHERE recipient_kind = $1 AND recipient_id = $2 AND deleted_at IS NULL
           AND (NOT $3 OR municipality_code = $4)
           AND (cardinality(event_types) = 0 OR $5 = ANY (event_types))
           AND (cardinality(categories) = 0 OR $6 = ANY (categories))
           AND (cardinality(area_ids) = 0 OR $7 = ANY (area_ids))
         ORDER BY id",
    )
    .bind(audience.kind())
    .bind(audience.id())
    .bind(same_municipality_only)
    .bind(&message.municipality_code)
    .bind(&message.event_type)
    .bind(&message.category)
    .bind(message.area_id)
    .fetch_all(&mut *tx)
    .await?)
}

async fn record_notification(
    tx: &mut PgConnection,
    event: &Envelope,
    message: &Message,
    audience: &Audience,
    text: &templates::Rendered,
) -> ServiceResult<u64> {
    let span = db::span("notifications", "INSERT", "notification");
    if let Some(need_id) = message.need_id {
        span.record("tsunagu.need_id", need_id.to_string());
    }
    if let Some(proposal_id) = message.proposal_id {
        span.record("tsunagu.proposal_id", proposal_id.to_string());
    }
    let inserted = sqlx::query(
        "INSERT INTO notification (id, municipality_code, recipient_kind, recipient_id, event_type, event_id,
                                   title, body, need_id, proposal_id, urgent, template_key, template_version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (event_id, recipient_kind, recipient_id, channel) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(&message.municipality_code)
    .bind(audience.kind())
    .bind(audience.id())
    .bind(&event.event_type)
    .bind(event.id)
    .bind(&text.subject)
    .bind(&text.body)
    .bind(message.need_id)
    .bind(message.proposal_id)
    .bind(message.urgent)
    .bind(&text.key)
    .bind(text.version)
    .execute(&mut *tx)
    .instrument(span)
    .await?
    .rows_affected();
    Ok(inserted)
}

async fn record_delivery(
    tx: &mut PgConnection,
    event: &Envelope,
    message: &Message,
    audience: &Audience,
    subscription: &SubscriptionRow,
    text: &templates::Rendered,
    now: DateTime<Utc>,
) -> ServiceResult<u64> {
    let id = Uuid::now_v7();
    let (state, at) = match schedule::plan(now, subscription.preferences(), message.urgent) {
        Plan::SendAt(at) => ("pending", at),
        Plan::Digest(at) => ("digest", at),
    };
    // What a machine receives: ids and codes (events never carry personal data) and the
    // rendered text.
    let payload = serde_json::json!({
        "delivery_id": id,
        "event_id": event.id,
        "event_type": event.event_type,
        "municipality_code": message.municipality_code,
        "need_id": message.need_id,
        "proposal_id": message.proposal_id,
        "category": message.category,
        "urgent": message.urgent,
        "subject": text.subject,
        "body": text.body,
        "data": event.payload,
    });
    let inserted = sqlx::query(
        "INSERT INTO delivery (id, subscription_id, municipality_code, recipient_kind, recipient_id, channel,
                               event_type, event_id, urgent, subject, body, payload, template_key,
                               template_version, state, next_attempt_at, trace_headers)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
         ON CONFLICT (event_id, subscription_id) DO NOTHING",
    )
    .bind(id)
    .bind(subscription.id)
    .bind(&message.municipality_code)
    .bind(audience.kind())
    .bind(audience.id())
    .bind(&subscription.channel)
    .bind(&event.event_type)
    .bind(event.id)
    .bind(message.urgent)
    .bind(&text.subject)
    .bind(&text.body)
    .bind(payload)
    .bind(&text.key)
    .bind(text.version)
    .bind(state)
    .bind(at)
    .bind(sqlx::types::Json(
        tsunagu_runtime::telemetry::current_trace_headers(),
    ))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(inserted)
}
