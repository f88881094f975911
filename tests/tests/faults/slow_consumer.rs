//! A slow consumer — a matching worker behind a slow link, taking one message at a time — does
//! not make intake refuse or slow down work: every need is accepted and published at once,
//! the backlog waits in the partition queue, and when a worker of normal speed takes over,
//! every need is proposed and notified once.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use tsunagu_runtime::ServiceName;
use tsunagu_runtime::amqp;
use tsunagu_runtime::partitions::partition_holders;
use tsunagu_tests::tcp_proxy::TcpProxy;
use tsunagu_tests::{Fixture, Options, RABBITMQ_URL, TestSystem, eventually};

use crate::flow::{self, Ledger};
use crate::{machine, worker_process};

const NEEDS: usize = 3_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_does_not_make_intake_refuse_work() {
    let _machine = machine::exclusive().await;
    let system = TestSystem::start_with(Options {
        without: vec![ServiceName::Matching],
        env: vec![
            // The callers are one integration key; the test is not about its rate limit.
            ("TSUNAGU_RATE_LIMIT_PER_SECOND", "0".into()),
            ("TSUNAGU_MATCHING_PARTITIONS", "1".into()),
            ("TSUNAGU_MATCHING_REBALANCE_MILLIS", "200".into()),
        ],
        ..Options::default()
    })
    .await;
    let matching_db = system.database(ServiceName::Matching).await;
    let notifications_db = system.database(ServiceName::Notifications).await;
    let intake_db = system.database(ServiceName::Intake).await;

    // 20 ms each way on every chunk, one unacknowledged message at a time: a few dozen
    // needs a second at most.
    let slow_link =
        TcpProxy::start_with_latency("127.0.0.1:5672".parse().unwrap(), Duration::from_millis(20)).await;
    let slow = worker_process::spawn(
        &system,
        &[
            ("TSUNAGU_AMQP_URL", slow_link.amqp_url()),
            ("TSUNAGU_AMQP_PREFETCH", "1".into()),
        ],
    );
    eventually(
        "the slow worker to hold the partition",
        Duration::from_secs(60),
        || async {
            let holders = partition_holders(&matching_db, ServiceName::Matching)
                .await
                .ok()?;
            (holders == [1]).then_some(())
        },
    )
    .await;
    let fixture = Fixture::create(&system, 2 * NEEDS as u32).await;

    let started = Instant::now();
    let submitted = flow::submit_needs(
        system.intake(),
        &fixture.daily_life_area_id,
        "slow-consumer",
        NEEDS,
        8,
        Arc::new(AtomicUsize::new(0)),
    )
    .await;
    let submitting_took = started.elapsed();
    assert_eq!(submitted.need_ids.len(), NEEDS);
    assert_eq!(
        submitted.retried_calls, 0,
        "intake refused a call: {:?}",
        submitted.first_refusal
    );
    // Intake's outbox is published while the consumer is still far behind: the backlog is
    // the broker's to hold, not intake's.
    eventually(
        "intake to publish every need",
        Duration::from_secs(120),
        || async {
            let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                .fetch_one(&intake_db)
                .await
                .ok()?;
            (pending == 0).then_some(())
        },
    )
    .await;
    let published_at = Instant::now();
    let decided = Ledger::read(&matching_db, &notifications_db)
        .await
        .unwrap()
        .proposals;
    let backlog = queue_depth(&system).await;
    assert!(
        (decided as usize) < NEEDS / 2 && backlog > 0,
        "the slow consumer is behind when every need is published ({decided} decided, {backlog} queued)"
    );
    let slow_rate = decided as f64 / started.elapsed().as_secs_f64();

    // A worker of normal speed replaces the slow one and clears the backlog.
    worker_process::kill(slow).await;
    let normal = worker_process::spawn(&system, &[]);
    flow::wait_until_notified(&matching_db, &notifications_db, NEEDS, Duration::from_secs(600)).await;
    let cleared_at = Instant::now();
    flow::wait_for_outboxes_drained(&intake_db, &matching_db).await;
    assert_eq!(
        Ledger::read(&matching_db, &notifications_db)
            .await
            .expect("databases up"),
        Ledger::exactly_once(NEEDS)
    );

    flow::report(
        "slow consumer, 3,000 needs",
        &[
            (
                "accepted_per_second",
                format!("{:.0}", NEEDS as f64 / submitting_took.as_secs_f64()),
            ),
            ("slow_consumer_decided_per_second", format!("{slow_rate:.1}")),
            ("queued_when_all_published", backlog.to_string()),
            ("backlog_cleared_after", flow::seconds(cleared_at - published_at)),
        ],
    );
    worker_process::kill(normal).await;
    for pool in [matching_db, notifications_db, intake_db] {
        pool.close().await;
    }
    system.shutdown().await;
}

/// Messages ready in matching's partition queue.
async fn queue_depth(system: &TestSystem) -> u32 {
    let connection = amqp::connect(RABBITMQ_URL, "tsunagu-test-depth").await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let queue = channel
        .queue_declare(
            system
                .topology
                .partition_queue(ServiceName::Matching, 0)
                .as_str()
                .into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let _ = connection.close(200, "done".into()).await;
    queue.message_count()
}
