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
use crate::backoff::Backoff;
use crate::health::BrokerStatus;
use crate::telemetry;

/// Rows published per relay transaction.
const RELAY_BATCH: i64 = 100;
/// How often the relay looks for rows when nobody pokes it (another replica may have written).
const RELAY_POLL: Duration = Duration::from_millis(500);

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
}

/// Publishes the outbox until `shutdown`; reconnects to the broker with backoff. `wake` lets
/// the service poke the relay right after a commit, so an event leaves in milliseconds.
pub async fn run_relay(
    service: &'static str,
    pool: PgPool,
    amqp_url: String,
    topology: Topology,
    wake: Arc<Notify>,
    broker_status: BrokerStatus,
    shutdown: CancellationToken,
) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
    while !shutdown.is_cancelled() {
        match relay_connected(
            service,
            &pool,
            &amqp_url,
            &topology,
            &wake,
            &broker_status,
            &mut backoff,
            &shutdown,
        )
        .await
        {
            Ok(()) => break,
            Err(error) => {
                broker_status.set_reachable(false);
                let delay = backoff.next_delay();
                tracing::warn!(
                    service,
                    error = format!("{error:#}"),
                    retry_in_ms = delay.as_millis() as u64,
                    "outbox relay lost the broker"
                );
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.cancelled() => break,
                }
            }
        }
    }
    tracing::info!(service, "outbox relay stopped");
}

#[allow(clippy::too_many_arguments)]
async fn relay_connected(
    service: &'static str,
    pool: &PgPool,
    amqp_url: &str,
    topology: &Topology,
    wake: &Notify,
    broker_status: &BrokerStatus,
    backoff: &mut Backoff,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    // Its own connection: a publisher blocked by flow control must not stall consumers.
    let connection = amqp::connect(amqp_url, &format!("tsunagu-{service}-relay")).await?;
    let channel = amqp::confirm_channel(&connection).await?;
    topology.declare(&channel).await?;
    broker_status.set_reachable(true);
    backoff.reset();
    loop {
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
async fn publish_batch(
    service: &'static str,
    pool: &PgPool,
    channel: &lapin::Channel,
    topology: &Topology,
) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await?;
    let rows: Vec<PendingRow> = sqlx::query_as(
        "SELECT id, event_type, municipality_code, payload, trace_context FROM outbox
         WHERE published_at IS NULL ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(RELAY_BATCH)
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let batch_span = tracing::info_span!("outbox relay", tsunagu.service = service, batch.size = rows.len());
    let mut published = 0;
    let mut broker_error = None;
    for row in rows {
        let result = publish_row(service, channel, topology, &row)
            .instrument(batch_span.clone())
            .await;
        match result {
            Ok(()) => {
                sqlx::query("UPDATE outbox SET published_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1")
                    .bind(row.id)
                    .execute(&mut *tx)
                    .await?;
                published += 1;
            }
            Err(error) => {
                // Unpublished rows stay in the outbox and are tried again: nothing is lost.
                sqlx::query("UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1")
                    .bind(row.id)
                    .bind(error.to_string())
                    .execute(&mut *tx)
                    .await?;
                if let PublishError::Unroutable(_) = error {
                    tracing::error!(service, event_id = %row.id, event_type = row.event_type, %error, "event is not routed to any queue");
                    continue;
                }
                broker_error = Some(error);
                break;
            }
        }
    }
    tx.commit().await?;
    match broker_error {
        Some(error) => Err(error.into()),
        None => Ok(published),
    }
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
        amqp::publish_confirmed(
            channel,
            &exchange,
            &envelope.event_type,
            &envelope.body(),
            envelope.properties(),
        )
        .await
    }
    .instrument(span)
    .await
}
