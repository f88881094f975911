//! The intake service: needs (個別ニーズ) and area issues (地域課題) arrive here, idempotently,
//! with residents' personal data sealed, and leave as events carrying only what the
//! resident's consent allows.
//!
//! - `domain`, `need_fields`: a need as accepted, its fields and their Japanese words;
//! - `consent`: who consented to what, and its records;
//! - `lifecycle`: which status may follow which, and what each transition must carry;
//! - `sharing`: the one place that decides what of a need leaves intake (events);
//! - `residents`, `sealing`: residents with their personal data sealed before it is stored;
//! - `categories`: a municipality's own categories, learnt from the registry's events;
//! - `areas`: the registry's areas, learnt from its events, and the check of every `area_id`;
//! - `referrals`: intake's consumer — matching's proposals and answers move needs through
//!   their lifecycle (and new categories and areas are learnt);
//! - `area_issues`: needs known in aggregate; `sheet_rows`: sheets of needs and area issues;
//! - `need_row`, `store`: SQL, each change with its history, events and watchers' wake-up in
//!   one transaction; `watch`: NOTIFY fan-out for WatchNeed;
//! - `follow_up`: the sweep that flags idle needs;
//! - `grpc`: the only module that touches `tsunagu_proto`.

mod area_issues;
mod areas;
mod audit;
mod categories;
mod consent;
mod domain;
mod follow_up;
mod grpc;
mod lifecycle;
mod need_fields;
mod need_row;
mod referrals;
mod residents;
mod sealing;
mod sharing;
mod sheet_rows;
mod store;
mod watch;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tsunagu_runtime::service::{RunningService, ServiceHost};
use tsunagu_runtime::{Config, ServiceName};

/// The role intake's pool acts as: owns nothing, no superuser, so row-level security holds.
pub const DATABASE_ROLE: &str = "tsunagu_intake_app";

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
            tracing::warn!(
                "no TSUNAGU_INTAKE_ENCRYPTION_KEYS: residents' personal data and private notes will be refused"
            );
            None
        }
    };
    let follow_up_days = config.intake_follow_up_days;
    let sweep_interval = std::time::Duration::from_secs(u64::from(config.intake_follow_up_sweep_seconds));
    // Residents' data: the database holds the tenant wall too (migration 109).
    let mut host = ServiceHost::start_guarded(
        ServiceName::Intake,
        config,
        &MIGRATIONS,
        shutdown.clone(),
        DATABASE_ROLE,
    )
    .await?;
    host.spawn_consumer(referrals::IntakeListener {
        outbox_wake: host.outbox_wake.clone(),
    });
    let changes = watch::Changes::start(host.pool.clone(), shutdown.clone());
    tokio::spawn(follow_up::run_sweep(
        host.pool.clone(),
        host.outbox_wake.clone(),
        follow_up_days,
        sweep_interval,
        shutdown,
    ));
    let routes = grpc::routes(grpc::IntakeApi {
        pool: host.pool.clone(),
        outbox_wake: host.outbox_wake.clone(),
        keys,
        changes,
        follow_up_days,
    });
    host.serve(routes, GRPC_SERVICE_NAME).await
}
