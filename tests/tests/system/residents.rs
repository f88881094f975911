//! Residents: personal data is sealed before it reaches the database (unreadable there
//! without the key), never in an event, idempotent by request id, and a second registration
//! of the same person (reading + birth date) is flagged for a coordinator to merge.

use tsunagu_proto::intake::v1 as pb;
use tsunagu_runtime::ServiceName;
use tsunagu_tests::{MUNICIPALITY, TestSystem};

use crate::support::violated_fields;

fn personal(name: &str, kana: &str) -> pb::PersonalData {
    pb::PersonalData {
        name: name.into(),
        name_kana: kana.into(),
        address: "岐阜県大垣市丸の内二丁目29番地".into(),
        phone: "0584-11-2233".into(),
        birth_date: "1941-03-05".into(),
        care_level: "要支援1".into(),
        notes: "膝が悪く重い物が持てない".into(),
    }
}

fn register(request_id: &str, personal: pb::PersonalData) -> pb::RegisterResidentRequest {
    pb::RegisterResidentRequest {
        request_id: request_id.into(),
        municipality_code: MUNICIPALITY.into(),
        personal: Some(personal),
        registered_by: "地域包括 山本".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_is_sealed_in_the_database_and_duplicates_are_flagged() {
    let system = TestSystem::start().await;
    let mut intake = system.intake();
    let first = intake
        .register_resident(register("res-1", personal("山田 花子", "やまだ はなこ")))
        .await
        .unwrap()
        .into_inner();
    assert!(!first.replayed);
    let resident = first.resident.unwrap();
    assert_eq!(resident.personal.as_ref().unwrap().care_level, "要支援1");
    assert!(resident.possible_duplicate_ids.is_empty());

    // A retry returns the same resident.
    let again = intake
        .register_resident(register("res-1", personal("山田 花子", "やまだ はなこ")))
        .await
        .unwrap()
        .into_inner();
    assert!(again.replayed);
    assert_eq!(again.resident.unwrap().id, resident.id);

    // The same person registered again by someone else, reading in katakana: flagged.
    let second = intake
        .register_resident(register("res-2", personal("山田 はな子", "ヤマダハナコ")))
        .await
        .unwrap()
        .into_inner()
        .resident
        .unwrap();
    assert_eq!(second.possible_duplicate_ids, std::slice::from_ref(&resident.id));
    let fetched = intake
        .get_resident(pb::GetResidentRequest {
            id: resident.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .resident
        .unwrap();
    assert_eq!(fetched.personal.unwrap().name, "山田 花子");
    assert_eq!(fetched.possible_duplicate_ids, std::slice::from_ref(&second.id));

    // In the database: nothing readable. Every column of every resident row, as text.
    let intake_db = system.database(ServiceName::Intake).await;
    let rows: Vec<String> = sqlx::query_scalar("SELECT row_to_json(r)::text FROM resident r")
        .fetch_all(&intake_db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let sealed: Vec<Vec<u8>> = sqlx::query_scalar("SELECT sealed FROM resident")
        .fetch_all(&intake_db)
        .await
        .unwrap();
    for secret in [
        "山田",
        "やまだ",
        "ヤマダ",
        "丸の内",
        "0584-11-2233",
        "1941-03-05",
        "要支援",
        "膝",
    ] {
        assert!(
            rows.iter().all(|row| !row.contains(secret)),
            "{secret} readable in {rows:?}"
        );
        assert!(
            sealed
                .iter()
                .all(|bytes| !bytes.windows(secret.len()).any(|w| w == secret.as_bytes())),
            "{secret} in the sealed bytes"
        );
        // And in no event.
        let in_events: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE payload::text LIKE '%' || $1 || '%'")
                .bind(secret)
                .fetch_one(&intake_db)
                .await
                .unwrap();
        assert_eq!(in_events, 0, "{secret} in an event");
    }

    // Bad input names each field.
    let mut bad = personal("", "Hanako");
    bad.birth_date = "昭和16年".into();
    bad.care_level = "要介護6".into();
    let status = intake
        .register_resident(register("res-3", bad))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&status),
        [
            "personal.name",
            "personal.name_kana",
            "personal.birth_date",
            "personal.care_level"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_need_names_its_resident_by_pseudonym_only() {
    let system = TestSystem::start().await;
    let fixture = tsunagu_tests::Fixture::create(&system, 1).await;
    let mut intake = system.intake();
    let resident = intake
        .register_resident(register("res-n", personal("鈴木 一郎", "すずき いちろう")))
        .await
        .unwrap()
        .into_inner()
        .resident
        .unwrap();
    let request = |resident_id: &str| pb::SubmitNeedRequest {
        request_id: format!("need-for-{resident_id}"),
        municipality_code: MUNICIPALITY.into(),
        area_id: fixture.daily_life_area_id.clone(),
        category: "ゴミ出し".into(),
        urgency: pb::Urgency::Routine.into(),
        resident_id: resident_id.into(),
        consent: Some(tsunagu_tests::consent_to_share()),
        ..Default::default()
    };
    let need = intake
        .submit_need(request(&resident.id))
        .await
        .unwrap()
        .into_inner()
        .need
        .unwrap();
    assert_eq!(need.resident_id, resident.id);
    // The event names the resident by id; nothing of the person travels with it.
    let intake_db = system.database(ServiceName::Intake).await;
    let payload: serde_json::Value = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE event_type = 'need.submitted' AND payload->>'need_id' = $1",
    )
    .bind(&need.id)
    .fetch_one(&intake_db)
    .await
    .unwrap();
    assert_eq!(payload["resident_id"], resident.id.as_str());
    let text = payload.to_string();
    assert!(
        !text.contains("鈴木") && !text.contains("すずき") && !text.contains("0584"),
        "{text}"
    );
    // A resident of no record is named as the bad field.
    let status = intake
        .submit_need(request(&uuid::Uuid::now_v7().to_string()))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["resident_id"]);
}
