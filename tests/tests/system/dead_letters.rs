//! A message that can never be processed goes to the dead-letter queue with its reason, and
//! the queue behind it keeps moving.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::BasicProperties;
use lapin::options::BasicAckOptions;
use tsunagu_runtime::amqp::{self, HEADER_ERROR};
use tsunagu_tests::{Fixture, RABBITMQ_URL, TestSystem};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_is_dead_lettered_with_its_reason_and_blocks_nothing() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 5).await;

    let connection = amqp::connect(RABBITMQ_URL, "tsunagu-test-poison").await.unwrap();
    let channel = amqp::confirm_channel(&connection).await.unwrap();
    // A need.submitted without message id or tenant, with a body that is not JSON.
    amqp::publish_confirmed(
        &channel,
        &system.topology.events_exchange(),
        "need.submitted",
        b"\xff not json",
        BasicProperties::default(),
    )
    .await
    .unwrap();

    // The queue keeps moving: a need submitted afterwards is proposed and notified.
    let after = submit_need(&system, "after-poison", &fixture.daily_life_area_id, "ゴミ出し").await;
    wait_for_notification(&system, &fixture.organization_id, &after.id).await;

    let mut dead_letters = system.dead_letters(&channel).await;
    let delivery = tokio::time::timeout(Duration::from_secs(30), dead_letters.next())
        .await
        .expect("a dead letter arrives")
        .expect("stream open")
        .expect("delivery");
    let headers = amqp::header_strings(&delivery.properties);
    let reason = headers
        .get(HEADER_ERROR)
        .expect("the reason travels with the dead letter");
    assert!(reason.contains("message_id"), "{reason}");
    // It names the queue it came from: one of matching's partitions (no municipality header
    // to hash, so whichever the empty key hashes to).
    let matching_partitions = system.matching_partitions_prefix();
    let queue = headers
        .get(amqp::HEADER_QUEUE)
        .expect("the queue travels with the dead letter");
    assert!(queue.starts_with(&matching_partitions), "{queue}");
    assert_eq!(delivery.routing_key.as_str(), "need.submitted");
    assert_eq!(delivery.data, b"\xff not json");
    delivery.acker.ack(BasicAckOptions::default()).await.unwrap();
    let _ = connection.close(200, "done".into()).await;

    system.shutdown().await;
}
