//! PostgreSQL restarts while needs flow: every session of every service is cut and every open
//! transaction rolled back. The services recover by themselves — pools reconnect, the outbox
//! relays, consumers and matching's partition leases start again — callers that retry are
//! answered, and every need is still proposed and notified exactly once.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tsunagu_runtime::ServiceName;
use tsunagu_tests::{Fixture, TestSystem};

use crate::flow::{self, Ledger, unlimited_callers};
use crate::machine;

const NEEDS: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_recover_from_a_database_restart_without_an_operator() {
    let _machine = machine::exclusive().await;
    let system = TestSystem::start_with(unlimited_callers()).await;
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
        async move { flow::submit_needs(intake, &area, "database-restart", NEEDS, 8, accepted).await }
    });
    flow::wait_for_accepted(&accepted, NEEDS / 4).await;
    let restart = machine::restart_postgres().await;
    let before = tsunagu_tests::eventually(
        "the test's own pools to reconnect",
        Duration::from_secs(60),
        || Ledger::read(&matching_db, &notifications_db),
    )
    .await;
    let resumed_at =
        flow::wait_for_notifications_beyond(&matching_db, &notifications_db, before.notifications).await;

    let submitted = submitting.await.expect("callers finish");
    assert_eq!(submitted.need_ids.len(), NEEDS);
    let first_accepted_after = submitted
        .accepted_at
        .iter()
        .filter(|at| **at >= restart.back_at)
        .min()
        .copied()
        .expect("needs accepted after the restart");
    flow::wait_until_notified(&matching_db, &notifications_db, NEEDS, Duration::from_secs(600)).await;
    let drained_at = Instant::now();
    flow::wait_for_outboxes_drained(&intake_db, &matching_db).await;
    let ledger = Ledger::read(&matching_db, &notifications_db)
        .await
        .expect("databases up");
    assert_eq!(ledger, Ledger::exactly_once(NEEDS));

    // Every service reports itself serving again (health follows the database).
    for service in [
        ServiceName::Registry,
        ServiceName::Intake,
        ServiceName::Matching,
        ServiceName::Notifications,
    ] {
        let mut health = system.health(service);
        tsunagu_tests::eventually("the service to be serving", Duration::from_secs(60), || {
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
        health
            .check(HealthCheckRequest::default())
            .await
            .expect("health answers");
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
