//! Values out of range are refused by intake's parsers, each field named, all at once (issue
//! 17): a birth date in the future or before 1900, a phone number that is not a Japanese one,
//! a consent time ahead of the clock or before 2000 (refused, not replaced by now), and a
//! negative version to resume a watch from.

use tonic::Code;
use tsunagu_proto::intake::v1 as pb;
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem};

use crate::support::{submit_unshared, violated_fields};

fn resident(request_id: &str, phone: &str, birth_date: &str) -> pb::RegisterResidentRequest {
    pb::RegisterResidentRequest {
        request_id: request_id.into(),
        municipality_code: MUNICIPALITY.into(),
        personal: Some(pb::PersonalData {
            name: "山田 花子".into(),
            name_kana: "やまだ はなこ".into(),
            phone: phone.into(),
            birth_date: birth_date.into(),
            ..Default::default()
        }),
        registered_by: "地域包括 山本".into(),
    }
}

fn consent_at(need_id: &str, seconds: i64) -> pb::RecordConsentRequest {
    pb::RecordConsentRequest {
        need_id: need_id.into(),
        consent: Some(pb::ConsentInput {
            given_by: pb::ConsentGiver::Resident.into(),
            method: pb::ConsentMethod::Written.into(),
            scopes: vec![pb::ConsentScope::ShareNeedWithProviders.into()],
            consented_at: Some(prost_types::Timestamp { seconds, nanos: 0 }),
        }),
        recorded_by: "SC".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_values_are_refused_field_by_field() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let mut intake = system.intake();

    // A resident born 9999-12-31 with the phone 12345: both named, neither value repeated.
    let refused = intake
        .register_resident(resident("range-1", "12345", "9999-12-31"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&refused),
        ["personal.birth_date", "personal.phone"]
    );
    assert!(!refused.message().contains("9999") && !refused.message().contains("12345"));
    let refused = intake
        .register_resident(resident("range-2", "090-1234-5678", "1899-12-31"))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["personal.birth_date"]);
    // Full-width digits and hyphens are a phone number once NFKC'd, and stored so.
    let registered = intake
        .register_resident(resident("range-3", "０９０－１２３４－５６７８", "1941-03-05"))
        .await
        .unwrap()
        .into_inner()
        .resident
        .unwrap();
    assert_eq!(registered.personal.unwrap().phone, "090-1234-5678");

    // A consent a day ahead, or in 1970 (a client's zero time), is refused, not taken as now.
    let need = submit_unshared(&system, "range-need", &fixture.daily_life_area_id, "見守り").await;
    let now = chrono::Utc::now().timestamp();
    for seconds in [now + 86_400, 0] {
        let refused = intake
            .record_consent(consent_at(&need.id, seconds))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&refused), ["consent.consented_at"], "{seconds}");
    }
    let recorded = intake
        .record_consent(consent_at(&need.id, now - 3_600))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        recorded.consent.unwrap().consented_at.unwrap().seconds,
        now - 3_600
    );

    // A watch resumed from a negative version is a mistake, not "from the start".
    let refused = intake
        .watch_need(pb::WatchNeedRequest {
            need_id: need.id.clone(),
            after_version: -5,
        })
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["after_version"]);
    system.shutdown().await;
}
