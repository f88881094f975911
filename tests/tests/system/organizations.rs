//! Organisations: a 地区社協 under its 社協, identifiers checked as their issuers define them,
//! contact points normalised, and every bad field named.

use tonic::Code;
use tonic_types::StatusExt;
use tsunagu_proto::registry::v1 as pb;
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem};

fn contact(kind: pb::ContactKind, value: &str, label: &str) -> pb::ContactPoint {
    pb::ContactPoint {
        kind: kind.into(),
        value: value.into(),
        label: label.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organisations_nest_and_carry_checked_identifiers_and_contacts() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let mut registry = system.registry();

    let shakyo = registry
        .create_organization(pb::CreateOrganizationRequest {
            municipality_code: MUNICIPALITY.into(),
            name: "大垣市社会福祉協議会".into(),
            kind: pb::OrganizationKind::Shakyo.into(),
            area_ids: vec![fixture.municipality_id.clone()],
            corporate_number: "4200005001234".into(),
            care_provider_numbers: vec!["2170400123".into()],
            contact_points: vec![
                contact(pb::ContactKind::Phone, "０５８４－７８－１１１１", "事務局"),
                contact(pb::ContactKind::Email, "info@example.jp", ""),
            ],
            ..Default::default()
        })
        .await
        .expect("社協")
        .into_inner()
        .organization
        .unwrap();
    let district = registry
        .create_organization(pb::CreateOrganizationRequest {
            municipality_code: MUNICIPALITY.into(),
            name: "西部地区社会福祉協議会".into(),
            kind: pb::OrganizationKind::DistrictShakyo.into(),
            area_ids: vec![fixture.daily_life_area_id.clone()],
            parent_organization_id: shakyo.id.clone(),
            ..Default::default()
        })
        .await
        .expect("地区社協")
        .into_inner()
        .organization
        .unwrap();

    let stored = registry
        .get_organization(pb::GetOrganizationRequest {
            id: shakyo.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert_eq!(stored.corporate_number, "4200005001234");
    assert_eq!(stored.care_provider_numbers, ["2170400123"]);
    assert_eq!(
        stored.contact_points[0].value, "0584-78-1111",
        "full-width digits normalised"
    );
    assert_eq!(stored.contact_points[0].label, "事務局");
    assert_eq!(stored.contact_points[1].kind(), pb::ContactKind::Email);
    let stored_district = registry
        .get_organization(pb::GetOrganizationRequest {
            id: district.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert_eq!(stored_district.parent_organization_id, shakyo.id);

    // Every bad field at once, each named.
    let status = registry
        .create_organization(pb::CreateOrganizationRequest {
            municipality_code: MUNICIPALITY.into(),
            name: "NPO法人 まちの手".into(),
            kind: pb::OrganizationKind::Npo.into(),
            corporate_number: "5200005001234".into(),
            care_provider_numbers: vec!["2170400123".into(), "99".into()],
            contact_points: vec![
                contact(pb::ContactKind::Email, "info@", ""),
                contact(pb::ContactKind::Unspecified, "0584-00-0000", ""),
            ],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    let violations = &details.bad_request().unwrap().field_violations;
    let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "corporate_number",
            "care_provider_numbers[1]",
            "contact_points[0].value",
            "contact_points[1].kind"
        ]
    );
    assert!(
        violations[0].description.contains("正しくは 4"),
        "{}",
        violations[0].description
    );

    // A parent that does not exist.
    let status = registry
        .create_organization(pb::CreateOrganizationRequest {
            municipality_code: MUNICIPALITY.into(),
            name: "東部地区社会福祉協議会".into(),
            kind: pb::OrganizationKind::DistrictShakyo.into(),
            parent_organization_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("parent_organization_id"),
        "{}",
        status.message()
    );

    system.shutdown().await;
}
