//! No municipality sees another's residents (issue 7): every intake call about 大垣市's needs
//! and residents, made with a key of 岐阜市 (each of its roles), of the prefecture (which sees
//! aggregates, never residents) or of a provider, is refused with PERMISSION_DENIED — the same
//! answer as for a need that does not exist — while 大垣市's own coordinator is served.

use prost_types::FieldMask;
use tonic::Code;
use tsunagu_proto::intake::v1 as pb;
use tsunagu_proto::intake::v1::intake_service_client::IntakeServiceClient;
use tsunagu_runtime::ServiceName;
use tsunagu_runtime::auth::Role;
use tsunagu_tests::{Fixture, KeyedChannel, MUNICIPALITY, PREFECTURE, TestSystem};

/// 岐阜市, another municipality of 岐阜県.
const GIFU_CITY: &str = "212016";

type Intake = IntakeServiceClient<KeyedChannel>;

/// Every notifications call that reaches 大垣市's inboxes, subscriptions (people's addresses)
/// or audit trail, with its status code.
async fn notification_attempts(system: &TestSystem, key: &str) -> Vec<(&'static str, Code)> {
    use tsunagu_proto::audit::v1 as audit_pb;
    use tsunagu_proto::audit::v1::audit_service_client::AuditServiceClient;
    use tsunagu_proto::notifications::v1 as notifications_pb;
    use tsunagu_proto::notifications::v1::notifications_service_client::NotificationsServiceClient;
    let code = |result: Result<(), tonic::Status>| result.err().map_or(Code::Ok, |status| status.code());
    let coordinators = || {
        Some(notifications_pb::Recipient {
            kind: Some(notifications_pb::recipient::Kind::CoordinatorsOfMunicipality(
                MUNICIPALITY.into(),
            )),
        })
    };
    let mut notifications =
        NotificationsServiceClient::new(system.channel_with_key(ServiceName::Notifications, key));
    let mut answers = Vec::new();
    let list = notifications
        .list_notifications(notifications_pb::ListNotificationsRequest {
            recipient: coordinators(),
            ..Default::default()
        })
        .await
        .map(|_| ());
    answers.push(("ListNotifications", code(list)));
    let stream = notifications
        .subscribe_notifications(notifications_pb::SubscribeNotificationsRequest {
            recipient: coordinators(),
            cursor: String::new(),
        })
        .await
        .map(|_| ());
    answers.push(("SubscribeNotifications", code(stream)));
    let subscribe = notifications
        .create_subscription(notifications_pb::CreateSubscriptionRequest {
            subscription: Some(tsunagu_tests::municipal_system_webhook(
                "https://example.jp/hook",
                "よその市",
                &[],
            )),
        })
        .await
        .map(|_| ());
    answers.push(("CreateSubscription", code(subscribe)));
    let audit = AuditServiceClient::new(system.channel_with_key(ServiceName::Notifications, key))
        .list_audit_entries(audit_pb::ListAuditEntriesRequest {
            municipality_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .map(|_| ());
    answers.push(("ListAuditEntries", code(audit)));
    let listed = notifications
        .list_subscriptions(notifications_pb::ListSubscriptionsRequest {
            municipality_code: MUNICIPALITY.into(),
            page: None,
        })
        .await;
    match listed {
        // A provider lists its own organisation's subscriptions (none here), whatever it names.
        Ok(listed) => assert!(listed.into_inner().subscriptions.is_empty()),
        Err(status) => answers.push(("ListSubscriptions", status.code())),
    }
    answers
}

/// Every intake call that reaches a need or resident of 大垣市, with its status code.
async fn attempts(
    intake: &mut Intake,
    need_id: &str,
    resident_id: &str,
    area_id: &str,
) -> Vec<(&'static str, Code)> {
    let code = |result: Result<(), tonic::Status>| result.err().map_or(Code::Ok, |status| status.code());
    let mut answers = Vec::new();
    let get = intake
        .get_need(pb::GetNeedRequest {
            id: need_id.into(),
            view: pb::NeedView::Full.into(),
        })
        .await
        .map(|_| ());
    answers.push(("GetNeed", code(get)));
    let list = intake
        .list_needs(pb::ListNeedsRequest {
            municipality_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .map(|_| ());
    answers.push(("ListNeeds", code(list)));
    let update = intake
        .update_need(pb::UpdateNeedRequest {
            need: Some(pb::Need {
                id: need_id.into(),
                urgency: pb::Urgency::Urgent.into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["urgency".into()],
            }),
            ..Default::default()
        })
        .await
        .map(|_| ());
    answers.push(("UpdateNeed", code(update)));
    let transition = intake
        .transition_need(pb::TransitionNeedRequest {
            need_id: need_id.into(),
            to: pb::NeedStatus::OnHold.into(),
            reason: "試し".into(),
            changed_by: "よその人".into(),
            ..Default::default()
        })
        .await
        .map(|_| ());
    answers.push(("TransitionNeed", code(transition)));
    let watch = intake
        .watch_need(pb::WatchNeedRequest {
            need_id: need_id.into(),
            after_version: 0,
        })
        .await
        .map(|_| ());
    answers.push(("WatchNeed", code(watch)));
    let history = intake
        .list_need_history(pb::ListNeedHistoryRequest {
            need_id: need_id.into(),
            ..Default::default()
        })
        .await
        .map(|_| ());
    answers.push(("ListNeedHistory", code(history)));
    let consents = intake
        .list_consents(pb::ListConsentsRequest {
            need_id: need_id.into(),
        })
        .await
        .map(|_| ());
    answers.push(("ListConsents", code(consents)));
    let withdraw = intake
        .withdraw_consent(pb::WithdrawConsentRequest {
            need_id: need_id.into(),
            withdrawn_by: "よその人".into(),
            reason: "試し".into(),
        })
        .await
        .map(|_| ());
    answers.push(("WithdrawConsent", code(withdraw)));
    let contact = intake
        .get_shared_contact(pb::GetSharedContactRequest {
            need_id: need_id.into(),
            ..Default::default()
        })
        .await
        .map(|_| ());
    answers.push(("GetSharedContact", code(contact)));
    let resident = intake
        .get_resident(pb::GetResidentRequest {
            id: resident_id.into(),
        })
        .await
        .map(|_| ());
    answers.push(("GetResident", code(resident)));
    let submit = intake
        .submit_need(pb::SubmitNeedRequest {
            request_id: format!("intruder-{}", uuid::Uuid::now_v7()),
            municipality_code: MUNICIPALITY.into(),
            area_id: area_id.into(),
            category: "ゴミ出し".into(),
            ..Default::default()
        })
        .await
        .map(|_| ());
    answers.push(("SubmitNeed", code(submit)));
    let import = intake
        .import_needs_sheet(pb::ImportNeedsSheetRequest {
            municipality_code: MUNICIPALITY.into(),
            content: b"x".to_vec(),
            ..Default::default()
        })
        .await
        .map(|_| ());
    answers.push(("ImportNeedsSheet", code(import)));
    let follow_up = intake
        .list_needs_for_follow_up(pb::ListNeedsForFollowUpRequest {
            municipality_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .map(|_| ());
    answers.push(("ListNeedsForFollowUp", code(follow_up)));
    let issues = intake
        .list_area_issues(pb::ListAreaIssuesRequest {
            municipality_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .map(|_| ());
    answers.push(("ListAreaIssues", code(issues)));
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_of_another_tenant_reaches_a_municipalitys_residents() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let mut city = system.intake();
    let resident = city
        .register_resident(pb::RegisterResidentRequest {
            request_id: "tenancy-resident".into(),
            municipality_code: MUNICIPALITY.into(),
            personal: Some(pb::PersonalData {
                name: "鈴木 一郎".into(),
                name_kana: "スズキ イチロウ".into(),
                ..Default::default()
            }),
            registered_by: "地域包括 山本".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .resident
        .unwrap();
    let need = city
        .submit_need(pb::SubmitNeedRequest {
            request_id: "tenancy-need".into(),
            municipality_code: MUNICIPALITY.into(),
            area_id: fixture.daily_life_area_id.clone(),
            category: "ゴミ出し".into(),
            resident_id: resident.id.clone(),
            notes: "玄関の鍵は植木鉢の下".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .need
        .unwrap();

    let outsiders = [
        (
            "岐阜市 管理者",
            system.key(Role::MunicipalAdmin, GIFU_CITY, None).await,
        ),
        (
            "岐阜市 コーディネーター",
            system.key(Role::Coordinator, GIFU_CITY, None).await,
        ),
        (
            "岐阜市 連携システム",
            system.key(Role::Integration, GIFU_CITY, None).await,
        ),
        (
            "岐阜県 管理者",
            system.key(Role::PrefectureAdmin, PREFECTURE, None).await,
        ),
        (
            "岐阜県 分析担当",
            system.key(Role::PrefectureAnalyst, PREFECTURE, None).await,
        ),
        (
            "大垣市の提供団体（受諾前）",
            system
                .key(
                    Role::Provider,
                    MUNICIPALITY,
                    Some(fixture.organization_id.parse().unwrap()),
                )
                .await,
        ),
    ];
    for (who, key) in &outsiders {
        let mut intake = IntakeServiceClient::new(system.channel_with_key(ServiceName::Intake, key));
        for (call, code) in attempts(&mut intake, &need.id, &resident.id, &fixture.daily_life_area_id).await {
            assert_eq!(code, Code::PermissionDenied, "{who}: {call}");
        }
        for (call, code) in notification_attempts(&system, key).await {
            assert_eq!(code, Code::PermissionDenied, "{who}: {call}");
        }
    }

    // A need that does not exist is refused the same way: nobody learns what exists.
    let mut outsider =
        IntakeServiceClient::new(system.channel_with_key(ServiceName::Intake, &outsiders[0].1));
    let unknown = outsider
        .get_need(pb::GetNeedRequest {
            id: uuid::Uuid::now_v7().to_string(),
            view: 0,
        })
        .await
        .unwrap_err();
    let foreign = outsider
        .get_need(pb::GetNeedRequest {
            id: need.id.clone(),
            view: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(
        (unknown.code(), unknown.message()),
        (foreign.code(), foreign.message())
    );

    // 大垣市's own coordinator reads the need in full and the resident.
    let coordinator = system.key(Role::Coordinator, MUNICIPALITY, None).await;
    let mut own = IntakeServiceClient::new(system.channel_with_key(ServiceName::Intake, &coordinator));
    let full = own
        .get_need(pb::GetNeedRequest {
            id: need.id.clone(),
            view: pb::NeedView::Full.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .need
        .unwrap();
    assert_eq!(full.notes, "玄関の鍵は植木鉢の下");
    let read = own
        .get_resident(pb::GetResidentRequest {
            id: resident.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .resident
        .unwrap();
    assert_eq!(read.personal.unwrap().name, "鈴木 一郎");
    // Nothing the outsiders tried changed the need.
    let after = own
        .get_need(pb::GetNeedRequest {
            id: need.id.clone(),
            view: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .need
        .unwrap();
    assert_eq!((after.version, after.urgency()), (need.version, need.urgency()));

    // The audit trail: the coordinator's reads of personal data and the admin's changes are on
    // record with role and key; the outsiders read nothing, so nothing of theirs is.
    let audit_request = || pb::ListAuditEntriesRequest {
        municipality_code: MUNICIPALITY.into(),
        ..Default::default()
    };
    let entries = city
        .list_audit_entries(audit_request())
        .await
        .unwrap()
        .into_inner()
        .entries;
    let coordinator_prefix = coordinator.split('_').nth(1).unwrap();
    let reads: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e.action == "read_personal_data")
        .map(|e| (e.method.as_str(), e.actor_key.as_str()))
        .collect();
    assert_eq!(
        reads,
        [
            ("GetResident", coordinator_prefix),
            ("GetNeed", coordinator_prefix)
        ],
        "newest first: {entries:?}"
    );
    let read_resident = entries.iter().find(|e| e.method == "GetResident").unwrap();
    assert_eq!(
        (
            read_resident.actor_role.as_str(),
            read_resident.object_id.as_str()
        ),
        ("coordinator", resident.id.as_str())
    );
    assert!(!read_resident.client.is_empty(), "the client is named");
    let changes: Vec<&str> = entries
        .iter()
        .filter(|e| e.action == "change")
        .map(|e| e.method.as_str())
        .collect();
    assert_eq!(changes, ["SubmitNeed", "RegisterResident"]);
    assert!(
        !format!("{entries:?}").contains("鈴木") && !format!("{entries:?}").contains("植木鉢"),
        "no personal data in the trail"
    );
    let csv = city
        .export_audit_entries(audit_request())
        .await
        .unwrap()
        .into_inner();
    let text = String::from_utf8(csv.content).unwrap();
    assert!(
        text.trim_start_matches('\u{feff}').starts_with("日時,") && text.contains("GetResident"),
        "{text}"
    );
    // Only the municipality's administrator reads it.
    for key in [&coordinator, &outsiders[0].1] {
        let refused = IntakeServiceClient::new(system.channel_with_key(ServiceName::Intake, key))
            .list_audit_entries(audit_request())
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
    // The second wall: the database itself. Intake's pool acts as its role with the tenant
    // of each task; the same queries as another municipality's tenant see and change nothing.
    let guarded = tsunagu_runtime::db::connect_guarded(
        &system.database_url,
        ServiceName::Intake.as_str(),
        1,
        tsunagu_intake::DATABASE_ROLE,
    )
    .await
    .unwrap();
    let count = |tenant: Option<&'static str>| {
        let pool = guarded.clone();
        async move {
            let query = async {
                let needs: i64 = sqlx::query_scalar("SELECT count(*) FROM need")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                let residents: i64 = sqlx::query_scalar("SELECT count(*) FROM resident")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                let history: i64 = sqlx::query_scalar("SELECT count(*) FROM need_status_history")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                (needs, residents, history > 0)
            };
            match tenant {
                Some(tenant) => tsunagu_runtime::db::as_tenant(tenant, query).await,
                None => query.await,
            }
        }
    };
    assert_eq!(
        count(Some(MUNICIPALITY)).await,
        (1, 1, true),
        "its own municipality"
    );
    assert_eq!(
        count(Some(GIFU_CITY)).await,
        (0, 0, false),
        "another municipality sees nothing"
    );
    assert_eq!(count(None).await, (0, 0, false), "no tenant, no rows");
    let moved = tsunagu_runtime::db::as_tenant(GIFU_CITY, async {
        sqlx::query("UPDATE need SET urgency = 'urgent'")
            .execute(&guarded)
            .await
            .unwrap()
            .rows_affected()
    })
    .await;
    assert_eq!(moved, 0, "nor changes it");
    let smuggled = tsunagu_runtime::db::as_tenant(GIFU_CITY, async {
        sqlx::query("UPDATE need SET municipality_code = '212016'")
            .execute(&guarded)
            .await
            .unwrap()
            .rows_affected()
    })
    .await;
    assert_eq!(smuggled, 0);
    let planted = tsunagu_runtime::db::as_tenant(GIFU_CITY, async {
        sqlx::query(
            "INSERT INTO area_issue (id, municipality_code, source, area_id, category, count, estimated, period_from,
                                     period_to, request_id, recorded_by)
             VALUES (gen_random_uuid(), '212024', 'remark', gen_random_uuid(), 'life', 1, false, now(), now(), 'x', 'x')",
        )
        .execute(&guarded)
        .await
    })
    .await;
    let refusal = planted
        .expect_err("a row of another municipality cannot be written")
        .to_string();
    assert!(refusal.contains("row-level security"), "{refusal}");
    // The role owns nothing and is no superuser: it cannot lift the wall.
    let lifted = sqlx::query("ALTER TABLE need DISABLE ROW LEVEL SECURITY")
        .execute(&guarded)
        .await;
    let refusal = lifted.expect_err("only the owner alters a table").to_string();
    assert!(refusal.contains("owner"), "{refusal}");
    guarded.close().await;

    // Append-only, even in SQL.
    let intake_db = system.database(ServiceName::Intake).await;
    let rewrite = sqlx::query("UPDATE audit_entry SET actor_key = 'someone else'")
        .execute(&intake_db)
        .await;
    assert!(rewrite.is_err(), "{rewrite:?}");
    let erase = sqlx::query("DELETE FROM audit_entry").execute(&intake_db).await;
    assert!(erase.is_err(), "{erase:?}");
    system.shutdown().await;
}

/// Matching and notifications keep the same walls: a proposal of 大垣市 is listed, approved,
/// accepted or rejected only by 大垣市's staff or the provider it is addressed to; another
/// provider lists only its own; 岐阜市 and the prefecture's roles reach none of it (the
/// prefecture sees the gap map, an aggregate); a provider reads only its own notifications.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_settings_and_notifications_stay_with_their_tenants() {
    use tsunagu_proto::matching::v1 as matching_pb;
    use tsunagu_proto::matching::v1::matching_service_client::MatchingServiceClient;
    use tsunagu_proto::notifications::v1 as notifications_pb;
    use tsunagu_proto::notifications::v1::notifications_service_client::NotificationsServiceClient;

    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 3).await;
    let need = crate::support::submit_need(
        &system,
        "tenancy-proposal",
        &fixture.daily_life_area_id,
        "ゴミ出し",
    )
    .await;
    let proposal = tsunagu_tests::eventually("a proposal", crate::support::WAIT, || async {
        crate::support::proposals_for(&system, &need.id)
            .await
            .into_iter()
            .next()
    })
    .await;
    crate::support::wait_for_notification(&system, &fixture.organization_id, &need.id).await;

    let other_organization = system
        .registry()
        .create_organization(tsunagu_proto::registry::v1::CreateOrganizationRequest {
            municipality_code: MUNICIPALITY.into(),
            name: "別の団体".into(),
            kind: tsunagu_proto::registry::v1::OrganizationKind::Npo.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    let other_provider = system
        .key(
            Role::Provider,
            MUNICIPALITY,
            Some(other_organization.id.parse().unwrap()),
        )
        .await;
    let outsiders = [
        (
            "岐阜市 管理者",
            system.key(Role::MunicipalAdmin, GIFU_CITY, None).await,
        ),
        (
            "岐阜市 コーディネーター",
            system.key(Role::Coordinator, GIFU_CITY, None).await,
        ),
        (
            "岐阜県 分析担当",
            system.key(Role::PrefectureAnalyst, PREFECTURE, None).await,
        ),
        ("別の提供団体", other_provider.clone()),
    ];
    for (who, key) in &outsiders {
        let mut matching = MatchingServiceClient::new(system.channel_with_key(ServiceName::Matching, key));
        let listed = matching
            .list_proposals(matching_pb::ListProposalsRequest {
                municipality_code: MUNICIPALITY.into(),
                ..Default::default()
            })
            .await;
        match listed {
            // A provider lists what is addressed to it: nothing of the other's.
            Ok(listed) => assert!(
                listed.get_ref().proposals.iter().all(|p| p.id != proposal.id),
                "{who} sees another's proposal"
            ),
            Err(status) => assert_eq!(status.code(), Code::PermissionDenied, "{who}"),
        }
        let answers = [
            matching
                .approve_proposal(matching_pb::ApproveProposalRequest {
                    proposal_id: proposal.id.clone(),
                    approved_by: (*who).into(),
                })
                .await
                .map(|_| ()),
            matching
                .accept_proposal(matching_pb::AcceptProposalRequest {
                    proposal_id: proposal.id.clone(),
                    responded_by: (*who).into(),
                })
                .await
                .map(|_| ()),
            matching
                .reject_proposal(matching_pb::RejectProposalRequest {
                    proposal_id: proposal.id.clone(),
                    reason: "試し".into(),
                    responded_by: (*who).into(),
                })
                .await
                .map(|_| ()),
            matching
                .set_matching_settings(matching_pb::MatchingSettings {
                    municipality_code: MUNICIPALITY.into(),
                    require_approval: true,
                    ..Default::default()
                })
                .await
                .map(|_| ()),
        ];
        for (call, answer) in ["Approve", "Accept", "Reject", "SetMatchingSettings"]
            .iter()
            .zip(answers)
        {
            assert_eq!(
                answer.unwrap_err().code(),
                Code::PermissionDenied,
                "{who}: {call}"
            );
        }
        let inbox = NotificationsServiceClient::new(system.channel_with_key(ServiceName::Notifications, key))
            .list_notifications(notifications_pb::ListNotificationsRequest {
                recipient: Some(notifications_pb::Recipient {
                    kind: Some(notifications_pb::recipient::Kind::OrganizationId(
                        fixture.organization_id.clone(),
                    )),
                }),
                page: None,
                unread_only: false,
            })
            .await;
        match inbox {
            Ok(inbox) => assert!(
                inbox.get_ref().notifications.iter().all(|n| n.need_id != need.id),
                "{who} reads another's notification"
            ),
            Err(status) => assert_eq!(status.code(), Code::PermissionDenied, "{who}"),
        }
    }
    // 岐阜市's coordinator sees neither 大垣市's gap map nor its coordinators' inbox.
    let gifu = &outsiders[1].1;
    let refused = MatchingServiceClient::new(system.channel_with_key(ServiceName::Matching, gifu))
        .get_gap_map(matching_pb::GetGapMapRequest {
            code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = NotificationsServiceClient::new(system.channel_with_key(ServiceName::Notifications, gifu))
        .list_notifications(notifications_pb::ListNotificationsRequest {
            recipient: Some(notifications_pb::Recipient {
                kind: Some(notifications_pb::recipient::Kind::CoordinatorsOfMunicipality(
                    MUNICIPALITY.into(),
                )),
            }),
            page: None,
            unread_only: false,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    // The provider it is addressed to sees it, reads its notification and accepts it.
    let provider = system
        .key(
            Role::Provider,
            MUNICIPALITY,
            Some(fixture.organization_id.parse().unwrap()),
        )
        .await;
    let mut matching = MatchingServiceClient::new(system.channel_with_key(ServiceName::Matching, &provider));
    let own = matching
        .list_proposals(matching_pb::ListProposalsRequest {
            municipality_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .proposals;
    assert!(own.iter().any(|p| p.id == proposal.id));
    let inbox =
        NotificationsServiceClient::new(system.channel_with_key(ServiceName::Notifications, &provider))
            .list_notifications(notifications_pb::ListNotificationsRequest {
                recipient: Some(notifications_pb::Recipient {
                    kind: Some(notifications_pb::recipient::Kind::OrganizationId(
                        fixture.organization_id.clone(),
                    )),
                }),
                page: None,
                unread_only: false,
            })
            .await
            .unwrap()
            .into_inner()
            .notifications;
    assert!(inbox.iter().any(|n| n.need_id == need.id));
    let accepted = matching
        .accept_proposal(matching_pb::AcceptProposalRequest {
            proposal_id: proposal.id.clone(),
            responded_by: "ささえあい 田村".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(accepted.status(), matching_pb::ProposalStatus::Accepted);

    // Notifications' database keeps the same wall: as 岐阜市 nothing of 大垣市's is visible;
    // as the provider's organisation its own inbox is, from any municipality.
    let wall = system
        .wall(ServiceName::Notifications, tsunagu_notifications::DATABASE_ROLE)
        .await;
    const INBOX: &str = "SELECT count(*) FROM notification";
    assert!(wall.count(INBOX, MUNICIPALITY, "").await >= 1);
    assert_eq!(wall.count(INBOX, GIFU_CITY, "").await, 0);
    assert_eq!(wall.count(INBOX, "", "").await, 0);
    assert!(
        wall.count(INBOX, GIFU_CITY, &fixture.organization_id).await >= 1,
        "the provider's own inbox"
    );
    assert_eq!(wall.count(INBOX, GIFU_CITY, &other_organization.id).await, 0);
    wall.close().await;

    // Matching's too: its needs and proposals to their municipality, a provider the proposals
    // addressed to it (and their needs), the prefecture its municipalities' (the gap map).
    let wall = system
        .wall(ServiceName::Matching, tsunagu_matching::DATABASE_ROLE)
        .await;
    for table in ["need", "proposal"] {
        let query = format!("SELECT count(*) FROM {table}");
        assert!(
            wall.count(&query, MUNICIPALITY, "").await >= 1,
            "{table} as 大垣市"
        );
        assert!(wall.count(&query, PREFECTURE, "").await >= 1, "{table} as 岐阜県");
        assert_eq!(wall.count(&query, GIFU_CITY, "").await, 0, "{table} as 岐阜市");
        assert_eq!(wall.count(&query, "", "").await, 0, "{table} without a tenant");
        assert!(
            wall.count(&query, GIFU_CITY, &fixture.organization_id).await >= 1,
            "{table} of the provider's proposals"
        );
        assert_eq!(wall.count(&query, GIFU_CITY, &other_organization.id).await, 0);
    }
    // Writing another municipality's rows is refused by the database itself.
    assert_eq!(
        wall.rows_changed("UPDATE proposal SET status = 'withdrawn'", GIFU_CITY)
            .await,
        0
    );
    wall.close().await;
    system.shutdown().await;
}

/// The registry's records are the community's, read by every key, but written only by the
/// municipality's staff and the prefecture's administrator (the official areas by the
/// latter alone); a provider edits its own resources; a helper's record, with its contact
/// details, is read only by those who may write it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_is_read_by_all_and_written_by_its_municipality() {
    use tsunagu_proto::registry::v1 as registry_pb;
    use tsunagu_proto::registry::v1::community_service_client::CommunityServiceClient;
    use tsunagu_proto::registry::v1::registry_service_client::RegistryServiceClient;

    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 3).await;
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
    let registry_as =
        |key: &str| RegistryServiceClient::new(system.channel_with_key(ServiceName::Registry, key));
    let community_as =
        |key: &str| CommunityServiceClient::new(system.channel_with_key(ServiceName::Registry, key));
    let code = |result: Result<(), tonic::Status>| result.err().map_or(Code::Ok, |status| status.code());

    let gifu = system.key(Role::Coordinator, GIFU_CITY, None).await;
    let mut registry = registry_as(&gifu);
    let mut community = community_as(&gifu);
    // Reads of the community's records: open.
    let read = registry
        .get_resource(registry_pb::GetResourceRequest {
            id: fixture.resource_id.clone(),
            view: registry_pb::ResourceView::Unspecified.into(),
        })
        .await
        .map(|_| ());
    assert_eq!(code(read), Code::Ok);
    let confidential = registry
        .get_resource(registry_pb::GetResourceRequest {
            id: fixture.resource_id.clone(),
            view: registry_pb::ResourceView::Full.into(),
        })
        .await
        .map(|_| ());
    assert_eq!(code(confidential), Code::PermissionDenied);
    // Writes in 大垣市, its helpers' records and confidential exports: refused.
    let attempts = [
        (
            "CreateOrganization",
            registry
                .create_organization(registry_pb::CreateOrganizationRequest {
                    municipality_code: MUNICIPALITY.into(),
                    name: "よその団体".into(),
                    kind: registry_pb::OrganizationKind::Npo.into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
        ),
        (
            "CreateArea",
            registry
                .create_area(registry_pb::CreateAreaRequest {
                    kind: registry_pb::AreaKind::DailyLifeArea.into(),
                    name: "よその圏域".into(),
                    parent_id: fixture.municipality_id.clone(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
        ),
        (
            "DeleteResource",
            registry
                .delete_resource(registry_pb::DeleteResourceRequest {
                    id: fixture.resource_id.clone(),
                    reason: "試し".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
        ),
        (
            "ExportResources (confidential)",
            registry
                .export_resources(registry_pb::ExportResourcesRequest {
                    municipality_code: MUNICIPALITY.into(),
                    include_confidential: true,
                    ..Default::default()
                })
                .await
                .map(|_| ()),
        ),
        (
            "ImportOfficialAreas",
            registry
                .import_official_areas(registry_pb::ImportOfficialAreasRequest {
                    csv: b"x".to_vec(),
                    dry_run: true,
                })
                .await
                .map(|_| ()),
        ),
        (
            "GetHelper",
            community
                .get_helper(registry_pb::GetHelperRequest {
                    id: helper.id.clone(),
                })
                .await
                .map(|_| ()),
        ),
        (
            "ListHelpers",
            community
                .list_helpers(registry_pb::ListHelpersRequest {
                    municipality_code: MUNICIPALITY.into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
        ),
    ];
    for (call, answer) in attempts {
        assert_eq!(
            code(answer),
            Code::PermissionDenied,
            "岐阜市's coordinator: {call}"
        );
    }

    // 大垣市's coordinator creates a daily-life area in its city, but not an official area.
    let own = system.key(Role::Coordinator, MUNICIPALITY, None).await;
    let created = registry_as(&own)
        .create_area(registry_pb::CreateAreaRequest {
            kind: registry_pb::AreaKind::DailyLifeArea.into(),
            name: "北部圏域".into(),
            parent_id: fixture.municipality_id.clone(),
            ..Default::default()
        })
        .await
        .map(|_| ());
    assert_eq!(code(created), Code::Ok);
    let official = registry_as(&own)
        .create_area(registry_pb::CreateAreaRequest {
            kind: registry_pb::AreaKind::Municipality.into(),
            code: GIFU_CITY.into(),
            parent_id: fixture.prefecture_id.clone(),
            ..Default::default()
        })
        .await
        .map(|_| ());
    assert_eq!(code(official), Code::PermissionDenied);

    // The provider edits its own resource and reads its own helper; nothing else.
    let provider = system
        .key(
            Role::Provider,
            MUNICIPALITY,
            Some(fixture.organization_id.parse().unwrap()),
        )
        .await;
    let verify = registry_as(&provider)
        .verify_resource(registry_pb::VerifyResourceRequest {
            resource_id: fixture.resource_id.clone(),
            verified_by: "ささえあい 田村".into(),
        })
        .await
        .map(|_| ());
    assert_eq!(code(verify), Code::Ok);
    let own_helper = community_as(&provider)
        .get_helper(registry_pb::GetHelperRequest {
            id: helper.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .helper
        .unwrap();
    assert_eq!(own_helper.contact_points.len(), 1);
    let refused = registry_as(&provider)
        .create_organization(registry_pb::CreateOrganizationRequest {
            municipality_code: MUNICIPALITY.into(),
            name: "新しい団体".into(),
            kind: registry_pb::OrganizationKind::Npo.into(),
            ..Default::default()
        })
        .await
        .map(|_| ());
    assert_eq!(code(refused), Code::PermissionDenied);

    // The registry's database holds the wall around helpers and their history (contact
    // details), and leaves the public record open.
    let wall = system
        .wall(ServiceName::Registry, tsunagu_registry::DATABASE_ROLE)
        .await;
    const HELPERS: &str = "SELECT count(*) FROM helper";
    const HELPER_HISTORY: &str = "SELECT count(*) FROM change_history WHERE entity_kind = 'helper'";
    const PUBLIC_RECORD: &str = "SELECT count(*) FROM resource";
    for query in [HELPERS, HELPER_HISTORY] {
        assert!(
            wall.count(query, MUNICIPALITY, "").await >= 1,
            "{query} as 大垣市"
        );
        assert!(wall.count(query, PREFECTURE, "").await >= 1, "{query} as 岐阜県");
        assert_eq!(wall.count(query, GIFU_CITY, "").await, 0, "{query} as 岐阜市");
        assert_eq!(wall.count(query, "", "").await, 0, "{query} without a tenant");
        assert!(
            wall.count(query, GIFU_CITY, &fixture.organization_id).await >= 1,
            "{query} as the helper's organisation"
        );
    }
    assert!(wall.count(PUBLIC_RECORD, GIFU_CITY, "").await >= 1);
    assert_eq!(
        wall.rows_changed("UPDATE helper SET name = '書き換え'", GIFU_CITY)
            .await,
        0
    );
    wall.close().await;
    system.shutdown().await;
}
