//! Matching re-optimises what a change touches, without moving what people agreed to: a
//! resource that leaves or shrinks gives its unanswered proposals to the next best place; an
//! edited need that no longer fits its resource is placed again (and one that still fits keeps
//! its proposal); a paused need frees its place and a completed one gives it back to a need
//! waiting for it; a reopened need is matched again; a helper the resident knows draws the
//! need to that helper's organisation; a municipality's own category meets the resources of
//! the category it extends.

use prost_types::FieldMask;
use tsunagu_proto::common::v1 as common_pb;
use tsunagu_proto::intake::v1 as intake_pb;
use tsunagu_proto::matching::v1 as matching_pb;
use tsunagu_proto::registry::v1 as registry_pb;
use tsunagu_proto::registry::v1::community_service_client::CommunityServiceClient;
use tsunagu_runtime::ServiceName;
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem, consent_to_share, eventually, new_resource};

use crate::support::{WAIT, notifications_of, organization, proposals_for};

const NEAR: (f64, f64) = (35.36, 136.615);
/// About 550 m north of `NEAR`.
const NEARBY: (f64, f64) = (35.365, 136.615);
const FAR: (f64, f64) = (35.40, 136.615);

struct Offer<'a> {
    organization_id: &'a str,
    name: &'a str,
    category: &'a str,
    schedule: Option<&'a str>,
    point: (f64, f64),
    capacity: u32,
}

async fn create_resource(system: &TestSystem, fixture: &Fixture, offer: Offer<'_>) -> String {
    let mut request = new_resource(
        offer.organization_id,
        offer.name,
        offer.category,
        &[&fixture.municipality_id],
        offer.capacity,
    );
    let resource = request.resource.as_mut().unwrap();
    if let Some(schedule) = offer.schedule {
        resource.schedules = vec![registry_pb::Schedule {
            text: schedule.into(),
            ..Default::default()
        }];
    }
    resource.location = Some(registry_pb::Location {
        address: "大垣市内".into(),
        point: Some(common_pb::GeoPoint {
            latitude: offer.point.0,
            longitude: offer.point.1,
        }),
        ..Default::default()
    });
    system
        .registry()
        .create_resource(request)
        .await
        .unwrap_or_else(|status| panic!("resource {}: {status:?}", offer.name))
        .into_inner()
        .resource
        .unwrap()
        .id
}

fn shopping<'a>(
    fixture: &'a Fixture,
    name: &'a str,
    schedule: &'a str,
    point: (f64, f64),
    capacity: u32,
) -> Offer<'a> {
    Offer {
        organization_id: &fixture.organization_id,
        name,
        category: "買い物支援",
        schedule: Some(schedule),
        point,
        capacity,
    }
}

fn tuesday_morning() -> Vec<common_pb::TimeWindow> {
    window(common_pb::Weekday::Tuesday)
}

fn window(weekday: common_pb::Weekday) -> Vec<common_pb::TimeWindow> {
    vec![common_pb::TimeWindow {
        weekday: weekday.into(),
        start_minute: 9 * 60,
        end_minute: 12 * 60,
    }]
}

