//! The notifications service: turns events into notifications for the people who must act.
//! In this slice, in-app notifications only: a provider hears of a proposal addressed to it
//! (its name is looked up in the registry over gRPC), and a municipality's coordinators hear
//! of a need nobody can serve.
//!
//! - `compose`: the Japanese text of each notification, from ids and summaries only;
//! - `handler`: consumes events, records notifications inside the inbox transaction;
//! - `grpc`: the only module that touches `tsunagu_proto` (besides the registry client).

mod compose;
mod grpc;
mod handler;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tsunagu_runtime::service::{RunningService, ServiceHost};
use tsunagu_runtime::{Config, ServiceName};

/// The role notifications' pool acts as: owns nothing, no superuser, so row-level security holds.
pub const DATABASE_ROLE: &str = "tsunagu_notifications_app";

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub const GRPC_SERVICE_NAME: &str = "tsunagu.notifications.v1.NotificationsService";

pub async fn start(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<RunningService> {
    let registry = handler::RegistryLookup::connect(&config)?;
    // Notifications name needs and organisations: the database holds the tenant wall too
    // (migration 101).
    let mut host = ServiceHost::start_guarded(
        ServiceName::Notifications,
        config,
        &MIGRATIONS,
        shutdown,
        DATABASE_ROLE,
    )
    .await?;
    host.spawn_consumer(handler::NotificationsHandler { registry });
    let routes = grpc::routes(host.pool.clone());
    host.serve(routes, GRPC_SERVICE_NAME).await
}
