//! The deliverer: claims due deliveries (`FOR UPDATE SKIP LOCKED`, so any number of
//! notifications replicas share the work), sends each through its channel's adapter, and
//! records the attempt — delivered, retried after an exponential backoff with jitter, or
//! dead-lettered after a permanent refusal or too many attempts. A claim is a lease: a replica
//! that dies mid-send leaves the delivery to be claimed again when the lease runs out.
//!
//! Exactly once as far as Tsunagu can make it: a delivery is marked delivered in the same
//! statement that logs the successful attempt; a crash between the receiver's acceptance and
//! that commit sends it again, with the same Message-ID / `Tsunagu-Delivery` id so the
//! receiver can drop the repeat.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tsunagu_runtime::backoff::Backoff;
use tsunagu_runtime::{db, telemetry};
use uuid::Uuid;

use crate::breaker::{Admission, Breaker};
use crate::channels::{Channels, Outgoing, SendError};
use crate::schedule::{self, Preferences};

#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub retry_base: Duration,
    pub max_attempts: u32,
    /// How long a claim lasts before another replica may take the delivery over.
    pub lease: Duration,
    /// How many deliveries are sent at once.
    pub batch: usize,
    /// How often an idle deliverer looks for due work (it is also woken on new work).
    pub poll: Duration,
}

#[derive(sqlx::FromRow)]
struct Claimed {
    id: Uuid,
    event_id: Uuid,
    event_type: String,
    channel: String,
    subject: String,
    body: String,
    payload: serde_json::Value,
    attempts: i32,
    attempt_base: i32,
    urgent: bool,
    municipality_code: String,
    address: String,
    secret: Option<String>,
    quiet_start_minute: Option<i32>,
    quiet_end_minute: Option<i32>,
    subscription_deleted: bool,
    trace_headers: sqlx::types::Json<HashMap<String, String>>,
}

pub struct Deliverer {
    pub pool: PgPool,
    pub channels: Channels,
    pub breaker: Arc<Breaker>,
    pub settings: DeliverySettings,
    pub wake: Arc<Notify>,
}

/// What became of one attempt.
enum Outcome {
    Delivered,
    Retry {
        error: String,
        at: DateTime<Utc>,
    },
    Dead {
        error: String,
    },
    /// Held back by an open circuit breaker: not an attempt.
    Postponed {
        until: DateTime<Utc>,
    },
}

