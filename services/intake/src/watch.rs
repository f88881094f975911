//! Watching needs change: every transaction that changes an existing need also sends a
//! PostgreSQL `NOTIFY` with its id (delivered only if it commits, to every intake replica); one
//! listener per process fans the ids out to the open `WatchNeed` streams. (A submission sends
//! none: nobody can watch a need before it exists, and NOTIFY serialises commits.)
//!
//! A notification is only a nudge: a watcher always re-reads the need and its history by
//! version, so a notification lost while the listener reconnects, or a watcher that fell
//! behind, costs a re-read, never a gap.

use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tsunagu_runtime::backoff::Backoff;
use tsunagu_runtime::error::ServiceResult;
use uuid::Uuid;

const CHANNEL: &str = "tsunagu_intake_need";

/// Sent to every watcher when notifications may have been missed: re-read everything.
const RESYNC: Uuid = Uuid::nil();

/// Tells watchers that `need_id` changed, when the caller's transaction commits.
pub async fn notify(tx: &mut PgConnection, need_id: Uuid) -> ServiceResult<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(need_id.to_string())
        .execute(tx)
        .await?;
    Ok(())
}

/// The process's fan-out of change notifications.
#[derive(Clone)]
pub struct Changes {
    sender: broadcast::Sender<Uuid>,
    pub shutdown: CancellationToken,
}

/// What a watcher learns from [`Subscription::next`].
pub enum Wake {
    /// The need may have changed (or everything must be re-read).
    Check,
    /// The service is stopping: end the stream.
    Stop,
}

pub struct Subscription {
    need_id: Uuid,
    receiver: broadcast::Receiver<Uuid>,
    shutdown: CancellationToken,
}

impl Subscription {
    /// Waits until the need may have changed.
    pub async fn next(&mut self) -> Wake {
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return Wake::Stop,
                received = self.receiver.recv() => match received {
                    Ok(id) if id == self.need_id || id == RESYNC => return Wake::Check,
                    Ok(_) => {}
                    // Fell behind: something may be ours.
                    Err(broadcast::error::RecvError::Lagged(_)) => return Wake::Check,
                    Err(broadcast::error::RecvError::Closed) => return Wake::Stop,
                },
            }
        }
    }
}

impl Changes {
    /// Starts the listener; it runs until `shutdown`.
    pub fn start(pool: PgPool, shutdown: CancellationToken) -> Changes {
        let (sender, _) = broadcast::channel(1024);
        let changes = Changes {
            sender: sender.clone(),
            shutdown: shutdown.clone(),
        };
        tokio::spawn(listen(pool, sender, shutdown));
        changes
    }

    /// Subscribe before reading the need's state, so no change between the read and the
    /// subscription is missed.
    pub fn subscribe(&self, need_id: Uuid) -> Subscription {
        Subscription {
            need_id,
            receiver: self.sender.subscribe(),
            shutdown: self.shutdown.clone(),
        }
    }
}

async fn listen(pool: PgPool, sender: broadcast::Sender<Uuid>, shutdown: CancellationToken) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    while !shutdown.is_cancelled() {
        let mut listener = match connect(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "need watch listener cannot connect; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff.next_delay()) => continue,
                }
            }
        };
        backoff.reset();
        // Anything that changed while no listener ran is re-read.
        let _ = sender.send(RESYNC);
        loop {
            let received = tokio::select! {
                _ = shutdown.cancelled() => return,
                received = listener.try_recv() => received,
            };
            match received {
                Ok(Some(notification)) => {
                    if let Ok(id) = notification.payload().parse::<Uuid>() {
                        let _ = sender.send(id);
                    }
                }
                // The connection was lost and is re-established by the next call.
                Ok(None) => {
                    let _ = sender.send(RESYNC);
                }
                Err(error) => {
                    tracing::warn!(%error, "need watch listener failed; reconnecting");
                    break;
                }
            }
        }
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
