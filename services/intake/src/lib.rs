//! The intake service: needs arrive here, idempotently, and leave as `need.submitted` events.
//!
//! - `domain`: the validated need; `area_issues`: needs known in aggregate (地域課題);
//! - `lifecycle`: which status may follow which, and what each transition must carry;
//! - `residents`, `sealing`: residents with their personal data sealed before it is stored;
//! - `store`: SQL, each change of a need with its history row and its event in one transaction;
//! - `grpc`: the only module that touches `tsunagu_proto`.

mod area_issues;
mod domain;
mod grpc;
mod lifecycle;
mod residents;
mod sealing;
mod store;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tsunagu_runtime::service::{RunningService, ServiceHost};
use tsunagu_runtime::{Config, ServiceName};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub const GRPC_SERVICE_NAME: &str = "tsunagu.intake.v1.IntakeService";

pub async fn start(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<RunningService> {
    // A malformed key is a configuration error, found before anything starts.
    let keys = match config.intake_encryption_keys.as_deref() {
        Some(spec) => {
            Some(Arc::new(sealing::Keyring::parse(spec).map_err(|reason| {
                anyhow::anyhow!("TSUNAGU_INTAKE_ENCRYPTION_KEYS: {reason}")
            })?))
        }
        None => {
            tracing::warn!("no TSUNAGU_INTAKE_ENCRYPTION_KEYS: residents' personal data will be refused");
            None
        }
    };
    let host = ServiceHost::start(ServiceName::Intake, config, &MIGRATIONS, shutdown).await?;
    let routes = grpc::routes(host.pool.clone(), host.outbox_wake.clone(), keys);
    host.serve(routes, GRPC_SERVICE_NAME).await
}
