//! Consuming events with the inbox: the message id is recorded in the same transaction as the
//! handler's effect, and the message is acked only after that transaction committed. A
//! redelivered message (after a crash, a broker restart, a duplicate publish) finds its id in
//! the inbox and changes nothing.

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::amqp::{self, Envelope, Topology};
use crate::backoff::Backoff;
use crate::config::ServiceName;
use crate::health::BrokerStatus;
use crate::supervisor::{Session, supervise};
use crate::telemetry;

/// What went wrong while handling an event, and so what happens to the message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The message can never succeed (malformed, violates the contract): it goes to the
    /// dead-letter queue at once, with this reason.
    #[error("permanent: {0:#}")]
    Permanent(anyhow::Error),
    /// This message failed but may succeed later: it is redelivered after a backoff, and
    /// dead-lettered once the delivery limit is reached.
    #[error("transient: {0:#}")]
    Transient(anyhow::Error),
    /// A service this one depends on is down (the registry does not answer): every message
    /// would fail alike, so it is not this message's fault. The consumer keeps the message and
    /// retries in place with backoff, without using up its deliveries, until the dependency
    /// answers or the service shuts down.
    #[error("dependency unavailable: {0:#}")]
    DependencyUnavailable(anyhow::Error),
}

impl From<sqlx::Error> for HandlerError {
    fn from(error: sqlx::Error) -> Self {
        HandlerError::Transient(error.into())
    }
}

/// A service's reaction to events. `handle` runs inside the inbox transaction: everything it
/// writes through `tx` commits together with the message id, or not at all.
pub trait EventHandler: Send + Sync + 'static {
    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a Envelope,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send + 'a;

    /// Called after the transaction committed, e.g. to wake the outbox relay.
    fn after_commit(&self) {}
}

pub struct ConsumerSettings {
    pub service: ServiceName,
    pub amqp_url: String,
    pub topology: Topology,
    pub prefetch: u16,
}

/// Consumes the service's queue until `shutdown`, reconnecting with backoff.
pub async fn run_consumer<H: EventHandler>(
    settings: ConsumerSettings,
    pool: PgPool,
    handler: H,
    broker_status: BrokerStatus,
    shutdown: CancellationToken,
) {
    let service = settings.service.as_str();
    supervise("consumer", service, broker_status, shutdown.clone(), |session| {
        consume_session(&settings, &pool, &handler, session, &shutdown)
    })
    .await;
}

async fn consume_session<H: EventHandler>(
    settings: &ConsumerSettings,
    pool: &PgPool,
    handler: &H,
    session: Session,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let service = settings.service.as_str();
    let connection = amqp::connect(&settings.amqp_url, &format!("tsunagu-{service}-consumer")).await?;
    let channel = connection.create_channel().await?;
    settings
        .topology
        .declare(&connection, &channel, settings.service)
        .await?;
    // Dead letters are published on a separate confirm channel.
    let dead_letter_channel = amqp::confirm_channel(&connection).await?;
    channel
        .basic_qos(settings.prefetch, BasicQosOptions::default())
        .await?;
    let queue = settings.topology.queue(settings.service);
    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            format!("tsunagu-{service}-{}", uuid::Uuid::now_v7()).into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    session.connected();
    tracing::info!(service, queue, "consuming");
    loop {
        let delivery = tokio::select! {
            delivery = consumer.next() => delivery,
            _ = shutdown.cancelled() => {
                // Unacked prefetched messages return to the queue when the connection closes.
                let _ = connection.close(200, "shutdown".into()).await;
                return Ok(());
            }
        };
        let Some(delivery) = delivery else {
            anyhow::bail!("consumer stream ended")
        };
        let delivery = delivery?;
        process_delivery(
            settings,
            &queue,
            pool,
            handler,
            &dead_letter_channel,
            delivery,
            shutdown,
        )
        .await?;
    }
}

