//! One need from intake to the provider's notification, and the unmatched path.

use tsunagu_proto::notifications::v1 as notifications_pb;
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem, eventually};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_need_flows_from_intake_to_the_providers_notification() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 2).await;

    // The resource covers the municipality; the need is in a daily-life area inside it.
    let need = submit_need(&system, "e2e-1", &fixture.daily_life_area_id, "ｺﾞﾐ出し").await;
    assert_eq!(
        need.category, "life.garbage",
        "ｺﾞﾐ出し is NFKC-normalised and resolved to its taxonomy code"
    );
    assert_eq!(need.municipality_code, MUNICIPALITY);

    let notifications = wait_for_notification(&system, &fixture.organization_id, &need.id).await;
    assert_eq!(notifications.len(), 1);
    let notification = &notifications[0];
    assert_eq!(notification.event_type, "match.proposed");
    assert!(notification.title.contains("ゴミ出し"), "{}", notification.title);
    assert!(
        notification.body.starts_with("NPO法人 ささえあい 様"),
        "name from the registry: {}",
        notification.body
    );

    let proposals = proposals_for(&system, &need.id).await;
    assert_eq!(proposals.len(), 1);
    assert_eq!(proposals[0].resource_id, fixture.resource_id);
    assert_eq!(proposals[0].organization_id, fixture.organization_id);
    assert_eq!(notification.proposal_id, proposals[0].id);

    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_is_never_exceeded_and_the_rest_goes_to_coordinators() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;

    let first = submit_need(&system, "cap-1", &fixture.daily_life_area_id, "ゴミ出し").await;
    wait_for_notification(&system, &fixture.organization_id, &first.id).await;
    // Capacity 1 is used up: the second need is unmatched, and so is one of a category
    // nobody offers.
    let second = submit_need(&system, "cap-2", &fixture.daily_life_area_id, "ゴミ出し").await;
    let third = submit_need(&system, "cap-3", &fixture.daily_life_area_id, "外出支援").await;

    let coordinators = notifications_pb::recipient::Kind::CoordinatorsOfMunicipality(MUNICIPALITY.into());
    // (The first need may also have been reported, if it overtook the resource's event and
    // was matched again when the resource arrived; only the two later needs are asserted.)
    let unmatched = eventually("both unmatched needs reach the coordinators", WAIT, || async {
        let all = notifications_of(&system, coordinators.clone()).await;
        let reported = |id: &str| all.iter().any(|n| n.need_id == id);
        (reported(&second.id) && reported(&third.id)).then_some(all)
    })
    .await;
    let about = |need_id: &str| {
        let mut about = unmatched.iter().filter(|n| n.need_id == need_id);
        let notification = about.next().expect("notified");
        assert!(about.next().is_none(), "notified once");
        notification
    };
    assert!(
        about(&second.id).body.contains("受け入れ上限"),
        "{}",
        about(&second.id).body
    );
    assert!(
        about(&third.id).body.contains("登録されていません"),
        "{}",
        about(&third.id).body
    );
    assert!(proposals_for(&system, &second.id).await.is_empty());

    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_need_is_idempotent_by_request_id() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 5).await;
    let mut intake = system.intake();
    let request = tsunagu_proto::intake::v1::SubmitNeedRequest {
        request_id: "retry-me".into(),
        municipality_code: MUNICIPALITY.into(),
        area_id: fixture.daily_life_area_id.clone(),
        category: "ゴミ出し".into(),
        urgency: 0,
        resident_id: String::new(),
        consent: Some(tsunagu_tests::consent_to_share()),
        ..Default::default()
    };
    let first = intake.submit_need(request.clone()).await.unwrap().into_inner();
    let retry = intake.submit_need(request.clone()).await.unwrap().into_inner();
    assert!(!first.replayed);
    assert!(retry.replayed);
    assert_eq!(first.need.as_ref().unwrap().id, retry.need.as_ref().unwrap().id);

    let reused = intake
        .submit_need(tsunagu_proto::intake::v1::SubmitNeedRequest {
            category: "買い物支援".into(),
            ..request
        })
        .await
        .unwrap_err();
    assert_eq!(reused.code(), tonic::Code::AlreadyExists);
    assert!(reused.message().contains("request_id"), "{}", reused.message());

    // The retry did not submit a second need: exactly one proposal, one notification.
    let need_id = first.need.unwrap().id;
    wait_for_notification(&system, &fixture.organization_id, &need_id).await;
    let intake_db = system.database(tsunagu_runtime::ServiceName::Intake).await;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = 'need.submitted'")
        .fetch_one(&intake_db)
        .await
        .unwrap();
    assert_eq!(events, 1);
    intake_db.close().await;

    system.shutdown().await;
}
