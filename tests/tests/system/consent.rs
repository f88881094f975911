//! Consent decides what leaves intake. Without it matching counts the need and proposes it
//! to nobody; with it matching sees the need's ids and matching-relevant fields, never the
//! person, the notes or the referrer (checked on the messages the broker delivers); a
//! withdrawal takes the need out of matching and gives back the capacity its proposal held;
//! contact details go to a provider only under the contact scope, after it accepted the
//! proposal (which moves the need to 受諾済み in intake).

use tonic::Code;
use tsunagu_proto::common::v1 as common_pb;
use tsunagu_proto::intake::v1 as pb;
use tsunagu_proto::intake::v1::intake_service_client::IntakeServiceClient;
use tsunagu_runtime::ServiceName;
use tsunagu_runtime::auth::Role;
use tsunagu_tests::{Fixture, MUNICIPALITY, TappedEvent, TestSystem, eventually};

use crate::support::{WAIT, proposals_for, violated_fields};

const SECRETS: [&str; 7] = [
    "鈴木",
    "すずき",
    "大垣市丸の内",
    "0584-11-2233",
    "鍵は植木鉢の下",
    "ケアマネ 田中",
    "0584-99-8877",
];

fn personal() -> pb::PersonalData {
    pb::PersonalData {
        name: "鈴木 一郎".into(),
        name_kana: "すずき いちろう".into(),
        address: "岐阜県大垣市丸の内二丁目29番地".into(),
        phone: "0584-11-2233".into(),
        birth_date: "1940-01-02".into(),
        care_level: "要支援2".into(),
        notes: String::new(),
    }
}

