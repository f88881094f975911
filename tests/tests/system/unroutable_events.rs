//! The relay checks that the broker routed each event: an event that a service subscribes to
//! but that no queue took (a broken topology) is not marked published (RabbitMQ confirms such
//! a message too), stays in the outbox with the reason, and waits before it is tried again.
//! An event type nobody subscribes to yet is published and done with.

use tsunagu_runtime::ServiceName;
use tsunagu_tests::{TestSystem, eventually};
use uuid::Uuid;

use crate::support::WAIT;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrouted_subscribed_event_stays_in_the_outbox_and_an_unsubscribed_one_does_not() {
    let system = TestSystem::start().await;
    let intake_db = system.database(ServiceName::Intake).await;
    // Matching subscribes to need.submitted, but its binding is gone. A service that connects
    // (or reconnects) declares the whole topology again, so while the services are still
    // settling the binding may come back: unbind and try again until a row went out unbound.
    let unheard = Uuid::now_v7();
    sqlx::query("INSERT INTO outbox (id, event_type, municipality_code, payload) VALUES ($1, 'nobody.listens', '212024', '{}')")
        .bind(unheard)
        .execute(&intake_db)
        .await
        .unwrap();
    let (published, attempts, error, backing_off): (bool, i32, Option<String>, bool) =
        eventually("a need.submitted to go out while unbound", WAIT, || async {
            system.unbind(ServiceName::Matching, "need.submitted").await;
            let id = Uuid::now_v7();
            sqlx::query(
                "INSERT INTO outbox (id, event_type, municipality_code, payload) VALUES ($1, 'need.submitted', '212024', '{}')",
            )
            .bind(id)
            .execute(&intake_db)
            .await
            .unwrap();
            let row: (bool, i32, Option<String>, bool) = eventually("the relay to try the row", WAIT, || async {
                let row: (bool, i32, Option<String>, bool) = sqlx::query_as(
                    "SELECT published_at IS NOT NULL, attempts, last_error, next_attempt_at > now() FROM outbox WHERE id = $1",
                )
                .bind(id)
                .fetch_one(&intake_db)
                .await
                .unwrap();
                (row.1 > 0).then_some(row)
            })
            .await;
            // Published means the binding was back in time: try again.
            (!row.0).then_some(row)
        })
        .await;
    assert!(!published, "an unrouted message is not published");
    assert_eq!(attempts, 1);
    assert!(error.unwrap_or_default().starts_with("unroutable"));
    assert!(backing_off, "the row waits before the next attempt");
    let (unheard_published, unheard_error): (bool, Option<String>) =
        sqlx::query_as("SELECT published_at IS NOT NULL, last_error FROM outbox WHERE id = $1")
            .bind(unheard)
            .fetch_one(&intake_db)
            .await
            .unwrap();
    assert!(
        unheard_published && unheard_error.is_none(),
        "an event without subscribers is done with"
    );

    intake_db.close().await;
    system.shutdown().await;
}
