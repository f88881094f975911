//! Poison messages in the middle of a stream of needs, on the very partition queue that
//! carries the municipality's needs: each goes to the dead-letter queue with its reason, and
//! the needs behind it are all proposed and notified, once.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::BasicProperties;
use lapin::options::BasicAckOptions;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use tsunagu_runtime::amqp::{self, HEADER_ERROR, HEADER_MUNICIPALITY};
use tsunagu_tests::{Fixture, MUNICIPALITY, RABBITMQ_URL, TestSystem};

use crate::flow::{self, Books, Stream};
use crate::machine;

const NEEDS: usize = 1_000;

/// Messages no handler can ever process: (what is wrong, body, has a message id).
fn poisons() -> Vec<(&'static str, Vec<u8>, bool)> {
    vec![
        ("not JSON", b"\xff\xfe not json".to_vec(), true),
        (
            "no message id",
            br#"{"need_id":"6f1c1b3e-0000-4000-8000-000000000000"}"#.to_vec(),
            false,
        ),
        ("a JSON array", b"[1, 2, 3]".to_vec(), true),
        (
            "need_id not a uuid",
            br#"{"need_id": "not-a-uuid", "area_id": 12}"#.to_vec(),
            true,
        ),
        ("empty body", Vec::new(), true),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_are_dead_lettered_with_reasons_and_block_no_need() {
    let _machine = machine::exclusive().await;
    let system = TestSystem::start_with(flow::options(false, &[])).await;
    let fixture = Fixture::create(&system, 2 * NEEDS as u32).await;
    let books = Books::open(&system).await;
    let stream = Stream::start(&system, &fixture.daily_life_area_id, "poison", NEEDS, 8);

    let connection = amqp::connect(RABBITMQ_URL, "tsunagu-test-poisoner")
        .await
        .unwrap();
    let channel = amqp::confirm_channel(&connection).await.unwrap();
    let mut expected: HashMap<String, &'static str> = HashMap::new();
    for round in 0..10 {
        stream.wait_for_accepted(round * NEEDS / 10).await;
        for (what, body, with_id) in poisons() {
            let mut headers = FieldTable::default();
            headers.insert(
                ShortString::from(HEADER_MUNICIPALITY),
                AMQPValue::LongString(MUNICIPALITY.into()),
            );
            let id = uuid::Uuid::new_v4().to_string();
            let mut properties = BasicProperties::default().with_headers(headers);
            if with_id {
                properties = properties.with_message_id(id.as_str().into());
            }
            // Marks the message for the test without a message id too.
            properties = properties.with_correlation_id(id.as_str().into());
            amqp::publish_confirmed(
                &channel,
                &system.topology.events_exchange(),
                "need.submitted",
                &body,
                properties,
            )
            .await
            .unwrap();
            expected.insert(id, what);
        }
    }

    stream.finish().await;
    books.expect_exactly_once(NEEDS, Duration::from_secs(300)).await;

    // Every poison is in the dead-letter queue, with the reason it could not be processed.
    let mut dead_letters = system.dead_letters(&channel).await;
    let mut found = HashMap::new();
    let mut queues = std::collections::BTreeSet::new();
    while found.len() < expected.len() {
        let delivery = tokio::time::timeout(Duration::from_secs(60), dead_letters.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {} dead letters arrived", found.len(), expected.len()))
            .expect("stream open")
            .expect("delivery");
        let marker = delivery
            .properties
            .correlation_id()
            .as_ref()
            .map(|id| id.to_string())
            .unwrap_or_default();
        let headers = amqp::header_strings(&delivery.properties);
        let reason = headers.get(HEADER_ERROR).cloned().unwrap_or_default();
        delivery.acker.ack(BasicAckOptions::default()).await.unwrap();
        if let Some(what) = expected.get(&marker) {
            assert!(
                !reason.is_empty(),
                "the dead letter of a message with {what} carries its reason"
            );
            assert_eq!(delivery.routing_key.as_str(), "need.submitted");
            queues.insert(headers.get(amqp::HEADER_QUEUE).cloned().unwrap_or_default());
            found.insert(marker, reason);
        }
    }
    assert_eq!(found.len(), expected.len());
    // Each names the queue it came from: the municipality's partition, the same for all (they
    // carry its header), where the needs were waiting behind them.
    let partitions = system.matching_partitions_prefix();
    assert!(
        queues.len() == 1 && queues.iter().all(|queue| queue.starts_with(&partitions)),
        "{queues:?}"
    );

    flow::report(
        "poison messages in a stream of 1,000 needs",
        &[
            ("poison_messages", expected.len().to_string()),
            ("dead_lettered", found.len().to_string()),
            (
                "sample_reason",
                format!("{:?}", found.values().next().cloned().unwrap_or_default()),
            ),
        ],
    );
    let _ = connection.close(200, "done".into()).await;
    books.close().await;
    system.shutdown().await;
}
