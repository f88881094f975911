//! Templates per prefecture (issue 17): one prefecture's administrator changes the texts its
//! own municipalities' recipients get, never another prefecture's; and a subject is one
//! header line (no CR/LF: e-mail header injection).

use std::collections::HashMap;

use tonic_types::StatusExt;
use tsunagu_proto::notifications::v1 as pb;
use tsunagu_proto::notifications::v1::notifications_service_client::NotificationsServiceClient;
use tsunagu_runtime::ServiceName;
use tsunagu_runtime::amqp::Envelope;
use tsunagu_runtime::auth::Role;
use tsunagu_runtime::events::{self, NeedUnmatched};
use tsunagu_tests::{KeyedChannel, MUNICIPALITY, TestSystem, eventually};
use uuid::Uuid;

use crate::support::{WAIT, violated_fields};

/// 富山市 in 富山県: a municipality of another prefecture than 大垣市 (岐阜県).
const OTHER_PREFECTURE: &str = "160008";
const OTHER_PREFECTURES_CITY: &str = "162019";

const KEY: &str = "need.unmatched:coordinators";
const GIFU_SUBJECT: &str = "【岐阜県】「{{category}}」の資源が不足しています";

async fn as_key(system: &TestSystem, role: Role, scope: &str) -> NotificationsServiceClient<KeyedChannel> {
    let key = system.key(role, scope, None).await;
    NotificationsServiceClient::new(system.channel_with_key(ServiceName::Notifications, &key))
}

/// A need of `municipality` nobody can serve, as matching announces it.
async fn unmatched(system: &TestSystem, municipality: &str) -> Uuid {
    let need_id = Uuid::now_v7();
    system
        .publish(&Envelope {
            id: Uuid::now_v7(),
            event_type: events::NEED_UNMATCHED.into(),
            municipality_code: municipality.into(),
            payload: serde_json::to_value(NeedUnmatched {
                need_id,
                municipality_code: municipality.into(),
                area_id: Uuid::now_v7(),
                category: "life.garbage".into(),
                reason: "対応できる資源がありません".into(),
                urgency: None,
            })
            .unwrap(),
            trace_headers: HashMap::new(),
        })
        .await;
    need_id
}

/// The title of the coordinators' notification about `need_id` in `municipality`.
async fn title(
    client: &mut NotificationsServiceClient<KeyedChannel>,
    municipality: &str,
    need_id: Uuid,
) -> String {
    eventually("the coordinators' notification", WAIT, || {
        let mut client = client.clone();
        async move {
            client
                .list_notifications(pb::ListNotificationsRequest {
                    recipient: Some(pb::Recipient {
                        kind: Some(pb::recipient::Kind::CoordinatorsOfMunicipality(
                            municipality.into(),
                        )),
                    }),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .notifications
                .into_iter()
                .find(|n| n.need_id == need_id.to_string())
                .map(|n| n.title)
        }
    })
    .await
}

fn put(subject: &str) -> pb::PutTemplateRequest {
    pb::PutTemplateRequest {
        key: KEY.into(),
        locale: "ja".into(),
        subject: subject.into(),
        body: "生活支援コーディネーター 各位\n\nニーズ {{need_id}} に対応できる資源がありません。".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefectures_template_reaches_its_recipients_only() {
    let system = TestSystem::start().await;
    let mut gifu_admin = as_key(&system, Role::PrefectureAdmin, tsunagu_tests::PREFECTURE).await;
    let mut gifu_city = system.notifications();
    let mut toyama_admin = as_key(&system, Role::PrefectureAdmin, OTHER_PREFECTURE).await;
    let mut toyama_city = as_key(&system, Role::MunicipalAdmin, OTHER_PREFECTURES_CITY).await;

    let stored = gifu_admin
        .put_template(put(GIFU_SUBJECT))
        .await
        .expect("岐阜県's administrator changes its template")
        .into_inner()
        .template
        .unwrap();
    assert!(stored.version >= 2);

    let gifu_need = unmatched(&system, MUNICIPALITY).await;
    let toyama_need = unmatched(&system, OTHER_PREFECTURES_CITY).await;
    assert_eq!(
        title(&mut gifu_city, MUNICIPALITY, gifu_need).await,
        "【岐阜県】「ゴミ出し」の資源が不足しています"
    );
    let toyama_title = title(&mut toyama_city, OTHER_PREFECTURES_CITY, toyama_need).await;
    assert_eq!(
        toyama_title,
        "「ゴミ出し」のニーズに対応できる地域資源が見つかりません"
    );

    // Each sees what applies to it.
    let listed = |templates: Vec<pb::Template>| {
        templates
            .into_iter()
            .find(|t| t.key == KEY && t.locale == "ja")
            .unwrap()
            .subject
    };
    let gifu_list = gifu_admin
        .list_templates(pb::ListTemplatesRequest {})
        .await
        .unwrap()
        .into_inner()
        .templates;
    assert_eq!(listed(gifu_list), GIFU_SUBJECT);
    let toyama_list = toyama_admin
        .list_templates(pb::ListTemplatesRequest {})
        .await
        .unwrap()
        .into_inner()
        .templates;
    assert_ne!(listed(toyama_list), GIFU_SUBJECT);

    // 富山県's own version reaches 富山県's recipients.
    toyama_admin
        .put_template(put("【富山県】{{category}}"))
        .await
        .expect("富山県's administrator changes its own");
    let need = unmatched(&system, OTHER_PREFECTURES_CITY).await;
    assert_eq!(
        title(&mut toyama_city, OTHER_PREFECTURES_CITY, need).await,
        "【富山県】ゴミ出し"
    );
    // A municipality's administrator changes no prefecture's texts.
    let refused = toyama_city
        .put_template(put("【富山市】{{category}}"))
        .await
        .expect_err("a municipality writes no template");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    // 岐阜県's recipients still get 岐阜県's.
    let need = unmatched(&system, MUNICIPALITY).await;
    assert_eq!(
        title(&mut gifu_city, MUNICIPALITY, need).await,
        "【岐阜県】「ゴミ出し」の資源が不足しています"
    );
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subject_with_a_line_break_is_refused() {
    let system = TestSystem::start().await;
    let mut admin = as_key(&system, Role::PrefectureAdmin, tsunagu_tests::PREFECTURE).await;
    for subject in [
        "件名\r\nBcc: attacker@example.com",
        "件名\nBcc: attacker@example.com",
        "件名\r",
    ] {
        let status = admin.put_template(put(subject)).await.expect_err(subject);
        assert_eq!(violated_fields(&status), ["subject"], "{subject:?}");
        let description = status.get_error_details().bad_request().unwrap().field_violations[0]
            .description
            .clone();
        assert!(
            description.contains("改行") && description.contains("line breaks"),
            "{description}"
        );
    }
    system.shutdown().await;
}
