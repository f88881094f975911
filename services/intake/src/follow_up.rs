//! Needs must not be forgotten (domain.md §9: "referrals that never get a status"): a sweep
//! flags every open need whose status has not moved for the follow-up period and announces it
//! (`need.follow_up_due`), once per idle spell; the next change of status clears the flag.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::store;

/// How often the sweep looks; a need is flagged at most this long after it became due.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

pub async fn run_sweep(
    pool: PgPool,
    outbox_wake: Arc<Notify>,
    follow_up_days: u32,
    shutdown: CancellationToken,
) {
    loop {
        let idle_since = chrono::Utc::now() - chrono::TimeDelta::days(i64::from(follow_up_days));
        match store::flag_idle_needs(&pool, idle_since).await {
            Ok(0) => {}
            Ok(flagged) => {
                tracing::info!(flagged, follow_up_days, "needs flagged for follow-up");
                outbox_wake.notify_one();
                // A full batch: more may be waiting.
                if flagged >= 500 {
                    continue;
                }
            }
            Err(error) => tracing::warn!(%error, "follow-up sweep failed; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_INTERVAL) => {}
        }
    }
}
