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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organisations_update_with_masks_keep_history_list_and_delete_safely() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await; // NPO法人 ささえあい with a ゴミ出し resource
    let mut registry = system.registry();
    let shakyo = registry
        .create_organization(pb::CreateOrganizationRequest {
            municipality_code: MUNICIPALITY.into(),
            name: "大垣市社会福祉協議会".into(),
            name_kana: "おおがきししゃかいふくしきょうぎかい".into(),
            kind: pb::OrganizationKind::Shakyo.into(),
            area_ids: vec![fixture.municipality_id.clone()],
            created_by: "山田".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    let district = registry
        .create_organization(pb::CreateOrganizationRequest {
            municipality_code: MUNICIPALITY.into(),
            name: "西地区社協".into(),
            kind: pb::OrganizationKind::DistrictShakyo.into(),
            area_ids: vec![fixture.daily_life_area_id.clone()],
            parent_organization_id: shakyo.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();

    // A masked update: the phone is added, the name is left alone.
    let update = |organization: pb::Organization, paths: &[&str], expected_version: i64| {
        pb::UpdateOrganizationRequest {
            organization: Some(organization),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| p.to_string()).collect(),
            }),
            expected_version,
            changed_by: "山田".into(),
            reason: String::new(),
        }
    };
    let updated = registry
        .update_organization(update(
            pb::Organization {
                id: shakyo.id.clone(),
                name: "無視される".into(),
                contact_points: vec![contact(pb::ContactKind::Phone, "0584-78-1111", "事務局")],
                ..Default::default()
            },
            &["contact_points"],
            1,
        ))
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert_eq!(
        (updated.version, updated.name.as_str()),
        (2, "大垣市社会福祉協議会")
    );
    assert_eq!(updated.contact_points.len(), 1);
    let status = registry
        .update_organization(update(
            pb::Organization {
                id: shakyo.id.clone(),
                ..Default::default()
            },
            &["name"],
            1,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    // A parent cannot be moved below its own child.
    let status = registry
        .update_organization(update(
            pb::Organization {
                id: shakyo.id.clone(),
                parent_organization_id: district.id.clone(),
                ..Default::default()
            },
            &["parent_organization_id"],
            0,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        crate::support::violated_fields(&status),
        ["organization.parent_organization_id"]
    );
    let history = registry
        .list_organization_history(pb::ListOrganizationHistoryRequest {
            organization_id: shakyo.id.clone(),
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .changes;
    assert_eq!(
        history.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(),
        ["*", "contact_points"]
    );
    assert_eq!(history[1].old_value_json, "[]");

    // Lists: by area (the daily-life area is inside the 社協's municipality), kind, reading.
    let lister = registry.clone();
    let list = |request: pb::ListOrganizationsRequest| {
        let mut registry = lister.clone();
        async move {
            let mut names: Vec<String> = registry
                .list_organizations(request)
                .await
                .unwrap()
                .into_inner()
                .organizations
                .into_iter()
                .map(|o| o.name)
                .collect();
            names.sort();
            names
        }
    };
    let in_area = list(pb::ListOrganizationsRequest {
        area_id: fixture.daily_life_area_id.clone(),
        ..Default::default()
    })
    .await;
    assert_eq!(
        in_area,
        ["NPO法人 ささえあい", "大垣市社会福祉協議会", "西地区社協"]
    );
    let by_kind = list(pb::ListOrganizationsRequest {
        municipality_code: MUNICIPALITY.into(),
        kind: pb::OrganizationKind::DistrictShakyo.into(),
        ..Default::default()
    })
    .await;
    assert_eq!(by_kind, ["西地区社協"]);
    let by_reading = list(pb::ListOrganizationsRequest {
        municipality_code: MUNICIPALITY.into(),
        text: "シャカイフクシ".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(by_reading, ["大垣市社会福祉協議会"]);
    let children = list(pb::ListOrganizationsRequest {
        municipality_code: MUNICIPALITY.into(),
        parent_organization_id: shakyo.id.clone(),
        ..Default::default()
    })
    .await;
    assert_eq!(children, ["西地区社協"]);
    let batch = registry
        .batch_get_organizations(pb::BatchGetOrganizationsRequest {
            ids: vec![district.id.clone(), shakyo.id.clone()],
        })
        .await
        .unwrap()
        .into_inner()
        .organizations;
    assert_eq!(
        batch.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
        [district.id.as_str(), shakyo.id.as_str()]
    );

    // Deleting is refused while something depends on it.
    let delete = |id: &str| pb::DeleteOrganizationRequest {
        id: id.into(),
        reason: "解散のため".into(),
        ..Default::default()
    };
    let status = registry
        .delete_organization(delete(&shakyo.id))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("下部団体が1件"), "{}", status.message());
    let status = registry
        .delete_organization(delete(&fixture.organization_id))
        .await
        .unwrap_err();
    assert!(status.message().contains("地域資源が1件"), "{}", status.message());
    let deleted = registry
        .delete_organization(delete(&district.id))
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert_eq!(deleted.deletion.unwrap().reason, "解散のため");
    let children = list(pb::ListOrganizationsRequest {
        municipality_code: MUNICIPALITY.into(),
        parent_organization_id: shakyo.id.clone(),
        ..Default::default()
    })
    .await;
    assert!(children.is_empty());
    registry
        .delete_organization(delete(&shakyo.id))
        .await
        .expect("no child left");
}
