//! The matching service. It keeps its own read model of areas and resources from registry
//! events, and proposes a resource for each submitted need.
//!
//! - `read_model`: applies registry events (areas, resources with their terms);
//! - `placement`: decides needs with the exact engine (`tsunagu-matching-engine`) over the
//!   places left, inside the event's transaction, and explains every decision;
//! - `weights`: each municipality's cost weights over the engine's defaults;
//! - `handler`: routes events to the read model and placement;
//! - `proposals`: the referral loop of a proposal (approval, acceptance, rejection with a
//!   reason, expiry, withdrawal) and re-matching without the resources that declined;
//! - `expiry`: the sweep that expires unanswered proposals;
//! - `gap_map` (pure), `gap_store`, `gap_chart`: the gap map (見える化) per area and
//!   category, as rows, sheets and an SVG chart;
//! - `authz`: who may list, approve and answer proposals, see the gap map, change settings;
//! - `grpc`: the only module that touches `tsunagu_proto`.

mod authz;
mod expiry;
mod gap_chart;
mod gap_map;
mod gap_store;
mod grpc;
mod handler;
mod placement;
mod proposals;
mod read_model;
mod reoptimise;
mod taxonomy;
mod weights;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tsunagu_runtime::service::{RunningService, ServiceHost};
use tsunagu_runtime::{Config, ServiceName};

/// The role matching's pool acts as: owns nothing, no superuser, so row-level security holds.
pub const DATABASE_ROLE: &str = "tsunagu_matching_app";

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub const GRPC_SERVICE_NAME: &str = "tsunagu.matching.v1.MatchingService";

pub async fn start(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<RunningService> {
    let sweep = std::time::Duration::from_secs(u64::from(config.matching_expiry_sweep_seconds));
    // Needs and proposals of every municipality: the database holds the tenant wall too
    // (migration 107).
    let mut host = ServiceHost::start_guarded(
        ServiceName::Matching,
        config,
        &MIGRATIONS,
        shutdown.clone(),
        DATABASE_ROLE,
    )
    .await?;
    register_gauges(host.pool.clone());
    host.spawn_partitioned_consumer(handler::MatchingHandler {
        outbox_wake: host.outbox_wake.clone(),
    });
    tokio::spawn(expiry::run_sweep(
        host.pool.clone(),
        host.outbox_wake.clone(),
        sweep,
        shutdown,
    ));
    let routes = grpc::routes(host.pool.clone(), host.outbox_wake.clone());
    host.serve(routes, GRPC_SERVICE_NAME).await
}

/// Needs no resource could take, per municipality, read at each scrape (as every tenant: the
/// operators' view, counts only).
fn register_gauges(pool: sqlx::PgPool) {
    tsunagu_runtime::metrics::register_collector(Arc::new(move || {
        let pool = pool.clone();
        Box::pin(tsunagu_runtime::db::as_tenant(
            tsunagu_runtime::db::EVERY_TENANT,
            async move {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT municipality_code, count(*) FROM need WHERE status = 'unmatched' GROUP BY 1",
                )
                .fetch_all(&pool)
                .await
                .unwrap_or_default();
                rows.into_iter()
                    .map(|(municipality, count)| tsunagu_runtime::metrics::Sample {
                        name: "tsunagu_matching_unmatched_needs",
                        help: "Needs no resource could take, by municipality.",
                        labels: vec![("municipality_code", municipality)],
                        value: count as f64,
                    })
                    .collect()
            },
        ))
    }));
}
