//! The referral loop (domain.md §8) across matching, intake and notifications: a provider
//! rejects with a reason and the need goes to the next resource, never back to one that
//! declined; a coordinator approves first where the municipality wants it; an acceptance moves
//! the need to 受諾済み in intake; an unanswered proposal expires; every step releases or keeps
//! capacity as it should, and the coordinators hear of each answer.

use tonic::Code;
use tsunagu_proto::intake::v1 as intake_pb;
use tsunagu_proto::matching::v1 as pb;
use tsunagu_proto::notifications::v1 as notifications_pb;
use tsunagu_runtime::ServiceName;
use tsunagu_tests::{Fixture, MUNICIPALITY, Options, TestSystem, eventually, new_resource};

use crate::support::{
    WAIT, notifications_of, proposals_for, submit_need, violated_fields, wait_for_notification,
};

async fn need_status(system: &TestSystem, need_id: &str) -> intake_pb::NeedStatus {
    system
        .intake()
        .get_need(intake_pb::GetNeedRequest {
            id: need_id.into(),
            view: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .need
        .unwrap()
        .status()
}

async fn wait_for_status(system: &TestSystem, need_id: &str, expected: intake_pb::NeedStatus) {
    eventually(&format!("the need {expected:?} in intake"), WAIT, || async {
        (need_status(system, need_id).await == expected).then_some(())
    })
    .await;
}

/// The open proposal of a need, once matching made it.
async fn open_proposal(system: &TestSystem, need_id: &str) -> pb::Proposal {
    eventually("an open proposal", WAIT, || async {
        proposals_for(system, need_id).await.into_iter().find(|p| {
            matches!(
                p.status(),
                pb::ProposalStatus::Proposed | pb::ProposalStatus::AwaitingApproval
            )
        })
    })
    .await
}

async fn committed(system: &TestSystem) -> Vec<i32> {
    let matching_db = system.database(ServiceName::Matching).await;
    sqlx::query_scalar("SELECT committed FROM resource ORDER BY id")
        .fetch_all(&matching_db)
        .await
        .unwrap()
}

fn coordinators() -> notifications_pb::recipient::Kind {
    notifications_pb::recipient::Kind::CoordinatorsOfMunicipality(MUNICIPALITY.into())
}

/// A second ゴミ出し resource, once matching holds it.
async fn second_resource(system: &TestSystem, fixture: &Fixture) -> String {
    let second = system
        .registry()
        .create_resource(new_resource(
            &fixture.organization_id,
            "ゴミ出しボランティア",
            "ゴミ出し",
            &[&fixture.municipality_id],
            1,
        ))
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    let matching_db = system.database(ServiceName::Matching).await;
    eventually("matching to hold both resources", WAIT, || async {
        let held: i64 = sqlx::query_scalar("SELECT count(*) FROM resource")
            .fetch_one(&matching_db)
            .await
            .unwrap();
        (held == 2).then_some(())
    })
    .await;
    second.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_need_goes_to_the_next_resource_and_never_back() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let second = second_resource(&system, &fixture).await;
    let need = submit_need(&system, "loop-1", &fixture.daily_life_area_id, "ゴミ出し").await;
    let first = open_proposal(&system, &need.id).await;
    wait_for_status(&system, &need.id, intake_pb::NeedStatus::Proposed).await;
    let mut matching = system.matching();

    // A rejection needs a reason.
    let status = matching
        .reject_proposal(pb::RejectProposalRequest {
            proposal_id: first.id.clone(),
            reason: " ".into(),
            responded_by: "NPO 田村".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["reason"]);
    let rejected = matching
        .reject_proposal(pb::RejectProposalRequest {
            proposal_id: first.id.clone(),
            reason: "今月は担い手が見つからない".into(),
            responded_by: "NPO 田村".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        rejected.proposal.as_ref().unwrap().status(),
        pb::ProposalStatus::Rejected
    );
    assert_eq!(
        rejected.proposal.as_ref().unwrap().reason,
        "今月は担い手が見つからない"
    );
    let next = rejected.next.expect("the other resource takes the need");
    assert_ne!(next.resource_id, first.resource_id);
    assert!([fixture.resource_id.as_str(), second.as_str()].contains(&next.resource_id.as_str()));
    // The released place is free again; the new proposal holds the other one.
    assert_eq!(committed(&system).await.iter().sum::<i32>(), 1);

    // The second declines too: nothing left that has not declined; the need is unmatched.
    let last = matching
        .reject_proposal(pb::RejectProposalRequest {
            proposal_id: next.id.clone(),
            reason: "対象地域の担当者が不在".into(),
            responded_by: "社協 佐々木".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(last.next.is_none());
    assert_eq!(committed(&system).await, [0, 0]);
    // Answering a rejected proposal is refused, naming where it stands.
    let status = matching
        .accept_proposal(pb::AcceptProposalRequest {
            proposal_id: next.id.clone(),
            responded_by: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("辞退"), "{}", status.message());
    // Intake: back to マッチング中; the coordinators heard of both answers and of the need.
    wait_for_status(&system, &need.id, intake_pb::NeedStatus::Matching).await;
    let heard = eventually("the coordinators' notifications", WAIT, || async {
        let all = notifications_of(&system, coordinators()).await;
        let about: Vec<_> = all.into_iter().filter(|n| n.need_id == need.id).collect();
        (about.len() >= 3).then_some(about)
    })
    .await;
    assert_eq!(
        heard.iter().filter(|n| n.title.contains("お断り")).count(),
        2,
        "{heard:?}"
    );
    assert!(
        heard.iter().any(|n| n.title.contains("見つかりません")),
        "{heard:?}"
    );
    // No notification repeats the reason typed by the provider (it stays in matching).
    assert!(heard.iter().all(|n| !n.body.contains("担い手が見つからない")));
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_approves_first_and_an_acceptance_reaches_intake() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let mut matching = system.matching();
    let settings = matching
        .set_matching_settings(pb::MatchingSettings {
            municipality_code: MUNICIPALITY.into(),
            require_approval: true,
            proposal_ttl_seconds: 0,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(settings.proposal_ttl_seconds, 7 * 24 * 3600);
    let need = submit_need(&system, "approve-1", &fixture.daily_life_area_id, "ゴミ出し").await;
    let waiting = open_proposal(&system, &need.id).await;
    assert_eq!(waiting.status(), pb::ProposalStatus::AwaitingApproval);
    assert!(waiting.sent_at.is_none());
    // The coordinators are asked; the provider hears nothing yet, and cannot accept.
    eventually("the coordinators asked to approve", WAIT, || async {
        let all = notifications_of(&system, coordinators()).await;
        all.iter()
            .any(|n| n.need_id == need.id && n.title.contains("承認待ち"))
            .then_some(())
    })
    .await;
    let status = matching
        .accept_proposal(pb::AcceptProposalRequest {
            proposal_id: waiting.id.clone(),
            responded_by: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("承認待ち"), "{}", status.message());

    let approved = matching
        .approve_proposal(pb::ApproveProposalRequest {
            proposal_id: waiting.id.clone(),
            approved_by: "西部圏域SC 佐藤".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(approved.status(), pb::ProposalStatus::Proposed);
    assert!(approved.expires_at.is_some());
    assert_eq!(approved.approved_by, "西部圏域SC 佐藤");
    wait_for_notification(&system, &fixture.organization_id, &need.id).await;

    let accepted = matching
        .accept_proposal(pb::AcceptProposalRequest {
            proposal_id: waiting.id.clone(),
            responded_by: "NPO 田村".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(accepted.status(), pb::ProposalStatus::Accepted);
    // The place stays taken; intake's need is accepted, its history says matching moved it.
    assert_eq!(committed(&system).await, [1]);
    wait_for_status(&system, &need.id, intake_pb::NeedStatus::Accepted).await;
    let history = system
        .intake()
        .list_need_history(intake_pb::ListNeedHistoryRequest {
            need_id: need.id.clone(),
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .changes;
    let steps: Vec<_> = history.iter().map(|c| c.to()).collect();
    assert_eq!(
        steps,
        [
            intake_pb::NeedStatus::Submitted,
            intake_pb::NeedStatus::Proposed,
            intake_pb::NeedStatus::Accepted
        ]
    );
    assert!(history[2].changed_by.contains("matching"), "{:?}", history[2]);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_proposal_expires_and_releases_its_place() {
    let system = TestSystem::start_with(Options {
        env: vec![("TSUNAGU_MATCHING_EXPIRY_SWEEP_SECONDS", "1".into())],
        ..Options::default()
    })
    .await;
    let fixture = Fixture::create(&system, 1).await;
    system
        .matching()
        .set_matching_settings(pb::MatchingSettings {
            municipality_code: MUNICIPALITY.into(),
            require_approval: false,
            proposal_ttl_seconds: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    let need = submit_need(&system, "expire-1", &fixture.daily_life_area_id, "ゴミ出し").await;
    let proposal = open_proposal(&system, &need.id).await;
    let expired = eventually("the proposal expired", WAIT, || async {
        proposals_for(&system, &need.id)
            .await
            .into_iter()
            .find(|p| p.id == proposal.id && p.status() == pb::ProposalStatus::Expired)
    })
    .await;
    assert!(expired.reason.contains("期限"), "{}", expired.reason);
    // The only resource let it expire: nothing left, the place is free, intake matches again.
    assert_eq!(committed(&system).await, [0]);
    wait_for_status(&system, &need.id, intake_pb::NeedStatus::Matching).await;
    eventually("the coordinators told", WAIT, || async {
        let all = notifications_of(&system, coordinators()).await;
        all.iter()
            .any(|n| n.need_id == need.id && n.title.contains("回答しません"))
            .then_some(())
    })
    .await;
    system.shutdown().await;
}
