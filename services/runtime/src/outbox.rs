//! Transactional outbox: [`enqueue`] writes an event in the caller's transaction, so the
//! event exists if and only if the state change committed; [`run_relay`] publishes pending
//! events with publisher confirms and marks them published only after the broker confirmed
//! that the message was stored *and routed*. Delivery is at least once; consumers dedupe
//! through the inbox.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::amqp::{self, Envelope, PublishError, Topology};
use crate::config::ServiceName;
use crate::health::BrokerStatus;
use crate::supervisor::{Session, supervise};
use crate::telemetry;

/// Rows published per relay transaction.
const RELAY_BATCH: i64 = 100;
/// How often the relay looks for rows when nobody pokes it (another replica may have written).
const RELAY_POLL: Duration = Duration::from_millis(500);
/// How many days published outbox rows and inbox ids are kept.
const RETENTION_DAYS: i32 = 7;
/// How often the relay purges rows older than the retention period.
const PURGE_INTERVAL: Duration = Duration::from_secs(600);

/// Writes an event into the outbox of the current transaction and returns its message id.
/// The current span's trace context is stored with it, so the trace continues after the broker.
pub async fn enqueue<T: serde::Serialize>(
    tx: &mut PgConnection,
    event_type: &str,
    municipality_code: &str,
    payload: &T,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    let payload = serde_json::to_value(payload).map_err(|error| sqlx::Error::Encode(error.into()))?;
    let trace_context = serde_json::to_value(telemetry::current_trace_headers())
        .map_err(|error| sqlx::Error::Encode(error.into()))?;
    sqlx::query(
        "INSERT INTO outbox (id, event_type, municipality_code, payload, trace_context)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(event_type)
    .bind(municipality_code)
    .bind(payload)
    .bind(trace_context)
    .execute(tx)
    .await?;
    Ok(id)
}

#[derive(sqlx::FromRow)]
struct PendingRow {
    id: Uuid,
    event_type: String,
    municipality_code: String,
    payload: serde_json::Value,
    trace_context: serde_json::Value,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// Publishes the outbox until `shutdown`; reconnects to the broker with backoff. `wake` lets
/// the service poke the relay right after a commit, so an event leaves in milliseconds.
pub async fn run_relay(
    service: ServiceName,
    pool: PgPool,
    amqp_url: String,
    topology: Topology,
    wake: Arc<Notify>,
    broker_status: BrokerStatus,
    shutdown: CancellationToken,
) {
    supervise(
        "outbox relay",
        service.as_str(),
        broker_status,
        shutdown.clone(),
        |session| relay_session(service, &pool, &amqp_url, &topology, &wake, session, &shutdown),
    )
    .await;
}

async fn relay_session(
    name: ServiceName,
    pool: &PgPool,
    amqp_url: &str,
    topology: &Topology,
    wake: &Notify,
    session: Session,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let service = name.as_str();
    // Its own connection: a publisher blocked by flow control must not stall consumers.
    let connection = amqp::connect(amqp_url, &format!("tsunagu-{service}-relay")).await?;
    let channel = amqp::confirm_channel(&connection).await?;
    topology.declare(&connection, &channel, name).await?;
    session.connected();
    let mut last_purge: Option<std::time::Instant> = None;
    loop {
        if last_purge.is_none_or(|at| at.elapsed() >= PURGE_INTERVAL) {
            if let Err(error) = purge_old_rows(pool).await {
                tracing::warn!(service, %error, "purging old outbox rows failed");
            }
            last_purge = Some(std::time::Instant::now());
        }
        // Drain everything pending before waiting; a shutdown lets the current batch finish.
        let published = publish_batch(service, pool, &channel, topology).await?;
        if shutdown.is_cancelled() {
            let _ = connection.close(200, "shutdown".into()).await;
            return Ok(());
        }
        if published < RELAY_BATCH as usize {
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(RELAY_POLL) => {}
                _ = shutdown.cancelled() => {}
            }
        }
        if !connection.status().connected() {
            anyhow::bail!("connection closed");
        }
    }
}

/// Publishes one batch in one transaction. Rows are locked with SKIP LOCKED, so several
/// replicas of a service can relay side by side without publishing a row twice at once.
/// Every message of the batch is sent before any confirm is awaited: one round trip to the
/// broker per batch, not per event.
async fn publish_batch(
    service: &'static str,
    pool: &PgPool,
    channel: &lapin::Channel,
    topology: &Topology,
) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await?;
    let rows: Vec<PendingRow> = sqlx::query_as(
        "SELECT id, event_type, municipality_code, payload, trace_context, created_at FROM outbox
         WHERE published_at IS NULL AND next_attempt_at <= now()
         ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(RELAY_BATCH)
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let batch_span = tracing::info_span!(
        "outbox relay",
        otel.name = "outbox relay batch",
        tsunagu.service = service,
        messaging.system = "rabbitmq",
        messaging.batch.message_count = rows.len()
    );
    let outcomes = async {
        let confirms = futures_util::future::join_all(
            rows.iter()
                .map(|row| publish_row(service, channel, topology, row)),
        );
        confirms.await
    }
    .instrument(batch_span.clone())
    .await;

    let mut published = Vec::new();
    let mut unroutable = Vec::new();
    let mut broker_error = None;
    for (row, outcome) in rows.iter().zip(outcomes) {
        match outcome {
            Ok(()) => published.push(row.id),
            // No service consumes this type yet: the broker returning it is expected, and it
            // must not wait in the outbox (retried and logged forever) for a consumer.
            Err(PublishError::Unroutable(_)) if !crate::amqp::is_subscribed(&row.event_type) => {
                tracing::debug!(service, event_id = %row.id, event_type = row.event_type, "event has no subscriber yet");
                published.push(row.id);
            }
            Err(PublishError::Unroutable(_)) => {
                tracing::error!(service, event_id = %row.id, event_type = row.event_type, "event is not routed to any queue; kept in the outbox");
                unroutable.push(row.id);
            }
            Err(error) => {
                broker_error.get_or_insert(error);
            }
        }
    }
    sqlx::query(
        "UPDATE outbox SET published_at = now(), attempts = attempts + 1, last_error = NULL
         WHERE id = ANY($1)",
    )
    .bind(&published)
    .execute(&mut *tx)
    .instrument(batch_span.in_scope(|| crate::db::span(service, "UPDATE", "outbox")))
    .await?;
    sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, last_error = 'unroutable: no queue is bound for this event type',
             next_attempt_at = now() + make_interval(secs => least(power(2, attempts), 300))
         WHERE id = ANY($1)",
    )
    .bind(&unroutable)
    .execute(&mut *tx)
    .await?;
    if let Some(error) = &broker_error {
        // Unconfirmed rows stay pending and go as soon as the broker is back: nothing is lost.
        let failed: Vec<Uuid> = rows
            .iter()
            .map(|row| row.id)
            .filter(|id| !published.contains(id) && !unroutable.contains(id))
            .collect();
        sqlx::query("UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1)")
            .bind(&failed)
            .bind(error.to_string())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    match broker_error {
        Some(error) => Err(error.into()),
        None => Ok(published.len()),
    }
}

/// Deletes published outbox rows and inbox ids older than `RETENTION_DAYS`: long enough
/// for any redelivery and for an operator to look at recent traffic, short enough that the
/// tables do not grow without end.
async fn purge_old_rows(pool: &PgPool) -> sqlx::Result<()> {
    let outbox = sqlx::query("DELETE FROM outbox WHERE published_at < now() - make_interval(days => $1)")
        .bind(RETENTION_DAYS)
        .execute(pool)
        .await?
        .rows_affected();
    let inbox = sqlx::query("DELETE FROM inbox WHERE received_at < now() - make_interval(days => $1)")
        .bind(RETENTION_DAYS)
        .execute(pool)
        .await?
        .rows_affected();
    if outbox + inbox > 0 {
        tracing::info!(outbox, inbox, "purged old outbox and inbox rows");
    }
    Ok(())
}

async fn publish_row(
    service: &'static str,
    channel: &lapin::Channel,
    topology: &Topology,
    row: &PendingRow,
) -> Result<(), PublishError> {
    let exchange = topology.events_exchange();
    let span = tracing::info_span!(
        "publish",
        otel.name = format!("{exchange} publish"),
        otel.kind = "producer",
        messaging.system = "rabbitmq",
        messaging.operation.type = "send",
        messaging.destination.name = exchange.as_str(),
        messaging.rabbitmq.destination.routing_key = row.event_type.as_str(),
        messaging.message.id = %row.id,
        tsunagu.service = service,
        tsunagu.municipality_code = row.municipality_code.as_str(),
        tsunagu.need_id = tracing::field::Empty,
        tsunagu.proposal_id = tracing::field::Empty,
    );
    let stored: HashMap<String, String> =
        serde_json::from_value(row.trace_context.clone()).unwrap_or_default();
    telemetry::set_remote_parent(&span, &stored);
    async {
        // The consumer's span becomes a child of this publish span.
        let mut trace_headers = HashMap::new();
        telemetry::inject_current(&mut trace_headers);
        let envelope = Envelope {
            id: row.id,
            event_type: row.event_type.clone(),
            municipality_code: row.municipality_code.clone(),
            payload: row.payload.clone(),
            trace_headers,
        };
        envelope.record_subject_ids(&tracing::Span::current());
        // When the state change committed: consumers measure their lag from it.
        let properties = amqp::with_header(
            envelope.properties(),
            amqp::HEADER_COMMITTED_AT,
            &row.created_at.timestamp_millis().to_string(),
        );
        amqp::publish_confirmed(
            channel,
            &exchange,
            &envelope.event_type,
            &envelope.body(),
            properties,
        )
        .await
    }
    .instrument(span)
    .await
}
