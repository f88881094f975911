//! The matching service decides with the exact engine and explains itself: a need goes to the
//! resource whose schedule fits and which is nearest, the proposal lists the factors of its
//! cost, a need no schedule fits is reported with that reason, and each municipality's
//! weights are settings checked field by field.

use tsunagu_proto::common::v1 as common_pb;
use tsunagu_proto::intake::v1 as intake_pb;
use tsunagu_proto::matching::v1 as matching_pb;
use tsunagu_proto::registry::v1 as registry_pb;
use tsunagu_runtime::ServiceName;
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem, consent_to_share, eventually, new_resource};

use crate::support::{WAIT, proposals_for, violated_fields};

const NEAR: (f64, f64) = (35.36, 136.615);
const FAR: (f64, f64) = (35.60, 136.90);

async fn shopping_resource(
    system: &TestSystem,
    fixture: &Fixture,
    name: &str,
    schedule: &str,
    (latitude, longitude): (f64, f64),
) -> String {
    let mut request = new_resource(
        &fixture.organization_id,
        name,
        "買い物支援",
        &[&fixture.municipality_id],
        5,
    );
    let resource = request.resource.as_mut().unwrap();
    resource.schedules = vec![registry_pb::Schedule {
        text: schedule.into(),
        ..Default::default()
    }];
    resource.location = Some(registry_pb::Location {
        address: "大垣市内".into(),
        point: Some(common_pb::GeoPoint { latitude, longitude }),
        ..Default::default()
    });
    system
        .registry()
        .create_resource(request)
        .await
        .unwrap_or_else(|status| panic!("resource {name}: {status:?}"))
        .into_inner()
        .resource
        .unwrap()
        .id
}

async fn submit_shopping(
    system: &TestSystem,
    fixture: &Fixture,
    request_id: &str,
    weekday: common_pb::Weekday,
) -> String {
    system
        .intake()
        .submit_need(intake_pb::SubmitNeedRequest {
            request_id: request_id.into(),
            municipality_code: MUNICIPALITY.into(),
            area_id: fixture.daily_life_area_id.clone(),
            category: "買い物支援".into(),
            consent: Some(consent_to_share()),
            details: Some(intake_pb::NeedDetails {
                location: Some(common_pb::GeoPoint {
                    latitude: NEAR.0,
                    longitude: NEAR.1,
                }),
                time_windows: vec![common_pb::TimeWindow {
                    weekday: weekday.into(),
                    start_minute: 9 * 60,
                    end_minute: 12 * 60,
                }],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("need accepted")
        .into_inner()
        .need
        .unwrap()
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_chooses_the_fitting_nearest_resource_and_explains_why() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let matching_db = system.database(ServiceName::Matching).await;
    let tuesday_near = shopping_resource(
        &system,
        &fixture,
        "火曜の買い物便（近い）",
        "毎週火曜 9:00〜12:00",
        NEAR,
    )
    .await;
    let tuesday_far = shopping_resource(
        &system,
        &fixture,
        "火曜の買い物便（遠い）",
        "毎週火曜 9:00〜12:00",
        FAR,
    )
    .await;
    let wednesday =
        shopping_resource(&system, &fixture, "水曜の買い物便", "毎週水曜 9:00〜12:00", NEAR).await;
    eventually(
        "matching to know the three resources with their terms",
        WAIT,
        || async {
            let known: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM resource WHERE terms IS NOT NULL AND category = 'life.shopping'",
            )
            .fetch_one(&matching_db)
            .await
            .unwrap();
            (known == 3).then_some(())
        },
    )
    .await;

    // Tuesday morning: both Tuesday resources fit, the near one wins; Wednesday's does not fit.
    let tuesday_need = submit_shopping(&system, &fixture, "engine-tue", common_pb::Weekday::Tuesday).await;
    let proposal = eventually("a proposal for the Tuesday need", WAIT, || async {
        proposals_for(&system, &tuesday_need).await.into_iter().next()
    })
    .await;
    assert_eq!(proposal.resource_id, tuesday_near, "the near Tuesday resource");
    assert_ne!(proposal.resource_id, tuesday_far);
    assert_ne!(proposal.resource_id, wednesday);
    let summed: i64 = proposal.factors.iter().map(|factor| factor.cost).sum();
    assert_eq!(
        summed, proposal.cost,
        "the factors add up to the cost: {proposal:?}"
    );

    // Thursday morning: nothing is open then; the coordinators learn it is the schedule.
    let thursday_need = submit_shopping(&system, &fixture, "engine-thu", common_pb::Weekday::Thursday).await;
    let (kind, reason): (String, String) = eventually("the Thursday need to be unmatched", WAIT, || async {
        sqlx::query_as(
            "SELECT unmatched_kind, unmatched_reason FROM need WHERE id = $1::uuid AND status = 'unmatched'",
        )
        .bind(&thursday_need)
        .fetch_optional(&matching_db)
        .await
        .unwrap()
    })
    .await;
    assert_eq!(kind, "conditions");
    assert!(reason.contains("日時が合わない"), "{reason}");
    assert!(
        reason.contains("近い候補"),
        "the nearest alternatives are named: {reason}"
    );

    // The gap map counts it apart: covered, but no resource meets the need's conditions.
    let mut matching = system.matching();
    let rows = matching
        .get_gap_map(matching_pb::GetGapMapRequest {
            code: MUNICIPALITY.into(),
            layer: matching_pb::GapMapLayer::DailyLifeArea.into(),
            category: "買い物支援".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .rows;
    let conditions: u32 = rows.iter().map(|row| row.unmatched_conditions).sum();
    let proposed: u32 = rows.iter().map(|row| row.proposed).sum();
    assert_eq!((conditions, proposed), (1, 1), "{rows:?}");

    // Weights: every weight in force is shown; an unknown or negative one is refused by name.
    let settings = matching
        .set_matching_settings(matching_pb::MatchingSettings {
            municipality_code: MUNICIPALITY.into(),
            weights: [("per_km".to_string(), 250)].into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(settings.weights.len(), 9);
    assert_eq!(settings.weights["per_km"], 250);
    let got = matching
        .get_matching_settings(matching_pb::GetMatchingSettingsRequest {
            municipality_code: MUNICIPALITY.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.weights, settings.weights);
    let refused = matching
        .set_matching_settings(matching_pb::MatchingSettings {
            municipality_code: MUNICIPALITY.into(),
            weights: [("per_mile".to_string(), 1), ("unknown_fee".to_string(), -5)].into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let mut fields = violated_fields(&refused);
    fields.sort();
    assert_eq!(fields, ["weights[per_mile]", "weights[unknown_fee]"]);

    matching_db.close().await;
    system.shutdown().await;
}
