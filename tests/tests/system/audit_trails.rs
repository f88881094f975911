//! Every service keeps an audit trail of reads of personal data and of changes, served by
//! `tsunagu.audit.v1.AuditService` on its own port to the municipality's administrator
//! (issue 7): the registry (helpers' records), matching (answers, settings) and
//! notifications (subscriptions with people's addresses, replays, templates).

use tonic::Code;
use tsunagu_proto::audit::v1 as pb;
use tsunagu_proto::audit::v1::audit_service_client::AuditServiceClient;
use tsunagu_proto::matching::v1 as matching_pb;
use tsunagu_proto::notifications::v1 as notifications_pb;
use tsunagu_proto::registry::v1 as registry_pb;
use tsunagu_proto::registry::v1::community_service_client::CommunityServiceClient;
use tsunagu_runtime::ServiceName;
use tsunagu_runtime::auth::Role;
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem};

use crate::support::*;

async fn trail(
    system: &TestSystem,
    service: ServiceName,
    key: &str,
) -> Result<Vec<pb::AuditEntry>, tonic::Status> {
    AuditServiceClient::new(system.channel_with_key(service, key))
        .list_audit_entries(pb::ListAuditEntriesRequest {
            municipality_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .map(|response| response.into_inner().entries)
}

fn has(entries: &[pb::AuditEntry], method: &str, action: &str, object_id: &str) -> bool {
    entries
        .iter()
        .any(|e| e.method == method && e.action == action && e.object_id == object_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_of_personal_data_and_changes_are_on_record_in_every_service() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 3).await;
    let city = system.keys.municipal_admin.clone();
    let gifu = system.key(Role::MunicipalAdmin, "212016", None).await;
    // A key made by the city's administrator through the API is on its trail.
    let made = tsunagu_proto::access::v1::access_service_client::AccessServiceClient::new(
        system.channel_with_key(ServiceName::Registry, &city),
    )
    .create_api_key(tsunagu_proto::access::v1::CreateApiKeyRequest {
        name: "監査のテスト".into(),
        role: Role::Coordinator.to_proto().into(),
        scope_code: MUNICIPALITY.into(),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
    .api_key
    .unwrap();

    // The registry: a helper created (by the prefecture's administrator) and read (by the city).
    let helper = CommunityServiceClient::new(system.grpc_channel(ServiceName::Registry))
        .create_helper(registry_pb::CreateHelperRequest {
            helper: Some(registry_pb::Helper {
                organization_id: fixture.organization_id.clone(),
                name: "山田 花子".into(),
                kind: registry_pb::HelperKind::Individual.into(),
                status: registry_pb::HelperStatus::Prospective.into(),
                contact_points: vec![registry_pb::ContactPoint {
                    kind: registry_pb::ContactKind::Phone.into(),
                    value: "090-1234-5678".into(),
                    label: "携帯".into(),
                }],
                ..Default::default()
            }),
            created_by: "西部圏域SC 佐藤".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .helper
        .unwrap();
    CommunityServiceClient::new(system.channel_with_key(ServiceName::Registry, &city))
        .get_helper(registry_pb::GetHelperRequest {
            id: helper.id.clone(),
        })
        .await
        .unwrap();
    // A change to the public record is on record too, with who made it (the fixture's
    // organisation, created through the API by the prefecture's administrator).
    let registry_trail = trail(&system, ServiceName::Registry, &city).await.unwrap();
    let created = registry_trail
        .iter()
        .find(|e| e.method == "CreateOrganization" && e.object_id == fixture.organization_id)
        .expect("the organisation's creation is on record");
    assert_eq!(
        (created.action.as_str(), created.actor_role.as_str()),
        ("change", "prefecture_admin")
    );
    assert!(
        has(&registry_trail, "CreateHelper", "change", &helper.id),
        "{registry_trail:?}"
    );
    assert!(
        has(&registry_trail, "CreateApiKey", "change", &made.id),
        "{registry_trail:?}"
    );
    assert!(
        has(&registry_trail, "GetHelper", "read_personal_data", &helper.id),
        "{registry_trail:?}"
    );
    let read = registry_trail.iter().find(|e| e.method == "GetHelper").unwrap();
    assert_eq!(read.actor_role, "municipal_admin");
    assert!(!read.actor_key.is_empty() && !read.client.is_empty(), "{read:?}");
    // Never the data itself.
    assert!(registry_trail.iter().all(|e| !e.detail.contains("090")));

    // Matching: the answer to a proposal.
    let need = submit_need(&system, "audited", &fixture.daily_life_area_id, "ゴミ出し").await;
    let proposal = eventually_proposal(&system, &need.id).await;
    system
        .matching()
        .accept_proposal(matching_pb::AcceptProposalRequest {
            proposal_id: proposal.id.clone(),
            responded_by: "ささえあい 田村".into(),
        })
        .await
        .unwrap();
    let matching_trail = trail(&system, ServiceName::Matching, &city).await.unwrap();
    assert!(
        has(&matching_trail, "AcceptProposal", "change", &proposal.id),
        "{matching_trail:?}"
    );

    // Notifications: a proxy's subscription (a person's address) created and listed.
    let subscription = system
        .notifications()
        .create_subscription(notifications_pb::CreateSubscriptionRequest {
            subscription: Some(notifications_pb::Subscription {
                municipality_code: MUNICIPALITY.into(),
                recipient: Some(notifications_pb::Recipient {
                    kind: Some(notifications_pb::recipient::Kind::NeedId(need.id.clone())),
                }),
                subscriber_kind: notifications_pb::SubscriberKind::Proxy.into(),
                subscriber_name: "民生委員 鈴木".into(),
                channel: "webhook".into(),
                address: "https://minsei.example.jp/hook".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap();
    system
        .notifications()
        .list_subscriptions(notifications_pb::ListSubscriptionsRequest {
            municipality_code: MUNICIPALITY.into(),
            page: None,
        })
        .await
        .unwrap();
    let notifications_trail = trail(&system, ServiceName::Notifications, &city).await.unwrap();
    assert!(has(
        &notifications_trail,
        "CreateSubscription",
        "change",
        &subscription.id
    ));
    assert!(has(
        &notifications_trail,
        "ListSubscriptions",
        "read_personal_data",
        &subscription.id
    ));

    // Another municipality's administrator reads none of it; a coordinator neither.
    let coordinator = system.key(Role::Coordinator, MUNICIPALITY, None).await;
    for service in [
        ServiceName::Registry,
        ServiceName::Matching,
        ServiceName::Notifications,
    ] {
        for key in [&gifu, &coordinator] {
            let refused = trail(&system, service, key).await.unwrap_err();
            assert_eq!(refused.code(), Code::PermissionDenied, "{service:?}");
        }
    }
    // The export is a CSV with a header row.
    let exported = AuditServiceClient::new(system.channel_with_key(ServiceName::Registry, &city))
        .export_audit_entries(pb::ListAuditEntriesRequest {
            municipality_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let text = String::from_utf8(exported.content).unwrap();
    assert!(text.contains("GetHelper"), "{text}");
    system.shutdown().await;
}

async fn eventually_proposal(system: &TestSystem, need_id: &str) -> matching_pb::Proposal {
    tsunagu_tests::eventually("a proposal", WAIT, || async {
        proposals_for(system, need_id).await.into_iter().next()
    })
    .await
}
