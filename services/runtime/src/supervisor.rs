//! Keeps a broker session alive: runs it, and when it fails (the broker went away, the
//! connection dropped) marks the broker unreachable and runs it again after a backoff, until
//! shutdown. The relay and every consumer run under it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::health::BrokerStatus;

/// Handed to each session; the session calls [`Session::connected`] once it reached the
/// broker, so the next failure retries quickly instead of after a long backoff.
#[derive(Clone, Debug)]
pub struct Session {
    connected: Arc<AtomicBool>,
    broker_status: BrokerStatus,
}

impl Session {
    pub fn connected(&self) {
        self.connected.store(true, Ordering::Relaxed);
        self.broker_status.set_reachable(true);
    }
}

/// Runs `session` until it returns `Ok` (it stopped for shutdown) or `shutdown` is cancelled.
pub async fn supervise<F, Fut>(
    task: &'static str,
    service: &'static str,
    broker_status: BrokerStatus,
    shutdown: CancellationToken,
    mut session: F,
) where
    F: FnMut(Session) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
    while !shutdown.is_cancelled() {
        let handle = Session {
            connected: Arc::default(),
            broker_status: broker_status.clone(),
        };
        let result = session(handle.clone()).await;
        let Err(error) = result else { break };
        broker_status.set_reachable(false);
        if handle.connected.load(Ordering::Relaxed) {
            backoff.reset();
        }
        let delay = backoff.next_delay();
        tracing::warn!(
            service,
            task,
            error = format!("{error:#}"),
            retry_in_ms = delay.as_millis() as u64,
            // The error says which side failed: the broker (connection, a missing plugin's
            // exchange type) or, for partitioned consumers, the database session holding the
            // partition locks.
            "consumer session failed, starting a new one"
        );
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.cancelled() => break,
        }
    }
    tracing::info!(service, task, "stopped");
}
