//! A matching worker is killed (SIGKILL) in the middle of its batch — with messages prefetched
//! and unacknowledged, a transaction perhaps half done. The standby worker takes over its
//! partition: its lease (an advisory lock) went with its database session, its unacknowledged
//! messages went back to the queue with its broker connection, and the inbox turns a message
//! whose effect had committed before the kill into a no-op. Nothing is lost or doubled.

use std::time::{Duration, Instant};

use tsunagu_runtime::ServiceName;
use tsunagu_runtime::partitions::live_workers;
use tsunagu_tests::{Fixture, TestSystem, eventually};

use crate::flow::{self, Books, Stream};
use crate::{machine, worker_process};

const NEEDS: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_batch_is_replaced_and_nothing_is_lost_or_doubled() {
    let _machine = machine::exclusive().await;
    // One partition: all of the municipality's work is on the worker holding it, and the
    // other stands by.
    let system = TestSystem::start_with(flow::one_partition_with_worker_processes()).await;
    let books = Books::open(&system).await;
    let first = worker_process::spawn(&system, &[]);
    worker_process::wait_for_partition_holder(&books.matching).await;
    let standby = worker_process::spawn(&system, &[]);
    eventually(
        "the second worker to stand by",
        Duration::from_secs(60),
        || async {
            let live = live_workers(&books.matching, ServiceName::Matching).await.ok()?;
            (live == 2).then_some(())
        },
    )
    .await;

    let fixture = Fixture::create(&system, 2 * NEEDS as u32).await;
    let stream = Stream::start(&system, &fixture.daily_life_area_id, "worker-killed", NEEDS, 8);
    // Mid-batch: the worker is busy deciding needs, with more prefetched.
    books
        .wait_until(
            "the first worker to be well into the stream",
            Duration::from_secs(180),
            |ledger| ledger.proposals >= (NEEDS / 5) as i64,
        )
        .await;
    worker_process::kill(first).await;
    let killed_at = Instant::now();
    // What the killed worker committed; its transaction in progress, if any, rolled back.
    let decided_at_kill = books.ledger().await.expect("databases up").proposals;
    let taken_over_at = books
        .wait_until(
            "the standby to take the partition over",
            Duration::from_secs(120),
            |ledger| ledger.proposals > decided_at_kill,
        )
        .await;

    stream.finish().await;
    let notified_at = books.expect_exactly_once(NEEDS, Duration::from_secs(600)).await;
    assert_eq!(
        live_workers(&books.matching, ServiceName::Matching)
            .await
            .unwrap(),
        1,
        "the killed worker's lease is gone"
    );

    flow::report(
        "matching worker killed mid-batch, 2,000 needs",
        &[
            ("decided_before_kill", decided_at_kill.to_string()),
            ("taken_over_after", flow::seconds(taken_over_at - killed_at)),
            ("all_notified_after_kill", flow::seconds(notified_at - killed_at)),
        ],
    );
    worker_process::kill(standby).await;
    books.close().await;
    system.shutdown().await;
}
