//! A need's lifecycle: the usual course, illegal steps refused naming where the need is,
//! reasons and outcomes required, reopening, the full history, `need.status_changed` through
//! the outbox, and the follow-up list of needs nobody has moved for a while.

use tonic::Code;
use tsunagu_proto::intake::v1 as pb;
use tsunagu_runtime::ServiceName;
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem, eventually};

use crate::support::{WAIT, submit_unshared, violated_fields};

fn step(need_id: &str, to: pb::NeedStatus, reason: &str, outcome: pb::Outcome) -> pb::TransitionNeedRequest {
    pb::TransitionNeedRequest {
        need_id: need_id.into(),
        to: to.into(),
        reason: reason.into(),
        outcome: outcome.into(),
        expected_version: 0,
        changed_by: "地域包括 山本".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_need_moves_through_its_lifecycle_and_every_step_is_kept() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let need = submit_unshared(&system, "life-1", &fixture.daily_life_area_id, "ゴミ出し").await;
    assert_eq!(need.status(), pb::NeedStatus::Submitted);
    let mut intake = system.intake();
    use pb::NeedStatus::*;
    use pb::Outcome as O;

    // Submitted cannot jump to completed: the message says where it is and where it may go.
    let status = intake
        .transition_need(step(&need.id, Completed, "", O::GotHelp))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("受付済み"), "{}", status.message());
    assert!(status.message().contains("マッチング中"), "{}", status.message());

    for to in [Matching, Proposed, Accepted, InProgress] {
        let moved = intake
            .transition_need(step(&need.id, to, "", O::Unspecified))
            .await
            .unwrap();
        assert_eq!(moved.into_inner().need.unwrap().status(), to);
    }
    // Pausing needs a reason; closing needs an outcome that fits.
    let status = intake
        .transition_need(step(&need.id, OnHold, " ", O::Unspecified))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["reason"]);
    let status = intake
        .transition_need(step(&need.id, Completed, "", O::Unspecified))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["outcome"]);
    let status = intake
        .transition_need(step(&need.id, Completed, "", O::NoCapacity))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["outcome"]);
    let on_hold = intake
        .transition_need(step(&need.id, OnHold, "入院のため一時中断", O::Unspecified))
        .await
        .unwrap()
        .into_inner()
        .need
        .unwrap();
    assert_eq!(on_hold.status_reason, "入院のため一時中断");
    intake
        .transition_need(step(&need.id, InProgress, "", O::Unspecified))
        .await
        .unwrap();
    let completed = intake
        .transition_need(step(&need.id, Completed, "", O::GotHelp))
        .await
        .unwrap()
        .into_inner()
        .need
        .unwrap();
    assert_eq!((completed.status(), completed.outcome()), (Completed, O::GotHelp));

    // A stale editor is refused; a closed need reopens with a reason, and loses its outcome.
    let mut stale = step(&need.id, Submitted, "再び困りごと", O::Unspecified);
    stale.expected_version = completed.version - 1;
    assert_eq!(
        intake.transition_need(stale.clone()).await.unwrap_err().code(),
        Code::Aborted
    );
    stale.expected_version = completed.version;
    let reopened = intake
        .transition_need(stale)
        .await
        .unwrap()
        .into_inner()
        .need
        .unwrap();
    assert_eq!(
        (reopened.status(), reopened.outcome()),
        (Submitted, O::Unspecified)
    );

    let history = intake
        .list_need_history(pb::ListNeedHistoryRequest {
            need_id: need.id.clone(),
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .changes;
    let course: Vec<pb::NeedStatus> = history.iter().map(|change| change.to()).collect();
    assert_eq!(
        course,
        [
            Submitted, Matching, Proposed, Accepted, InProgress, OnHold, InProgress, Completed, Submitted
        ]
    );
    assert_eq!(history[5].reason, "入院のため一時中断");
    assert_eq!(history[5].changed_by, "地域包括 山本");
    assert_eq!(history[7].outcome(), O::GotHelp);
    assert_eq!(history.last().unwrap().version, reopened.version);

    // Each step left as need.status_changed, published by the relay.
    let intake_db = system.database(ServiceName::Intake).await;
    eventually("every status change published", WAIT, || async {
        let (published, total): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE published_at IS NOT NULL), count(*) FROM outbox
             WHERE event_type = 'need.status_changed' AND payload->>'need_id' = $1",
        )
        .bind(&need.id)
        .fetch_one(&intake_db)
        .await
        .unwrap();
        (total == 8 && published == total).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn needs_nobody_moved_for_a_while_are_listed_for_follow_up() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 5).await;
    let waiting = submit_unshared(&system, "idle-1", &fixture.daily_life_area_id, "ゴミ出し").await;
    let recent = submit_unshared(&system, "idle-2", &fixture.daily_life_area_id, "ゴミ出し").await;
    let closed = submit_unshared(&system, "idle-3", &fixture.daily_life_area_id, "ゴミ出し").await;
    let mut intake = system.intake();
    intake
        .transition_need(step(
            &closed.id,
            pb::NeedStatus::Cancelled,
            "転居",
            pb::Outcome::NoLongerNeeded,
        ))
        .await
        .unwrap();
    // Age two of them by three weeks, as if nobody had touched them since.
    let intake_db = system.database(ServiceName::Intake).await;
    sqlx::query("UPDATE need SET status_changed_at = now() - interval '21 days' WHERE id = ANY($1::uuid[])")
        .bind(vec![waiting.id.clone(), closed.id.clone()])
        .execute(&intake_db)
        .await
        .unwrap();
    let follow_up = |idle_days: u32| pb::ListNeedsForFollowUpRequest {
        municipality_code: MUNICIPALITY.into(),
        idle_days,
        page: None,
    };
    let ids = |needs: Vec<pb::Need>| needs.into_iter().map(|n| n.id).collect::<Vec<_>>();
    // Two weeks by default: the waiting one, not the recent one, not the closed one.
    let listed = intake
        .list_needs_for_follow_up(follow_up(0))
        .await
        .unwrap()
        .into_inner()
        .needs;
    assert_eq!(ids(listed), std::slice::from_ref(&waiting.id));
    let listed = intake
        .list_needs_for_follow_up(follow_up(30))
        .await
        .unwrap()
        .into_inner()
        .needs;
    assert!(listed.is_empty());
    assert_ne!(recent.id, waiting.id);
}
