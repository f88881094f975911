//! Partitioned consumption. A partitioned service (matching) runs any number of workers that
//! share its partition queues: each worker consumes a fair share, gives partitions back when
//! more workers join, and takes over those of a worker that stopped or died.
//!
//! Who holds which partition is decided in PostgreSQL, with session-level advisory locks on
//! one connection each worker keeps open: one lock says the worker is alive, one per
//! partition says it consumes that partition. A worker that dies loses its connection and so
//! all its locks at once, and the others take its partitions at their next rebalance; no
//! heartbeat table, no lease to expire. RabbitMQ's single active consumer on every partition
//! queue is the second guard: should two workers ever subscribe to one partition (a worker
//! cut off from PostgreSQL but not yet from RabbitMQ), only one of them receives messages.
//!
//! A partition changes hands only after its old holder finished the message in hand and closed
//! the partition's channel (which returns what it prefetched), so one municipality's events
//! are still handled one at a time, in order. The inbox makes a redelivery harmless.
//!
//! Queues of an earlier layout — the single queue the service had before it was partitioned,
//! and partition queues above the configured count after the count was lowered — are drained
//! by the first worker that starts (the others wait for it) before any worker takes a
//! partition: they are unbound so nothing new arrives, their messages are handled like any
//! other, and they are deleted once empty. Nothing they held is lost, and what they held is
//! handled before the newer messages of the same municipalities.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use sqlx::{PgConnection, PgPool};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::amqp;
use crate::config::{MAX_PARTITIONS, ServiceName};
use crate::consumer::{ConsumerSettings, EventHandler, process_delivery};
use crate::health::BrokerStatus;
use crate::supervisor::{Session, supervise};

pub struct PartitionSettings {
    pub consumer: ConsumerSettings,
    /// How often the worker counts live workers and takes or gives back partitions.
    pub rebalance: Duration,
}

/// Consumes a fair share of the service's partitions until `shutdown`, reconnecting (to
/// RabbitMQ and PostgreSQL both) with backoff.
pub async fn run_partitioned_consumer<H: EventHandler>(
    settings: PartitionSettings,
    pool: PgPool,
    handler: H,
    broker_status: BrokerStatus,
    shutdown: CancellationToken,
) {
    let service = settings.consumer.service.as_str();
    let settings = Arc::new(settings);
    let handler = Arc::new(handler);
    supervise(
        "partitioned consumer",
        service,
        broker_status,
        shutdown.clone(),
        |session| {
            worker_session(
                settings.clone(),
                pool.clone(),
                handler.clone(),
                session,
                shutdown.clone(),
            )
        },
    )
    .await;
}

/// One connection to each of RabbitMQ and PostgreSQL, and the partitions held through them.
/// Whatever ends the session, the partitions are released first: their consumers finish the
/// message in hand and close their channels, then the locks go with the lease connection.
async fn worker_session<H: EventHandler>(
    settings: Arc<PartitionSettings>,
    pool: PgPool,
    handler: Arc<H>,
    session: Session,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let service = settings.consumer.service;
    let connection = amqp::connect(
        &settings.consumer.amqp_url,
        &format!("tsunagu-{}-worker", service.as_str()),
    )
    .await?;
    let setup = connection.create_channel().await?;
    settings
        .consumer
        .topology
        .declare(&connection, &setup, service)
        .await
        .context(
        "declaring the topology (partitioned services need the RabbitMQ plugin rabbitmq_consistent_hash_exchange)",
    )?;
    let dead_letter_channel = amqp::confirm_channel(&connection).await?;
    let mut leases = Leases::open(&pool, service)
        .await
        .context("opening the partition leases in PostgreSQL")?;
    session.connected();
    tracing::info!(
        service = service.as_str(),
        worker = leases.worker,
        "matching worker joined"
    );

    let mut worker = Worker {
        settings,
        pool,
        handler,
        connection: &connection,
        dead_letter_channel,
        held: BTreeMap::new(),
    };
    let result = match worker.drain_retired(&mut leases, &shutdown).await {
        Ok(()) => worker.rebalance_until(&mut leases, &shutdown).await,
        Err(error) => Err(error.context("draining the queues of an earlier layout")),
    };
    worker.release_all(&mut leases).await;
    let _ = connection.close(200, "worker stopped".into()).await;
    result
}

struct Worker<'c, H> {
    settings: Arc<PartitionSettings>,
    pool: PgPool,
    handler: Arc<H>,
    connection: &'c Connection,
    dead_letter_channel: Channel,
    held: BTreeMap<u16, Held>,
}

struct Held {
    stop: CancellationToken,
    consumer: JoinHandle<anyhow::Result<()>>,
}

