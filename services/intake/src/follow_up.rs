//! Needs must not be forgotten (domain.md §9: "referrals that never get a status"): a sweep
//! flags every open need whose status has not moved for the follow-up period and announces it
//! (`need.follow_up_due`), once per idle spell; the next change of status clears the flag.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::store;

/// Most needs flagged in one transaction; a full batch is followed by another at once.
const SWEEP_BATCH: usize = 500;

/// Sweeps every `interval` (a need is flagged at most that long after it became due) until
/// `shutdown`. Several replicas may sweep at once: each need is flagged by one of them.
pub async fn run_sweep(
    pool: PgPool,
    outbox_wake: Arc<Notify>,
    follow_up_days: u32,
    interval: Duration,
    shutdown: CancellationToken,
) {
    loop {
        let idle_since = chrono::Utc::now() - chrono::TimeDelta::days(i64::from(follow_up_days));
        // The sweep is the service's own work across every municipality.
        let flagged = tsunagu_runtime::db::as_tenant(
            tsunagu_runtime::db::EVERY_TENANT,
            store::flag_idle_needs(&pool, idle_since, SWEEP_BATCH),
        );
        match flagged.await {
            Ok(0) => {}
            Ok(flagged) => {
                tracing::info!(flagged, follow_up_days, "needs flagged for follow-up");
                outbox_wake.notify_one();
                if flagged >= SWEEP_BATCH {
                    continue;
                }
            }
            Err(error) => tracing::warn!(%error, "follow-up sweep failed; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
