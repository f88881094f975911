//! The intake service: needs arrive here, idempotently, and leave as `need.submitted` events.
//!
//! - `domain`: the validated need;
//! - `lifecycle`: which status may follow which, and what each transition must carry;
//! - `store`: SQL, each change of a need with its history row and its event in one transaction;
//! - `grpc`: the only module that touches `tsunagu_proto`.

mod domain;
mod grpc;
mod lifecycle;
mod store;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tsunagu_runtime::service::{RunningService, ServiceHost};
use tsunagu_runtime::{Config, ServiceName};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub const GRPC_SERVICE_NAME: &str = "tsunagu.intake.v1.IntakeService";

pub async fn start(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<RunningService> {
    let host = ServiceHost::start(ServiceName::Intake, config, &MIGRATIONS, shutdown).await?;
    let routes = grpc::routes(host.pool.clone(), host.outbox_wake.clone());
    host.serve(routes, GRPC_SERVICE_NAME).await
}
