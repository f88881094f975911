//! The area tree: ancestors, descendants, containment, and search by name or reading that
//! ignores the difference between hiragana, katakana, half-width kana and letter case.

use tonic::Code;
use tsunagu_proto::registry::v1 as pb;
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem};

fn names(areas: &[pb::Area]) -> Vec<&str> {
    areas.iter().map(|area| area.name.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_area_tree_answers_ancestors_descendants_containment_and_kana_search() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await; // 岐阜県 → 大垣市 → 西部圏域
    let mut registry = system.registry();
    let create =
        |kind: pb::AreaKind, code: &str, name: &str, kana: &str, parent: &str| pb::CreateAreaRequest {
            kind: kind.into(),
            code: code.into(),
            name: name.into(),
            name_kana: kana.into(),
            parent_id: parent.into(),
            ..Default::default()
        };
    let east = registry
        .create_area(create(
            pb::AreaKind::DailyLifeArea,
            "",
            "東部圏域",
            "ﾄｳﾌﾞｹﾝｲｷ",
            &fixture.municipality_id,
        ))
        .await
        .unwrap()
        .into_inner()
        .area
        .unwrap();
    let gifu_city = registry
        .create_area(create(
            pb::AreaKind::Municipality,
            "212016",
            "",
            "",
            &fixture.prefecture_id,
        ))
        .await
        .unwrap()
        .into_inner()
        .area
        .unwrap();

    // Ancestors, root first.
    let ancestors = registry
        .list_ancestors(pb::ListAncestorsRequest {
            area_id: fixture.daily_life_area_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .ancestors;
    assert_eq!(names(&ancestors), ["岐阜県", "大垣市"]);
    let none = registry
        .list_ancestors(pb::ListAncestorsRequest {
            area_id: fixture.prefecture_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .ancestors;
    assert!(none.is_empty());

    // Descendants at every depth, paged.
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = registry
            .list_descendants(pb::ListDescendantsRequest {
                area_id: fixture.prefecture_id.clone(),
                page: Some(tsunagu_proto::common::v1::PageRequest {
                    page_size: 2,
                    page_token,
                }),
            })
            .await
            .unwrap()
            .into_inner();
        all.extend(page.areas);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut found = names(&all);
    found.sort();
    assert_eq!(found, ["大垣市", "岐阜市", "東部圏域", "西部圏域"]);

    // Containment: below, itself, not above, not a sibling.
    let contains = |container: &str, area: &str| {
        let mut registry = registry.clone();
        let request = pb::CheckAreaContainsRequest {
            container_id: container.into(),
            area_id: area.into(),
        };
        async move {
            registry
                .check_area_contains(request)
                .await
                .unwrap()
                .into_inner()
                .contains
        }
    };
    assert!(contains(&fixture.prefecture_id, &fixture.daily_life_area_id).await);
    assert!(contains(&fixture.municipality_id, &fixture.municipality_id).await);
    assert!(!contains(&fixture.daily_life_area_id, &fixture.municipality_id).await);
    assert!(!contains(&gifu_city.id, &east.id).await);
    let unknown = registry
        .check_area_contains(pb::CheckAreaContainsRequest {
            container_id: uuid::Uuid::now_v7().to_string(),
            area_id: east.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::InvalidArgument);

    // Search by name or reading, in any script.
    let search = |query: &str, municipality_code: &str| {
        let mut registry = registry.clone();
        let request = pb::SearchAreasRequest {
            query: query.into(),
            municipality_code: municipality_code.into(),
            kind: 0,
            page: None,
        };
        async move {
            let areas = registry.search_areas(request).await.unwrap().into_inner().areas;
            let mut names: Vec<String> = areas.into_iter().map(|area| area.name).collect();
            names.sort();
            names
        }
    };
    for query in ["おおがき", "オオガキ", "ｵｵｶﾞｷ", "大垣"] {
        assert_eq!(search(query, "").await, ["大垣市"], "query {query}");
    }
    assert_eq!(
        search("とうぶ", "").await,
        ["東部圏域"],
        "half-width kana reading, searched in hiragana"
    );
    assert_eq!(search("圏域", MUNICIPALITY).await, ["東部圏域", "西部圏域"]);
    assert_eq!(search("ぎふ", "").await, ["岐阜市", "岐阜県"]);
    assert!(
        search("ぎふ", MUNICIPALITY).await.is_empty(),
        "filtered to 大垣市's areas"
    );
    assert!(
        search("％", "").await.is_empty(),
        "a full-width % is a literal, not a wildcard"
    );

    let empty = registry
        .search_areas(pb::SearchAreasRequest {
            query: " ".into(),
            municipality_code: String::new(),
            kind: 0,
            page: None,
        })
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);

    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_area_keeps_its_representative_point_and_boundary() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let mut registry = system.registry();
    let boundary = r#"{"type":"Feature","properties":{"name":"北部"},"geometry":{"type":"Polygon",
        "coordinates":[[[136.60,35.37],[136.63,35.37],[136.63,35.40],[136.60,35.40],[136.60,35.37]]]}}"#;
    let created = registry
        .create_area(pb::CreateAreaRequest {
            kind: pb::AreaKind::DailyLifeArea.into(),
            name: "北部圏域".into(),
            parent_id: fixture.municipality_id.clone(),
            location: Some(tsunagu_proto::common::v1::GeoPoint {
                latitude: 35.385,
                longitude: 136.615,
            }),
            boundary_geojson: boundary.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .area
        .unwrap();
    let stored = registry
        .get_area(pb::GetAreaRequest {
            id: created.id.clone(),
            code: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .area
        .unwrap();
    let location = stored.location.expect("the point is kept");
    assert_eq!((location.latitude, location.longitude), (35.385, 136.615));
    let geometry: serde_json::Value = serde_json::from_str(&stored.boundary_geojson).unwrap();
    assert_eq!(
        geometry["type"], "Polygon",
        "the geometry of the Feature is stored"
    );
    assert_eq!(geometry["coordinates"][0][2][1], 35.40);

    // Every bad field at once: the name, the point and the boundary.
    let status = registry
        .create_area(pb::CreateAreaRequest {
            kind: pb::AreaKind::DailyLifeArea.into(),
            name: " ".into(),
            parent_id: fixture.municipality_id.clone(),
            location: Some(tsunagu_proto::common::v1::GeoPoint {
                latitude: 135.0,
                longitude: 35.0,
            }),
            boundary_geojson: r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}"#.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    use tonic_types::StatusExt;
    let details = status.get_error_details();
    let fields: Vec<&str> = details
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(fields, ["name", "location", "boundary_geojson"]);

    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smaller_areas_nest_below_the_daily_life_area() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await; // 岐阜県 → 大垣市 → 西部圏域
    let create = |kind: pb::AreaKind, name: &str, parent: &str| {
        let request = pb::CreateAreaRequest {
            kind: kind.into(),
            name: name.into(),
            parent_id: parent.into(),
            ..Default::default()
        };
        let mut registry = system.registry();
        async move {
            registry
                .create_area(request)
                .await
                .map(|response| response.into_inner().area.unwrap())
        }
    };
    let school = create(
        pb::AreaKind::SchoolDistrict,
        "東小学校区",
        &fixture.daily_life_area_id,
    )
    .await
    .unwrap();
    let association = create(pb::AreaKind::NeighborhoodAssociation, "緑町自治会", &school.id)
        .await
        .unwrap();
    assert_eq!(association.municipality_code, MUNICIPALITY);
    let ancestors = system
        .registry()
        .list_ancestors(pb::ListAncestorsRequest {
            area_id: association.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .ancestors;
    assert_eq!(names(&ancestors), ["岐阜県", "大垣市", "西部圏域", "東小学校区"]);

    // A neighbourhood association does not hang directly under the municipality.
    let status = create(
        pb::AreaKind::NeighborhoodAssociation,
        "本町自治会",
        &fixture.municipality_id,
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("小学校区"),
        "names the allowed parents: {}",
        status.message()
    );
    // A school district may lie directly in a small town without daily-life areas.
    create(
        pb::AreaKind::SchoolDistrict,
        "西小学校区",
        &fixture.municipality_id,
    )
    .await
    .unwrap();

    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_areas_are_renamed_moved_and_deleted_official_ones_only_placed() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await; // 岐阜県 → 大垣市 → 西部圏域; the resource covers 大垣市
    let mut registry = system.registry();
    let area = |kind: pb::AreaKind, name: &str, parent: &str| pb::CreateAreaRequest {
        kind: kind.into(),
        name: name.into(),
        parent_id: parent.into(),
        ..Default::default()
    };
    let east = registry
        .create_area(area(
            pb::AreaKind::DailyLifeArea,
            "東部圏域",
            &fixture.municipality_id,
        ))
        .await
        .unwrap()
        .into_inner()
        .area
        .unwrap();
    let school = registry
        .create_area(area(
            pb::AreaKind::SchoolDistrict,
            "興文小学校区",
            &fixture.daily_life_area_id,
        ))
        .await
        .unwrap()
        .into_inner()
        .area
        .unwrap();
    let update = |area: pb::Area, paths: &[&str], expected_version: i64| pb::UpdateAreaRequest {
        area: Some(area),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
        expected_version,
        changed_by: "高齢介護課".into(),
        reason: "圏域の見直し".into(),
    };

    // The school district moves to 東部圏域 and is renamed.
    let moved = registry
        .update_area(update(
            pb::Area {
                id: school.id.clone(),
                name: "興文小学校区（東）".into(),
                parent_id: east.id.clone(),
                ..Default::default()
            },
            &["name", "parent_id"],
            1,
        ))
        .await
        .unwrap()
        .into_inner()
        .area
        .unwrap();
    assert_eq!(
        (moved.version, moved.parent_id.as_str(), moved.name.as_str()),
        (2, east.id.as_str(), "興文小学校区(東)")
    );
    // Matching hears of the move: its copy of the tree follows.
    let matching_db = system.database(tsunagu_runtime::ServiceName::Matching).await;
    tsunagu_tests::eventually(
        "matching to move the school district",
        crate::support::WAIT,
        || async {
            let parent: Option<uuid::Uuid> =
                sqlx::query_scalar("SELECT parent_id FROM area WHERE id = $1::uuid")
                    .bind(&school.id)
                    .fetch_optional(&matching_db)
                    .await
                    .unwrap()
                    .flatten();
            (parent.map(|p| p.to_string()) == Some(east.id.clone())).then_some(())
        },
    )
    .await;

    // An area cannot go below its own descendant, nor a kind it may not sit under.
    let status = registry
        .update_area(update(
            pb::Area {
                id: east.id.clone(),
                parent_id: school.id.clone(),
                ..Default::default()
            },
            &["parent_id"],
            0,
        ))
        .await
        .unwrap_err();
    assert_eq!(crate::support::violated_fields(&status), ["area.parent_id"]);
    // Official areas: their name comes from the official list, their point may be set.
    let status = registry
        .update_area(update(
            pb::Area {
                id: fixture.municipality_id.clone(),
                name: "大垣".into(),
                ..Default::default()
            },
            &["name"],
            0,
        ))
        .await
        .unwrap_err();
    assert_eq!(crate::support::violated_fields(&status), ["area.name"]);
    let placed = registry
        .update_area(update(
            pb::Area {
                id: fixture.municipality_id.clone(),
                location: Some(tsunagu_proto::common::v1::GeoPoint {
                    latitude: 35.3594,
                    longitude: 136.6129,
                }),
                ..Default::default()
            },
            &["location"],
            0,
        ))
        .await
        .unwrap()
        .into_inner()
        .area
        .unwrap();
    assert!(placed.location.is_some());
    let status = registry
        .update_area(update(
            pb::Area {
                id: school.id.clone(),
                name: "古い版".into(),
                ..Default::default()
            },
            &["name"],
            1,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted);

    // Deleting: refused while something refers to the area, then allowed.
    let delete = |id: &str| pb::DeleteAreaRequest {
        id: id.into(),
        reason: "統合のため".into(),
        ..Default::default()
    };
    let status = registry.delete_area(delete(&east.id)).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("下位の区域1件"), "{}", status.message());
    let status = registry
        .delete_area(delete(&fixture.municipality_id))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "official areas stay");
    let deleted = registry
        .delete_area(delete(&school.id))
        .await
        .unwrap()
        .into_inner()
        .area
        .unwrap();
    assert_eq!(deleted.deletion.unwrap().reason, "統合のため");
    let children = registry
        .list_areas(pb::ListAreasRequest {
            parent_id: east.id.clone(),
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .areas;
    assert!(children.is_empty(), "a deleted area leaves lists");
    registry
        .delete_area(delete(&east.id))
        .await
        .expect("nothing refers to it any more");
    let batch = registry
        .batch_get_areas(pb::BatchGetAreasRequest {
            ids: vec![school.id.clone(), east.id.clone()],
        })
        .await
        .unwrap()
        .into_inner()
        .areas;
    assert!(
        batch.iter().all(|area| area.deletion.is_some()),
        "still readable by id"
    );
    let history = registry
        .list_area_history(pb::ListAreaHistoryRequest {
            area_id: school.id.clone(),
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .changes;
    let fields: Vec<&str> = history.iter().map(|change| change.field.as_str()).collect();
    assert_eq!(fields, ["name", "parent_id", "*"]);
    assert_eq!(history[0].old_value_json, r#""興文小学校区""#);
}
