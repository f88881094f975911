//! `grpc.health.v1`: a service is NOT_SERVING until its database answers and it has reached the
//! broker once. Afterwards only the database governs: while the broker is away, intake still
//! accepts needs (the outbox holds the events), so it must stay in the load balancer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// Shared by the relay and consumers, read by the health monitor.
#[derive(Clone, Default, Debug)]
pub struct BrokerStatus {
    reachable: Arc<AtomicBool>,
    ever_reachable: Arc<AtomicBool>,
}

impl BrokerStatus {
    pub fn set_reachable(&self, reachable: bool) {
        self.reachable.store(reachable, Ordering::Relaxed);
        if reachable {
            self.ever_reachable.store(true, Ordering::Relaxed);
        }
    }

    pub fn is_reachable(&self) -> bool {
        self.reachable.load(Ordering::Relaxed)
    }

    pub fn was_ever_reachable(&self) -> bool {
        self.ever_reachable.load(Ordering::Relaxed)
    }
}

const CHECK_INTERVAL: Duration = Duration::from_secs(1);
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

/// Keeps the reported status of `grpc_service_name` (and of the whole server, "") current.
pub async fn run_health_monitor(
    reporter: HealthReporter,
    grpc_service_name: &'static str,
    pool: PgPool,
    broker: BrokerStatus,
    shutdown: CancellationToken,
) {
    let mut last = None;
    loop {
        let database_ok = matches!(
            tokio::time::timeout(DATABASE_TIMEOUT, sqlx::query("SELECT 1").execute(&pool)).await,
            Ok(Ok(_))
        );
        let status = if database_ok && broker.was_ever_reachable() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        if last != Some(status) {
            tracing::info!(
                service = grpc_service_name,
                ?status,
                database_ok,
                broker_reachable = broker.is_reachable(),
                "health changed"
            );
            reporter.set_service_status(grpc_service_name, status).await;
            reporter.set_service_status("", status).await;
            last = Some(status);
        }
        tokio::select! {
            _ = tokio::time::sleep(CHECK_INTERVAL) => {}
            _ = shutdown.cancelled() => break,
        }
    }
    reporter
        .set_service_status(grpc_service_name, ServingStatus::NotServing)
        .await;
    reporter.set_service_status("", ServingStatus::NotServing).await;
}
