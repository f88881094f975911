//! RabbitMQ restarts while 10,000 needs flow through the system: every need is proposed once
//! and its provider notified once. Intake keeps accepting needs while the broker is down (they
//! wait in its outbox); every connection comes back by itself.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use tsunagu_runtime::ServiceName;
use tsunagu_tests::{Fixture, TestSystem};

use crate::flow::{self, Ledger, unlimited_callers};
use crate::machine;

const NEEDS: usize = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_need_is_proposed_and_notified_exactly_once_across_a_broker_restart() {
    let _machine = machine::exclusive().await;
    let system = TestSystem::start_with(tsunagu_tests::Options {
        database_max_connections: Some(6),
        ..unlimited_callers()
    })
    .await;
    let fixture = Fixture::create(&system, 2 * NEEDS as u32).await;
    let matching_db = system.database(ServiceName::Matching).await;
    let notifications_db = system.database(ServiceName::Notifications).await;
    let intake_db = system.database(ServiceName::Intake).await;

    let accepted = Arc::new(AtomicUsize::new(0));
    let submitting = tokio::spawn({
        let (intake, area, accepted) = (
            system.intake(),
            fixture.daily_life_area_id.clone(),
            accepted.clone(),
        );
        async move { flow::submit_needs(intake, &area, "broker-restart", NEEDS, 16, accepted).await }
    });
    // In the middle of the stream: some needs decided and notified, more on their way.
    flow::wait_for_accepted(&accepted, NEEDS / 4).await;
    let at_stop = Ledger::read(&matching_db, &notifications_db)
        .await
        .expect("databases up");
    let restart = machine::restart_rabbitmq().await;
    let before = Ledger::read(&matching_db, &notifications_db)
        .await
        .expect("databases up");
    let resumed_at =
        flow::wait_for_notifications_beyond(&matching_db, &notifications_db, before.notifications).await;

    let submitted = submitting.await.expect("callers finish");
    assert_eq!(submitted.need_ids.len(), NEEDS);
    let accepted_while_down = submitted
        .accepted_at
        .iter()
        .filter(|at| (restart.stopping_at..restart.back_at).contains(at))
        .count();
    let all_notified =
        flow::wait_until_notified(&matching_db, &notifications_db, NEEDS, Duration::from_secs(900)).await;
    let drained_at = std::time::Instant::now();
    flow::wait_for_outboxes_drained(&intake_db, &matching_db).await;
    let ledger = Ledger::read(&matching_db, &notifications_db)
        .await
        .expect("databases up");
    assert_eq!(ledger, Ledger::exactly_once(NEEDS), "{all_notified:?}");
    assert!(
        accepted_while_down > 0,
        "intake accepted needs while the broker was down"
    );

    flow::report(
        "rabbitmq restart, 10,000 needs",
        &[
            ("decided_when_broker_stopped", at_stop.needs_proposed.to_string()),
            ("broker_away", flow::seconds(restart.outage())),
            ("accepted_while_away", accepted_while_down.to_string()),
            (
                "flow_resumed_after_broker_back",
                flow::seconds(resumed_at - restart.back_at),
            ),
            (
                "all_notified_after_broker_back",
                flow::seconds(drained_at - restart.back_at),
            ),
            ("retried_calls", submitted.retried_calls.to_string()),
        ],
    );
    for pool in [matching_db, notifications_db, intake_db] {
        pool.close().await;
    }
    system.shutdown().await;
}
