//! CommunityService: helpers (担い手), coordinators and 協議体 — created, read, updated through
//! a field mask with optimistic concurrency, soft-deleted with a reason, listed with filters
//! and pages, fetched in batches, with their field-level history, every bad field named, and
//! every change announced through the outbox.
//!
//! No service consumes helper, coordinator or council events yet, so each test binds its own
//! queue to them: that makes them routable, and lets the test read what was published.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, Consumer, ExchangeKind};
use tonic::{Code, Status};
use tonic_types::StatusExt;
use tsunagu_proto::common::v1 as common_pb;
use tsunagu_proto::registry::v1 as pb;
use tsunagu_proto::registry::v1::community_service_client::CommunityServiceClient;
use tsunagu_runtime::{ServiceName, amqp};
use tsunagu_tests::{Fixture, MUNICIPALITY, RABBITMQ_URL, TestSystem, eventually};

use crate::support::WAIT;

fn community(system: &TestSystem) -> CommunityServiceClient<tsunagu_tests::KeyedChannel> {
    CommunityServiceClient::new(system.grpc_channel(ServiceName::Registry))
}

/// The fields an INVALID_ARGUMENT names, in order.
fn violated_fields(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_error_details()
        .bad_request()
        .expect("BadRequest details")
        .field_violations
        .iter()
        .map(|violation| violation.field.clone())
        .collect()
}

fn violation_of(status: &Status, field: &str) -> String {
    status
        .get_error_details()
        .bad_request()
        .expect("BadRequest details")
        .field_violations
        .iter()
        .find(|violation| violation.field == field)
        .unwrap_or_else(|| panic!("no violation of {field} in {status:?}"))
        .description
        .clone()
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|path| path.to_string()).collect(),
    })
}

fn page(size: u32, token: &str) -> Option<common_pb::PageRequest> {
    Some(common_pb::PageRequest {
        page_size: size,
        page_token: token.into(),
    })
}

/// A queue of the test's own, bound to the community events on the system's exchange.
struct EventTap {
    connection: Connection,
    consumer: Consumer,
}

/// One event as published: its routing key and JSON payload.
#[derive(Debug, Clone)]
struct Event {
    event_type: String,
    payload: serde_json::Value,
}