/// Handles one delivery to its end: acked, requeued, or dead-lettered.
pub(crate) async fn process_delivery<H: EventHandler>(
    settings: &ConsumerSettings,
    queue: &str,
    pool: &PgPool,
    handler: &H,
    dead_letter_channel: &lapin::Channel,
    delivery: Delivery,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let service = settings.service.as_str();
    let headers = amqp::header_strings(&delivery.properties);
    observe_lag(settings, queue, &headers);
    let span = tracing::info_span!(
        "process",
        otel.name = format!("{queue} process"),
        otel.kind = "consumer",
        messaging.system = "rabbitmq",
        messaging.operation.type = "process",
        messaging.destination.name = queue,
        messaging.rabbitmq.destination.routing_key = delivery.routing_key.as_str(),
        messaging.message.id = tracing::field::Empty,
        tsunagu.service = service,
        tsunagu.event_type = tracing::field::Empty,
        tsunagu.municipality_code = tracing::field::Empty,
        tsunagu.duplicate = tracing::field::Empty,
        tsunagu.need_id = tracing::field::Empty,
        tsunagu.proposal_id = tracing::field::Empty,
    );
    telemetry::set_remote_parent(&span, &headers);

    async {
        let envelope = match Envelope::from_message(&delivery.properties, delivery.routing_key.as_str(), &delivery.data) {
            Ok(envelope) => envelope,
            Err(reason) => {
                tracing::error!(reason, "malformed message, dead-lettering");
                return dead_letter(settings, queue, dead_letter_channel, &delivery, &reason).await;
            }
        };
        let span = tracing::Span::current();
        span.record("messaging.message.id", envelope.id.to_string());
        span.record("tsunagu.event_type", envelope.event_type.as_str());
        envelope.record_subject_ids(&span);
        span.record("tsunagu.municipality_code", envelope.municipality_code.as_str());

        let mut retry_in_place = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        loop {
            // An event is handled as its municipality's tenant (row-level security).
            let handled = crate::db::as_tenant(
                &envelope.municipality_code,
                handle_in_transaction(settings.service, pool, handler, &envelope),
            );
            match handled.await {
                Ok(duplicate) => {
                    span.record("tsunagu.duplicate", duplicate);
                    handler.after_commit();
                    delivery.acker.ack(BasicAckOptions::default()).await?;
                    let outcome = if duplicate { "duplicate" } else { "handled" };
                    consumed(settings, queue, &delivery, outcome);
                    return Ok(());
                }
                Err(
                    error @ (TransactionError::Database(_)
                    | TransactionError::Handler(HandlerError::DependencyUnavailable(_))),
                ) => {
                    // The service's own database, or a service it depends on, is down: waiting
                    // for it does not count as a failed delivery. Keep the message and try
                    // again; shutdown requeues it.
                    let delay = retry_in_place.next_delay();
                    tracing::warn!(error = %error, retry_in_ms = delay.as_millis() as u64, "unavailable while handling event, retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => continue,
                        _ = shutdown.cancelled() => {
                            delivery.acker.nack(BasicNackOptions { requeue: true, ..Default::default() }).await?;
                            return Ok(());
                        }
                    }
                }
                Err(TransactionError::Handler(HandlerError::Permanent(error))) => {
                    let reason = format!("{error:#}");
                    tracing::error!(reason, "event cannot be processed, dead-lettering");
                    consumed(settings, queue, &delivery, "dead_lettered");
                    return dead_letter(settings, queue, dead_letter_channel, &delivery, &reason).await;
                }
                Err(TransactionError::Handler(HandlerError::Transient(error))) => {
                    let deliveries = amqp::delivery_count(&delivery.properties);
                    let delay = Duration::from_millis(100u64 << deliveries.min(7));
                    tracing::warn!(error = format!("{error:#}"), deliveries, retry_in_ms = delay.as_millis() as u64, "event failed, will be redelivered");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.cancelled() => {}
                    }
                    delivery.acker.nack(BasicNackOptions { requeue: true, ..Default::default() }).await?;
                    consumed(settings, queue, &delivery, "redelivered");
                    return Ok(());
                }
            }
        }
    }
    .instrument(span)
    .await
}

