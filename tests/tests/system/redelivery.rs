//! A message delivered twice has one effect: the inbox records its id with the effect.

use std::collections::HashMap;

use tsunagu_runtime::ServiceName;
use tsunagu_runtime::amqp::Envelope;
use tsunagu_runtime::events::{self, NeedSubmitted};
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem};
use uuid::Uuid;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_message_makes_no_second_proposal_or_notification() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 10).await;

    // Warm up: the read model knows the resource once a need through intake is proposed.
    let warm_up = submit_need(&system, "warm-up", &fixture.daily_life_area_id, "ゴミ出し").await;
    wait_for_notification(&system, &fixture.organization_id, &warm_up.id).await;

    // The same need.submitted, published twice with one message id.
    let need_id = Uuid::now_v7();
    let envelope = Envelope {
        id: Uuid::now_v7(),
        event_type: events::NEED_SUBMITTED.into(),
        municipality_code: MUNICIPALITY.into(),
        payload: serde_json::to_value(NeedSubmitted {
            need_id,
            municipality_code: MUNICIPALITY.into(),
            area_id: fixture.daily_life_area_id.parse().unwrap(),
            // Raw events carry taxonomy codes (intake resolves ゴミ出し to this one).
            category: "life.garbage".into(),
            urgency: "routine".into(),
            resident_id: None,
            version: 1,
            shared: true,
            details: None,
        })
        .unwrap(),
        trace_headers: HashMap::new(),
    };
    system.publish(&envelope).await;
    system.publish(&envelope).await;
    wait_for_notification(&system, &fixture.organization_id, &need_id.to_string()).await;

    // Redeliver the match.proposed that matching published, straight from its outbox.
    let matching_db = system.database(ServiceName::Matching).await;
    let (event_id, payload): (Uuid, serde_json::Value) = sqlx::query_as(
        "SELECT id, payload FROM outbox WHERE event_type = 'match.proposed' AND payload->>'need_id' = $1",
    )
    .bind(need_id.to_string())
    .fetch_one(&matching_db)
    .await
    .expect("matching published one match.proposed for the need");
    let proposed_again = Envelope {
        id: event_id,
        event_type: events::MATCH_PROPOSED.into(),
        municipality_code: MUNICIPALITY.into(),
        payload,
        trace_headers: HashMap::new(),
    };
    system.publish(&proposed_again).await;

    // A later need is processed after the duplicates (one consumer per queue, in order), so
    // once its notification exists the duplicates have been handled.
    let sentinel = submit_need(&system, "sentinel", &fixture.daily_life_area_id, "ゴミ出し").await;
    wait_for_notification(&system, &fixture.organization_id, &sentinel.id).await;

    assert_eq!(
        proposals_for(&system, &need_id.to_string()).await.len(),
        1,
        "one proposal"
    );
    let notifications = notifications_of(&system, organization(&fixture.organization_id)).await;
    let about_need = notifications
        .iter()
        .filter(|n| n.need_id == need_id.to_string())
        .count();
    assert_eq!(about_need, 1, "one notification");

    let duplicates: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox WHERE message_id = $1")
        .bind(envelope.id)
        .fetch_one(&matching_db)
        .await
        .unwrap();
    assert_eq!(duplicates, 1, "the message id is recorded once");
    matching_db.close().await;

    system.shutdown().await;
}
