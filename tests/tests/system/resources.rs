//! Resources as HSDS-like records: rich fields, masked updates with history and optimistic
//! concurrency, soft delete, list filters (area including descendants and across municipal
//! borders, category including sub-categories, eligibility, status, kana text, modified
//! after), batch get, and a municipality's own categories.

use prost_types::FieldMask;
use tonic::Code;
use tsunagu_proto::registry::v1 as pb;
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem, new_resource};

use crate::support::{WAIT, proposals_for, submit_need, violated_fields};

fn full_resource(fixture: &Fixture) -> pb::CreateResourceRequest {
    let mut request = new_resource(
        &fixture.organization_id,
        "ふれあいサロン",
        "サロン",
        &[&fixture.daily_life_area_id],
        20,
    );
    let resource = request.resource.as_mut().unwrap();
    resource.name_kana = "ふれあいさろん".into();
    resource.description = "お茶を飲みながら体操も".into();
    resource.schedules = vec![pb::Schedule {
        text: "第２・第４水曜　１０：００〜１２：００（祝日を除く）".into(),
        description: "雨天中止".into(),
        ..Default::default()
    }];
    resource.fee = Some(pb::Fee {
        free: false,
        amount_yen: 100,
        unit: "1回".into(),
        description: "お茶代".into(),
    });
    resource.eligibility = vec![
        pb::Eligibility::GeneralElderly.into(),
        pb::Eligibility::Support1.into(),
    ];
    resource.min_age = 65;
    resource.capabilities = Some(pb::Capabilities {
        wheelchair_vehicle: false,
        languages: vec!["JA".into(), "pt_br".into()],
        helper_genders: vec![pb::Gender::Female.into()],
    });
    resource.location = Some(pb::Location {
        address: "岐阜県大垣市丸の内2丁目29番地".into(),
        point: Some(tsunagu_proto::common::v1::GeoPoint {
            latitude: 35.3594,
            longitude: 136.6129,
        }),
        confidential: true,
        redacted: false,
    });
    resource.external_id = "salon-001".into();
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_keeps_its_structured_fields_and_hides_a_confidential_address() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let mut registry = system.registry();
    let created = registry
        .create_resource(full_resource(&fixture))
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    assert_eq!(
        created.category, "social.salon",
        "サロン is an alias of 交流サロン"
    );
    assert_eq!(created.category_name, "交流サロン");
    assert_eq!(
        created.kind(),
        pb::ResourceKind::Participate,
        "implied by the category"
    );
    assert_eq!(created.status(), pb::ResourceStatus::Active);
    assert_eq!(created.version, 1);
    assert_eq!(created.schedules[0].rrule, "FREQ=MONTHLY;BYDAY=2WE,4WE");
    assert_eq!(
        (
            created.schedules[0].opens_at.as_str(),
            created.schedules[0].closes_at.as_str()
        ),
        ("10:00", "12:00")
    );
    assert!(created.schedules[0].except_holidays);
    assert_eq!(created.schedules[0].description, "雨天中止");
    assert_eq!(created.capabilities.as_ref().unwrap().languages, ["ja", "pt-BR"]);

    let public = registry
        .get_resource(pb::GetResourceRequest {
            id: created.id.clone(),
            view: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    let location = public.location.unwrap();
    assert!(
        location.redacted && location.address.is_empty() && location.point.is_none(),
        "{location:?}"
    );
    let full = registry
        .get_resource(pb::GetResourceRequest {
            id: created.id.clone(),
            view: pb::ResourceView::Full.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    assert_eq!(full.location.unwrap().address, "岐阜県大垣市丸の内2丁目29番地");

    // Every bad field is named by its path in the request.
    let mut bad = full_resource(&fixture);
    let resource = bad.resource.as_mut().unwrap();
    resource.external_id = "salon-002".into();
    resource.category = "草刈り".into();
    resource.schedules[0].text = "ときどき".into();
    resource.min_age = 90;
    resource.max_age = 70;
    resource.capacity.as_mut().unwrap().available = 30;
    resource.name_kana = "Fureai".into();
    // An eligibility the enum does not name is the request guard's to refuse, before the
    // handler reads the request.
    let mut unknown_eligibility = bad.clone();
    unknown_eligibility
        .resource
        .as_mut()
        .unwrap()
        .eligibility
        .push(42);
    let status = registry.create_resource(unknown_eligibility).await.unwrap_err();
    assert_eq!(violated_fields(&status), ["resource.eligibility[2]"]);
    let status = registry.create_resource(bad).await.unwrap_err();
    assert_eq!(
        violated_fields(&status),
        [
            "resource.name_kana",
            "resource.category",
            "resource.capacity.available",
            "resource.max_age",
            "resource.schedules[0].text",
        ]
    );
    // The same external id twice is refused.
    let status = registry
        .create_resource(full_resource(&fixture))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_touch_only_masked_fields_record_history_and_refuse_stale_versions() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 3).await;
    let mut registry = system.registry();
    let update = |fields: &[&str], resource: pb::Resource, expected_version: i64| pb::UpdateResourceRequest {
        resource: Some(resource),
        update_mask: Some(FieldMask {
            paths: fields.iter().map(|f| f.to_string()).collect(),
        }),
        expected_version,
        changed_by: "コーディネーター田中".into(),
        reason: "電話で確認".into(),
    };
    let changes = pb::Resource {
        id: fixture.resource_id.clone(),
        name: "この名前は無視される".into(),
        capacity: Some(pb::Capacity {
            available: 2,
            maximum: 5,
            ..Default::default()
        }),
        status: pb::ResourceStatus::TemporarilyClosed.into(),
        status_note: "冬季休止（3月まで）".into(),
        ..Default::default()
    };
    let updated = registry
        .update_resource(update(&["capacity", "status", "status_note"], changes.clone(), 1))
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.name, "ゴミ出し支え隊", "name was not in the mask");
    assert_eq!(updated.capacity.as_ref().unwrap().maximum, 5);
    assert_eq!(updated.status(), pb::ResourceStatus::TemporarilyClosed);

    // A second editor still holding version 1 is refused, and nothing changes.
    let status = registry
        .update_resource(update(&["name"], changes.clone(), 1))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted, "{status:?}");
    assert!(status.message().contains("版 2"), "{}", status.message());
    // Unknown and missing masks are named.
    let status = registry
        .update_resource(update(&["capacity", "verified_at"], changes.clone(), 0))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["update_mask.paths[1]"]);
    let status = registry
        .update_resource(update(&[], changes.clone(), 0))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["update_mask"]);
    // Writing the same values again is not a change: no version, no history row.
    let same = registry
        .update_resource(update(&["capacity"], changes, 0))
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    assert_eq!(same.version, 2);

    let history = registry
        .list_resource_history(pb::ListResourceHistoryRequest {
            resource_id: fixture.resource_id.clone(),
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .changes;
    let summary: Vec<(i64, &str, &str, &str)> = history
        .iter()
        .map(|c| {
            (
                c.version,
                c.field.as_str(),
                c.old_value_json.as_str(),
                c.changed_by.as_str(),
            )
        })
        .collect();
    assert_eq!(summary[0].1, "*", "creation first: {summary:?}");
    assert_eq!(
        &summary[1..],
        [
            (
                2,
                "capacity",
                r#"{"available":3,"maximum":3,"unit":""}"#,
                "コーディネーター田中"
            ),
            (2, "status", r#""active""#, "コーディネーター田中"),
            (2, "status_note", r#""""#, "コーディネーター田中"),
        ]
    );
    assert_eq!(
        history[1].new_value_json,
        r#"{"available":2,"maximum":5,"unit":""}"#
    );
    assert_eq!(history[1].reason, "電話で確認");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_resource_leaves_lists_and_matching_but_stays_readable() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 5).await;
    let mut registry = system.registry();
    let status = registry
        .delete_resource(pb::DeleteResourceRequest {
            id: fixture.resource_id.clone(),
            reason: " ".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["reason"]);
    let deleted = registry
        .delete_resource(pb::DeleteResourceRequest {
            id: fixture.resource_id.clone(),
            reason: "事業終了のため".into(),
            deleted_by: "田中".into(),
            expected_version: 1,
        })
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    assert_eq!(deleted.deletion.as_ref().unwrap().reason, "事業終了のため");
    assert_eq!(deleted.version, 2);

    let list = |include_deleted| pb::ListResourcesRequest {
        municipality_code: MUNICIPALITY.into(),
        include_deleted,
        ..Default::default()
    };
    assert!(
        registry
            .list_resources(list(false))
            .await
            .unwrap()
            .into_inner()
            .resources
            .is_empty()
    );
    assert_eq!(
        registry
            .list_resources(list(true))
            .await
            .unwrap()
            .into_inner()
            .resources
            .len(),
        1
    );
    let status = registry
        .update_resource(pb::UpdateResourceRequest {
            resource: Some(pb::Resource {
                id: fixture.resource_id.clone(),
                name: "復活".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["name".into()],
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");

    // Matching hears of the deletion: the resource takes no new need.
    let matching_db = system.database(tsunagu_runtime::ServiceName::Matching).await;
    tsunagu_tests::eventually(
        "matching to stop proposing the deleted resource",
        WAIT,
        || async {
            let accepting: Option<bool> =
                sqlx::query_scalar("SELECT accepting FROM resource WHERE id = $1::uuid")
                    .bind(&fixture.resource_id)
                    .fetch_optional(&matching_db)
                    .await
                    .unwrap();
            (accepting == Some(false)).then_some(())
        },
    )
    .await;
    let need = submit_need(&system, "after-deletion", &fixture.daily_life_area_id, "ゴミ出し").await;
    tsunagu_tests::eventually("the need to be unmatched", WAIT, || async {
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM need WHERE id = $1::uuid")
            .bind(&need.id)
            .fetch_optional(&matching_db)
            .await
            .unwrap();
        (status.as_deref() == Some("unmatched")).then_some(())
    })
    .await;
    assert!(proposals_for(&system, &need.id).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_by_area_across_borders_category_tree_eligibility_status_and_kana() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 2).await; // ゴミ出し支え隊 covers 大垣市
    let mut registry = system.registry();
    // A neighbouring town's provider whose visiting service also covers 大垣市's 西部圏域.
    let neighbour = registry
        .create_area(pb::CreateAreaRequest {
            kind: pb::AreaKind::Municipality.into(),
            code: "212016".into(), // 岐阜市
            parent_id: fixture.prefecture_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .area
        .unwrap();
    // The neighbour's own provider (a resource belongs to an organisation of its municipality).
    let neighbour_provider = registry
        .create_organization(pb::CreateOrganizationRequest {
            municipality_code: "212016".into(),
            name: "岐阜市の訪問型サービス事業所".into(),
            kind: pb::OrganizationKind::Npo.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    let mut visiting = new_resource(
        &neighbour_provider.id,
        "訪問型サービスB きふ",
        "sogo.visit.b",
        &[&neighbour.id, &fixture.daily_life_area_id],
        4,
    );
    {
        let resource = visiting.resource.as_mut().unwrap();
        resource.municipality_code = "212016".into();
        resource.name_kana = "ほうもんがたさーびすびーきふ".into();
        resource.eligibility = vec![pb::Eligibility::Support1.into(), pb::Eligibility::Support2.into()];
    }
    let visiting = registry
        .create_resource(visiting)
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    let mut closed = new_resource(
        &fixture.organization_id,
        "買い物バス",
        "買い物支援",
        &[&fixture.municipality_id],
        10,
    );
    closed.resource.as_mut().unwrap().status = pb::ResourceStatus::TemporarilyClosed.into();
    let closed = registry
        .create_resource(closed)
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    let after_first_two = chrono::Utc::now();

    let names = |resources: Vec<pb::Resource>| {
        let mut names: Vec<String> = resources.into_iter().map(|r| r.name).collect();
        names.sort();
        names
    };
    let lister = registry.clone();
    let list = |request: pb::ListResourcesRequest| {
        let mut registry = lister.clone();
        async move {
            names(
                registry
                    .list_resources(request)
                    .await
                    .unwrap()
                    .into_inner()
                    .resources,
            )
        }
    };
    // By area: the daily-life area is served by the municipality-wide resources (they contain
    // it) and by the neighbour's (it covers it directly), across the border.
    let by_area = list(pb::ListResourcesRequest {
        area_id: fixture.daily_life_area_id.clone(),
        ..Default::default()
    })
    .await;
    assert_eq!(by_area, ["ゴミ出し支え隊", "訪問型サービスB きふ", "買い物バス"]);
    // The neighbour's own list has only its resource.
    let theirs = list(pb::ListResourcesRequest {
        municipality_code: "212016".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(theirs, ["訪問型サービスB きふ"]);
    // By the 総合事業 branch: sub-categories count.
    let sogo = list(pb::ListResourcesRequest {
        area_id: fixture.daily_life_area_id.clone(),
        category: "介護予防・日常生活支援総合事業".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(sogo, ["訪問型サービスB きふ"]);
    // By eligibility: 要介護1 is not accepted by the visiting service; the others accept all.
    let care_1 = list(pb::ListResourcesRequest {
        area_id: fixture.daily_life_area_id.clone(),
        eligibility: pb::Eligibility::Care1.into(),
        ..Default::default()
    })
    .await;
    assert_eq!(care_1, ["ゴミ出し支え隊", "買い物バス"]);
    // By status.
    let active = list(pb::ListResourcesRequest {
        municipality_code: MUNICIPALITY.into(),
        statuses: vec![pb::ResourceStatus::Active.into()],
        ..Default::default()
    })
    .await;
    assert_eq!(active, ["ゴミ出し支え隊"]);
    // By reading, in katakana, half-width, against a hiragana reading.
    let kana = list(pb::ListResourcesRequest {
        area_id: fixture.daily_life_area_id.clone(),
        text: "ﾎｳﾓﾝｶﾞﾀ".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(kana, ["訪問型サービスB きふ"]);
    // Modified after: only what changed since.
    registry
        .update_resource(pb::UpdateResourceRequest {
            resource: Some(pb::Resource {
                id: closed.id.clone(),
                status: pb::ResourceStatus::Active.into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["status".into()],
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let recent = list(pb::ListResourcesRequest {
        municipality_code: MUNICIPALITY.into(),
        modified_after: Some(prost_types::Timestamp {
            seconds: after_first_two.timestamp(),
            nanos: after_first_two.timestamp_subsec_nanos() as i32,
        }),
        ..Default::default()
    })
    .await;
    assert_eq!(recent, ["買い物バス"]);
    // A list needs a municipality or an area.
    let status = registry
        .list_resources(pb::ListResourcesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["municipality_code"]);

    // Batch get keeps the order asked, and names what does not exist.
    let batch = registry
        .batch_get_resources(pb::BatchGetResourcesRequest {
            ids: vec![visiting.id.clone(), fixture.resource_id.clone()],
            view: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .resources;
    assert_eq!(
        batch.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        [visiting.id.clone(), fixture.resource_id.clone()]
    );
    let missing = uuid::Uuid::now_v7().to_string();
    let status = registry
        .batch_get_resources(pb::BatchGetResourcesRequest {
            ids: vec![visiting.id.clone(), missing.clone()],
            view: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(status.message().contains(&missing), "{}", status.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_municipality_extends_the_taxonomy_with_its_own_categories() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let mut registry = system.registry();
    let category = registry
        .create_category(pb::CreateCategoryRequest {
            municipality_code: MUNICIPALITY.into(),
            slug: "kusakari".into(),
            parent: "生活支援".into(),
            name: "草刈り".into(),
            name_kana: "くさかり".into(),
            description: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .category
        .unwrap();
    assert_eq!(
        (category.code.as_str(), category.parent_code.as_str()),
        ("212024.kusakari", "life")
    );
    // Announced like every registry change (intake learns it: see need_follow_up.rs).
    let registry_db = system.database(tsunagu_runtime::ServiceName::Registry).await;
    tsunagu_tests::eventually("category.created to be published", WAIT, || async {
        let published: Option<bool> = sqlx::query_scalar(
            "SELECT published_at IS NOT NULL FROM outbox WHERE event_type = 'category.created'
               AND payload->>'code' = '212024.kusakari'",
        )
        .fetch_optional(&registry_db)
        .await
        .unwrap();
        (published == Some(true)).then_some(())
    })
    .await;
    // A name already taken (bundled) is refused.
    let status = registry
        .create_category(pb::CreateCategoryRequest {
            municipality_code: MUNICIPALITY.into(),
            slug: "gomi".into(),
            parent: "life".into(),
            name: "ごみだし".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["name"]);
    let resource = registry
        .create_resource(new_resource(
            &fixture.organization_id,
            "草刈り隊",
            "くさかり",
            &[&fixture.municipality_id],
            2,
        ))
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    assert_eq!(
        (resource.category.as_str(), resource.category_name.as_str()),
        ("212024.kusakari", "草刈り")
    );
    let under_life = registry
        .list_resources(pb::ListResourcesRequest {
            municipality_code: MUNICIPALITY.into(),
            category: "life".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .resources;
    assert_eq!(under_life.len(), 2, "ゴミ出し and 草刈り are both under 生活支援");
    let listed = registry
        .list_categories(pb::ListCategoriesRequest {
            municipality_code: MUNICIPALITY.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .categories;
    assert!(listed.iter().any(|c| c.code == "212024.kusakari"));
    assert!(listed.iter().any(|c| c.code == "sogo.visit.b"));
}