/// 鈴木 一郎, registered by the 包括.
async fn register_suzuki(system: &TestSystem, request_id: &str) -> pb::Resident {
    system
        .intake()
        .register_resident(pb::RegisterResidentRequest {
            request_id: request_id.into(),
            municipality_code: MUNICIPALITY.into(),
            personal: Some(personal()),
            registered_by: "地域包括 山本".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .resident
        .unwrap()
}

fn details() -> pb::NeedDetails {
    pb::NeedDetails {
        location: Some(common_pb::GeoPoint {
            latitude: 35.359_123,
            longitude: 136.612_987,
        }),
        time_windows: vec![
            common_pb::TimeWindow {
                weekday: common_pb::Weekday::Tuesday.into(),
                start_minute: 540,
                end_minute: 720,
            },
            common_pb::TimeWindow {
                weekday: common_pb::Weekday::Friday.into(),
                start_minute: 540,
                end_minute: 720,
            },
        ],
        frequency: Some(pb::Frequency {
            times: 2,
            per: pb::FrequencyUnit::Week.into(),
        }),
        start_date: "2026-12-01".into(),
        deadline: "2027-03-31".into(),
        eligibility: pb::Eligibility::Support2.into(),
        max_fee_yen: Some(300),
        requirements: Some(pb::NeedRequirements {
            helper_gender: pb::Gender::Female.into(),
            helper_gender_required: true,
            languages: vec!["ja".into()],
            ..Default::default()
        }),
    }
}

fn assert_no_secret(events: &[TappedEvent]) {
    for event in events {
        for secret in SECRETS {
            assert!(
                !event.body.contains(secret),
                "{secret} in {}: {}",
                event.routing_key,
                event.body
            );
        }
    }
}

fn scopes(scopes: &[pb::ConsentScope]) -> pb::ConsentInput {
    pb::ConsentInput {
        given_by: pb::ConsentGiver::Family.into(),
        method: pb::ConsentMethod::Written.into(),
        scopes: scopes.iter().map(|s| (*s).into()).collect(),
        consented_at: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_limits_what_matching_sees_and_withdrawal_releases_the_proposal() {
    let system = TestSystem::start().await;
    let tap = system.tap_events().await;
    let fixture = Fixture::create(&system, 1).await;
    let mut intake = system.intake();
    let resident = register_suzuki(&system, "res-c").await;

    // 1. Submitted without consent: recorded with everything, shared with nobody.
    let need = intake
        .submit_need(pb::SubmitNeedRequest {
            request_id: "consent-1".into(),
            municipality_code: MUNICIPALITY.into(),
            area_id: fixture.daily_life_area_id.clone(),
            category: "ゴミ出し".into(),
            resident_id: resident.id.clone(),
            details: Some(details()),
            channel: pb::ReferralChannel::CareManager.into(),
            referrer: Some(pb::Referrer {
                name: "ケアマネ 田中".into(),
                organization_id: String::new(),
                contact: "0584-99-8877".into(),
            }),
            notes: "鍵は植木鉢の下".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .need
        .unwrap();
    assert!(need.consent.is_none());
    let stored = need.details.as_ref().unwrap();
    // The location is coarse: rounded to the 0.005° grid.
    let location = stored.location.unwrap();
    assert_eq!((location.latitude, location.longitude), (35.36, 136.615));
    assert_eq!(stored.time_windows.len(), 2);
    // The basic view keeps the notes and the referrer's contact back; the full one shows them.
    assert_eq!(need.notes, "");
    assert_eq!(need.referrer.as_ref().unwrap().contact, "");
    let full = intake
        .get_need(pb::GetNeedRequest {
            id: need.id.clone(),
            view: pb::NeedView::Full.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .need
        .unwrap();
    assert_eq!(full.notes, "鍵は植木鉢の下");
    assert_eq!(full.referrer.unwrap().contact, "0584-99-8877");

    // Matching counts it, waiting for consent, and proposes nothing.
    let matching_db = system.database(ServiceName::Matching).await;
    let waiting: String = eventually("matching to hold the need", WAIT, || async {
        sqlx::query_scalar("SELECT status FROM need WHERE id = $1::uuid")
            .bind(&need.id)
            .fetch_optional(&matching_db)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(waiting, "awaiting_consent");
    assert!(proposals_for(&system, &need.id).await.is_empty());
    let submitted = tap
        .collect_until("need.submitted", WAIT, |events| {
            events.iter().any(|e| e.routing_key == "need.submitted")
        })
        .await;
    let payload = submitted
        .iter()
        .find(|e| e.routing_key == "need.submitted")
        .unwrap()
        .payload();
    assert_eq!(payload["shared"], false);
    assert!(payload["resident_id"].is_null(), "{payload}");
    assert!(payload["details"].is_null(), "{payload}");

    // 2. The family consents to sharing the need: matching sees its details and proposes it.
    let recorded = intake
        .record_consent(pb::RecordConsentRequest {
            need_id: need.id.clone(),
            consent: Some(scopes(&[pb::ConsentScope::ShareNeedWithProviders])),
            recorded_by: "地域包括 山本".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(recorded.need.unwrap().version, need.version + 1);
    let proposals = eventually("a proposal once consented", WAIT, || async {
        let proposals = proposals_for(&system, &need.id).await;
        (!proposals.is_empty()).then_some(proposals)
    })
    .await;
    assert_eq!(proposals[0].resource_id, fixture.resource_id);
    let updated = tap
        .collect_until("need.updated", WAIT, |events| {
            events.iter().any(|e| e.routing_key == "need.updated")
        })
        .await;
    let payload = updated
        .iter()
        .find(|e| e.routing_key == "need.updated")
        .unwrap()
        .payload();
    assert_eq!(payload["shared"], true);
    assert_eq!(payload["resident_id"], resident.id.as_str());
    assert_eq!(payload["details"]["eligibility"], "support_2");
    assert_eq!(payload["details"]["helper_gender"], "female");
    assert_eq!(payload["details"]["time_windows"].as_array().unwrap().len(), 2);

    // Contact details: the consent does not cover them.
    let status = intake
        .get_shared_contact(pb::GetSharedContactRequest {
            need_id: need.id.clone(),
            organization_id: fixture.organization_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("同意"), "{}", status.message());

    // 3. Withdrawn: the need leaves matching and the resource's capacity is free again.
    let status = intake
        .withdraw_consent(pb::WithdrawConsentRequest {
            need_id: need.id.clone(),
            withdrawn_by: "地域包括 山本".into(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["reason"]);
    intake
        .withdraw_consent(pb::WithdrawConsentRequest {
            need_id: need.id.clone(),
            withdrawn_by: "地域包括 山本".into(),
            reason: "家族から電話で撤回".into(),
        })
        .await
        .unwrap();
    eventually(
        "the proposal withdrawn and its capacity released",
        WAIT,
        || async {
            let (status, committed): (String, i32) = sqlx::query_as(
            "SELECT n.status, r.committed FROM need n, resource r WHERE n.id = $1::uuid AND r.id = $2::uuid",
        )
        .bind(&need.id)
        .bind(&fixture.resource_id)
        .fetch_one(&matching_db)
        .await
        .unwrap();
            (status == "withdrawn" && committed == 0).then_some(())
        },
    )
    .await;
    let all = tap
        .collect_until("need.withdrawn", WAIT, |events| {
            events.iter().any(|e| e.routing_key == "need.withdrawn")
        })
        .await;
    // The provider that had the proposal is told it is off.
    eventually("the provider told of the withdrawal", WAIT, || async {
        let all =
            crate::support::notifications_of(&system, crate::support::organization(&fixture.organization_id))
                .await;
        all.iter()
            .any(|n| n.need_id == need.id && n.title.contains("取り下げ"))
            .then_some(())
    })
    .await;
    // A second withdrawal has nothing to withdraw.
    let status = intake
        .withdraw_consent(pb::WithdrawConsentRequest {
            need_id: need.id.clone(),
            withdrawn_by: "x".into(),
            reason: "二度目".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    // Both consents stay on record, the newest first.
    let consents = intake
        .list_consents(pb::ListConsentsRequest {
            need_id: need.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .consents;
    assert_eq!(consents.len(), 1);
    assert_eq!(consents[0].withdrawal_reason, "家族から電話で撤回");

    // Nothing personal in any message the broker delivered, nor in the intake database.
    let mut everything = submitted;
    everything.extend(updated);
    everything.extend(all);
    everything.extend(tap.drain().await);
    assert!(everything.len() >= 4, "{everything:?}");
    assert_no_secret(&everything);
    let intake_db = system.database(ServiceName::Intake).await;
    let rows: Vec<String> = sqlx::query_scalar("SELECT row_to_json(n)::text FROM need n")
        .fetch_all(&intake_db)
        .await
        .unwrap();
    assert!(rows.iter().all(|row| !row.contains("植木鉢")), "{rows:?}");
    tap.close().await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_details_go_to_the_provider_only_under_the_contact_scope_after_acceptance() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let mut intake = system.intake();
    let resident = register_suzuki(&system, "res-d").await;
    let need = intake
        .submit_need(pb::SubmitNeedRequest {
            request_id: "contact-1".into(),
            municipality_code: MUNICIPALITY.into(),
            area_id: fixture.daily_life_area_id.clone(),
            category: "ゴミ出し".into(),
            resident_id: resident.id.clone(),
            consent: Some(scopes(&[
                pb::ConsentScope::ShareNeedWithProviders,
                pb::ConsentScope::ShareContactAfterAcceptance,
            ])),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .need
        .unwrap();
    let ask = || pb::GetSharedContactRequest {
        need_id: need.id.clone(),
        organization_id: fixture.organization_id.clone(),
    };
    // Before acceptance: refused, saying why.
    let status = intake.get_shared_contact(ask()).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("受諾"), "{}", status.message());
    // Matching proposes the need to the provider, which accepts; intake hears of it and the
    // need is accepted (受諾済み).
    let proposal = eventually("a proposal", WAIT, || async {
        proposals_for(&system, &need.id).await.into_iter().next()
    })
    .await;
    system
        .matching()
        .accept_proposal(tsunagu_proto::matching::v1::AcceptProposalRequest {
            proposal_id: proposal.id.clone(),
            responded_by: "NPO ささえあい 田村".into(),
        })
        .await
        .unwrap();
    eventually("the need accepted in intake", WAIT, || {
        let mut intake = intake.clone();
        let id = need.id.clone();
        async move {
            let need = intake
                .get_need(pb::GetNeedRequest { id, view: 0 })
                .await
                .unwrap()
                .into_inner()
                .need
                .unwrap();
            (need.status() == pb::NeedStatus::Accepted).then_some(())
        }
    })
    .await;
    let contact = intake.get_shared_contact(ask()).await.unwrap().into_inner();
    assert_eq!(
        (contact.name.as_str(), contact.phone.as_str()),
        ("鈴木 一郎", "0584-11-2233")
    );
    // The provider that accepted asks with its own key and gets it; another provider, or a
    // coordinator of another city, is refused without learning whether the need exists.
    let helping = system
        .key(
            Role::Provider,
            MUNICIPALITY,
            Some(fixture.organization_id.parse().unwrap()),
        )
        .await;
    let provider_contact = IntakeServiceClient::new(system.channel_with_key(ServiceName::Intake, &helping))
        .get_shared_contact(ask())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(provider_contact.name, "鈴木 一郎");
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
    let other = system
        .key(
            Role::Provider,
            MUNICIPALITY,
            Some(other_organization.id.parse().unwrap()),
        )
        .await;
    let elsewhere = system.key(Role::Coordinator, "212016", None).await;
    for key in [&other, &elsewhere] {
        let refused = IntakeServiceClient::new(system.channel_with_key(ServiceName::Intake, key))
            .get_shared_contact(ask())
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
    // A provider registered in another municipality (its resource serves this one across the
    // border) is still the one that accepted: the API and the database's own wall let it read
    // this need's contact, and nothing else of this municipality.
    let across_the_border = system
        .key(
            Role::Provider,
            "212016",
            Some(fixture.organization_id.parse().unwrap()),
        )
        .await;
    let contact_across =
        IntakeServiceClient::new(system.channel_with_key(ServiceName::Intake, &across_the_border))
            .get_shared_contact(ask())
            .await
            .unwrap()
            .into_inner();
    assert_eq!(contact_across.name, "鈴木 一郎");
    let guarded = tsunagu_runtime::db::connect_guarded(
        &system.database_url,
        ServiceName::Intake.as_str(),
        1,
        tsunagu_intake::DATABASE_ROLE,
    )
    .await
    .unwrap();
    let seen = |organization: String| {
        let pool = guarded.clone();
        let scope = tsunagu_runtime::db::Scope {
            tenant: "212016".into(),
            organization,
        };
        tsunagu_runtime::db::as_scope(scope, async move {
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT (SELECT count(*) FROM need), (SELECT count(*) FROM resident)",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        })
    };
    assert_eq!(
        seen(fixture.organization_id.clone()).await,
        (1, 1),
        "the accepted need and its resident"
    );
    assert_eq!(
        seen(other_organization.id.clone()).await,
        (0, 0),
        "another organisation sees nothing"
    );
    guarded.close().await;
    // Each disclosure is on record (the city admin's and the provider's, twice); the refused
    // ones disclosed nothing.
    let intake_db = system.database(ServiceName::Intake).await;
    let disclosures: i64 =
        sqlx::query_scalar("SELECT count(*) FROM contact_disclosure WHERE need_id = $1::uuid")
            .bind(&need.id)
            .fetch_one(&intake_db)
            .await
            .unwrap();
    assert_eq!(disclosures, 3);
    // A narrower consent (the need only) ends it.
    intake
        .record_consent(pb::RecordConsentRequest {
            need_id: need.id.clone(),
            consent: Some(scopes(&[pb::ConsentScope::ShareNeedWithProviders])),
            recorded_by: "SC".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        intake.get_shared_contact(ask()).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    // A consent to share contact details without the need is incoherent.
    let status = intake
        .record_consent(pb::RecordConsentRequest {
            need_id: need.id.clone(),
            consent: Some(scopes(&[pb::ConsentScope::ShareContactAfterAcceptance])),
            recorded_by: "SC".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["consent.scopes"]);
    system.shutdown().await;
}
