//! The registry service: the area tree (都道府県 → 市区町村 → 日常生活圏域), organisations
//! (事業主体) and resources (地域資源). Everything else reads it, through its events
//! (`area.created`, `organization.created`, `resource.created`) or its gRPC API.
//!
//! - `domain`: validated inputs, parsed from requests, never generated types;
//! - `store`: SQL, each write in one transaction with its outbox event;
//! - `official_import`: the official list of 全国地方公共団体コード into the area tree;
//! - `resource::overdue`: the sweep that announces resources overdue for verification;
//! - `access`: API keys, who may manage them, and the introspection the other services ask;
//! - `grpc`: the only module that touches `tsunagu_proto`.

pub mod access;
mod area_edit;
mod authz;
mod batch;
mod categories;
mod community;
mod contact;
mod domain;
mod exchange;
use tsunagu_runtime::field_mask;
mod freshness;
mod geo;
mod grpc;
mod history;
mod identifiers;
mod official_import;
mod organization;
mod resource;
mod store;
pub mod write_audit;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tsunagu_runtime::service::{RunningService, ServiceHost};
use tsunagu_runtime::{Config, ServiceName};

/// The role the registry's pool acts as: owns nothing, no superuser, so row-level security holds.
pub const DATABASE_ROLE: &str = "tsunagu_registry_app";

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub const GRPC_SERVICE_NAME: &str = "tsunagu.registry.v1.RegistryService";

/// Brings the registry's schema up to date (for commands that write to it before the service
/// first ran, such as `tsunagu bootstrap-admin`).
pub async fn migrate(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    tsunagu_runtime::db::migrate(pool, ServiceName::Registry.as_str(), &MIGRATIONS).await
}

/// Starts the registry: migrates its schema, starts its outbox relay and serves gRPC.
pub async fn start(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<RunningService> {
    let seed_official_areas = config.seed_official_areas;
    let freshness_sweep = std::time::Duration::from_secs(u64::from(config.registry_freshness_sweep_seconds));
    // Helpers' records hold people's contact details: the database holds the tenant wall too
    // (migration 132).
    let mut host = ServiceHost::start_guarded(
        ServiceName::Registry,
        config,
        &MIGRATIONS,
        shutdown,
        DATABASE_ROLE,
    )
    .await?;
    host.check_keys_with(access::LocalKeys::new(host.pool.clone()));
    if seed_official_areas {
        official_import::seed_if_empty(&host.pool).await?;
        host.outbox_wake.notify_one();
    }
    host.spawn_task(resource::overdue::run_sweep(
        host.pool.clone(),
        host.outbox_wake.clone(),
        freshness_sweep,
        host.shutdown.clone(),
    ));
    let routes = grpc::routes(host.pool.clone(), host.outbox_wake.clone());
    let routes = community::add_routes(routes, host.pool.clone(), host.outbox_wake.clone());
    let routes = access::add_routes(routes, host.pool.clone());
    host.serve(routes, GRPC_SERVICE_NAME).await
}
