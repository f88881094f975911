//! The notifications service: turns events into what people must hear, and makes sure they
//! hear it once.
//!
//! - `message`: what an event says and to whom (audiences), from ids and codes only;
//! - `templates`: versioned Japanese/English templates and the variables each may use;
//! - `fanout`: in the consumer's inbox transaction, in-app notifications and one delivery
//!   per matching subscription, scheduled by `schedule` (quiet hours, digests);
//! - `deliver`: the worker that sends due deliveries through `channels` (e-mail, webhooks,
//!   plug-ins), with retries, a circuit breaker (`breaker`) and dead letters;
//! - `digest`: gathers held routine items into one daily delivery;
//! - `handler`: the event consumer; `grpc`: the API.

mod breaker;
pub mod channels;
mod deliver;
mod digest;
mod fanout;
mod grpc;
mod handler;
mod message;
mod schedule;
pub mod templates;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tsunagu_runtime::service::{RunningService, ServiceHost};
use tsunagu_runtime::{Config, ServiceName};

use crate::channels::Channels;
pub use crate::channels::destination::DestinationPolicy;
use crate::channels::email::{EmailAdapter, EmailSettings};
use crate::channels::webhook::{WebhookAdapter, WebhookSettings};

/// The role notifications' pool acts as: owns nothing, no superuser, so row-level security holds.
pub const DATABASE_ROLE: &str = "tsunagu_notifications_app";

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub const GRPC_SERVICE_NAME: &str = "tsunagu.notifications.v1.NotificationsService";

/// The channels this process can send through, from its configuration.
fn channels(config: &Config, destinations: DestinationPolicy) -> anyhow::Result<Channels> {
    let settings = &config.notifications;
    let extra_ca = match &settings.extra_ca {
        Some(path) => Some(
            std::fs::read(path).map_err(|error| anyhow::anyhow!("TSUNAGU_NOTIFY_CA={path:?}: {error}"))?,
        ),
        None => None,
    };
    let mut channels = Channels::default().with(WebhookAdapter::new(WebhookSettings {
        timeout: Duration::from_secs(u64::from(settings.webhook_timeout_seconds)),
        ca_pem: extra_ca.clone(),
        allow_plain_http: settings.webhook_allow_http,
        destinations,
    })?);
    if let Some(url) = &settings.smtp_url {
        channels = channels.with(EmailAdapter::new(EmailSettings {
            url: url.clone(),
            from: settings.smtp_from.clone(),
            ca_pem: extra_ca,
        })?);
    } else {
        tracing::info!("no TSUNAGU_SMTP_URL: e-mail subscriptions are refused");
    }
    Ok(channels)
}

/// Starts the service with the settings of the process environment.
pub async fn start(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<RunningService> {
    let destinations = DestinationPolicy::from_lookup(|key| std::env::var(key).ok())?;
    start_with(config, destinations, shutdown).await
}

/// Starts the service with the webhook destinations the operator allows
/// (`TSUNAGU_WEBHOOK_ALLOWED_DESTINATIONS`, read here rather than in the shared
/// configuration: only notifications sends to addresses its callers choose), so that a test
/// system can allow its receivers on 127.0.0.1 without touching the process environment.
pub async fn start_with(
    config: Arc<Config>,
    destinations: DestinationPolicy,
    shutdown: CancellationToken,
) -> anyhow::Result<RunningService> {
    let registry = handler::RegistryLookup::connect(&config)?;
    let channels = channels(&config, destinations)?;
    let settings = config.notifications.clone();
    // Notifications name needs and organisations: the database holds the tenant wall too
    // (migrations 101, 102).
    let mut host = ServiceHost::start_guarded(
        ServiceName::Notifications,
        config,
        &MIGRATIONS,
        shutdown.clone(),
        DATABASE_ROLE,
    )
    .await?;
    let deliveries_due = Arc::new(Notify::new());
    let inbox_written = Arc::new(Notify::new());
    host.spawn_consumer(handler::NotificationsHandler {
        registry,
        deliveries_written: deliveries_due.clone(),
        inbox_written: inbox_written.clone(),
    });
    let deliverer = deliver::Deliverer {
        pool: host.pool.clone(),
        channels: channels.clone(),
        breaker: Arc::new(breaker::Breaker::new(
            settings.breaker_failures,
            Duration::from_secs(u64::from(settings.breaker_seconds)),
        )),
        settings: deliver::DeliverySettings {
            retry_base: Duration::from_millis(u64::from(settings.retry_base_millis)),
            max_attempts: settings.max_attempts,
            lease: Duration::from_secs(120),
            batch: 32,
            poll: Duration::from_millis(250),
        },
        wake: deliveries_due.clone(),
    };
    host.spawn_task(deliverer.run(shutdown.clone()));
    register_gauges(host.pool.clone());
    host.spawn_task(digest::run(
        host.pool.clone(),
        Duration::from_secs(1),
        deliveries_due.clone(),
        shutdown.clone(),
    ));
    let routes = grpc::routes(grpc::NotificationsApi {
        pool: host.pool.clone(),
        channels,
        inbox_written,
        deliveries_due,
        shutdown,
    });
    host.serve(routes, GRPC_SERVICE_NAME).await
}

/// Deliveries waiting and dead, by channel, read at each scrape (as every tenant: counts only).
fn register_gauges(pool: sqlx::PgPool) {
    tsunagu_runtime::metrics::register_collector(Arc::new(move || {
        let pool = pool.clone();
        Box::pin(tsunagu_runtime::db::as_tenant(
            tsunagu_runtime::db::EVERY_TENANT,
            async move {
                let rows: Vec<(String, String, i64)> = sqlx::query_as(
                    "SELECT channel, state, count(*) FROM delivery
                 WHERE state IN ('pending', 'digest', 'sending', 'dead') GROUP BY 1, 2",
                )
                .fetch_all(&pool)
                .await
                .unwrap_or_default();
                rows.into_iter()
                .map(|(channel, state, count)| tsunagu_runtime::metrics::Sample {
                    name: "tsunagu_notification_deliveries",
                    help: "Deliveries not yet delivered, by channel and state (dead: waiting for an operator).",
                    labels: vec![("channel", channel), ("state", state)],
                    value: count as f64,
                })
                .collect()
            },
        ))
    }));
}
