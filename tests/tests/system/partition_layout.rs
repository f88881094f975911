//! Only the matching workers move the partition layout. A service configured with a higher
//! `TSUNAGU_MATCHING_PARTITIONS` than the queues RabbitMQ holds refuses to start, naming the
//! setting, and declares nothing: it would otherwise add partition queues no worker reads (the
//! consistent-hash exchange would strand events in them) or bring back ones a new layout retired.

use std::sync::Arc;

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use tokio_util::sync::CancellationToken;
use tsunagu_runtime::{ServiceName, amqp};
use tsunagu_tests::{RABBITMQ_URL, TestSystem, eventually};

use crate::support::WAIT;

async fn queue_exists(queue: &str) -> bool {
    let connection = amqp::connect(RABBITMQ_URL, "tsunagu-test-layout-probe")
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let exists = channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .is_ok();
    let _ = connection.close(200, "probed".into()).await;
    exists
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_with_another_partition_count_refuses_to_start() {
    let system = TestSystem::start().await;
    let partitions = system.config.matching_partitions;
    let last = system
        .topology
        .partition_queue(ServiceName::Matching, partitions - 1);
    eventually("the deployment's partition queues", WAIT, || async {
        queue_exists(&last).await.then_some(())
    })
    .await;

    let mut config = (*system.config).clone();
    config.matching_partitions = partitions * 2;
    let refused = tsunagu_intake::start(Arc::new(config), CancellationToken::new())
        .await
        .err()
        .expect("an intake with twice the partitions does not start");
    let message = format!("{refused:#}");
    assert!(
        message.contains(&format!("TSUNAGU_MATCHING_PARTITIONS={} here", partitions * 2))
            && message.contains(&format!("holds {partitions} partition queues")),
        "{message}"
    );
    let beyond = system.topology.partition_queue(ServiceName::Matching, partitions);
    assert!(
        !queue_exists(&beyond).await,
        "the refused service declared nothing"
    );

    // The same setting starts, and so does a lower one: it declares only queues that exist.
    for agreeing in [partitions, partitions / 2] {
        let mut config = (*system.config).clone();
        config.matching_partitions = agreeing;
        let stop = CancellationToken::new();
        let started = tsunagu_intake::start(Arc::new(config), stop.clone())
            .await
            .unwrap_or_else(|error| panic!("an intake with {agreeing} partitions starts: {error:#}"));
        stop.cancel();
        started.wait().await.expect("stops cleanly");
    }
    system.shutdown().await;
}
