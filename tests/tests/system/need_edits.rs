//! Needs are edited with field masks (versions, conflicts, closed needs refused, every edit
//! in the history, `need.updated` to matching), listed with filters and page tokens, and
//! watched as a stream that resumes after a reconnect without gaps or repeats.

use std::time::Duration;

use tokio_stream::StreamExt;
use tonic::Code;
use tsunagu_proto::common::v1 as common_pb;
use tsunagu_proto::intake::v1 as pb;
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem};

use crate::support::{WAIT, submit_need, submit_unshared, violated_fields};

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

/// An edit of `need_id` that sets the fields of `need` the mask names (the id is filled in).
fn edit(need_id: &str, need: pb::Need, paths: &[&str]) -> pb::UpdateNeedRequest {
    pb::UpdateNeedRequest {
        need: Some(pb::Need {
            id: need_id.into(),
            ..need
        }),
        update_mask: mask(paths),
        ..Default::default()
    }
}

fn urgency(urgency: pb::Urgency) -> pb::Need {
    pb::Need {
        urgency: urgency.into(),
        ..Default::default()
    }
}

fn step(need_id: &str, to: pb::NeedStatus) -> pb::TransitionNeedRequest {
    pb::TransitionNeedRequest {
        need_id: need_id.into(),
        to: to.into(),
        changed_by: "SC 佐藤".into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_need_is_edited_field_by_field_with_versions_and_history() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 5).await;
    let tap = system.tap_events().await;
    // Shared with matching (so edits reach it), of a category no resource serves (so no
    // proposal moves it meanwhile).
    let need = submit_need(&system, "edit-1", &fixture.daily_life_area_id, "見守り").await;
    let mut intake = system.intake();

    // Only the masked fields change; the category left empty in the request stays.
    let edited = intake
        .update_need(pb::UpdateNeedRequest {
            need: Some(pb::Need {
                id: need.id.clone(),
                urgency: pb::Urgency::Urgent.into(),
                details: Some(pb::NeedDetails {
                    time_windows: vec![common_pb::TimeWindow {
                        weekday: common_pb::Weekday::Tuesday.into(),
                        start_minute: 540,
                        end_minute: 720,
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            update_mask: mask(&["urgency", "details.time_windows"]),
            expected_version: need.version,
            changed_by: "SC 佐藤".into(),
            reason: "本人と面談".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .need
        .unwrap();
    assert_eq!(edited.version, need.version + 1);
    assert_eq!(edited.urgency(), pb::Urgency::Urgent);
    assert_eq!(edited.category, "life.watching");
    assert_eq!(edited.details.as_ref().unwrap().time_windows.len(), 1);

    // The same edit again changes nothing: no new version.
    let again = intake
        .update_need(edit(&need.id, urgency(pb::Urgency::Urgent), &["urgency"]))
        .await
        .unwrap()
        .into_inner()
        .need
        .unwrap();
    assert_eq!(again.version, edited.version);

    // A stale version is ABORTED; an unknown path and a bad value are named.
    let stale = intake
        .update_need(pb::UpdateNeedRequest {
            expected_version: need.version,
            ..edit(&need.id, urgency(pb::Urgency::Routine), &["urgency"])
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let bad = intake
        .update_need(edit(&need.id, pb::Need::default(), &["status", "category"]))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad), ["update_mask.paths[0]"]);
    let bad = intake
        .update_need(edit(&need.id, pb::Need::default(), &["category"]))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad), ["need.category"]);

    // The edit is in the history, and matching heard of it.
    let history = intake
        .list_need_history(pb::ListNeedHistoryRequest {
            need_id: need.id.clone(),
            page: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.edits.len(), 1);
    assert_eq!(history.edits[0].fields, ["urgency", "details.time_windows"]);
    assert_eq!(history.edits[0].reason, "本人と面談");
    let events = tap
        .collect_until("need.updated", WAIT, |events| {
            events.iter().any(|e| e.routing_key == "need.updated")
        })
        .await;
    let update = events
        .iter()
        .find(|e| e.routing_key == "need.updated")
        .unwrap()
        .payload();
    assert_eq!(update["urgency"], "urgent");
    assert_eq!(update["version"], edited.version);

    // A closed need is not edited.
    intake
        .transition_need(pb::TransitionNeedRequest {
            reason: "本人が不要と".into(),
            outcome: pb::Outcome::NoLongerNeeded.into(),
            ..step(&need.id, pb::NeedStatus::Cancelled)
        })
        .await
        .unwrap();
    let closed = intake
        .update_need(edit(&need.id, urgency(pb::Urgency::Routine), &["urgency"]))
        .await
        .unwrap_err();
    assert_eq!(closed.code(), Code::FailedPrecondition);
    tap.close().await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn needs_are_listed_by_filters_in_pages() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 5).await;
    let mut ids = Vec::new();
    for (index, category) in ["ゴミ出し", "買い物支援", "ゴミ出し", "ゴミ出し", "見守り"]
        .iter()
        .enumerate()
    {
        ids.push(
            submit_unshared(
                &system,
                &format!("list-{index}"),
                &fixture.daily_life_area_id,
                category,
            )
            .await
            .id,
        );
    }
    let mut intake = system.intake();
    intake
        .transition_need(step(&ids[2], pb::NeedStatus::Matching))
        .await
        .unwrap();
    let list = |categories: Vec<String>, statuses: Vec<i32>, page_token: String| pb::ListNeedsRequest {
        municipality_code: MUNICIPALITY.into(),
        categories,
        statuses,
        page: Some(common_pb::PageRequest {
            page_size: 2,
            page_token,
        }),
        ..Default::default()
    };
    // Three ゴミ出し needs in two pages of two.
    let first = intake
        .list_needs(list(vec!["ゴミ出し".into()], vec![], String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        first.needs.iter().map(|n| n.id.clone()).collect::<Vec<_>>(),
        [ids[0].clone(), ids[2].clone()]
    );
    let second = intake
        .list_needs(list(vec!["ゴミ出し".into()], vec![], first.next_page_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        second.needs.iter().map(|n| n.id.clone()).collect::<Vec<_>>(),
        [ids[3].clone()]
    );
    assert_eq!(second.next_page_token, "");
    // By status.
    let matching = intake
        .list_needs(list(vec![], vec![pb::NeedStatus::Matching.into()], String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(matching.needs.len(), 1);
    assert_eq!(matching.needs[0].id, ids[2]);
    // Bad filters are named: a status the enum does not have by the request guard, before
    // the handler reads the request; the handler names every filter it cannot use at once.
    let status = intake
        .list_needs(pb::ListNeedsRequest {
            municipality_code: MUNICIPALITY.into(),
            area_ids: vec!["x".into()],
            statuses: vec![99],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["statuses[0]"]);
    let status = intake
        .list_needs(pb::ListNeedsRequest {
            municipality_code: MUNICIPALITY.into(),
            area_ids: vec!["x".into()],
            categories: vec!["そんなカテゴリはない".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        violated_fields(&status).contains(&"area_ids[0]".to_string()),
        "{status:?}"
    );
    system.shutdown().await;
}

async fn next_update(stream: &mut tonic::Streaming<pb::WatchNeedResponse>) -> pb::WatchNeedResponse {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("an update within the deadline")
        .expect("the stream is open")
        .expect("no error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_streams_every_change_and_resumes_after_a_reconnect_without_gaps() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 5).await;
    let need = submit_unshared(&system, "watch-1", &fixture.daily_life_area_id, "ゴミ出し").await;
    let mut intake = system.intake();
    let mut stream = intake
        .watch_need(pb::WatchNeedRequest {
            need_id: need.id.clone(),
            after_version: 0,
        })
        .await
        .unwrap()
        .into_inner();
    // First the need as it is.
    let now = next_update(&mut stream).await;
    assert_eq!(now.need.as_ref().unwrap().version, need.version);

    // A status change, then an edit: each arrives, in order.
    intake
        .transition_need(step(&need.id, pb::NeedStatus::Matching))
        .await
        .unwrap();
    let moved = next_update(&mut stream).await;
    let change = moved.status_change.expect("a status change");
    assert_eq!(change.to(), pb::NeedStatus::Matching);
    intake
        .update_need(edit(&need.id, urgency(pb::Urgency::Urgent), &["urgency"]))
        .await
        .unwrap();
    let edited = next_update(&mut stream).await;
    assert!(edited.status_change.is_none());
    let last_seen = edited.need.unwrap().version;
    assert_eq!(last_seen, need.version + 2);

    // The client goes away; two changes happen; it comes back from what it saw.
    drop(stream);
    intake
        .transition_need(step(&need.id, pb::NeedStatus::Proposed))
        .await
        .unwrap();
    intake
        .transition_need(step(&need.id, pb::NeedStatus::Accepted))
        .await
        .unwrap();
    let mut resumed = intake
        .watch_need(pb::WatchNeedRequest {
            need_id: need.id.clone(),
            after_version: last_seen,
        })
        .await
        .unwrap()
        .into_inner();
    let first = next_update(&mut resumed).await;
    let second = next_update(&mut resumed).await;
    let steps: Vec<_> = [&first, &second]
        .iter()
        .map(|u| u.status_change.as_ref().unwrap().to())
        .collect();
    assert_eq!(steps, [pb::NeedStatus::Proposed, pb::NeedStatus::Accepted]);
    // Nothing else is waiting: no repeat.
    let extra = tokio::time::timeout(Duration::from_millis(500), resumed.next()).await;
    assert!(extra.is_err(), "unexpected {extra:?}");
    // An unknown need is refused like another municipality's: the answer does not tell
    // whether it exists.
    let status = intake
        .watch_need(pb::WatchNeedRequest {
            need_id: uuid::Uuid::now_v7().to_string(),
            after_version: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    drop(resumed);
    system.shutdown().await;
}