impl EventTap {
    async fn bind(system: &TestSystem) -> EventTap {
        let connection = amqp::connect(RABBITMQ_URL, "tsunagu-test-community-events")
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        let exchange = system.topology.events_exchange();
        // The services declared it already; declaring it alike again changes nothing.
        channel
            .exchange_declare(
                exchange.as_str().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        let queue = channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        for pattern in ["helper.*", "coordinator.*", "council.*"] {
            channel
                .queue_bind(
                    queue.name().clone(),
                    exchange.as_str().into(),
                    pattern.into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .unwrap();
        }
        let consumer = channel
            .basic_consume(
                queue.name().clone(),
                "tsunagu-test-community".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        EventTap { connection, consumer }
    }

    /// Reads events until `count` have arrived.
    async fn take(&mut self, count: usize) -> Vec<Event> {
        let mut events = Vec::new();
        while events.len() < count {
            let delivery = tokio::time::timeout(Duration::from_secs(30), self.consumer.next())
                .await
                .unwrap_or_else(|_| panic!("only {} of {count} events arrived: {events:?}", events.len()))
                .expect("consumer open")
                .expect("delivery");
            events.push(Event {
                event_type: delivery.routing_key.to_string(),
                payload: serde_json::from_slice(&delivery.data).expect("JSON payload"),
            });
        }
        events
    }

    async fn close(self) {
        let _ = self.connection.close(200, "done".into()).await;
    }
}

/// Ids, version and municipality — and nothing else (no names, no contact data).
fn assert_thin(event: &Event, id: &str, version: i64) {
    let payload = event.payload.as_object().expect("an object");
    let mut keys: Vec<&str> = payload.keys().map(String::as_str).collect();
    keys.sort();
    // A helper's event also names its organisation (matching weighs known helpers by it).
    if event.event_type.starts_with("helper.") {
        assert_eq!(
            keys,
            ["entity_id", "municipality_code", "organization_id", "version"],
            "{event:?}"
        );
    } else {
        assert_eq!(keys, ["entity_id", "municipality_code", "version"], "{event:?}");
    }
    assert_eq!(payload["entity_id"], id, "{event:?}");
    assert_eq!(payload["version"], version, "{event:?}");
    assert_eq!(payload["municipality_code"], MUNICIPALITY, "{event:?}");
}

async fn create_area(system: &TestSystem, kind: pb::AreaKind, name: &str, parent_id: &str) -> pb::Area {
    system
        .registry()
        .create_area(pb::CreateAreaRequest {
            kind: kind.into(),
            name: name.into(),
            parent_id: parent_id.into(),
            ..Default::default()
        })
        .await
        .expect("area")
        .into_inner()
        .area
        .unwrap()
}

fn training(course: &str, completed_on: &str) -> pb::TrainingRecord {
    pb::TrainingRecord {
        course_name: course.into(),
        completed_on: completed_on.into(),
        hours: 12.0,
        organiser: "大垣市社会福祉協議会".into(),
    }
}

fn window(weekday: common_pb::Weekday, start_minute: u32, end_minute: u32) -> common_pb::TimeWindow {
    common_pb::TimeWindow {
        weekday: weekday.into(),
        start_minute,
        end_minute,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helpers_are_versioned_searchable_soft_deleted_and_announced() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let mut events = EventTap::bind(&system).await;
    let mut client = community(&system);
    // 西部圏域 (the fixture's) → 興文小学校区; and a second daily-life area, 東部圏域.
    let school = create_area(
        &system,
        pb::AreaKind::SchoolDistrict,
        "興文小学校区",
        &fixture.daily_life_area_id,
    )
    .await;
    let east = create_area(
        &system,
        pb::AreaKind::DailyLifeArea,
        "東部圏域",
        &fixture.municipality_id,
    )
    .await;

    let hanako = client
        .create_helper(pb::CreateHelperRequest {
            helper: Some(pb::Helper {
                organization_id: fixture.organization_id.clone(),
                name: "山田 花子".into(),
                name_kana: "ﾔﾏﾀﾞ ﾊﾅｺ".into(),
                kind: pb::HelperKind::Individual.into(),
                skills: vec!["ゴミ出し".into(), "かいものしえん".into()],
                area_ids: vec![school.id.clone()],
                availability: vec![
                    window(common_pb::Weekday::Thursday, 13 * 60, 16 * 60),
                    window(common_pb::Weekday::Tuesday, 9 * 60, 12 * 60),
                ],
                gender: Some(pb::HelperGender::Female.into()),
                languages: vec!["ja".into()],
                training_records: vec![training("生活支援サポーター養成講座", "2025-06-14")],
                contact_points: vec![pb::ContactPoint {
                    kind: pb::ContactKind::Phone.into(),
                    value: "090-1234-5678".into(),
                    label: "携帯".into(),
                }],
                status: pb::HelperStatus::Trained.into(),
                ..Default::default()
            }),
            created_by: "西部圏域SC 佐藤".into(),
        })
        .await
        .expect("helper created")
        .into_inner()
        .helper
        .unwrap();
    assert_eq!(hanako.version, 1);
    assert_eq!(
        hanako.municipality_code, MUNICIPALITY,
        "the organisation's municipality"
    );
    assert_eq!(hanako.name_kana, "ヤマダ ハナコ");
    assert_eq!(hanako.skills, ["life.garbage", "life.shopping"]);
    assert_eq!(
        hanako.availability[0].weekday(),
        common_pb::Weekday::Tuesday,
        "windows in weekday order"
    );
    assert!(hanako.deletion.is_none());

    let ichiro = client
        .create_helper(pb::CreateHelperRequest {
            helper: Some(pb::Helper {
                organization_id: fixture.organization_id.clone(),
                name: "鈴木 一郎".into(),
                name_kana: "スズキ イチロウ".into(),
                kind: pb::HelperKind::Individual.into(),
                skills: vec!["外出支援".into()],
                area_ids: vec![east.id.clone()],
                status: pb::HelperStatus::Prospective.into(),
                ..Default::default()
            }),
            created_by: "東部圏域SC 田中".into(),
        })
        .await
        .expect("second helper")
        .into_inner()
        .helper
        .unwrap();

    // An update changes the masked fields only: the blank name in the request is not read.
    let active = client
        .update_helper(pb::UpdateHelperRequest {
            helper: Some(pb::Helper {
                id: hanako.id.clone(),
                name: String::new(),
                status: pb::HelperStatus::Active.into(),
                monthly_load: Some(pb::MonthlyLoad {
                    amount: 8,
                    unit: pb::MonthlyLoadUnit::Visits.into(),
                }),
                ..Default::default()
            }),
            update_mask: mask(&["status", "monthly_load"]),
            expected_version: 1,
            changed_by: "西部圏域SC 佐藤".into(),
        })
        .await
        .expect("activated")
        .into_inner()
        .helper
        .unwrap();
    assert_eq!(active.version, 2);
    assert_eq!(active.status(), pb::HelperStatus::Active);
    assert_eq!(active.name, "山田 花子");
    assert_eq!(active.monthly_load.as_ref().unwrap().amount, 8);

    // A coordinator still holding version 1 is refused rather than overwriting version 2.
    let stale = client
        .update_helper(pb::UpdateHelperRequest {
            helper: Some(pb::Helper {
                id: hanako.id.clone(),
                name_kana: "ヤマダ ハナ".into(),
                ..Default::default()
            }),
            update_mask: mask(&["name_kana"]),
            expected_version: 1,
            changed_by: "東部圏域SC 田中".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");

    // Onboarding: an active helper does not go back to prospective; one never trained cannot
    // become active.
    let backwards = client
        .update_helper(pb::UpdateHelperRequest {
            helper: Some(pb::Helper {
                id: hanako.id.clone(),
                status: pb::HelperStatus::Prospective.into(),
                ..Default::default()
            }),
            update_mask: mask(&["status"]),
            changed_by: "西部圏域SC 佐藤".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(backwards.code(), Code::FailedPrecondition);
    assert!(
        backwards.message().contains("現在「活動中」"),
        "{}",
        backwards.message()
    );
    let untrained = client
        .update_helper(pb::UpdateHelperRequest {
            helper: Some(pb::Helper {
                id: ichiro.id.clone(),
                status: pb::HelperStatus::Active.into(),
                ..Default::default()
            }),
            update_mask: mask(&["status"]),
            changed_by: "東部圏域SC 田中".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(untrained.code(), Code::FailedPrecondition);
    assert!(
        untrained.message().contains("現在「養成前」"),
        "{}",
        untrained.message()
    );

    // The history says who changed what, from what, to what.
    let history = client
        .list_helper_history(pb::ListHelperHistoryRequest {
            id: hanako.id.clone(),
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .changes;
    let summary: Vec<(i64, &str, &str)> = history
        .iter()
        .map(|change| (change.version, change.field.as_str(), change.changed_by.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (1, "*", "西部圏域SC 佐藤"),
            (2, "monthly_load", "西部圏域SC 佐藤"),
            (2, "status", "西部圏域SC 佐藤"),
        ]
    );
    let created: serde_json::Value = serde_json::from_str(&history[0].new_value_json).unwrap();
    assert_eq!(created["name"], "山田 花子");
    assert_eq!(history[1].old_value_json, "null");
    assert_eq!(history[1].new_value_json, r#"{"amount":8,"unit":"visits"}"#);
    assert_eq!(
        (
            history[2].old_value_json.as_str(),
            history[2].new_value_json.as_str()
        ),
        (r#""trained""#, r#""active""#)
    );

    // Lists: an area includes the areas below it; text matches the reading in any kana.
    let lister = client.clone();
    let list = move |request: pb::ListHelpersRequest| {
        let mut client = lister.clone();
        async move {
            let response = client.list_helpers(request).await.expect("list").into_inner();
            let names: Vec<String> = response.helpers.into_iter().map(|helper| helper.name).collect();
            (names, response.next_page_token)
        }
    };
    let in_west = list(pb::ListHelpersRequest {
        area_id: fixture.daily_life_area_id.clone(),
        ..Default::default()
    })
    .await;
    assert_eq!(in_west.0, ["山田 花子"], "the school district lies in 西部圏域");
    let whole_town = list(pb::ListHelpersRequest {
        area_id: fixture.municipality_id.clone(),
        ..Default::default()
    })
    .await;
    assert_eq!(whole_town.0, ["山田 花子", "鈴木 一郎"]);
    let by_reading = list(pb::ListHelpersRequest {
        municipality_code: MUNICIPALITY.into(),
        text: "やまだ".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(by_reading.0, ["山田 花子"]);
    let by_skill_and_status = list(pb::ListHelpersRequest {
        municipality_code: MUNICIPALITY.into(),
        skill: "外出支援".into(),
        status: pb::HelperStatus::Prospective.into(),
        ..Default::default()
    })
    .await;
    assert_eq!(by_skill_and_status.0, ["鈴木 一郎"]);
    let changed_since = list(pb::ListHelpersRequest {
        municipality_code: MUNICIPALITY.into(),
        modified_after: ichiro.updated_at,
        ..Default::default()
    })
    .await;
    assert_eq!(changed_since.0, ["山田 花子"], "changed after 鈴木 was created");
    let first_page = list(pb::ListHelpersRequest {
        municipality_code: MUNICIPALITY.into(),
        page: page(1, ""),
        ..Default::default()
    })
    .await;
    assert_eq!(first_page.0, ["山田 花子"]);
    let second_page = list(pb::ListHelpersRequest {
        municipality_code: MUNICIPALITY.into(),
        page: page(1, &first_page.1),
        ..Default::default()
    })
    .await;
    assert_eq!(second_page.0, ["鈴木 一郎"]);

    // Batch get: in the request's order, or NOT_FOUND naming what is missing.
    let both = client
        .batch_get_helpers(pb::BatchGetHelpersRequest {
            ids: vec![ichiro.id.clone(), hanako.id.clone()],
        })
        .await
        .unwrap()
        .into_inner()
        .helpers;
    assert_eq!(both[0].id, ichiro.id);
    assert_eq!(both[1].version, 2);
    let missing = uuid::Uuid::now_v7().to_string();
    let not_found = client
        .batch_get_helpers(pb::BatchGetHelpersRequest {
            ids: vec![hanako.id.clone(), missing.clone()],
        })
        .await
        .unwrap_err();
    // A helper's record is personal data: an id that does not exist is refused like one of
    // another municipality, naming neither.
    assert_eq!(not_found.code(), Code::PermissionDenied);
    assert!(
        !not_found.message().contains(&missing) && !not_found.message().contains(&hanako.id),
        "{}",
        not_found.message()
    );

    // Soft deletion needs a reason; the helper stays readable but leaves the lists.
    let no_reason = client
        .delete_helper(pb::DeleteHelperRequest {
            id: ichiro.id.clone(),
            deleted_by: "東部圏域SC 田中".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&no_reason), ["reason"]);
    let deleted = client
        .delete_helper(pb::DeleteHelperRequest {
            id: ichiro.id.clone(),
            reason: "転居のため".into(),
            deleted_by: "東部圏域SC 田中".into(),
            expected_version: 1,
        })
        .await
        .expect("deleted")
        .into_inner()
        .helper
        .unwrap();
    assert_eq!(deleted.version, 2);
    let still_there = client
        .get_helper(pb::GetHelperRequest {
            id: ichiro.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .helper
        .unwrap();
    let deletion = still_there.deletion.expect("deletion set");
    assert_eq!(
        (deletion.reason.as_str(), deletion.deleted_by.as_str()),
        ("転居のため", "東部圏域SC 田中")
    );
    let listed = list(pb::ListHelpersRequest {
        municipality_code: MUNICIPALITY.into(),
        ..Default::default()
    })
    .await;
    assert_eq!(listed.0, ["山田 花子"]);
    let with_deleted = list(pb::ListHelpersRequest {
        municipality_code: MUNICIPALITY.into(),
        include_deleted: true,
        ..Default::default()
    })
    .await;
    assert_eq!(with_deleted.0, ["山田 花子", "鈴木 一郎"]);
    let edit_deleted = client
        .update_helper(pb::UpdateHelperRequest {
            helper: Some(pb::Helper {
                id: ichiro.id.clone(),
                name: "鈴木 一郎".into(),
                ..Default::default()
            }),
            update_mask: mask(&["name"]),
            changed_by: "東部圏域SC 田中".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(edit_deleted.code(), Code::FailedPrecondition);
    let deletion_history = client
        .list_helper_history(pb::ListHelperHistoryRequest {
            id: ichiro.id.clone(),
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .changes;
    assert_eq!(deletion_history.last().unwrap().field, "*");
    assert_eq!(deletion_history.last().unwrap().reason, "転居のため");

    // Every change went out through the outbox: ids, version and municipality only.
    let published = events.take(4).await;
    let kinds: Vec<&str> = published.iter().map(|event| event.event_type.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "helper.created",
            "helper.created",
            "helper.updated",
            "helper.deleted"
        ]
    );
    assert_thin(&published[0], &hanako.id, 1);
    assert_thin(&published[1], &ichiro.id, 1);
    assert_thin(&published[2], &hanako.id, 2);
    assert_thin(&published[3], &ichiro.id, 2);
    let registry_db = system.database(ServiceName::Registry).await;
    eventually("the outbox rows to be marked published", WAIT, || async {
        let pending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM outbox WHERE event_type LIKE 'helper.%' AND published_at IS NULL",
        )
        .fetch_one(&registry_db)
        .await
        .unwrap();
        (pending == 0).then_some(())
    })
    .await;
    registry_db.close().await;
    events.close().await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_helpers_have_every_field_named() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let mut client = community(&system);

    let status = client
        .create_helper(pb::CreateHelperRequest {
            helper: Some(pb::Helper {
                organization_id: fixture.organization_id.clone(),
                name: "ボランティアグループ ひまわり".into(),
                kind: pb::HelperKind::Unspecified.into(),
                skills: vec!["ゴミ出し".into(), "草刈り".into()],
                area_ids: vec![uuid::Uuid::now_v7().to_string()],
                availability: vec![window(common_pb::Weekday::Monday, 600, 540)],
                gender: Some(pb::HelperGender::Unspecified.into()),
                training_records: vec![training("生活支援サポーター養成講座", "2025-13-01")],
                status: pb::HelperStatus::Unspecified.into(),
                ..Default::default()
            }),
            created_by: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&status),
        [
            "created_by",
            "helper.kind",
            "helper.skills[1]",
            "helper.availability[0].end_minute",
            "helper.gender",
            "helper.training_records[0].completed_on",
            "helper.status",
        ]
    );
    assert!(
        violation_of(&status, "helper.training_records[0].completed_on").contains("存在しない日付"),
        "{status:?}"
    );

    // What only the database knows is named too: an area that does not exist.
    let status = client
        .create_helper(pb::CreateHelperRequest {
            helper: Some(pb::Helper {
                organization_id: fixture.organization_id.clone(),
                name: "ボランティアグループ ひまわり".into(),
                kind: pb::HelperKind::Group.into(),
                area_ids: vec![
                    fixture.daily_life_area_id.clone(),
                    uuid::Uuid::now_v7().to_string(),
                ],
                status: pb::HelperStatus::Prospective.into(),
                ..Default::default()
            }),
            created_by: "西部圏域SC 佐藤".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["helper.area_ids[1]"]);

    // A mask naming a field that cannot be updated, and a missing author.
    let existing = client
        .create_helper(pb::CreateHelperRequest {
            helper: Some(pb::Helper {
                organization_id: fixture.organization_id.clone(),
                name: "鈴木 一郎".into(),
                kind: pb::HelperKind::Individual.into(),
                status: pb::HelperStatus::Prospective.into(),
                ..Default::default()
            }),
            created_by: "西部圏域SC 佐藤".into(),
        })
        .await
        .expect("a helper to edit")
        .into_inner()
        .helper
        .unwrap();
    let status = client
        .update_helper(pb::UpdateHelperRequest {
            helper: Some(pb::Helper {
                id: existing.id.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["name", "version"]),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["update_mask.paths[1]", "changed_by"]);

    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinators_cover_the_areas_their_layer_allows() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let mut events = EventTap::bind(&system).await;
    let mut client = community(&system);
    let coordinator = |name: &str, kana: &str, layer: pb::CoordinationLayer, area_ids: Vec<String>| {
        pb::CreateCoordinatorRequest {
            coordinator: Some(pb::Coordinator {
                municipality_code: MUNICIPALITY.into(),
                name: name.into(),
                name_kana: kana.into(),
                layer: layer.into(),
                area_ids,
                employer_organization_id: fixture.organization_id.clone(),
                active_from: "2024-04-01".into(),
                ..Default::default()
            }),
            created_by: "大垣市 高齢介護課".into(),
        }
    };

    // Layer 2 without areas, and layer 2 with the municipality as its area: both named.
    let status = client
        .create_coordinator(coordinator(
            "佐藤 一郎",
            "サトウ イチロウ",
            pb::CoordinationLayer::Second,
            vec![],
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["coordinator.area_ids"]);
    let status = client
        .create_coordinator(coordinator(
            "佐藤 一郎",
            "サトウ イチロウ",
            pb::CoordinationLayer::Second,
            vec![fixture.municipality_id.clone()],
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["coordinator.area_ids[0]"]);
    assert!(
        violation_of(&status, "coordinator.area_ids[0]").contains("第2層の区域は日常生活圏域"),
        "{status:?}"
    );

    let first = client
        .create_coordinator(coordinator(
            "高橋 和子",
            "タカハシ カズコ",
            pb::CoordinationLayer::First,
            vec![fixture.municipality_id.clone()],
        ))
        .await
        .expect("layer 1")
        .into_inner()
        .coordinator
        .unwrap();
    let second = client
        .create_coordinator(coordinator(
            "佐藤 一郎",
            "サトウ イチロウ",
            pb::CoordinationLayer::Second,
            vec![fixture.daily_life_area_id.clone()],
        ))
        .await
        .expect("layer 2")
        .into_inner()
        .coordinator
        .unwrap();
    assert_eq!(second.area_ids, [fixture.daily_life_area_id.as_str()]);
    assert_eq!(second.active_from, "2024-04-01");

    // A layer-3 coordinator names the provider, not areas.
    let mut third_request = coordinator("伊藤 次郎", "イトウ ジロウ", pb::CoordinationLayer::Third, vec![]);
    third_request.coordinator.as_mut().unwrap().organization_id = fixture.organization_id.clone();
    let third = client
        .create_coordinator(third_request)
        .await
        .expect("layer 3")
        .into_inner()
        .coordinator
        .unwrap();
    assert_eq!(third.organization_id, fixture.organization_id);

    // Lists: by layer; by area (the municipality and the areas below it); by reading.
    let names = |coordinators: Vec<pb::Coordinator>| -> Vec<String> {
        coordinators
            .into_iter()
            .map(|coordinator| coordinator.name)
            .collect()
    };
    let layer_2 = client
        .list_coordinators(pb::ListCoordinatorsRequest {
            municipality_code: MUNICIPALITY.into(),
            layer: pb::CoordinationLayer::Second.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .coordinators;
    assert_eq!(names(layer_2), ["佐藤 一郎"]);
    let in_town = client
        .list_coordinators(pb::ListCoordinatorsRequest {
            area_id: fixture.municipality_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .coordinators;
    assert_eq!(names(in_town), ["高橋 和子", "佐藤 一郎"]);
    let by_reading = client
        .list_coordinators(pb::ListCoordinatorsRequest {
            municipality_code: MUNICIPALITY.into(),
            text: "ｲﾄｳ".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .coordinators;
    assert_eq!(names(by_reading), ["伊藤 次郎"]);

    // A layer change alone leaves an area of the old layer behind: named.
    let status = client
        .update_coordinator(pb::UpdateCoordinatorRequest {
            coordinator: Some(pb::Coordinator {
                id: first.id.clone(),
                layer: pb::CoordinationLayer::Second.into(),
                ..Default::default()
            }),
            update_mask: mask(&["layer"]),
            changed_by: "大垣市 高齢介護課".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["coordinator.area_ids[0]"]);
    // With its area it goes through; the term ends, and the history shows both.
    let moved = client
        .update_coordinator(pb::UpdateCoordinatorRequest {
            coordinator: Some(pb::Coordinator {
                id: first.id.clone(),
                layer: pb::CoordinationLayer::Second.into(),
                area_ids: vec![fixture.daily_life_area_id.clone()],
                active_until: "2025-03-31".into(),
                ..Default::default()
            }),
            update_mask: mask(&["layer", "area_ids", "active_until"]),
            expected_version: 1,
            changed_by: "大垣市 高齢介護課".into(),
        })
        .await
        .expect("moved to layer 2")
        .into_inner()
        .coordinator
        .unwrap();
    assert_eq!(moved.version, 2);
    let history = client
        .list_coordinator_history(pb::ListCoordinatorHistoryRequest {
            id: first.id.clone(),
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .changes;
    let layer_change = history.iter().find(|change| change.field == "layer").unwrap();
    assert_eq!(
        (
            layer_change.old_value_json.as_str(),
            layer_change.new_value_json.as_str()
        ),
        ("1", "2")
    );
    assert_eq!(
        history
            .iter()
            .map(|change| change.field.as_str())
            .collect::<Vec<_>>(),
        ["*", "active_until", "area_ids", "layer"]
    );

    // In office on a date.
    let in_office = client
        .list_coordinators(pb::ListCoordinatorsRequest {
            municipality_code: MUNICIPALITY.into(),
            active_on: "2025-06-01".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .coordinators;
    assert_eq!(names(in_office), ["佐藤 一郎", "伊藤 次郎"]);

    let deleted = client
        .delete_coordinator(pb::DeleteCoordinatorRequest {
            id: third.id.clone(),
            reason: "退職".into(),
            deleted_by: "大垣市 高齢介護課".into(),
            expected_version: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .coordinator
        .unwrap();
    assert!(deleted.deletion.is_some());
    let batch = client
        .batch_get_coordinators(pb::BatchGetCoordinatorsRequest {
            ids: vec![third.id.clone(), second.id.clone()],
        })
        .await
        .unwrap()
        .into_inner()
        .coordinators;
    assert!(
        batch[0].deletion.is_some(),
        "a deleted coordinator is still read by id"
    );

    let published = events.take(5).await;
    let kinds: Vec<&str> = published.iter().map(|event| event.event_type.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "coordinator.created",
            "coordinator.created",
            "coordinator.created",
            "coordinator.updated",
            "coordinator.deleted"
        ]
    );
    assert_thin(&published[3], &first.id, 2);
    assert_thin(&published[4], &third.id, 2);
    events.close().await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn councils_keep_members_and_meetings_newest_first() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let mut events = EventTap::bind(&system).await;
    let mut client = community(&system);
    let coordinator = client
        .create_coordinator(pb::CreateCoordinatorRequest {
            coordinator: Some(pb::Coordinator {
                municipality_code: MUNICIPALITY.into(),
                name: "佐藤 一郎".into(),
                layer: pb::CoordinationLayer::Second.into(),
                area_ids: vec![fixture.daily_life_area_id.clone()],
                ..Default::default()
            }),
            created_by: "大垣市 高齢介護課".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .coordinator
        .unwrap();
    let council_request = |area_id: &str, coordinator_id: &str| pb::CreateCouncilRequest {
        council: Some(pb::Council {
            municipality_code: MUNICIPALITY.into(),
            name: "西部圏域 支え合い推進会議".into(),
            name_kana: "セイブケンイキ ササエアイスイシンカイギ".into(),
            layer: pb::CoordinationLayer::Second.into(),
            area_id: area_id.into(),
            member_organization_ids: vec![fixture.organization_id.clone()],
            members: vec![
                pb::CouncilMember {
                    name: "佐藤 一郎".into(),
                    role: "第2層生活支援コーディネーター".into(),
                    coordinator_id: coordinator_id.into(),
                    organization_id: String::new(),
                },
                pb::CouncilMember {
                    name: "木村 正".into(),
                    role: "町内会長".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }),
        created_by: "大垣市 高齢介護課".into(),
    };

    // The municipality is not a layer-2 area, and the coordinator must exist.
    let status = client
        .create_council(council_request(
            &fixture.municipality_id,
            &uuid::Uuid::now_v7().to_string(),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&status),
        ["council.area_id", "council.members[0].coordinator_id"]
    );

    let council = client
        .create_council(council_request(&fixture.daily_life_area_id, &coordinator.id))
        .await
        .expect("council")
        .into_inner()
        .council
        .unwrap();
    assert_eq!(council.members.len(), 2);
    assert_eq!(council.last_held_on, "");

    let meeting = |held_on: &str, agenda: &str| pb::AddCouncilMeetingRequest {
        council_id: council.id.clone(),
        meeting: Some(pb::CouncilMeeting {
            held_on: held_on.into(),
            agenda_items: vec![agenda.into()],
            decisions: vec![],
            attendees_count: 14,
            notes: String::new(),
            ..Default::default()
        }),
        expected_version: 0,
        recorded_by: "佐藤 一郎".into(),
    };
    let may = client
        .add_council_meeting(meeting("2025-05-10", "買い物に困っている世帯の共有"))
        .await
        .expect("May meeting")
        .into_inner();
    assert_eq!(
        may.council.unwrap().version,
        2,
        "a meeting is a change of the council"
    );
    let july = client
        .add_council_meeting(meeting("2025-07-12", "移動販売の誘致"))
        .await
        .expect("July meeting")
        .into_inner();
    let july_council = july.council.unwrap();
    assert_eq!(july_council.last_held_on, "2025-07-12");
    let july = july.meeting.unwrap();
    let future = client
        .add_council_meeting(meeting("2999-01-01", "未来"))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&future), ["meeting.held_on"]);

    // Newest first, one page at a time.
    let first_page = client
        .list_council_meetings(pb::ListCouncilMeetingsRequest {
            council_id: council.id.clone(),
            page: page(1, ""),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first_page.meetings[0].held_on, "2025-07-12");
    let second_page = client
        .list_council_meetings(pb::ListCouncilMeetingsRequest {
            council_id: council.id.clone(),
            page: page(1, &first_page.next_page_token),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second_page.meetings[0].held_on, "2025-05-10");

    // A meeting corrected: a history entry of the council, naming the meeting's field.
    let corrected = client
        .update_council_meeting(pb::UpdateCouncilMeetingRequest {
            meeting: Some(pb::CouncilMeeting {
                id: july.id.clone(),
                decisions: vec!["移動販売車の停留所を公民館前に設ける".into()],
                ..Default::default()
            }),
            update_mask: mask(&["decisions"]),
            expected_version: july_council.version,
            changed_by: "佐藤 一郎".into(),
        })
        .await
        .expect("corrected")
        .into_inner();
    assert_eq!(corrected.council.unwrap().version, 4);
    assert_eq!(
        corrected.meeting.unwrap().decisions,
        ["移動販売車の停留所を公民館前に設ける"]
    );

    // Members change through the mask; the old version is refused afterwards.
    let updated = client
        .update_council(pb::UpdateCouncilRequest {
            council: Some(pb::Council {
                id: council.id.clone(),
                members: vec![pb::CouncilMember {
                    name: "木村 正".into(),
                    role: "町内会長".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            update_mask: mask(&["members"]),
            expected_version: 4,
            changed_by: "大垣市 高齢介護課".into(),
        })
        .await
        .expect("members updated")
        .into_inner()
        .council
        .unwrap();
    assert_eq!(updated.version, 5);
    let conflict = client
        .update_council(pb::UpdateCouncilRequest {
            council: Some(pb::Council {
                id: council.id.clone(),
                name: "西部圏域 協議体".into(),
                ..Default::default()
            }),
            update_mask: mask(&["name"]),
            expected_version: 4,
            changed_by: "大垣市 高齢介護課".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(conflict.code(), Code::Aborted);

    let history = client
        .list_council_history(pb::ListCouncilHistoryRequest {
            id: council.id.clone(),
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .changes;
    let fields: Vec<String> = history.iter().map(|change| change.field.clone()).collect();
    let may_id = may.meeting.unwrap().id;
    assert_eq!(
        fields,
        [
            "*".to_string(),
            format!("meetings[{may_id}]"),
            format!("meetings[{}]", july.id),
            format!("meetings[{}].decisions", july.id),
            "members".to_string(),
        ]
    );
    assert_eq!(history[3].old_value_json, "[]");

    // Councils list by area (including the areas below) and by reading.
    let listed = client
        .list_councils(pb::ListCouncilsRequest {
            area_id: fixture.municipality_id.clone(),
            text: "ささえあい".into(),
            layer: pb::CoordinationLayer::Second.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .councils;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_held_on, "2025-07-12");

    let published = events.take(6).await;
    let kinds: Vec<&str> = published.iter().map(|event| event.event_type.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "coordinator.created",
            "council.created",
            "council.updated",
            "council.updated",
            "council.updated",
            "council.updated"
        ]
    );
    assert_thin(&published[5], &council.id, 5);
    events.close().await;
    system.shutdown().await;
}