impl Deliverer {
    /// Keeps up to `batch` sends in flight: claims as many due deliveries as there are free
    /// slots, and claims again once half the slots are free, so a slow receiver holds one
    /// slot, not everyone else's deliveries.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(this.settings.batch));
        let mut sends = JoinSet::new();
        let mut failures = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        while !shutdown.is_cancelled() {
            while let Some(finished) = sends.try_join_next() {
                if let Ok(Err(error)) = finished {
                    tracing::warn!(%error, "recording a delivery's outcome failed; its lease will run out and it is retried");
                }
            }
            let free = slots.available_permits();
            if free < this.settings.batch.div_ceil(2) {
                // Most slots are busy: wait for one to free up rather than claim in dribs (a
                // claim is a round trip and a commit, however few it takes).
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = sends.join_next() => {}
                }
                continue;
            }
            match db::as_tenant(db::EVERY_TENANT, this.claim(free)).await {
                Ok(claimed) if claimed.is_empty() => {
                    failures.reset();
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = this.wake.notified() => {}
                        _ = tokio::time::sleep(this.settings.poll) => {}
                        Some(_) = sends.join_next(), if !sends.is_empty() => {}
                    }
                }
                Ok(claimed) => {
                    failures.reset();
                    for delivery in claimed {
                        let Ok(slot) = slots.clone().try_acquire_owned() else {
                            break;
                        };
                        let this = this.clone();
                        sends.spawn(db::as_tenant(db::EVERY_TENANT, async move {
                            let recorded = this.deliver(delivery).await;
                            drop(slot);
                            recorded
                        }));
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "claiming deliveries failed; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(failures.next_delay()) => {}
                    }
                }
            }
        }
        // Sends in flight finish (each is bounded by its channel's timeout) and are recorded.
        while sends.join_next().await.is_some() {}
    }

    /// Claims up to `limit` due deliveries — pending ones whose time has come, and ones whose
    /// sender's lease ran out — under a lease of their own. Each kind has its partial index,
    /// so a claim that finds nothing costs the same with a million deliveries held for quiet
    /// hours or digests as with none.
    async fn claim(&self, limit: usize) -> sqlx::Result<Vec<Claimed>> {
        sqlx::query_as(
            "WITH pending AS (
                 SELECT id FROM delivery WHERE state = 'pending' AND next_attempt_at <= now()
                 ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED),
             abandoned AS (
                 SELECT id FROM delivery WHERE state = 'sending' AND lease_until < now()
                 ORDER BY lease_until LIMIT $1 FOR UPDATE SKIP LOCKED),
             due AS (SELECT id FROM pending UNION SELECT id FROM abandoned)
             UPDATE delivery d SET state = 'sending', attempts = d.attempts + 1,
                    lease_until = now() + make_interval(secs => $2)
             FROM due, subscription s
             WHERE d.id = due.id AND s.id = d.subscription_id
             RETURNING d.id, d.event_id, d.event_type, d.channel, d.subject, d.body, d.payload, d.attempts, d.attempt_base,
                       d.urgent, d.municipality_code, s.address, s.secret, s.quiet_start_minute,
                       s.quiet_end_minute, s.deleted_at IS NOT NULL AS subscription_deleted, d.trace_headers",
        )
        .bind(limit as i64)
        .bind(self.settings.lease.as_secs_f64())
        .fetch_all(&self.pool)
        .await
    }

    async fn deliver(&self, delivery: Claimed) -> sqlx::Result<()> {
        // A span of the need's trace (the consumer that wrote the delivery is its parent), named
        // after the OpenTelemetry messaging conventions for a send.
        let span = tracing::info_span!(
            "notifications send",
            otel.kind = "producer",
            messaging.system = %delivery.channel,
            messaging.operation.type = "send",
            messaging.message.id = %delivery.id,
            tsunagu.event_id = %delivery.event_id,
            tsunagu.event_type = %delivery.event_type,
            tsunagu.attempt = delivery.attempts,
            tsunagu.municipality_code = %delivery.municipality_code,
        );
        telemetry::set_remote_parent(&span, &delivery.trace_headers.0);
        async move {
            let started_at = Utc::now();
            let clock = Instant::now();
            let outcome = self.attempt(&delivery).await;
            let latency_ms = i32::try_from(clock.elapsed().as_millis()).unwrap_or(i32::MAX);
            self.record(&delivery, started_at, latency_ms, outcome).await
        }
        .instrument(span)
        .await
    }

    async fn attempt(&self, delivery: &Claimed) -> Outcome {
        if delivery.subscription_deleted {
            return Outcome::Dead {
                error: "配信先の購読が削除されました / the subscription was deleted".into(),
            };
        }
        let Some(adapter) = self.channels.get(&delivery.channel) else {
            return Outcome::Dead {
                error: format!(
                    "チャネル「{}」はこのサービスで設定されていません / channel {} is not configured",
                    delivery.channel, delivery.channel
                ),
            };
        };
        let outgoing = Outgoing {
            delivery_id: delivery.id,
            event_id: delivery.event_id,
            event_type: delivery.event_type.clone(),
            address: delivery.address.clone(),
            secret: delivery.secret.clone(),
            subject: delivery.subject.clone(),
            body: delivery.body.clone(),
            payload: delivery.payload.clone(),
        };
        let destination = format!("{} {}", adapter.name(), adapter.destination(&outgoing));
        if let Admission::Wait(wait) = self.breaker.admit(&destination, Instant::now()) {
            return Outcome::Postponed {
                until: Utc::now() + wait,
            };
        }
        match adapter.send(&outgoing).await {
            Ok(()) => {
                self.breaker.succeeded(&destination);
                Outcome::Delivered
            }
            Err(SendError::Permanent(error)) => {
                // The receiver answered: the destination itself is up.
                self.breaker.succeeded(&destination);
                Outcome::Dead { error }
            }
            Err(SendError::Retryable(error)) => {
                if self.breaker.failed(&destination, Instant::now()) {
                    tracing::warn!(%destination, "circuit breaker opened");
                }
                if delivery.attempts as u32 >= self.settings.max_attempts {
                    return Outcome::Dead {
                        error: format!(
                            "{error}（{} 回試行） / gave up after {} attempts",
                            delivery.attempts, delivery.attempts
                        ),
                    };
                }
                let delay =
                    schedule::retry_delay(self.settings.retry_base, delivery.attempts as u32, jitter());
                let preferences = Preferences {
                    quiet_hours: delivery
                        .quiet_start_minute
                        .zip(delivery.quiet_end_minute)
                        .map(|(start, end)| (start as u16, end as u16)),
                    digest_minute: None,
                };
                let at = schedule::outside_quiet_hours(Utc::now() + delay, preferences, delivery.urgent);
                Outcome::Retry { error, at }
            }
        }
    }

    async fn record(
        &self,
        delivery: &Claimed,
        started_at: DateTime<Utc>,
        latency_ms: i32,
        outcome: Outcome,
    ) -> sqlx::Result<()> {
        // (the log's outcome, the delivery's new state, when to try next, the error)
        let (outcome_code, state, next_attempt_at, error) = match &outcome {
            Outcome::Delivered => ("delivered", "delivered", None, None),
            Outcome::Retry { error, at } => ("retry", "pending", Some(*at), Some(error.as_str())),
            Outcome::Dead { error } => ("failed", "dead", None, Some(error.as_str())),
            Outcome::Postponed { until } => {
                sqlx::query(
                    "UPDATE delivery SET state = 'pending', attempts = attempts - 1, next_attempt_at = $2,
                            lease_until = NULL
                     WHERE id = $1 AND state = 'sending'",
                )
                .bind(delivery.id)
                .bind(until)
                .execute(&self.pool)
                .await?;
                return Ok(());
            }
        };
        let detail = error.unwrap_or_default();
        tsunagu_runtime::metrics::count(
            "tsunagu_notification_delivery_attempts_total",
            "Delivery attempts by channel and outcome (delivered, retry, failed).",
            &[("channel", &delivery.channel), ("outcome", outcome_code)],
            1.0,
        );
        tsunagu_runtime::metrics::observe(
            "tsunagu_notification_delivery_seconds",
            "How long a delivery attempt took, by channel.",
            &[("channel", &delivery.channel)],
            f64::from(latency_ms) / 1000.0,
        );
        // The attempt's log row and the delivery's new state in one statement: one round trip
        // and one durable commit, both or neither.
        sqlx::query(
            "WITH logged AS (
                 INSERT INTO delivery_attempt (delivery_id, attempt, started_at, latency_ms, outcome, detail,
                                               municipality_code)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING)
             UPDATE delivery SET state = $8, lease_until = NULL, last_error = $9,
                    next_attempt_at = COALESCE($10, next_attempt_at),
                    delivered_at = CASE WHEN $8 = 'delivered' THEN now() ELSE delivered_at END
             WHERE id = $1",
        )
        .bind(delivery.id)
        .bind(delivery.attempt_base + delivery.attempts)
        .bind(started_at)
        .bind(latency_ms)
        .bind(outcome_code)
        .bind(detail)
        .bind(&delivery.municipality_code)
        .bind(state)
        .bind(error)
        .bind(next_attempt_at)
        .execute(&self.pool)
        .await?;
        match (&outcome, error) {
            (Outcome::Delivered, _) => {
                tracing::info!(delivery_id = %delivery.id, channel = %delivery.channel, latency_ms, "delivered")
            }
            (Outcome::Retry { at, .. }, Some(error)) => {
                tracing::info!(delivery_id = %delivery.id, channel = %delivery.channel, %error, retry_at = %at, "delivery failed; will retry")
            }
            (_, error) => {
                tracing::warn!(delivery_id = %delivery.id, channel = %delivery.channel, error = error.unwrap_or_default(), "delivery dead-lettered")
            }
        }
        Ok(())
    }
}

/// A fraction in [0, 1) for the retry jitter.
fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}
