//! RabbitMQ restarts while 10,000 needs flow through the system: every need is proposed once
//! and its provider notified once. Intake keeps accepting needs while the broker is down (they
//! wait in its outbox); every connection comes back by itself.

use std::time::Duration;

use tsunagu_tests::{Fixture, TestSystem};

use crate::flow::{self, Books, Stream};
use crate::machine;

const NEEDS: usize = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_need_is_proposed_and_notified_exactly_once_across_a_broker_restart() {
    let _machine = machine::exclusive().await;
    let system = TestSystem::start_with(tsunagu_tests::Options {
        database_max_connections: Some(6),
        ..flow::options(false, &[])
    })
    .await;
    let fixture = Fixture::create(&system, 2 * NEEDS as u32).await;
    let books = Books::open(&system).await;

    let stream = Stream::start(&system, &fixture.daily_life_area_id, "broker-restart", NEEDS, 16);
    // In the middle of the stream: some needs decided and notified, more on their way.
    stream.wait_for_accepted(NEEDS / 4).await;
    let at_stop = books.ledger().await.expect("databases up");
    let restart = machine::restart_rabbitmq().await;
    let before = books.ledger().await.expect("databases up");
    let resumed_at = books
        .wait_until("the flow to resume", Duration::from_secs(180), |ledger| {
            ledger.notifications > before.notifications
        })
        .await;

    let submitted = stream.finish().await;
    let accepted_while_away = submitted
        .accepted_at
        .iter()
        .filter(|at| (restart.stopping_at..restart.back_at).contains(at))
        .count();
    let notified_at = books.expect_exactly_once(NEEDS, Duration::from_secs(900)).await;
    assert!(
        accepted_while_away > 0,
        "intake accepted needs while the broker was down"
    );

    flow::report(
        "rabbitmq restart, 10,000 needs",
        &[
            ("decided_when_broker_stopped", at_stop.needs_proposed.to_string()),
            ("broker_away", flow::seconds(restart.outage())),
            ("accepted_while_away", accepted_while_away.to_string()),
            (
                "flow_resumed_after_broker_back",
                flow::seconds(resumed_at - restart.back_at),
            ),
            (
                "all_notified_after_broker_back",
                flow::seconds(notified_at - restart.back_at),
            ),
            ("retried_calls", submitted.retried_calls.to_string()),
        ],
    );
    books.close().await;
    system.shutdown().await;
}
