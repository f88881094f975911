//! Bad input gets INVALID_ARGUMENT naming each bad field (google.rpc.BadRequest).

use tonic::Code;
use tsunagu_proto::intake::v1 as intake_pb;
use tsunagu_proto::matching::v1 as matching_pb;
use tsunagu_proto::registry::v1 as registry_pb;
use tsunagu_tests::{Fixture, TestSystem, new_resource};

use crate::support::violated_fields;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_names_the_field() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;

    // Unknown municipality (valid check digit, not in the official list) and empty category.
    let status = system
        .intake()
        .submit_need(intake_pb::SubmitNeedRequest {
            request_id: "bad-1".into(),
            municipality_code: "999997".into(),
            area_id: fixture.daily_life_area_id.clone(),
            category: "  ".into(),
            urgency: 0,
            resident_id: String::new(),
            consent: Some(tsunagu_tests::consent_to_share()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["municipality_code", "category"]);

    // Missing request id and an area id that is not an id.
    let status = system
        .intake()
        .submit_need(intake_pb::SubmitNeedRequest {
            request_id: String::new(),
            municipality_code: "212024".into(),
            area_id: "西部".into(),
            category: "ゴミ出し".into(),
            urgency: 0,
            resident_id: String::new(),
            consent: Some(tsunagu_tests::consent_to_share()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["request_id", "area_id"]);

    // A municipality code with a wrong check digit; the message says so in Japanese.
    let status = system
        .registry()
        .create_area(registry_pb::CreateAreaRequest {
            kind: registry_pb::AreaKind::Municipality.into(),
            code: "212025".into(),
            name: String::new(),
            name_kana: String::new(),
            parent_id: fixture.prefecture_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["code"]);
    assert!(status.message().contains("検査数字"), "{}", status.message());

    // A resource of an organisation that does not exist, covering an unknown area.
    let status = system
        .registry()
        .create_resource(new_resource(
            &uuid::Uuid::now_v7().to_string(),
            "配食",
            "配食+見守り",
            &[&fixture.municipality_id],
            1,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["resource.organization_id"]);
    let status = system
        .registry()
        .create_resource(new_resource(&fixture.organization_id, "配食", "", &[], 0))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&status),
        ["resource.category", "resource.coverage_area_ids"]
    );

    // A daily-life area under a prefecture instead of a municipality.
    let status = system
        .registry()
        .create_area(registry_pb::CreateAreaRequest {
            kind: registry_pb::AreaKind::DailyLifeArea.into(),
            code: String::new(),
            name: "北部圏域".into(),
            name_kana: String::new(),
            parent_id: fixture.prefecture_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["parent_id"]);

    let status = system
        .matching()
        .list_proposals(matching_pb::ListProposalsRequest {
            municipality_code: "12345".into(),
            need_id: String::new(),
            page: None,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["municipality_code"]);

    // An existing official area cannot be registered twice.
    let status = system
        .registry()
        .create_area(registry_pb::CreateAreaRequest {
            kind: registry_pb::AreaKind::Prefecture.into(),
            code: "210005".into(),
            name: String::new(),
            name_kana: String::new(),
            parent_id: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);

    system.shutdown().await;
}
