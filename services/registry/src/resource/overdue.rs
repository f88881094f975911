//! Resources must not go stale unnoticed (issue 6): a sweep finds every live resource whose
//! last verification — its creation, if it was never verified — is older than its
//! municipality's freshness period, and announces it (`resource.verification_overdue`) to the
//! provider and the coordinators, once per stale spell; verifying the resource clears the mark
//! (`store::verify`).
//!
//! `ListStaleResources` counts a never-verified resource as stale at once (it is a to-do list
//! of what nobody has confirmed); the announcement counts from the creation instead, so a
//! resource registered today does not page anyone before its first period has passed.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tsunagu_runtime::error::ServiceResult;
use tsunagu_runtime::events::{self, ResourceVerificationOverdue};
use tsunagu_runtime::outbox;
use uuid::Uuid;

use crate::freshness;

/// Most resources announced in one transaction; a full batch is followed by another at once.
const SWEEP_BATCH: usize = 500;

/// Sweeps every `interval` (a resource is announced at most that long after it became
/// overdue) until `shutdown`. Several replicas may sweep at once: each resource is announced
/// by one of them.
pub async fn run_sweep(
    pool: PgPool,
    outbox_wake: Arc<Notify>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    loop {
        // The sweep is the service's own work across every municipality. The registry's pool
        // has no row-level security today; saying so keeps the sweep whole if it gets it.
        let announced = tsunagu_runtime::db::as_tenant(
            tsunagu_runtime::db::EVERY_TENANT,
            announce_overdue(&pool, SWEEP_BATCH),
        );
        match announced.await {
            Ok(0) => {}
            Ok(announced) => {
                tracing::info!(announced, "resources announced as overdue for verification");
                outbox_wake.notify_one();
                if announced >= SWEEP_BATCH {
                    continue;
                }
            }
            Err(error) => tracing::warn!(%error, "freshness sweep failed; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

#[derive(sqlx::FromRow)]
struct OverdueRow {
    id: Uuid,
    municipality_code: String,
    organization_id: Uuid,
    category: String,
    verified_at: Option<DateTime<Utc>>,
    days: i32,
}

/// Marks up to `batch` overdue resources as announced and enqueues their events, in one
/// transaction: the mark and the event commit together or not at all. Rows another sweep
/// holds are skipped (`SKIP LOCKED`), and one it has just marked no longer qualifies when this
/// one locks it (PostgreSQL re-checks the row's new version), so no resource is announced
/// twice. Returns how many were announced.
pub async fn announce_overdue(pool: &PgPool, batch: usize) -> ServiceResult<usize> {
    let mut tx = pool.begin().await?;
    // A municipality without a period of its own uses the default ($1). No resource is due
    // before the shortest period in use, which bounds the walk over the partial index
    // `resource_verification_due` (migration 131).
    let overdue: Vec<OverdueRow> = sqlx::query_as(
        "WITH due AS (
             SELECT r.id, COALESCE(f.days, $1) AS days
             FROM resource r LEFT JOIN freshness_period f ON f.municipality_code = r.municipality_code
             WHERE r.overdue_announced_at IS NULL AND r.deleted_at IS NULL AND r.status <> 'defunct'
               AND COALESCE(r.verified_at, r.created_at)
                   < now() - make_interval(days => (SELECT LEAST($1, min(days)) FROM freshness_period))
               AND COALESCE(r.verified_at, r.created_at) < now() - make_interval(days => COALESCE(f.days, $1))
             ORDER BY COALESCE(r.verified_at, r.created_at), r.id
             LIMIT $2
             FOR UPDATE OF r SKIP LOCKED)
         UPDATE resource r SET overdue_announced_at = now()
         FROM due WHERE r.id = due.id
         RETURNING r.id, r.municipality_code, r.organization_id, r.category, r.verified_at, due.days",
    )
    .bind(freshness::DEFAULT_DAYS)
    .bind(batch as i64)
    .fetch_all(&mut *tx)
    .await?;
    for row in &overdue {
        let event = ResourceVerificationOverdue {
            resource_id: row.id,
            municipality_code: row.municipality_code.clone(),
            organization_id: row.organization_id,
            category: row.category.clone(),
            last_verified_at: row.verified_at,
            freshness_days: row.days,
        };
        outbox::enqueue(
            &mut tx,
            events::RESOURCE_VERIFICATION_OVERDUE,
            &row.municipality_code,
            &event,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(overdue.len())
}
