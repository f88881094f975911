//! Small helpers shared by the system tests.

use std::time::Duration;

use tonic::Code;
use tonic_types::StatusExt;

use tsunagu_proto::intake::v1 as intake_pb;
use tsunagu_proto::matching::v1 as matching_pb;
use tsunagu_proto::notifications::v1 as notifications_pb;
use tsunagu_tests::{MUNICIPALITY, TestSystem, eventually};

pub const WAIT: Duration = Duration::from_secs(30);

pub async fn submit_need(
    system: &TestSystem,
    request_id: &str,
    area_id: &str,
    category: &str,
) -> intake_pb::Need {
    system
        .intake()
        .submit_need(intake_pb::SubmitNeedRequest {
            request_id: request_id.into(),
            municipality_code: MUNICIPALITY.into(),
            area_id: area_id.into(),
            category: category.into(),
            urgency: intake_pb::Urgency::Routine.into(),
            resident_id: String::new(),
            consent: Some(tsunagu_tests::consent_to_share()),
            ..Default::default()
        })
        .await
        .expect("need accepted")
        .into_inner()
        .need
        .expect("need in response")
}

/// A need recorded without consent to share it: matching counts it and proposes it to nobody,
/// so its status moves only by the test's own transitions (matching's proposals would move
/// it too, through intake's consumer).
pub async fn submit_unshared(
    system: &TestSystem,
    request_id: &str,
    area_id: &str,
    category: &str,
) -> intake_pb::Need {
    system
        .intake()
        .submit_need(intake_pb::SubmitNeedRequest {
            request_id: request_id.into(),
            municipality_code: MUNICIPALITY.into(),
            area_id: area_id.into(),
            category: category.into(),
            ..Default::default()
        })
        .await
        .expect("need accepted")
        .into_inner()
        .need
        .expect("need in response")
}

pub async fn proposals_for(system: &TestSystem, need_id: &str) -> Vec<matching_pb::Proposal> {
    system
        .matching()
        .list_proposals(matching_pb::ListProposalsRequest {
            municipality_code: MUNICIPALITY.into(),
            need_id: need_id.into(),
            page: None,
            ..Default::default()
        })
        .await
        .expect("list proposals")
        .into_inner()
        .proposals
}

pub async fn notifications_of(
    system: &TestSystem,
    recipient: notifications_pb::recipient::Kind,
) -> Vec<notifications_pb::Notification> {
    system
        .notifications()
        .list_notifications(notifications_pb::ListNotificationsRequest {
            recipient: Some(notifications_pb::Recipient {
                kind: Some(recipient),
            }),
            page: None,
            unread_only: false,
        })
        .await
        .expect("list notifications")
        .into_inner()
        .notifications
}

pub fn organization(id: &str) -> notifications_pb::recipient::Kind {
    notifications_pb::recipient::Kind::OrganizationId(id.to_string())
}

/// Waits until the provider has a notification about `need_id`, and returns all of them.
pub async fn wait_for_notification(
    system: &TestSystem,
    organization_id: &str,
    need_id: &str,
) -> Vec<notifications_pb::Notification> {
    eventually("the provider's notification", WAIT, || async {
        let all = notifications_of(system, organization(organization_id)).await;
        let about: Vec<_> = all.into_iter().filter(|n| n.need_id == need_id).collect();
        (!about.is_empty()).then_some(about)
    })
    .await
}

/// One call to each service that checks keys with the registry, so each has admitted the
/// default key once (as a client that was working before an outage would have).
pub async fn warm_up_keys(system: &TestSystem) {
    system
        .intake()
        .list_needs(intake_pb::ListNeedsRequest {
            municipality_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .expect("intake admits the key");
    proposals_for(system, "").await;
    notifications_of(system, organization(&uuid::Uuid::nil().to_string())).await;
}

/// The fields an INVALID_ARGUMENT status names in its `google.rpc.BadRequest` details.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let bad_request = details.bad_request().expect("google.rpc.BadRequest details");
    bad_request
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect()
}
