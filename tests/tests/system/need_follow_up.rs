//! Needs are not forgotten: one idle past the follow-up period is flagged once, announced
//! (`need.follow_up_due`) and listed, and its next move clears the flag. And a need named by
//! a municipality's own category (learnt from the registry's `category.created`) is stored
//! under that category's code, so it meets the resources registered under it; a category no
//! taxonomy knows is refused.

use tsunagu_proto::intake::v1 as pb;
use tsunagu_proto::registry::v1 as registry_pb;
use tsunagu_runtime::ServiceName;
use tsunagu_tests::{Fixture, MUNICIPALITY, Options, TestSystem, eventually};

use crate::support::{WAIT, submit_need, submit_unshared, violated_fields};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_need_is_flagged_once_announced_and_cleared_by_its_next_move() {
    let system = TestSystem::start_with(Options {
        env: vec![
            ("TSUNAGU_INTAKE_FOLLOW_UP_SWEEP_SECONDS", "1".into()),
            ("TSUNAGU_INTAKE_FOLLOW_UP_DAYS", "10".into()),
        ],
        ..Options::default()
    })
    .await;
    let fixture = Fixture::create(&system, 5).await;
    let tap = system.tap_events().await;
    let idle = submit_unshared(&system, "idle-1", &fixture.daily_life_area_id, "ゴミ出し").await;
    let recent = submit_unshared(&system, "recent-1", &fixture.daily_life_area_id, "ゴミ出し").await;
    // Nobody touched the first one for twenty days.
    let intake_db = system.database(ServiceName::Intake).await;
    sqlx::query("UPDATE need SET status_changed_at = now() - interval '20 days' WHERE id = $1::uuid")
        .bind(&idle.id)
        .execute(&intake_db)
        .await
        .unwrap();
    let mut intake = system.intake();
    let get = |id: &str| pb::GetNeedRequest {
        id: id.into(),
        view: 0,
    };
    eventually("the idle need flagged", WAIT, || {
        let mut intake = intake.clone();
        let id = idle.id.clone();
        async move {
            let need = intake
                .get_need(get(&id))
                .await
                .unwrap()
                .into_inner()
                .need
                .unwrap();
            need.follow_up_due_at.map(|_| ())
        }
    })
    .await;
    let events = tap
        .collect_until("need.follow_up_due", WAIT, |events| {
            events.iter().any(|e| e.routing_key == "need.follow_up_due")
        })
        .await;
    let due: Vec<_> = events
        .iter()
        .filter(|e| e.routing_key == "need.follow_up_due")
        .collect();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].payload()["need_id"], idle.id.as_str());
    // The follow-up list uses the configured period (10 days) when the request names none.
    let listed = intake
        .list_needs_for_follow_up(pb::ListNeedsForFollowUpRequest {
            municipality_code: MUNICIPALITY.into(),
            idle_days: 0,
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .needs;
    assert_eq!(
        listed.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
        [idle.id.as_str()]
    );
    let recent_now = intake
        .get_need(get(&recent.id))
        .await
        .unwrap()
        .into_inner()
        .need
        .unwrap();
    assert!(recent_now.follow_up_due_at.is_none());

    // The coordinator follows it up: the flag is cleared, and the outbox holds one announcement.
    let moved = intake
        .transition_need(pb::TransitionNeedRequest {
            need_id: idle.id.clone(),
            to: pb::NeedStatus::Matching.into(),
            changed_by: "SC 佐藤".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .need
        .unwrap();
    assert!(moved.follow_up_due_at.is_none());
    let announced: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE event_type = 'need.follow_up_due' AND payload->>'need_id' = $1",
    )
    .bind(&idle.id)
    .fetch_one(&intake_db)
    .await
    .unwrap();
    assert_eq!(announced, 1);
    tap.close().await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_need_named_by_a_municipal_category_is_stored_under_its_code() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 5).await;
    let category = system
        .registry()
        .create_category(registry_pb::CreateCategoryRequest {
            municipality_code: MUNICIPALITY.into(),
            slug: "kusakari".into(),
            parent: "家事援助".into(),
            name: "草刈り".into(),
            name_kana: "くさかり".into(),
            description: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .category
        .unwrap();
    let intake_db = system.database(ServiceName::Intake).await;
    eventually("intake to learn the category", WAIT, || async {
        let learnt: Option<String> =
            sqlx::query_scalar("SELECT code FROM municipal_category WHERE name = '草刈り'")
                .fetch_optional(&intake_db)
                .await
                .unwrap();
        learnt
    })
    .await;
    let need = submit_need(&system, "kusa-1", &fixture.daily_life_area_id, "草刈り").await;
    assert_eq!(need.category, category.code);
    assert_eq!(need.category, format!("{MUNICIPALITY}.kusakari"));
    // A category no taxonomy knows is refused, naming the field.
    let status = system
        .intake()
        .submit_need(pb::SubmitNeedRequest {
            request_id: "unknown-1".into(),
            municipality_code: MUNICIPALITY.into(),
            area_id: fixture.daily_life_area_id.clone(),
            category: "空飛ぶ絨毯".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["category"]);
    assert!(
        status.message().contains("ListCategories"),
        "{}",
        status.message()
    );
    system.shutdown().await;
}
