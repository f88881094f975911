//! Daily digests: routine items of a subscription that asked for a digest wait in state
//! `digest` until their digest minute; then one delivery carries all of them (rendered with
//! the `digest` template) and each item records which digest carried it. Grouping happens in
//! one transaction under row locks, so two replicas never put an item in two digests.

use std::collections::BTreeMap;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tsunagu_runtime::db;
use uuid::Uuid;

use crate::templates::{self, Vars};

#[derive(sqlx::FromRow)]
struct Item {
    id: Uuid,
    subscription_id: Uuid,
    subject: String,
    event_type: String,
    event_id: Uuid,
    need_id: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SubscriptionRow {
    municipality_code: String,
    recipient_kind: String,
    recipient_id: String,
    channel: String,
    locale: String,
    subscriber_name: String,
}

pub async fn run(pool: PgPool, poll: Duration, wake: std::sync::Arc<Notify>, shutdown: CancellationToken) {
    loop {
        match db::as_tenant(db::EVERY_TENANT, assemble_due(&pool)).await {
            Ok(0) => {}
            Ok(digests) => {
                tracing::info!(digests, "digests assembled");
                wake.notify_one();
            }
            Err(error) => tracing::warn!(%error, "assembling digests failed; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// Turns every subscription's due items into one pending digest delivery; returns how many.
async fn assemble_due(pool: &PgPool) -> sqlx::Result<usize> {
    let mut tx = pool.begin().await?;
    let items: Vec<Item> = sqlx::query_as(
        "SELECT id, subscription_id, subject, event_type, event_id, payload->>'need_id' AS need_id
         FROM delivery WHERE state = 'digest' AND next_attempt_at <= now()
         ORDER BY subscription_id, created_at LIMIT 1000 FOR UPDATE SKIP LOCKED",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut by_subscription: BTreeMap<Uuid, Vec<Item>> = BTreeMap::new();
    for item in items {
        by_subscription
            .entry(item.subscription_id)
            .or_default()
            .push(item);
    }
    let digests = by_subscription.len();
    for (subscription_id, items) in by_subscription {
        let subscription: SubscriptionRow = sqlx::query_as(
            "SELECT municipality_code, recipient_kind, recipient_id, channel, locale, subscriber_name
             FROM subscription WHERE id = $1",
        )
        .bind(subscription_id)
        .fetch_one(&mut *tx)
        .await?;
        let mut vars = Vars::new();
        vars.insert("count", items.len().to_string());
        vars.insert("subscriber_name", subscription.subscriber_name.clone());
        vars.insert(
            "items",
            items
                .iter()
                .map(|item| format!("・{}", item.subject))
                .collect::<Vec<_>>()
                .join("\n"),
        );
        let rendered = templates::render(
            &mut tx,
            "digest",
            &subscription.locale,
            &subscription.municipality_code,
            &vars,
        )
        .await
        .map_err(|error| sqlx::Error::Protocol(error.to_string()))?
        .ok_or_else(|| sqlx::Error::Protocol("the digest template is missing".into()))?;
        let digest_id = Uuid::now_v7();
        let payload = serde_json::json!({
            "delivery_id": digest_id,
            "event_type": "digest",
            "municipality_code": subscription.municipality_code,
            "subject": rendered.subject,
            "body": rendered.body,
            "items": items.iter().map(|item| serde_json::json!({
                "event_id": item.event_id,
                "event_type": item.event_type,
                "need_id": item.need_id,
                "subject": item.subject,
            })).collect::<Vec<_>>(),
        });
        sqlx::query(
            "INSERT INTO delivery (id, subscription_id, municipality_code, recipient_kind, recipient_id, channel,
                                   event_type, event_id, urgent, subject, body, payload, template_key,
                                   template_version, state)
             VALUES ($1, $2, $3, $4, $5, $6, 'digest', $1, false, $7, $8, $9, $10, $11, 'pending')",
        )
        .bind(digest_id)
        .bind(subscription_id)
        .bind(&subscription.municipality_code)
        .bind(&subscription.recipient_kind)
        .bind(&subscription.recipient_id)
        .bind(&subscription.channel)
        .bind(&rendered.subject)
        .bind(&rendered.body)
        .bind(payload)
        .bind(&rendered.key)
        .bind(rendered.version)
        .execute(&mut *tx)
        .await?;
        let ids: Vec<Uuid> = items.iter().map(|item| item.id).collect();
        sqlx::query("UPDATE delivery SET state = 'digested', digest_id = $2 WHERE id = ANY ($1)")
            .bind(&ids)
            .bind(digest_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(digests)
}