async fn submit(
    system: &TestSystem,
    fixture: &Fixture,
    request_id: &str,
    category: &str,
    details: intake_pb::NeedDetails,
) -> String {
    system
        .intake()
        .submit_need(intake_pb::SubmitNeedRequest {
            request_id: request_id.into(),
            municipality_code: MUNICIPALITY.into(),
            area_id: fixture.daily_life_area_id.clone(),
            category: category.into(),
            consent: Some(consent_to_share()),
            details: Some(intake_pb::NeedDetails {
                location: Some(common_pb::GeoPoint {
                    latitude: NEAR.0,
                    longitude: NEAR.1,
                }),
                ..details
            }),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|status| panic!("need {request_id}: {status:?}"))
        .into_inner()
        .need
        .unwrap()
        .id
}

async fn submit_tuesday(system: &TestSystem, fixture: &Fixture, request_id: &str) -> String {
    let details = intake_pb::NeedDetails {
        time_windows: tuesday_morning(),
        ..Default::default()
    };
    submit(system, fixture, request_id, "買い物支援", details).await
}

fn is_open(proposal: &matching_pb::Proposal) -> bool {
    matches!(
        proposal.status(),
        matching_pb::ProposalStatus::Proposed
            | matching_pb::ProposalStatus::AwaitingApproval
            | matching_pb::ProposalStatus::Accepted
    )
}

/// Waits for the need's open proposal to be one to `resource_id`.
async fn open_proposal_to(system: &TestSystem, need_id: &str, resource_id: &str) -> matching_pb::Proposal {
    eventually(
        &format!("{need_id}'s open proposal to {resource_id}"),
        WAIT,
        || async {
            proposals_for(system, need_id)
                .await
                .into_iter()
                .find(|p| is_open(p) && p.resource_id == resource_id)
        },
    )
    .await
}

async fn proposal_now(system: &TestSystem, id: &str, need_id: &str) -> matching_pb::Proposal {
    proposals_for(system, need_id)
        .await
        .into_iter()
        .find(|p| p.id == id)
        .expect("the proposal is listed")
}

/// Matching's view of a need: (status, on hold, unmatched kind).
async fn matching_need(db: &sqlx::PgPool, need_id: &str) -> Option<(String, bool, Option<String>)> {
    sqlx::query_as("SELECT status, on_hold, unmatched_kind FROM need WHERE id = $1::uuid")
        .bind(need_id)
        .fetch_optional(db)
        .await
        .unwrap()
}

async fn intake_status(system: &TestSystem, need_id: &str) -> intake_pb::NeedStatus {
    system
        .intake()
        .get_need(intake_pb::GetNeedRequest {
            id: need_id.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .need
        .unwrap()
        .status()
}

async fn transition(system: &TestSystem, need_id: &str, to: intake_pb::NeedStatus, reason: &str) {
    let outcome = if to == intake_pb::NeedStatus::Completed {
        intake_pb::Outcome::GotHelp
    } else {
        intake_pb::Outcome::Unspecified
    };
    system
        .intake()
        .transition_need(intake_pb::TransitionNeedRequest {
            need_id: need_id.into(),
            to: to.into(),
            reason: reason.into(),
            outcome: outcome.into(),
            changed_by: "西部圏域SC 佐藤".into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|status| panic!("{need_id} to {to:?}: {status:?}"));
}

async fn wait_known_resources(db: &sqlx::PgPool, count: i64) {
    eventually(
        "matching to know the resources with their terms",
        WAIT,
        || async {
            let known: i64 = sqlx::query_scalar("SELECT count(*) FROM resource WHERE terms IS NOT NULL")
                .fetch_one(db)
                .await
                .unwrap();
            (known == count).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_that_leaves_or_shrinks_gives_its_unanswered_proposals_to_the_next_place() {
    let system = TestSystem::start().await;
    let tap = system.tap_events().await;
    let fixture = Fixture::create(&system, 1).await;
    let db = system.database(ServiceName::Matching).await;
    let near = create_resource(
        &system,
        &fixture,
        shopping(&fixture, "近くの買い物便", "毎週火曜 9:00〜12:00", NEAR, 5),
    )
    .await;
    let far = create_resource(
        &system,
        &fixture,
        shopping(&fixture, "遠くの買い物便", "毎週火曜 9:00〜12:00", FAR, 2),
    )
    .await;
    wait_known_resources(&db, 3).await;

    let asked = submit_tuesday(&system, &fixture, "leave-1").await;
    let first = open_proposal_to(&system, &asked, &near).await;
    let agreed = submit_tuesday(&system, &fixture, "leave-2").await;
    let accepted = open_proposal_to(&system, &agreed, &near).await;
    system
        .matching()
        .accept_proposal(matching_pb::AcceptProposalRequest {
            proposal_id: accepted.id.clone(),
            responded_by: "ささえあい 田村".into(),
        })
        .await
        .unwrap();

    // The near resource ends: the unanswered proposal moves to the far one; the accepted
    // one stands, because people agreed to it.
    system
        .registry()
        .delete_resource(registry_pb::DeleteResourceRequest {
            id: near.clone(),
            reason: "事業終了のため".into(),
            deleted_by: "西部圏域SC 佐藤".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let moved = open_proposal_to(&system, &asked, &far).await;
    assert_ne!(moved.id, first.id);
    let withdrawn = proposal_now(&system, &first.id, &asked).await;
    assert_eq!(withdrawn.status(), matching_pb::ProposalStatus::Withdrawn);
    assert!(withdrawn.reason.contains("地域資源の変更"), "{withdrawn:?}");
    let kept = proposal_now(&system, &accepted.id, &agreed).await;
    assert_eq!(kept.status(), matching_pb::ProposalStatus::Accepted);
    let events = tap
        .collect_until("match.withdrawn for the moved need", WAIT, |events| {
            events.iter().any(|e| e.routing_key == "match.withdrawn")
        })
        .await;
    let payload = events
        .iter()
        .find(|e| e.routing_key == "match.withdrawn")
        .unwrap()
        .payload();
    assert_eq!(payload["proposal_id"], first.id.as_str());
    assert_eq!(payload["withdrawal"], "resource_changed");
    // The provider reads why, and the need is 提案中 again after a moment in マッチング中.
    eventually("the provider told the registration changed", WAIT, || async {
        notifications_of(&system, organization(&fixture.organization_id))
            .await
            .into_iter()
            .find(|n| n.need_id == asked && n.body.contains("登録内容"))
    })
    .await;
    eventually("intake to show the moved need as proposed", WAIT, || async {
        (intake_status(&system, &asked).await == intake_pb::NeedStatus::Proposed).then_some(())
    })
    .await;

    // The far resource holds one place of two; a third need takes the other; then the far
    // resource shrinks to one place: the newest unanswered proposal gives way and its need is
    // reported unmatched at capacity.
    let third = submit_tuesday(&system, &fixture, "leave-3").await;
    let squeezed = open_proposal_to(&system, &third, &far).await;
    let mut shrink = registry_pb::Resource {
        id: far.clone(),
        capacity: Some(registry_pb::Capacity {
            available: 1,
            maximum: 1,
            ..Default::default()
        }),
        ..Default::default()
    };
    shrink.status = registry_pb::ResourceStatus::Active.into();
    system
        .registry()
        .update_resource(registry_pb::UpdateResourceRequest {
            resource: Some(shrink),
            update_mask: Some(FieldMask {
                paths: vec!["capacity".into()],
            }),
            changed_by: "西部圏域SC 佐藤".into(),
            reason: "担い手が減ったため".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let (status, _, kind) = eventually("the third need unmatched at capacity", WAIT, || async {
        matching_need(&db, &third)
            .await
            .filter(|(status, _, _)| status == "unmatched")
    })
    .await;
    assert_eq!(
        (status.as_str(), kind.as_deref()),
        ("unmatched", Some("at_capacity"))
    );
    assert_eq!(
        proposal_now(&system, &squeezed.id, &third).await.status(),
        matching_pb::ProposalStatus::Withdrawn
    );
    assert!(
        is_open(&proposal_now(&system, &moved.id, &asked).await),
        "the older proposal stays"
    );
    let (capacity, committed): (i32, i32) =
        sqlx::query_as("SELECT capacity, committed FROM resource WHERE id = $1::uuid")
            .bind(&far)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!((capacity, committed), (1, 1));
    tap.collect_until("need.unmatched for the squeezed need", WAIT, |events| {
        events
            .iter()
            .any(|e| e.routing_key == "need.unmatched" && e.payload()["need_id"] == third.as_str())
    })
    .await;
    tap.close().await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_need_keeps_a_fitting_proposal_and_moves_when_it_no_longer_fits() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let db = system.database(ServiceName::Matching).await;
    let tuesday = create_resource(
        &system,
        &fixture,
        shopping(&fixture, "火曜の買い物便", "毎週火曜 9:00〜12:00", NEAR, 3),
    )
    .await;
    let thursday = create_resource(
        &system,
        &fixture,
        shopping(&fixture, "木曜の買い物便", "毎週木曜 9:00〜12:00", NEAR, 3),
    )
    .await;
    wait_known_resources(&db, 3).await;
    let need = submit_tuesday(&system, &fixture, "edit-1").await;
    let first = open_proposal_to(&system, &need, &tuesday).await;
    let mut intake = system.intake();
    let edit = |details: intake_pb::NeedDetails, path: &str| intake_pb::UpdateNeedRequest {
        need: Some(intake_pb::Need {
            id: need.clone(),
            details: Some(details),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec![path.into()],
        }),
        changed_by: "西部圏域SC 佐藤".into(),
        ..Default::default()
    };

    // Still Tuesday, a bit longer: the resource still fits; the proposal stays.
    let longer = intake
        .update_need(edit(
            intake_pb::NeedDetails {
                time_windows: vec![common_pb::TimeWindow {
                    weekday: common_pb::Weekday::Tuesday.into(),
                    start_minute: 9 * 60,
                    end_minute: 12 * 60 + 30,
                }],
                ..Default::default()
            },
            "details.time_windows",
        ))
        .await
        .unwrap()
        .into_inner()
        .need
        .unwrap();
    eventually("matching to apply the edit", WAIT, || async {
        let version: i64 = sqlx::query_scalar("SELECT version FROM need WHERE id = $1::uuid")
            .bind(&need)
            .fetch_one(&db)
            .await
            .unwrap();
        (version == longer.version).then_some(())
    })
    .await;
    assert!(
        is_open(&proposal_now(&system, &first.id, &need).await),
        "a fitting proposal stays"
    );
    assert_eq!(proposals_for(&system, &need).await.len(), 1);

    // Now Thursday: the Tuesday resource no longer fits; the need moves to Thursday's.
    intake
        .update_need(edit(
            intake_pb::NeedDetails {
                time_windows: window(common_pb::Weekday::Thursday),
                ..Default::default()
            },
            "details.time_windows",
        ))
        .await
        .unwrap();
    let moved = open_proposal_to(&system, &need, &thursday).await;
    let withdrawn = proposal_now(&system, &first.id, &need).await;
    assert_eq!(withdrawn.status(), matching_pb::ProposalStatus::Withdrawn);
    assert!(withdrawn.reason.contains("ニーズの内容が変わり"), "{withdrawn:?}");
    assert_ne!(moved.id, first.id);
    let committed: Vec<i32> =
        sqlx::query_scalar("SELECT committed FROM resource WHERE id = ANY($1::uuid[]) ORDER BY id")
            .bind(vec![tuesday.clone(), thursday.clone()])
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(
        committed.iter().sum::<i32>(),
        1,
        "one place held in all: {committed:?}"
    );
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_completed_and_reopened_needs_free_and_take_places() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let db = system.database(ServiceName::Matching).await;
    let only = create_resource(
        &system,
        &fixture,
        shopping(&fixture, "一人だけの買い物便", "毎週火曜 9:00〜12:00", NEAR, 1),
    )
    .await;
    wait_known_resources(&db, 2).await;

    // a holds the only place and is helped; b waits at capacity.
    let a = submit_tuesday(&system, &fixture, "life-a").await;
    let a_proposal = open_proposal_to(&system, &a, &only).await;
    system
        .matching()
        .accept_proposal(matching_pb::AcceptProposalRequest {
            proposal_id: a_proposal.id.clone(),
            responded_by: "ささえあい 田村".into(),
        })
        .await
        .unwrap();
    let b = submit_tuesday(&system, &fixture, "life-b").await;
    let (_, _, kind) = eventually("b unmatched", WAIT, || async {
        matching_need(&db, &b)
            .await
            .filter(|(status, _, _)| status == "unmatched")
    })
    .await;
    assert_eq!(kind.as_deref(), Some("at_capacity"));
    eventually("a accepted in intake", WAIT, || async {
        (intake_status(&system, &a).await == intake_pb::NeedStatus::Accepted).then_some(())
    })
    .await;
    transition(&system, &a, intake_pb::NeedStatus::InProgress, "").await;
    transition(&system, &a, intake_pb::NeedStatus::Completed, "").await;

    // Completing a frees its place, and b, which waited for it, gets it.
    let b_proposal = open_proposal_to(&system, &b, &only).await;
    assert_eq!(
        proposal_now(&system, &a_proposal.id, &a).await.status(),
        matching_pb::ProposalStatus::Completed
    );
    assert_eq!(matching_need(&db, &a).await.unwrap().0, "closed");

    // b is paused: its unanswered proposal is withdrawn, and c takes the place.
    transition(&system, &b, intake_pb::NeedStatus::OnHold, "入院のため").await;
    eventually("b's proposal withdrawn for the hold", WAIT, || async {
        let now = proposal_now(&system, &b_proposal.id, &b).await;
        (now.status() == matching_pb::ProposalStatus::Withdrawn && now.reason.contains("保留")).then_some(())
    })
    .await;
    assert!(matching_need(&db, &b).await.unwrap().1, "b is on hold");
    assert_eq!(
        intake_status(&system, &b).await,
        intake_pb::NeedStatus::OnHold,
        "the coordinator's hold stands over matching's withdrawal"
    );
    let c = submit_tuesday(&system, &fixture, "life-c").await;
    open_proposal_to(&system, &c, &only).await;
    let rows = system
        .matching()
        .get_gap_map(matching_pb::GetGapMapRequest {
            code: MUNICIPALITY.into(),
            layer: matching_pb::GapMapLayer::DailyLifeArea.into(),
            category: "買い物支援".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .rows;
    let sum = |field: fn(&matching_pb::GapMapRow) -> u32| rows.iter().map(field).sum::<u32>();
    assert_eq!(
        (
            sum(|r| r.needs),
            sum(|r| r.on_hold),
            sum(|r| r.completed),
            sum(|r| r.proposed)
        ),
        (2, 1, 1, 1),
        "{rows:?}"
    );

    // b resumes: matched again, but c holds the place now.
    transition(&system, &b, intake_pb::NeedStatus::Matching, "").await;
    eventually("b back and unmatched at capacity", WAIT, || async {
        matching_need(&db, &b).await.filter(|(status, on_hold, kind)| {
            status == "unmatched" && !on_hold && kind.as_deref() == Some("at_capacity")
        })
    })
    .await;

    // a is reopened: matching takes it up again (unmatched: the place is c's).
    transition(&system, &a, intake_pb::NeedStatus::Submitted, "再び支援が必要に").await;
    eventually("a reopened in matching", WAIT, || async {
        matching_need(&db, &a)
            .await
            .filter(|(status, _, _)| status == "unmatched")
    })
    .await;
    let committed: i32 = sqlx::query_scalar("SELECT committed FROM resource WHERE id = $1::uuid")
        .bind(&only)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(committed, 1);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_helper_draws_the_need_and_a_municipal_category_meets_its_parent() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let db = system.database(ServiceName::Matching).await;
    let mut registry = system.registry();
    let snow = registry
        .create_category(registry_pb::CreateCategoryRequest {
            municipality_code: MUNICIPALITY.into(),
            slug: "yukikaki".into(),
            parent: "生活支援".into(),
            name: "雪かき".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .category
        .unwrap();
    let neighbours = registry
        .create_organization(registry_pb::CreateOrganizationRequest {
            municipality_code: MUNICIPALITY.into(),
            name: "北町 助け合いの会".into(),
            kind: registry_pb::OrganizationKind::NeighborhoodAssociation.into(),
            area_ids: vec![fixture.daily_life_area_id.clone()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    let helper = CommunityServiceClient::new(system.grpc_channel(ServiceName::Registry))
        .create_helper(registry_pb::CreateHelperRequest {
            helper: Some(registry_pb::Helper {
                organization_id: neighbours.id.clone(),
                name: "山田 花子".into(),
                name_kana: "ヤマダ ハナコ".into(),
                kind: registry_pb::HelperKind::Individual.into(),
                status: registry_pb::HelperStatus::Prospective.into(),
                ..Default::default()
            }),
            created_by: "西部圏域SC 佐藤".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .helper
        .unwrap();
    let general = |organization_id, name, point| Offer {
        organization_id,
        name,
        category: "生活支援",
        schedule: None,
        point,
        capacity: 3,
    };
    let nearest = create_resource(
        &system,
        &fixture,
        general(&fixture.organization_id, "生活お助け隊", NEAR),
    )
    .await;
    let familiar = create_resource(
        &system,
        &fixture,
        general(&neighbours.id, "北町の助け合い", NEARBY),
    )
    .await;
    wait_known_resources(&db, 3).await;
    eventually("matching to know the helper and the category", WAIT, || async {
        let (helpers, categories): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM helper), (SELECT count(*) FROM category WHERE parent_code = 'life')",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        (helpers == 1 && categories == 1).then_some(())
    })
    .await;

    // 雪かき is this city's own category under 生活支援: general resources serve it, and
    // without a known helper the nearest one wins.
    let plain = submit(&system, &fixture, "snow-plain", "雪かき", Default::default()).await;
    let proposal = open_proposal_to(&system, &plain, &nearest).await;
    assert_eq!(proposal.category, snow.code);

    // The resident knows 山田さん: her association's resource, 550 m further, wins, and its
    // factors carry no unfamiliar-helper cost.
    let known = submit(
        &system,
        &fixture,
        "snow-known",
        "雪かき",
        intake_pb::NeedDetails {
            requirements: Some(intake_pb::NeedRequirements {
                preferred_helper_id: helper.id.clone(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    let proposal = open_proposal_to(&system, &known, &familiar).await;
    assert!(
        proposal.factors.iter().all(|f| f.name != "unfamiliar_helper"),
        "{proposal:?}"
    );
    assert!(
        proposal.factors.iter().any(|f| f.name == "distance"),
        "{proposal:?}"
    );
    system.shutdown().await;
}
