//! A need accepted while RabbitMQ is unreachable waits in the outbox and is delivered, once,
//! when the broker is back.

use tsunagu_runtime::ServiceName;
use tsunagu_tests::tcp_proxy::TcpProxy;
use tsunagu_tests::{Fixture, Options, TestSystem};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_need_accepted_while_the_broker_is_down_is_delivered_when_it_returns() {
    let proxy = TcpProxy::start("127.0.0.1:5672".parse().unwrap()).await;
    let system = TestSystem::start_with(Options {
        amqp_url: Some(proxy.amqp_url()),
        ..Options::default()
    })
    .await;
    let fixture = Fixture::create(&system, 5).await;
    let before = submit_need(&system, "before-outage", &fixture.daily_life_area_id, "ゴミ出し").await;
    wait_for_notification(&system, &fixture.organization_id, &before.id).await;

    proxy.cut();
    let during = submit_need(&system, "during-outage", &fixture.daily_life_area_id, "ゴミ出し").await;

    // Accepted and committed, but not published: the relay cannot reach the broker.
    let intake_db = system.database(ServiceName::Intake).await;
    let published_while_down: bool =
        sqlx::query_scalar("SELECT published_at IS NOT NULL FROM outbox WHERE payload->>'need_id' = $1")
            .bind(&during.id)
            .fetch_one(&intake_db)
            .await
            .unwrap();
    assert!(
        !published_while_down,
        "nothing can be published while the broker is cut"
    );

    proxy.restore();
    // Reconnecting (backoff up to 10 s per service) and the whole chain take longer than
    // usual when the machine is busy with other tests.
    let notifications = tsunagu_tests::eventually(
        "the provider's notification after the outage",
        2 * WAIT,
        || async {
            let all = notifications_of(&system, organization(&fixture.organization_id)).await;
            let about: Vec<_> = all.into_iter().filter(|n| n.need_id == during.id).collect();
            (!about.is_empty()).then_some(about)
        },
    )
    .await;
    assert_eq!(notifications.len(), 1);
    assert_eq!(proposals_for(&system, &during.id).await.len(), 1);
    let published: bool =
        sqlx::query_scalar("SELECT published_at IS NOT NULL FROM outbox WHERE payload->>'need_id' = $1")
            .bind(&during.id)
            .fetch_one(&intake_db)
            .await
            .unwrap();
    assert!(published);
    intake_db.close().await;

    system.shutdown().await;
}