#[derive(Debug, thiserror::Error)]
enum TransactionError {
    #[error("database unavailable: {0}")]
    Database(sqlx::Error),
    #[error(transparent)]
    Handler(HandlerError),
}

/// Returns whether the message was a duplicate.
async fn handle_in_transaction<H: EventHandler>(
    service: ServiceName,
    pool: &PgPool,
    handler: &H,
    envelope: &Envelope,
) -> Result<bool, TransactionError> {
    let mut tx = pool.begin().await.map_err(TransactionError::Database)?;
    let inserted = sqlx::query(
        "INSERT INTO inbox (consumer, message_id, event_type) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(service.as_str())
    .bind(envelope.id)
    .bind(&envelope.event_type)
    .execute(&mut *tx)
    .instrument(crate::db::span(service.as_str(), "INSERT", "inbox"))
    .await
    .map_err(TransactionError::Database)?
    .rows_affected();
    if inserted == 0 {
        tracing::info!(event_id = %envelope.id, "duplicate delivery, already handled");
        tx.rollback().await.map_err(TransactionError::Database)?;
        return Ok(true);
    }
    handler
        .handle(&mut tx, envelope)
        .await
        .map_err(TransactionError::Handler)?;
    tx.commit().await.map_err(TransactionError::Database)?;
    Ok(false)
}

/// `tsunagu_messages_consumed_total` by service, event type, outcome (handled,
/// duplicate, redelivered, dead_lettered) and queue: redeliveries and duplicates show a
/// consumer in trouble.
fn consumed(settings: &ConsumerSettings, queue: &str, delivery: &Delivery, outcome: &str) {
    crate::metrics::count(
        "tsunagu_messages_consumed_total",
        "Messages a consumer finished with, by service, event type, outcome and queue.",
        &[
            ("service", settings.service.as_str()),
            ("event_type", delivery.routing_key.as_str()),
            ("outcome", outcome),
            ("queue", queue),
        ],
        1.0,
    );
}

/// `tsunagu_message_lag_seconds`: from the commit of the state change an event announces to
/// its consumer picking it up — the relay's wait, the broker's queue, the consumer's backlog.
/// Messages without the header (from older versions, or a manual replay) are not measured.
fn observe_lag(
    settings: &ConsumerSettings,
    queue: &str,
    headers: &std::collections::HashMap<String, String>,
) {
    let Some(committed_at) = headers
        .get(amqp::HEADER_COMMITTED_AT)
        .and_then(|millis| millis.parse::<i64>().ok())
    else {
        return;
    };
    let lag_millis = (chrono::Utc::now().timestamp_millis() - committed_at).max(0);
    crate::metrics::observe_in(
        "tsunagu_message_lag_seconds",
        "From the commit of the state change an event announces to its consumer picking it up.",
        &[("service", settings.service.as_str()), ("queue", queue)],
        lag_millis as f64 / 1000.0,
        crate::metrics::LAG_BUCKETS,
    );
}

async fn dead_letter(
    settings: &ConsumerSettings,
    queue: &str,
    channel: &lapin::Channel,
    delivery: &Delivery,
    reason: &str,
) -> anyhow::Result<()> {
    // The queue it came from: what an operator replays it to when only that consumer should
    // see it again.
    let properties = amqp::with_header(delivery.properties.clone(), amqp::HEADER_QUEUE, queue);
    amqp::publish_dead_letter(
        channel,
        &settings.topology,
        delivery.routing_key.as_str(),
        &delivery.data,
        &properties,
        reason,
    )
    .await?;
    // Acked only after the dead-letter copy is confirmed: the message is never in neither place.
    delivery.acker.ack(BasicAckOptions::default()).await?;
    Ok(())
}
