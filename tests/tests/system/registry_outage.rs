//! While the registry does not answer, notifications keeps the proposal's message and retries
//! in place: a registry restart loses no notification and uses up no deliveries.

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use tsunagu_runtime::amqp;
use tsunagu_tests::{Fixture, Options, RABBITMQ_URL, TestSystem, eventually};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_outage_delays_the_notification_and_loses_nothing() {
    // A delivery limit of 2: had the failed lookups counted as deliveries, the message would
    // be dead-lettered long before the registry returns.
    let system = TestSystem::start_with(Options {
        registry_through_proxy: true,
        delivery_limit: Some(2),
        ..Options::default()
    })
    .await;
    let fixture = Fixture::create(&system, 5).await;
    let proxy = system.registry_proxy.as_ref().expect("registry behind a proxy");

    // The clients were working before the outage: the services checked their key with the
    // registry then, and keep admitting it while the registry cannot be reached.
    warm_up_keys(&system).await;
    proxy.cut();
    let need = submit_need(
        &system,
        "during-registry-outage",
        &fixture.daily_life_area_id,
        "ゴミ出し",
    )
    .await;
    eventually("matching to propose", WAIT, || async {
        (!proposals_for(&system, &need.id).await.is_empty()).then_some(())
    })
    .await;
    // Evidence of retries: notifications tried the registry more often than the limit allows.
    eventually("several failed lookups", WAIT, || async {
        (proxy.refused_connections() >= 4).then_some(())
    })
    .await;
    let before = notifications_of(&system, organization(&fixture.organization_id)).await;
    assert!(
        before.iter().all(|n| n.need_id != need.id),
        "no notification while the registry is down"
    );

    proxy.restore();
    let notifications = wait_for_notification(&system, &fixture.organization_id, &need.id).await;
    assert_eq!(notifications.len(), 1);
    assert!(notifications[0].body.starts_with("NPO法人 ささえあい 様"));

    // Nothing went to the dead-letter queue.
    let connection = amqp::connect(RABBITMQ_URL, "tsunagu-test-inspect").await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let dead_letters = channel
        .queue_declare(
            system.topology.dead_letter_queue().as_str().into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    assert_eq!(dead_letters.message_count(), 0);
    let _ = channel.close(200, "done".into()).await;
    let _ = connection.close(200, "done".into()).await;

    system.shutdown().await;
}
