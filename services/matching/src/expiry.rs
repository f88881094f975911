//! Proposals must not wait forever (domain.md §9: referrals that never get a status): a sweep
//! expires every proposal the provider left unanswered past its deadline, gives its place
//! back and matches the need again without that resource.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::proposals;

/// Proposals expired per transaction; a full batch is followed by another at once.
const BATCH: i64 = 100;

pub async fn run_sweep(
    pool: PgPool,
    outbox_wake: Arc<Notify>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    loop {
        // Every municipality's proposals expire: the service's own work (row-level security).
        let expired = tsunagu_runtime::db::as_tenant(tsunagu_runtime::db::EVERY_TENANT, async {
            let mut tx = pool.begin().await?;
            let expired = proposals::expire_due(&mut tx, BATCH).await?;
            tx.commit().await?;
            Ok::<usize, tsunagu_runtime::ServiceError>(expired)
        })
        .await;
        match expired {
            Ok(0) => {}
            Ok(expired) => {
                tracing::info!(expired, "unanswered proposals expired");
                outbox_wake.notify_one();
                if expired as i64 >= BATCH {
                    continue;
                }
            }
            Err(error) => tracing::warn!(%error, "proposal expiry sweep failed; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