impl<H: EventHandler> Worker<'_, H> {
    async fn rebalance_until(
        &mut self,
        leases: &mut Leases,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(self.settings.rebalance);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.cancelled() => return Ok(()),
            }
            // A partition consumer ends by itself only when its channel or the broker failed:
            // the whole session starts again from fresh connections.
            if let Some(&partition) = self
                .held
                .iter()
                .find(|(_, held)| held.consumer.is_finished())
                .map(|(p, _)| p)
            {
                let held = self.held.remove(&partition).expect("found above");
                let outcome = held.consumer.await;
                leases.give_back(partition).await.ok();
                return match outcome {
                    Ok(Err(error)) => Err(error.context(format!("partition {partition}"))),
                    _ => Err(anyhow::anyhow!("the consumer of partition {partition} stopped")),
                };
            }
            self.rebalance(leases, shutdown).await?;
        }
    }

    /// Holds `ceil(partitions / live workers)` partitions: gives back the highest ones above
    /// that share, takes free ones below it. Workers that just joined find nothing free until
    /// the others gave back their surplus, one tick later.
    async fn rebalance(&mut self, leases: &mut Leases, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let partitions = self.settings.consumer.topology.partitions;
        let workers = leases.live_workers().await?;
        let share = usize::from(partitions).div_ceil(workers.max(1));
        while self.held.len() > share {
            let (&partition, _) = self.held.iter().next_back().expect("holds more than zero");
            self.release(leases, partition).await;
        }
        if self.held.len() == share {
            return Ok(());
        }
        // Start looking at a place of the worker's own, so joining workers do not all try
        // the same partitions first.
        let start = leases.worker.unsigned_abs() as usize % usize::from(partitions);
        for offset in 0..usize::from(partitions) {
            if self.held.len() >= share {
                break;
            }
            let partition = ((start + offset) % usize::from(partitions)) as u16;
            if self.held.contains_key(&partition) || !leases.try_take(partition).await? {
                continue;
            }
            let stop = shutdown.child_token();
            let channel = self.connection.create_channel().await?;
            let consumer = tokio::spawn(consume_partition(
                self.settings.clone(),
                partition,
                channel,
                self.dead_letter_channel.clone(),
                self.pool.clone(),
                self.handler.clone(),
                stop.clone(),
            ));
            self.held.insert(partition, Held { stop, consumer });
        }
        Ok(())
    }

    /// Drains and deletes the queues of an earlier layout (see the module's comment), one
    /// worker at a time: the others wait on the same lock, then find nothing left.
    async fn drain_retired(
        &mut self,
        leases: &mut Leases,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        leases.lock_draining().await?;
        let result = self.drain_retired_locked(shutdown).await;
        leases.unlock_draining().await?;
        result
    }

    async fn drain_retired_locked(&mut self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let consumer = &self.settings.consumer;
        let (service, topology) = (consumer.service, &consumer.topology);
        let recorded: Option<i32> = sqlx::query_scalar("SELECT partitions FROM partition_layout")
            .fetch_optional(&self.pool)
            .await?;
        if recorded == Some(i32::from(topology.partitions)) {
            return Ok(());
        }
        // Without a record (the first start of this version), the unpartitioned queue may
        // exist, and partition queues above the count up to the first one that does not.
        let mut retired = Vec::new();
        if recorded.is_none() {
            retired.push(Retired::Unpartitioned(topology.queue(service)));
        }
        let above = recorded.map_or(MAX_PARTITIONS, |count| {
            u16::try_from(count).unwrap_or(MAX_PARTITIONS)
        });
        retired.extend(
            (topology.partitions..above)
                .map(|partition| Retired::Partition(topology.partition_queue(service, partition))),
        );
        for queue in retired {
            let channel = self.connection.create_channel().await?;
            let passive = QueueDeclareOptions {
                passive: true,
                ..Default::default()
            };
            // A queue that does not exist closes the probing channel: nothing to drain, and
            // (partition queues being numbered from 0) no retired partition above it.
            if channel
                .queue_declare(queue.name().into(), passive, FieldTable::default())
                .await
                .is_err()
            {
                if matches!(queue, Retired::Partition(_)) {
                    break;
                }
                continue;
            }
            self.unbind(&channel, &queue).await?;
            let handled = self.drain(&channel, &queue, shutdown).await?;
            // Unbound and drained: nothing can arrive any more. (Quorum queues refuse the
            // if-empty flag; an unpartitioned queue may still get copies through bindings of
            // older versions, but those copies are also in the partitions.)
            channel
                .queue_delete(queue.name().into(), QueueDeleteOptions::default())
                .await?;
            let _ = channel.close(200, "retired queue drained".into()).await;
            tracing::info!(
                service = service.as_str(),
                queue = queue.name(),
                handled,
                "queue of an earlier layout drained and deleted"
            );
        }
        sqlx::query(
            "INSERT INTO partition_layout (partitions) VALUES ($1)
             ON CONFLICT (singleton) DO UPDATE SET partitions = $1, recorded_at = now()",
        )
        .bind(i32::from(topology.partitions))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Handles what an unbound queue holds, through a consumer: `basic.get` is refused on a
    /// quorum queue with single active consumer. Counts the ready messages, takes that many,
    /// and looks again (a message given back by a failed attempt is counted the next time).
    async fn drain(
        &self,
        channel: &Channel,
        queue: &Retired,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<usize> {
        let consumer = &self.settings.consumer;
        let mut handled = 0;
        loop {
            let ready = channel
                .queue_declare(
                    queue.name().into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await?
                .message_count();
            if ready == 0 {
                return Ok(handled);
            }
            let draining = self.connection.create_channel().await?;
            draining.basic_qos(1, BasicQosOptions::default()).await?;
            let mut deliveries = draining
                .basic_consume(
                    queue.name().into(),
                    format!(
                        "tsunagu-{}-drain-{}",
                        consumer.service.as_str(),
                        uuid::Uuid::now_v7()
                    )
                    .into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            for _ in 0..ready {
                let next = tokio::time::timeout(DRAIN_WAIT, deliveries.next()).await;
                let Ok(Some(delivery)) = next else { break };
                process_delivery(
                    consumer,
                    queue.name(),
                    &self.pool,
                    &*self.handler,
                    &self.dead_letter_channel,
                    delivery?,
                    shutdown,
                )
                .await?;
                handled += 1;
            }
            draining.close(200, "drained".into()).await?;
        }
    }

    async fn unbind(&self, channel: &Channel, queue: &Retired) -> lapin::Result<()> {
        let consumer = &self.settings.consumer;
        let topology = &consumer.topology;
        match queue {
            Retired::Unpartitioned(name) => {
                for pattern in amqp::subscriptions(consumer.service) {
                    channel
                        .queue_unbind(
                            name.as_str().into(),
                            topology.events_exchange().as_str().into(),
                            (*pattern).into(),
                            FieldTable::default(),
                        )
                        .await?;
                }
            }
            Retired::Partition(name) => {
                channel
                    .queue_unbind(
                        name.as_str().into(),
                        topology.partition_exchange(consumer.service).as_str().into(),
                        amqp::PARTITION_WEIGHT.into(),
                        FieldTable::default(),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    async fn release(&mut self, leases: &mut Leases, partition: u16) {
        if let Some(held) = self.held.remove(&partition) {
            held.stop.cancel();
            let _ = held.consumer.await;
            // If the lease connection is gone, so is the lock.
            leases.give_back(partition).await.ok();
            tracing::info!(
                service = self.settings.consumer.service.as_str(),
                partition,
                "partition given back"
            );
        }
    }

    async fn release_all(&mut self, leases: &mut Leases) {
        for held in self.held.values() {
            held.stop.cancel();
        }
        while let Some((&partition, _)) = self.held.iter().next() {
            self.release(leases, partition).await;
        }
    }
}

/// How long draining waits for the next message a queue said it holds.
const DRAIN_WAIT: Duration = Duration::from_secs(10);

/// A queue of an earlier layout.
enum Retired {
    /// The one queue of the service before it was partitioned, bound to the events exchange.
    Unpartitioned(String),
    /// A partition queue above the configured count, bound to the partition exchange.
    Partition(String),
}

impl Retired {
    fn name(&self) -> &str {
        match self {
            Retired::Unpartitioned(name) | Retired::Partition(name) => name,
        }
    }
}

/// Consumes one partition queue until `stop`, one message at a time.
async fn consume_partition<H: EventHandler>(
    settings: Arc<PartitionSettings>,
    partition: u16,
    channel: Channel,
    dead_letter_channel: Channel,
    pool: PgPool,
    handler: Arc<H>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let service = settings.consumer.service;
    let queue = settings.consumer.topology.partition_queue(service, partition);
    channel
        .basic_qos(settings.consumer.prefetch, BasicQosOptions::default())
        .await?;
    let mut deliveries = channel
        .basic_consume(
            queue.as_str().into(),
            format!("tsunagu-{}-{}", service.as_str(), uuid::Uuid::now_v7()).into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(service = service.as_str(), queue, "consuming partition");
    loop {
        let delivery = tokio::select! {
            delivery = deliveries.next() => delivery,
            _ = stop.cancelled() => break,
        };
        let Some(delivery) = delivery else {
            anyhow::bail!("the consumer of {queue} ended")
        };
        process_delivery(
            &settings.consumer,
            &queue,
            &pool,
            &*handler,
            &dead_letter_channel,
            delivery?,
            &stop,
        )
        .await?;
    }
    // Closing the channel returns what it prefetched but did not handle to the queue, for the
    // partition's next holder.
    channel.close(200, "partition released".into()).await?;
    Ok(())
}

/// The worker's advisory locks, on a connection of its own that lives as long as the session.
struct Leases {
    connection: PgConnection,
    service: ServiceName,
    worker: i32,
}

impl Leases {
    async fn open(pool: &PgPool, service: ServiceName) -> sqlx::Result<Leases> {
        // Detached: the locks live exactly as long as this connection, not as long as a pool
        // decides to keep it.
        let connection = pool.acquire().await?.detach();
        let mut leases = Leases {
            connection,
            service,
            worker: 0,
        };
        loop {
            let worker = (uuid::Uuid::new_v4().as_u128() as i32) & i32::MAX;
            if leases.try_lock(lock_class(service, "workers"), worker).await? {
                leases.worker = worker;
                return Ok(leases);
            }
        }
    }

    async fn try_lock(&mut self, class: i32, id: i32) -> sqlx::Result<bool> {
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(class)
            .bind(id)
            .fetch_one(&mut self.connection)
            .await
    }

    async fn try_take(&mut self, partition: u16) -> sqlx::Result<bool> {
        self.try_lock(lock_class(self.service, "partitions"), i32::from(partition))
            .await
    }

    async fn give_back(&mut self, partition: u16) -> sqlx::Result<()> {
        sqlx::query("SELECT pg_advisory_unlock($1, $2)")
            .bind(lock_class(self.service, "partitions"))
            .bind(i32::from(partition))
            .execute(&mut self.connection)
            .await?;
        Ok(())
    }

    /// Waits until no other worker of the service drains retired queues, then holds that.
    async fn lock_draining(&mut self) -> sqlx::Result<()> {
        sqlx::query("SELECT pg_advisory_lock($1, 0)")
            .bind(lock_class(self.service, "draining"))
            .execute(&mut self.connection)
            .await?;
        Ok(())
    }

    async fn unlock_draining(&mut self) -> sqlx::Result<()> {
        sqlx::query("SELECT pg_advisory_unlock($1, 0)")
            .bind(lock_class(self.service, "draining"))
            .execute(&mut self.connection)
            .await?;
        Ok(())
    }

    /// Workers of this service whose lease connection is open, this one included.
    async fn live_workers(&mut self) -> sqlx::Result<usize> {
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM pg_locks WHERE {HELD_LOCKS_OF_CLASS}"
        )))
        .bind(i64::from(lock_class(self.service, "workers")))
        .fetch_one(&mut self.connection)
        .await?;
        Ok(count as usize)
    }
}

/// How many partitions each live worker of `service` holds, largest first: what an operator
/// (or a test) looks at to see the work shared out.
pub async fn partition_holders(pool: &PgPool, service: ServiceName) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM pg_locks WHERE {HELD_LOCKS_OF_CLASS} GROUP BY pid ORDER BY count(*) DESC"
    )))
    .bind(i64::from(lock_class(service, "partitions")))
    .fetch_all(pool)
    .await
}

/// How many workers of `service` are live (holding partitions or standing by for them).
pub async fn live_workers(pool: &PgPool, service: ServiceName) -> sqlx::Result<i64> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM pg_locks WHERE {HELD_LOCKS_OF_CLASS}"
    )))
    .bind(i64::from(lock_class(service, "workers")))
    .fetch_one(pool)
    .await
}

/// The granted two-key advisory locks of class `$1` in this database (two-key locks show the
/// first key as `classid` and have `objsubid` 2).
const HELD_LOCKS_OF_CLASS: &str =
    "locktype = 'advisory' AND granted AND objsubid = 2 AND classid = $1::bigint::oid
     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";

/// A stable lock key per service and purpose (FNV-1a of the name), so the services that share
/// one database never take each other's locks.
fn lock_class(service: ServiceName, purpose: &str) -> i32 {
    let name = format!("tsunagu.{}.{purpose}", service.as_str());
    let hash = name.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    (hash & 0x7fff_ffff) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_classes_differ_by_service_and_purpose_and_stay_positive() {
        let classes = [
            lock_class(ServiceName::Matching, "workers"),
            lock_class(ServiceName::Matching, "partitions"),
            lock_class(ServiceName::Intake, "workers"),
        ];
        assert!(classes.iter().all(|class| *class >= 0));
        assert_ne!(classes[0], classes[1]);
        assert_ne!(classes[0], classes[2]);
        assert_eq!(classes[0], lock_class(ServiceName::Matching, "workers"));
    }
}
