//! A slow consumer — a matching worker behind a slow link, taking one message at a time — does
//! not make intake refuse or slow down work: every need is accepted and published at once,
//! the backlog waits in the partition queue, and when a worker of normal speed takes over,
//! every need is proposed and notified once.

use std::time::{Duration, Instant};

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use tsunagu_runtime::ServiceName;
use tsunagu_runtime::amqp;
use tsunagu_tests::tcp_proxy::TcpProxy;
use tsunagu_tests::{Fixture, RABBITMQ_URL, TestSystem, eventually};

use crate::flow::{self, Books, Stream};
use crate::{machine, worker_process};

const NEEDS: usize = 3_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_does_not_make_intake_refuse_work() {
    let _machine = machine::exclusive().await;
    let system = TestSystem::start_with(flow::one_partition_with_worker_processes()).await;
    let books = Books::open(&system).await;

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
    worker_process::wait_for_partition_holder(&books.matching).await;
    let fixture = Fixture::create(&system, 2 * NEEDS as u32).await;

    let started = Instant::now();
    let submitted = Stream::start(&system, &fixture.daily_life_area_id, "slow-consumer", NEEDS, 8)
        .finish()
        .await;
    let submitting_took = started.elapsed();
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
                .fetch_one(&books.intake)
                .await
                .ok()?;
            (pending == 0).then_some(())
        },
    )
    .await;
    let published_at = Instant::now();
    let decided = books.ledger().await.expect("databases up").proposals;
    let backlog = queue_depth(&system).await;
    assert!(
        (decided as usize) < NEEDS / 2 && backlog > 0,
        "the slow consumer is behind when every need is published ({decided} decided, {backlog} queued)"
    );
    let slow_rate = decided as f64 / started.elapsed().as_secs_f64();

    // A worker of normal speed replaces the slow one and clears the backlog.
    worker_process::kill(slow).await;
    let normal = worker_process::spawn(&system, &[]);
    let cleared_at = books.expect_exactly_once(NEEDS, Duration::from_secs(600)).await;

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
    books.close().await;
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
