//! PostgreSQL restarts while needs flow: every session of every service is cut and every open
//! transaction rolled back. The services recover by themselves — pools reconnect, the outbox
//! relays, consumers and matching's partition leases start again — callers that retry are
//! answered, and every need is still proposed and notified exactly once.

use std::time::Duration;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tsunagu_runtime::ServiceName;
use tsunagu_tests::{Fixture, TestSystem, eventually};

use crate::flow::{self, Books, Stream};
use crate::machine;

const NEEDS: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_recover_from_a_database_restart_without_an_operator() {
    let _machine = machine::exclusive().await;
    let system = TestSystem::start_with(flow::options(false, &[])).await;
    let fixture = Fixture::create(&system, 2 * NEEDS as u32).await;
    let books = Books::open(&system).await;

    let stream = Stream::start(&system, &fixture.daily_life_area_id, "database-restart", NEEDS, 8);
    stream.wait_for_accepted(NEEDS / 4).await;
    let restart = machine::restart_postgres().await;
    let before = eventually(
        "the test's own pools to reconnect",
        Duration::from_secs(60),
        || books.ledger(),
    )
    .await;
    let resumed_at = books
        .wait_until("the flow to resume", Duration::from_secs(180), |ledger| {
            ledger.notifications > before.notifications
        })
        .await;

    let submitted = stream.finish().await;
    let first_accepted_after = submitted
        .accepted_at
        .iter()
        .filter(|at| **at >= restart.back_at)
        .min()
        .copied()
        .expect("needs accepted after the restart");
    let notified_at = books.expect_exactly_once(NEEDS, Duration::from_secs(600)).await;

    // Every service reports itself serving again (health follows the database).
    for service in [
        ServiceName::Registry,
        ServiceName::Intake,
        ServiceName::Matching,
        ServiceName::Notifications,
    ] {
        let health = system.health(service);
        eventually("the service to be serving", Duration::from_secs(60), || {
            let mut health = health.clone();
            async move {
                let status = health
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .ok()?
                    .into_inner()
                    .status;
                (status == ServingStatus::Serving as i32).then_some(())
            }
        })
        .await;
    }

    flow::report(
        "postgresql restart, 2,000 needs",
        &[
            ("database_away", flow::seconds(restart.outage())),
            (
                "first_need_accepted_after_database_back",
                flow::seconds(first_accepted_after - restart.back_at),
            ),
            (
                "flow_resumed_after_database_back",
                flow::seconds(resumed_at - restart.back_at),
            ),
            (
                "all_notified_after_database_back",
                flow::seconds(notified_at - restart.back_at),
            ),
            ("retried_calls", submitted.retried_calls.to_string()),
        ],
    );
    books.close().await;
    system.shutdown().await;
}
