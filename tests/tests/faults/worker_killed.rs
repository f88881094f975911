//! A matching worker is killed (SIGKILL) in the middle of its batch — with messages prefetched
//! and unacknowledged, a transaction perhaps half done. The standby worker takes over its
//! partition: its lease (an advisory lock) went with its database session, its unacknowledged
//! messages went back to the queue with its broker connection, and the inbox turns a message
//! whose effect had committed before the kill into a no-op. Nothing is lost or doubled.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use tsunagu_runtime::ServiceName;
use tsunagu_runtime::partitions::{live_workers, partition_holders};
use tsunagu_tests::{Fixture, Options, TestSystem, eventually};

use crate::flow::{self, Ledger};
use crate::{machine, worker_process};

const NEEDS: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_batch_is_replaced_and_nothing_is_lost_or_doubled() {
    let _machine = machine::exclusive().await;
    // One partition: all of the municipality's work is on the worker holding it, and the
    // other stands by.
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

    let first = worker_process::spawn(&system, &[]);
    eventually(
        "the first worker to hold the partition",
        Duration::from_secs(60),
        || async {
            let holders = partition_holders(&matching_db, ServiceName::Matching)
                .await
                .ok()?;
            (holders == [1]).then_some(())
        },
    )
    .await;
    let standby = worker_process::spawn(&system, &[]);
    eventually(
        "the second worker to stand by",
        Duration::from_secs(60),
        || async {
            let live = live_workers(&matching_db, ServiceName::Matching).await.ok()?;
            (live == 2).then_some(())
        },
    )
    .await;

    let fixture = Fixture::create(&system, 2 * NEEDS as u32).await;
    let accepted = Arc::new(AtomicUsize::new(0));
    let submitting = tokio::spawn({
        let (intake, area, accepted) = (
            system.intake(),
            fixture.daily_life_area_id.clone(),
            accepted.clone(),
        );
        async move { flow::submit_needs(intake, &area, "worker-killed", NEEDS, 8, accepted).await }
    });
    // Mid-batch: the worker is busy deciding needs, with more prefetched.
    eventually(
        "the first worker to be well into the stream",
        Duration::from_secs(180),
        || async {
            let ledger = Ledger::read(&matching_db, &notifications_db).await?;
            (ledger.proposals >= (NEEDS / 5) as i64).then_some(())
        },
    )
    .await;
    worker_process::kill(first).await;
    let killed_at = Instant::now();
    // What the killed worker committed; its transaction in progress, if any, rolled back.
    let decided_at_kill = Ledger::read(&matching_db, &notifications_db)
        .await
        .unwrap()
        .proposals;

    let taken_over_at = eventually(
        "the standby to take the partition over",
        Duration::from_secs(120),
        || async {
            let ledger = Ledger::read(&matching_db, &notifications_db).await?;
            (ledger.proposals > decided_at_kill).then(Instant::now)
        },
    )
    .await;
    let submitted = submitting.await.expect("callers finish");
    assert_eq!(submitted.need_ids.len(), NEEDS);
    flow::wait_until_notified(&matching_db, &notifications_db, NEEDS, Duration::from_secs(600)).await;
    let done_at = Instant::now();
    flow::wait_for_outboxes_drained(&intake_db, &matching_db).await;
    assert_eq!(
        Ledger::read(&matching_db, &notifications_db)
            .await
            .expect("databases up"),
        Ledger::exactly_once(NEEDS)
    );
    assert_eq!(
        live_workers(&matching_db, ServiceName::Matching).await.unwrap(),
        1,
        "the killed worker's lease is gone"
    );

    flow::report(
        "matching worker killed mid-batch, 2,000 needs",
        &[
            ("decided_before_kill", decided_at_kill.to_string()),
            ("taken_over_after", flow::seconds(taken_over_at - killed_at)),
            ("all_notified_after_kill", flow::seconds(done_at - killed_at)),
        ],
    );
    worker_process::kill(standby).await;
    for pool in [matching_db, notifications_db, intake_db] {
        pool.close().await;
    }
    system.shutdown().await;
}
