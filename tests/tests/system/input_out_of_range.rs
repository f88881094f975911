//! Values a field cannot hold are refused by the handler that knows the field (issue 17): a
//! matching weight so large that the engine's costs would overflow, a gap map of a category
//! nobody has heard of (which would read as "no need of it here"), a prefecture's code where
//! only a municipality has the thing (its own categories, its freshness period).

use std::collections::HashMap;

use tsunagu_proto::matching::v1 as pb;
use tsunagu_tests::{MUNICIPALITY, TestSystem};

use crate::support::violated_fields;

#[tokio::test]
async fn weights_beyond_the_maximum_and_unknown_gap_map_categories_are_refused() {
    let system = TestSystem::start().await;
    let mut matching = system.matching();
    let settings = |per_km: i64| pb::MatchingSettings {
        municipality_code: MUNICIPALITY.into(),
        weights: HashMap::from([("per_km".to_string(), per_km)]),
        ..Default::default()
    };
    let status = matching
        .set_matching_settings(settings(i64::MAX))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["weights[per_km]"]);
    let status = matching
        .set_matching_settings(settings(100_000_001))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["weights[per_km]"]);
    let accepted = matching
        .set_matching_settings(settings(100_000_000))
        .await
        .expect("the largest weight is taken")
        .into_inner();
    assert_eq!(accepted.weights["per_km"], 100_000_000);

    let gap_map = |category: &str| pb::GetGapMapRequest {
        code: MUNICIPALITY.into(),
        category: category.into(),
        ..Default::default()
    };
    let status = matching
        .get_gap_map(gap_map("存在しないカテゴリ"))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["category"]);
    // A bundled category by its Japanese name, and one by its code, are known.
    matching
        .get_gap_map(gap_map("ゴミ出し"))
        .await
        .expect("a bundled category by name");
    matching.get_gap_map(gap_map("")).await.expect("every category");
    system.shutdown().await;
}

#[tokio::test]
async fn a_prefecture_code_is_refused_where_a_municipality_is_required() {
    use tsunagu_proto::registry::v1 as registry_pb;
    let system = TestSystem::start().await;
    let mut registry = system.registry();
    let status = registry
        .set_freshness_period(registry_pb::SetFreshnessPeriodRequest {
            municipality_code: tsunagu_tests::PREFECTURE.into(),
            days: 90,
            changed_by: "岐阜県".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["municipality_code"]);
    assert!(status.message().contains("市区町村"), "{status:?}");
    let status = registry
        .create_category(registry_pb::CreateCategoryRequest {
            municipality_code: tsunagu_tests::PREFECTURE.into(),
            slug: "yukikaki".into(),
            parent: "生活支援".into(),
            name: "雪かき".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        violated_fields(&status).contains(&"municipality_code".to_string()),
        "{status:?}"
    );
    // The municipality's own is taken.
    registry
        .set_freshness_period(registry_pb::SetFreshnessPeriodRequest {
            municipality_code: MUNICIPALITY.into(),
            days: 90,
            changed_by: "大垣市".into(),
        })
        .await
        .expect("a municipality's freshness period");
    system.shutdown().await;
}

/// A schedule given as a rule and as Japanese text must say the same thing: a rule of Monday
/// with a text of 火曜 is refused, naming the text, instead of dropping the Tuesday; the text
/// the registry itself returns for the rule agrees with it.
#[tokio::test]
async fn a_schedule_whose_text_and_rule_disagree_is_refused() {
    use tsunagu_proto::registry::v1 as registry_pb;
    let system = TestSystem::start().await;
    let fixture = tsunagu_tests::Fixture::create(&system, 5).await;
    let mut registry = system.registry();
    let with_schedule = |name: &str, text: &str| {
        let mut request = tsunagu_tests::new_resource(
            &fixture.organization_id,
            name,
            "ゴミ出し",
            &[&fixture.municipality_id],
            3,
        );
        request.resource.as_mut().unwrap().schedules = vec![registry_pb::Schedule {
            rrule: "FREQ=WEEKLY;BYDAY=MO".into(),
            opens_at: "10:00".into(),
            closes_at: "12:00".into(),
            text: text.into(),
            ..Default::default()
        }];
        request
    };
    let created = registry
        .create_resource(with_schedule("月曜のゴミ出し", ""))
        .await
        .expect("a schedule given by its rule")
        .into_inner()
        .resource
        .unwrap();
    let own_text = created.schedules[0].text.clone();
    assert!(own_text.contains("月"), "{own_text}");
    registry
        .create_resource(with_schedule("月曜のゴミ出し（文も）", &own_text))
        .await
        .expect("the rule with the text the registry writes for it");
    let status = registry
        .create_resource(with_schedule("食い違い", "毎週 火曜 10:00〜12:00"))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["resource.schedules[0].text"]);
    assert!(status.message().contains("一致しません"), "{status:?}");
    system.shutdown().await;
}

/// A resource's organisation and an organisation's parent belong to the same municipality (or
/// its prefecture): another municipality's organisation is refused, naming the field.
#[tokio::test]
async fn references_to_another_municipalitys_organisation_are_refused() {
    use tsunagu_proto::registry::v1 as registry_pb;
    let system = TestSystem::start().await;
    let fixture = tsunagu_tests::Fixture::create(&system, 5).await;
    let mut registry = system.registry();
    let organization =
        |municipality: &str, name: &str, parent: &str| registry_pb::CreateOrganizationRequest {
            municipality_code: municipality.into(),
            name: name.into(),
            kind: registry_pb::OrganizationKind::Npo.into(),
            parent_organization_id: parent.into(),
            ..Default::default()
        };
    let gifu = registry
        .create_organization(organization("212016", "岐阜市のNPO", ""))
        .await
        .expect("an organisation of 岐阜市")
        .into_inner()
        .organization
        .unwrap();
    let status = registry
        .create_resource(tsunagu_tests::new_resource(
            &gifu.id,
            "よその団体の資源",
            "ゴミ出し",
            &[&fixture.municipality_id],
            3,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["resource.organization_id"]);
    let status = registry
        .create_organization(organization(MUNICIPALITY, "大垣市の支部", &gifu.id))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["parent_organization_id"]);
    // The same municipality's organisation, and a prefecture-wide one, are taken.
    registry
        .create_organization(organization(
            MUNICIPALITY,
            "大垣市の支部",
            &fixture.organization_id,
        ))
        .await
        .expect("a parent of the same municipality");
    let prefecture_wide = registry
        .create_organization(organization(tsunagu_tests::PREFECTURE, "岐阜県社協", ""))
        .await
        .expect("a prefecture-wide organisation")
        .into_inner()
        .organization
        .unwrap();
    registry
        .create_organization(organization(MUNICIPALITY, "大垣市社協", &prefecture_wide.id))
        .await
        .expect("a parent of the prefecture");
    system.shutdown().await;
}
