//! Matching reaches the same proposal whatever order registry and intake events arrive in:
//! here the need arrives before the municipality area that links its daily-life area to the
//! resource's coverage.

use std::collections::HashMap;

use serde::Serialize;
use tsunagu_runtime::amqp::Envelope;
use tsunagu_runtime::events::{self, AreaCreated, NeedSubmitted, ResourceChanged};
use tsunagu_tests::{MUNICIPALITY, TestSystem, eventually};
use uuid::Uuid;

use crate::support::*;

fn envelope(event_type: &str, payload: impl Serialize) -> Envelope {
    Envelope {
        id: Uuid::now_v7(),
        event_type: event_type.into(),
        municipality_code: MUNICIPALITY.into(),
        payload: serde_json::to_value(payload).unwrap(),
        trace_headers: HashMap::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_need_that_arrives_before_its_area_is_matched_when_the_area_arrives() {
    let system = TestSystem::start().await;
    let (municipality, daily_life_area, need_id) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let area = |area_id, kind: &str, parent_id| AreaCreated {
        area_id,
        kind: kind.into(),
        code: None,
        name: "圏域".into(),
        parent_id,
        municipality_code: MUNICIPALITY.into(),
    };

    // The resource covers the municipality; the daily-life area points at the municipality,
    // which matching has not heard of yet; then the need arrives.
    system
        .publish(&envelope(
            events::RESOURCE_CREATED,
            ResourceChanged {
                resource_id: Uuid::now_v7(),
                municipality_code: MUNICIPALITY.into(),
                version: 1,
                organization_id: Uuid::now_v7(),
                category: "life.shopping".into(),
                coverage_area_ids: vec![municipality],
                capacity: 1,
                accepting: true,
                terms: None,
            },
        ))
        .await;
    system
        .publish(&envelope(
            events::AREA_CREATED,
            area(daily_life_area, "daily_life_area", Some(municipality)),
        ))
        .await;
    system
        .publish(&envelope(
            events::NEED_SUBMITTED,
            NeedSubmitted {
                need_id,
                municipality_code: MUNICIPALITY.into(),
                area_id: daily_life_area,
                category: "life.shopping".into(),
                urgency: "routine".into(),
                resident_id: None,
                version: 1,
                shared: true,
                details: None,
            },
        ))
        .await;

    let matching_db = system.database(tsunagu_runtime::ServiceName::Matching).await;
    let status = |db: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, String>("SELECT status FROM need WHERE id = $1")
            .bind(need_id)
            .fetch_optional(&db)
            .await
            .unwrap()
    };
    eventually("the need recorded as unmatched", WAIT, || async {
        (status(matching_db.clone()).await.as_deref() == Some("unmatched")).then_some(())
    })
    .await;
    assert!(proposals_for(&system, &need_id.to_string()).await.is_empty());

    // The municipality arrives last and completes the path up the area tree.
    system
        .publish(&envelope(
            events::AREA_CREATED,
            area(municipality, "municipality", None),
        ))
        .await;
    let proposals = eventually("the proposal once the area arrived", WAIT, || async {
        let proposals = proposals_for(&system, &need_id.to_string()).await;
        (!proposals.is_empty()).then_some(proposals)
    })
    .await;
    assert_eq!(proposals.len(), 1);
    assert_eq!(status(matching_db.clone()).await.as_deref(), Some("proposed"));

    matching_db.close().await;
    system.shutdown().await;
}
