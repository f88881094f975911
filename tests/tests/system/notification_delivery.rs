//! Notifications beyond the inbox (issue 6): webhooks and e-mail delivered once through
//! receiver outages, dead letters and their replay, quiet hours and digests, the resumable
//! in-app stream, and a redelivered event that sends nothing twice — against the real
//! PostgreSQL and RabbitMQ, a real SMTP server and a real HTTP receiver.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{Timelike, Utc};
use tokio_stream::StreamExt;
use tsunagu_notifications::channels::signature;
use tsunagu_proto::intake::v1 as intake_pb;
use tsunagu_proto::notifications::v1 as pb;
use tsunagu_runtime::ServiceName;
use tsunagu_runtime::amqp::Envelope;
use tsunagu_tests::smtp_server::{SmtpServer, unused_port};
use tsunagu_tests::webhook_receiver::WebhookReceiver;
use tsunagu_tests::{Fixture, MUNICIPALITY, Options, TestSystem, eventually};

use crate::support::*;

/// A category no resource of the fixture offers: every need of it is unmatched, and the
/// coordinators and the municipality's systems hear of it.
const NOBODY_OFFERS: &str = "外出支援";

fn options(extra: Vec<(&'static str, String)>) -> Options {
    // The test's own settings first: the first of a name wins.
    let mut env = extra;
    env.extend([
        // The receivers of these tests speak plain HTTP on the loopback.
        ("TSUNAGU_WEBHOOK_ALLOW_HTTP", "true".to_string()),
        // Retries and the breaker's cool-down in test time.
        ("TSUNAGU_DELIVERY_RETRY_BASE_MILLIS", "200".to_string()),
        ("TSUNAGU_DELIVERY_BREAKER_SECONDS", "1".to_string()),
    ]);
    Options {
        env,
        ..Options::default()
    }
}

async fn submit(system: &TestSystem, request_id: &str, area_id: &str, urgent: bool) -> intake_pb::Need {
    let urgency = if urgent {
        intake_pb::Urgency::Urgent
    } else {
        intake_pb::Urgency::Routine
    };
    system
        .intake()
        .submit_need(intake_pb::SubmitNeedRequest {
            request_id: request_id.into(),
            municipality_code: MUNICIPALITY.into(),
            area_id: area_id.into(),
            category: NOBODY_OFFERS.into(),
            urgency: urgency.into(),
            consent: Some(tsunagu_tests::consent_to_share()),
            ..Default::default()
        })
        .await
        .expect("need accepted")
        .into_inner()
        .need
        .expect("need in response")
}

fn recipient(kind: pb::recipient::Kind) -> Option<pb::Recipient> {
    Some(pb::Recipient { kind: Some(kind) })
}

fn municipality_feed() -> Option<pb::Recipient> {
    recipient(pb::recipient::Kind::Municipality(MUNICIPALITY.into()))
}

fn coordinators() -> Option<pb::Recipient> {
    recipient(pb::recipient::Kind::CoordinatorsOfMunicipality(
        MUNICIPALITY.into(),
    ))
}

async fn subscribe(system: &TestSystem, subscription: pb::Subscription) -> pb::CreateSubscriptionResponse {
    system
        .notifications()
        .create_subscription(pb::CreateSubscriptionRequest {
            subscription: Some(pb::Subscription {
                municipality_code: MUNICIPALITY.into(),
                ..subscription
            }),
        })
        .await
        .expect("subscription created")
        .into_inner()
}

fn webhook(url: String, name: &str) -> pb::Subscription {
    tsunagu_tests::municipal_system_webhook(&url, name, &["need.unmatched"])
}

async fn deliveries(system: &TestSystem, subscription_id: &str) -> Vec<pb::Delivery> {
    system
        .notifications()
        .list_deliveries(pb::ListDeliveriesRequest {
            municipality_code: MUNICIPALITY.into(),
            subscription_id: subscription_id.into(),
            ..Default::default()
        })
        .await
        .expect("list deliveries")
        .into_inner()
        .deliveries
}

async fn delivery(system: &TestSystem, id: &str) -> pb::Delivery {
    system
        .notifications()
        .get_delivery(pb::GetDeliveryRequest { id: id.into() })
        .await
        .expect("get delivery")
        .into_inner()
        .delivery
        .expect("a delivery")
}

fn payload(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).expect("a JSON webhook body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_answering_500_then_200_is_delivered_once_and_signed() {
    let receiver = WebhookReceiver::start(vec![500]);
    let system = TestSystem::start_with(options(vec![])).await;
    let fixture = Fixture::create(&system, 1).await;
    let created = subscribe(&system, webhook(receiver.url(), "大垣市 福祉システム")).await;
    let secret = created.signing_secret.clone();
    assert!(
        !secret.is_empty(),
        "the signing secret is shown once, at creation"
    );
    let subscription_id = created.subscription.unwrap().id;

    let need = submit(&system, "hook-1", &fixture.daily_life_area_id, false).await;

    let requests = receiver.wait_for(2, WAIT).await;
    let delivered = eventually("the delivery to be marked delivered", WAIT, || async {
        let all = deliveries(&system, &subscription_id).await;
        all.into_iter()
            .find(|d| d.state == pb::DeliveryState::Delivered as i32)
    })
    .await;
    assert_eq!(requests[0].status, 500);
    assert_eq!(requests[1].status, 200);
    // Both attempts carried the same delivery id: a receiver can drop a repeat.
    assert_eq!(
        requests[0].header("tsunagu-delivery"),
        Some(delivered.id.as_str())
    );
    assert_eq!(
        requests[1].header("tsunagu-delivery"),
        Some(delivered.id.as_str())
    );
    let accepted = &requests[1];
    let body = payload(&accepted.body);
    assert_eq!(body["need_id"], need.id.as_str());
    assert_eq!(body["event_type"], "need.unmatched");
    assert!(
        body["subject"].as_str().unwrap().contains(need.id.as_str()),
        "{body}"
    );

    // The signature verifies with the subscriber's secret; a tampered body does not.
    let header = accepted.header("tsunagu-signature").expect("signed");
    let now = Utc::now().timestamp();
    signature::verify(secret.as_bytes(), header, &accepted.body, now, 300).expect("the signature verifies");
    let mut tampered = accepted.body.clone();
    let last = tampered.len() - 2;
    tampered[last] ^= 0x01;
    assert!(signature::verify(secret.as_bytes(), header, &tampered, now, 300).is_err());
    assert!(signature::verify(b"another secret", header, &accepted.body, now, 300).is_err());

    // The delivery log: one retry, then delivered, with latencies.
    let logged = delivery(&system, &delivered.id).await;
    let outcomes: Vec<&str> = logged.attempt_log.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["retry", "delivered"]);
    assert!(
        logged.attempt_log[0].detail.contains("500"),
        "{:?}",
        logged.attempt_log
    );
    assert_eq!(logged.attempts, 2);

    // Nothing more arrives: delivered exactly once.
    let sentinel = submit(&system, "hook-2", &fixture.daily_life_area_id, false).await;
    let after = receiver.wait_for(3, WAIT).await;
    assert_eq!(payload(&after[2].body)["need_id"], sentinel.id.as_str());
    let about_first = after
        .iter()
        .filter(|r| r.status == 200 && payload(&r.body)["need_id"] == need.id.as_str())
        .count();
    assert_eq!(about_first, 1);

    // The database holds the tenant wall for subscriptions, deliveries and their log too: as
    // 岐阜市, the service's own role sees none of 大垣市's.
    let wall = system
        .wall(ServiceName::Notifications, tsunagu_notifications::DATABASE_ROLE)
        .await;
    for table in ["subscription", "delivery", "delivery_attempt", "need_context"] {
        let query = format!("SELECT count(*) FROM {table}");
        assert!(
            wall.count(&query, MUNICIPALITY, "").await >= 1,
            "{table} as 大垣市"
        );
        assert_eq!(wall.count(&query, "212016", "").await, 0, "{table} as 岐阜市");
        assert_eq!(wall.count(&query, "", "").await, 0, "{table} without a tenant");
    }
    wall.close().await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_webhook_is_dead_lettered_and_an_operator_replays_it() {
    let receiver = WebhookReceiver::start(vec![410]);
    let system = TestSystem::start_with(options(vec![])).await;
    let fixture = Fixture::create(&system, 1).await;
    let subscription_id = subscribe(&system, webhook(receiver.url(), "旧システム"))
        .await
        .subscription
        .unwrap()
        .id;
    let need = submit(&system, "dead-1", &fixture.daily_life_area_id, false).await;
    let dead = eventually("the refused delivery to be dead-lettered", WAIT, || async {
        let all = system
            .notifications()
            .list_deliveries(pb::ListDeliveriesRequest {
                municipality_code: MUNICIPALITY.into(),
                state: pb::DeliveryState::Dead.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .deliveries;
        all.into_iter().find(|d| d.subscription_id == subscription_id)
    })
    .await;
    assert!(dead.last_error.contains("410"), "{}", dead.last_error);
    assert_eq!(receiver.requests().len(), 1, "a permanent refusal is not retried");

    // Another municipality's administrator cannot see or replay it.
    let other = system
        .key(tsunagu_runtime::auth::Role::MunicipalAdmin, "212016", None)
        .await;
    let mut foreign =
        tsunagu_proto::notifications::v1::notifications_service_client::NotificationsServiceClient::new(
            system.channel_with_key(ServiceName::Notifications, &other),
        );
    let refused = foreign
        .replay_deliveries(pb::ReplayDeliveriesRequest {
            delivery_ids: vec![dead.id.clone()],
        })
        .await
        .unwrap_err();
    // The same refusal as for an id that does not exist (issue 17): nothing is revealed.
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let refused = foreign
        .list_deliveries(pb::ListDeliveriesRequest {
            municipality_code: MUNICIPALITY.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);

    // The receiver is fixed; the operator replays: delivered, and the log numbers on.
    let replayed = system
        .notifications()
        .replay_deliveries(pb::ReplayDeliveriesRequest {
            delivery_ids: vec![dead.id.clone()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replayed.replayed, 1);
    let requests = receiver.wait_for(2, WAIT).await;
    assert_eq!(requests[1].status, 200);
    assert_eq!(payload(&requests[1].body)["need_id"], need.id.as_str());
    let logged = eventually("the replayed delivery to be delivered", WAIT, || async {
        let logged = delivery(&system, &dead.id).await;
        (logged.state == pb::DeliveryState::Delivered as i32).then_some(logged)
    })
    .await;
    let outcomes: Vec<(u32, &str)> = logged
        .attempt_log
        .iter()
        .map(|a| (a.attempt, a.outcome.as_str()))
        .collect();
    assert_eq!(outcomes, [(1, "failed"), (2, "delivered")]);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_mail_waits_for_a_smtp_server_that_is_down_and_arrives_once() {
    // The relay's port is known but nothing listens yet.
    let port = unused_port();
    let system = TestSystem::start_with(options(vec![(
        "TSUNAGU_SMTP_URL",
        format!("smtp://127.0.0.1:{port}"),
    )]))
    .await;
    let fixture = Fixture::create(&system, 1).await;
    let subscription_id = subscribe(
        &system,
        pb::Subscription {
            recipient: coordinators(),
            subscriber_kind: pb::SubscriberKind::Coordinator.into(),
            subscriber_name: "生活支援コーディネーター 第1層".into(),
            channel: "email".into(),
            address: "coordinators@city.ogaki.example.jp".into(),
            ..Default::default()
        },
    )
    .await
    .subscription
    .unwrap()
    .id;
    let need = submit(&system, "mail-1", &fixture.daily_life_area_id, false).await;

    // Attempts fail while the server is down.
    let failing = eventually("failed attempts against the stopped server", WAIT, || async {
        let all = deliveries(&system, &subscription_id).await;
        all.into_iter()
            .find(|d| d.attempts >= 2 && d.state != pb::DeliveryState::Delivered as i32)
    })
    .await;
    assert!(!failing.last_error.is_empty());

    let server = SmtpServer::start_on(port, None);
    let mail = server.wait_for_messages(1, WAIT).await;
    eventually("the delivery to be marked delivered", WAIT, || async {
        let logged = delivery(&system, &failing.id).await;
        (logged.state == pb::DeliveryState::Delivered as i32).then_some(())
    })
    .await;
    assert_eq!(mail[0].to, ["coordinators@city.ogaki.example.jp"]);
    assert!(mail[0].subject.contains("外出支援"), "{}", mail[0].subject);
    assert!(mail[0].body.contains(&need.id), "{}", mail[0].body);
    assert!(mail[0].message_id.contains(&failing.id), "{}", mail[0].message_id);

    // A later need's mail arrives too, and the first one never a second time.
    submit(&system, "mail-2", &fixture.daily_life_area_id, false).await;
    let mail = server.wait_for_messages(2, WAIT).await;
    let about_first = mail.iter().filter(|m| m.body.contains(&need.id)).count();
    assert_eq!(about_first, 1);
    system.shutdown().await;
}

/// The next whole minute (Japan time, minutes of the day) at least `margin` ahead, and its
/// instant.
fn minute_ahead(margin: Duration) -> (u32, chrono::DateTime<Utc>) {
    let now = Utc::now();
    let mut at = now.with_second(0).unwrap().with_nanosecond(0).unwrap() + chrono::TimeDelta::minutes(1);
    while at - now < chrono::TimeDelta::from_std(margin).unwrap() {
        at += chrono::TimeDelta::minutes(1);
    }
    let minute = (at.hour() * 60 + at.minute() + 9 * 60) % 1440;
    (minute, at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_hours_defer_routine_items_and_digests_batch_them_while_urgent_ones_go_at_once() {
    let quiet_receiver = WebhookReceiver::start(vec![]);
    let digest_receiver = WebhookReceiver::start(vec![]);
    let system = TestSystem::start_with(options(vec![])).await;
    let fixture = Fixture::create(&system, 1).await;
    // Quiet until the next minute that leaves the test time to submit; the digest then too.
    let (end, end_at) = minute_ahead(Duration::from_secs(30));
    let quiet = subscribe(
        &system,
        pb::Subscription {
            quiet_hours: Some(pb::QuietHours {
                start_minute: (end + 1440 - 120) % 1440,
                end_minute: end,
            }),
            ..webhook(quiet_receiver.url(), "夜間は静かに")
        },
    )
    .await;
    let digest = subscribe(
        &system,
        pb::Subscription {
            daily_digest_minute: Some(end),
            ..webhook(digest_receiver.url(), "毎日のまとめ")
        },
    )
    .await;

    let routine_1 = submit(&system, "quiet-1", &fixture.daily_life_area_id, false).await;
    let routine_2 = submit(&system, "quiet-2", &fixture.daily_life_area_id, false).await;
    let urgent = submit(&system, "quiet-urgent", &fixture.daily_life_area_id, true).await;

    // The urgent one goes at once to both.
    for receiver in [&quiet_receiver, &digest_receiver] {
        let first = receiver.wait_for(1, WAIT).await;
        assert_eq!(payload(&first[0].body)["need_id"], urgent.id.as_str());
    }
    // The routine ones wait: pending until the quiet hours end, held for the digest.
    let quiet_id = quiet.subscription.unwrap().id;
    let digest_id = digest.subscription.unwrap().id;
    let held = eventually("both routine items to be held", WAIT, || async {
        let quiet = deliveries(&system, &quiet_id).await;
        let digest = deliveries(&system, &digest_id).await;
        let waiting = |all: &[pb::Delivery], state: pb::DeliveryState| {
            all.iter().filter(|d| d.state == state as i32).count()
        };
        (waiting(&quiet, pb::DeliveryState::Pending) == 2 && waiting(&digest, pb::DeliveryState::Digest) == 2)
            .then_some(quiet)
    })
    .await;
    for pending in held
        .iter()
        .filter(|d| d.state == pb::DeliveryState::Pending as i32)
    {
        assert_eq!(
            pending.next_attempt_at.as_ref().unwrap().seconds,
            end_at.timestamp()
        );
    }
    assert!(
        Utc::now() < end_at,
        "the test submitted its needs before the quiet hours ended"
    );
    assert_eq!(quiet_receiver.requests().len(), 1);
    assert_eq!(digest_receiver.requests().len(), 1);

    // At the end minute: two separate deliveries, and one digest with both.
    let wait = Duration::from_secs(90);
    let quiet_requests = quiet_receiver.wait_for(3, wait).await;
    assert!(Utc::now() >= end_at);
    let later: Vec<String> = quiet_requests[1..]
        .iter()
        .map(|r| payload(&r.body)["need_id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        later.contains(&routine_1.id) && later.contains(&routine_2.id),
        "{later:?}"
    );
    let digest_requests = digest_receiver.wait_for(2, wait).await;
    let digest_body = payload(&digest_requests[1].body);
    assert_eq!(digest_body["event_type"], "digest");
    let items = digest_body["items"].as_array().expect("digest items");
    assert_eq!(items.len(), 2, "{digest_body}");
    let text = digest_body["body"].as_str().unwrap();
    assert!(text.contains("2 件"), "{text}");
    // Nothing else arrives from the digest subscription: both items are marked digested.
    let digested = deliveries(&system, &digest_id).await;
    assert_eq!(
        digested
            .iter()
            .filter(|d| d.state == pb::DeliveryState::Digested as i32)
            .count(),
        2
    );
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_app_stream_resumes_from_its_cursor_without_gaps_or_repeats() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let mut needs = Vec::new();
    for index in 0..3 {
        needs.push(
            submit(
                &system,
                &format!("stream-{index}"),
                &fixture.daily_life_area_id,
                false,
            )
            .await
            .id,
        );
    }
    let mut stream = system
        .notifications()
        .subscribe_notifications(pb::SubscribeNotificationsRequest {
            recipient: coordinators(),
            cursor: String::new(),
        })
        .await
        .expect("stream opened")
        .into_inner();
    let mut received = Vec::new();
    while received.len() < 2 {
        let next = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("a notification in time")
            .expect("the stream stays open")
            .expect("no error");
        received.push(next);
    }
    // The client goes away; more notifications are written meanwhile.
    drop(stream);
    for index in 3..5 {
        needs.push(
            submit(
                &system,
                &format!("stream-{index}"),
                &fixture.daily_life_area_id,
                false,
            )
            .await
            .id,
        );
    }
    let mut resumed = system
        .notifications()
        .subscribe_notifications(pb::SubscribeNotificationsRequest {
            recipient: coordinators(),
            cursor: received[1].cursor.clone(),
        })
        .await
        .expect("stream reopened")
        .into_inner();
    while received.len() < 5 {
        let next = tokio::time::timeout(WAIT, resumed.next())
            .await
            .expect("a notification in time")
            .expect("the stream stays open")
            .expect("no error");
        received.push(next);
    }
    let ids: Vec<&str> = received.iter().map(|n| n.need_id.as_str()).collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "no repeats: {ids:?}");
    for need in &needs {
        assert!(ids.contains(&need.as_str()), "{need} missing from {ids:?}");
    }
    // Nothing more comes: the stream does not repeat what it sent.
    let extra = tokio::time::timeout(Duration::from_millis(1500), resumed.next()).await;
    assert!(extra.is_err(), "unexpected: {extra:?}");

    // Read state: marking two read leaves three unread.
    let marked = system
        .notifications()
        .mark_notifications_read(pb::MarkNotificationsReadRequest {
            recipient: coordinators(),
            notification_ids: received[..2].iter().map(|n| n.id.clone()).collect(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(marked.marked, 2);
    let unread = system
        .notifications()
        .list_notifications(pb::ListNotificationsRequest {
            recipient: coordinators(),
            page: None,
            unread_only: true,
        })
        .await
        .unwrap()
        .into_inner()
        .notifications;
    assert_eq!(unread.len(), 3);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_event_sends_nothing_twice() {
    let receiver = WebhookReceiver::start(vec![]);
    let system = TestSystem::start_with(options(vec![])).await;
    let fixture = Fixture::create(&system, 1).await;
    subscribe(&system, webhook(receiver.url(), "大垣市 福祉システム")).await;
    let need = submit(&system, "again-1", &fixture.daily_life_area_id, false).await;
    receiver.wait_for(1, WAIT).await;

    // matching's need.unmatched, published again with its own id.
    let matching_db = system.database(ServiceName::Matching).await;
    let (event_id, payload_json): (uuid::Uuid, serde_json::Value) = sqlx::query_as(
        "SELECT id, payload FROM outbox WHERE event_type = 'need.unmatched' AND payload->>'need_id' = $1",
    )
    .bind(&need.id)
    .fetch_one(&matching_db)
    .await
    .expect("matching published need.unmatched");
    let again = Envelope {
        id: event_id,
        event_type: "need.unmatched".into(),
        municipality_code: MUNICIPALITY.into(),
        payload: payload_json,
        trace_headers: HashMap::new(),
    };
    system.publish(&again).await;
    system.publish(&again).await;
    // A later need is handled after the repeats (one consumer, in order).
    let sentinel = submit(&system, "again-2", &fixture.daily_life_area_id, false).await;
    let requests = receiver.wait_for(2, WAIT).await;
    assert_eq!(payload(&requests[1].body)["need_id"], sentinel.id.as_str());
    assert_eq!(receiver.requests().len(), 2, "the repeated event sent nothing");
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_refuse_bad_input_field_by_field_and_stay_inside_their_municipality() {
    let system = TestSystem::start_with(options(vec![])).await;
    let status = system
        .notifications()
        .create_subscription(pb::CreateSubscriptionRequest {
            subscription: Some(pb::Subscription {
                recipient: municipality_feed(),
                channel: "webhook".into(),
                address: "ftp://example.jp/hook".into(),
                event_types: vec!["need.exploded".into()],
                quiet_hours: Some(pb::QuietHours {
                    start_minute: 1500,
                    end_minute: 60,
                }),
                locale: "fr".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    let mut fields = violated_fields(&status);
    fields.sort();
    assert_eq!(
        fields,
        [
            "subscription.address",
            "subscription.event_types[0]",
            "subscription.locale",
            "subscription.quiet_hours",
            "subscription.subscriber_kind",
            "subscription.subscriber_name",
        ]
    );
    // E-mail is refused where no SMTP relay is configured.
    let status = system
        .notifications()
        .create_subscription(pb::CreateSubscriptionRequest {
            subscription: Some(pb::Subscription {
                channel: "email".into(),
                address: "a@example.jp".into(),
                ..webhook(String::new(), "x")
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["subscription.channel"]);

    // Another municipality's administrator cannot subscribe to 大垣市's feed or coordinators.
    let other = system
        .key(tsunagu_runtime::auth::Role::MunicipalAdmin, "212016", None)
        .await;
    let mut foreign =
        tsunagu_proto::notifications::v1::notifications_service_client::NotificationsServiceClient::new(
            system.channel_with_key(ServiceName::Notifications, &other),
        );
    for recipient in [municipality_feed(), coordinators()] {
        let status = foreign
            .create_subscription(pb::CreateSubscriptionRequest {
                subscription: Some(pb::Subscription {
                    recipient,
                    ..webhook("http://127.0.0.1:9/hook".into(), "よその市")
                }),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
    }
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_adds_a_template_version_and_the_next_notification_uses_it() {
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let mut as_prefecture =
        tsunagu_proto::notifications::v1::notifications_service_client::NotificationsServiceClient::new(
            system.channel_with_key(ServiceName::Notifications, &system.keys.prefecture_admin),
        );
    // A variable the key does not offer is refused.
    let status = as_prefecture
        .put_template(pb::PutTemplateRequest {
            key: "need.unmatched:need".into(),
            locale: "ja".into(),
            subject: "{{reason}}".into(),
            body: "本文".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["subject"]);
    // A municipality cannot change the prefecture's templates.
    let status = system
        .notifications()
        .put_template(pb::PutTemplateRequest {
            key: "need.unmatched:coordinators".into(),
            locale: "ja".into(),
            subject: "x".into(),
            body: "y".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);

    let stored = as_prefecture
        .put_template(pb::PutTemplateRequest {
            key: "need.unmatched:coordinators".into(),
            locale: "ja".into(),
            subject: "【要検討】{{category}}（{{need_id}}）".into(),
            body: "理由: {{reason}}".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    assert_eq!(stored.version, 2);
    let need = submit(&system, "template-1", &fixture.daily_life_area_id, false).await;
    let notification = eventually("the coordinators' notification", WAIT, || async {
        let all = notifications_of(
            &system,
            pb::recipient::Kind::CoordinatorsOfMunicipality(MUNICIPALITY.into()),
        )
        .await;
        all.into_iter().find(|n| n.need_id == need.id)
    })
    .await;
    assert_eq!(
        notification.title,
        format!("【要検討】外出支援（移動支援）（{}）", need.id)
    );
    assert_eq!(notification.template_key, "need.unmatched:coordinators");
    assert_eq!(notification.template_version, 2);
    let listed = system
        .notifications()
        .list_templates(pb::ListTemplatesRequest {})
        .await
        .unwrap()
        .into_inner()
        .templates;
    let current = listed
        .iter()
        .find(|t| t.key == "need.unmatched:coordinators" && t.locale == "ja")
        .unwrap();
    assert_eq!(current.version, 2);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_hears_of_its_proposals_and_a_residents_proxy_of_the_acceptance_only() {
    use tsunagu_proto::matching::v1 as matching_pb;
    use tsunagu_proto::matching::v1::matching_service_client::MatchingServiceClient;
    use tsunagu_proto::notifications::v1::notifications_service_client::NotificationsServiceClient;
    use tsunagu_runtime::auth::Role;

    let provider_hook = WebhookReceiver::start(vec![]);
    let proxy_hook = WebhookReceiver::start(vec![]);
    let system = TestSystem::start_with(options(vec![])).await;
    let fixture = Fixture::create(&system, 1).await;
    let provider = system
        .key(
            Role::Provider,
            MUNICIPALITY,
            Some(fixture.organization_id.parse().unwrap()),
        )
        .await;
    let mut as_provider =
        NotificationsServiceClient::new(system.channel_with_key(ServiceName::Notifications, &provider));
    let organization_feed = pb::Subscription {
        recipient: recipient(pb::recipient::Kind::OrganizationId(
            fixture.organization_id.clone(),
        )),
        subscriber_kind: pb::SubscriberKind::Organization.into(),
        subscriber_name: "NPO法人 ささえあい 事務局".into(),
        channel: "webhook".into(),
        address: provider_hook.url(),
        ..Default::default()
    };
    as_provider
        .create_subscription(pb::CreateSubscriptionRequest {
            subscription: Some(organization_feed.clone()),
        })
        .await
        .expect("a provider subscribes to its own proposals");
    // The municipality's staff cannot subscribe to a provider's proposals.
    let refused = system
        .notifications()
        .create_subscription(pb::CreateSubscriptionRequest {
            subscription: Some(organization_feed),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);

    let need = submit_need(&system, "proxy-1", &fixture.daily_life_area_id, "ゴミ出し").await;
    let proposed = provider_hook.wait_for(1, WAIT).await;
    let body = payload(&proposed[0].body);
    assert_eq!(body["event_type"], "match.proposed");
    assert_eq!(body["need_id"], need.id.as_str());
    let proposal_id = body["proposal_id"].as_str().unwrap().to_string();

    // The resident's ケアマネ hears how the need goes (registered by the coordinators).
    subscribe(
        &system,
        pb::Subscription {
            recipient: recipient(pb::recipient::Kind::NeedId(need.id.clone())),
            subscriber_kind: pb::SubscriberKind::Proxy.into(),
            subscriber_name: "居宅介護支援事業所 ケアマネジャー".into(),
            channel: "webhook".into(),
            address: proxy_hook.url(),
            ..Default::default()
        },
    )
    .await;
    MatchingServiceClient::new(system.channel_with_key(ServiceName::Matching, &provider))
        .accept_proposal(matching_pb::AcceptProposalRequest {
            proposal_id,
            responded_by: "ささえあい 田村".into(),
        })
        .await
        .expect("the provider accepts");
    // The need's status changes (提案中, 受諾済み) reach the proxy too, in whatever order
    // relative to the acceptance; wait for the acceptance.
    let body = eventually("the proxy to hear of the acceptance", WAIT, || async {
        proxy_hook
            .requests()
            .iter()
            .map(|request| payload(&request.body))
            .find(|body| body["event_type"] == "match.accepted")
    })
    .await;
    for request in proxy_hook.requests() {
        let event_type = payload(&request.body)["event_type"].clone();
        assert!(
            event_type == "match.accepted" || event_type == "need.status_changed",
            "a proxy hears only of the need's progress: {event_type}"
        );
    }
    let subject = body["subject"].as_str().unwrap();
    assert!(subject.contains("支援先が決まりました"), "{subject}");
    // Only what the proxy may read: the need's progress, not the coordinators' text.
    let text = body["body"].as_str().unwrap();
    assert!(!text.contains("コーディネーター 各位"), "{text}");
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_destination_trips_its_breaker_without_holding_back_another() {
    // Nothing listens on the first destination; the second answers.
    let down = format!("http://127.0.0.1:{}/hooks/tsunagu", unused_port());
    let healthy = WebhookReceiver::start(vec![]);
    let system = TestSystem::start_with(options(vec![
        ("TSUNAGU_DELIVERY_BREAKER_FAILURES", "1".to_string()),
        ("TSUNAGU_DELIVERY_BREAKER_SECONDS", "60".to_string()),
    ]))
    .await;
    let fixture = Fixture::create(&system, 1).await;
    let broken = subscribe(&system, webhook(down, "停止中のシステム"))
        .await
        .subscription
        .unwrap()
        .id;
    subscribe(&system, webhook(healthy.url(), "稼働中のシステム")).await;

    submit(&system, "breaker-1", &fixture.daily_life_area_id, false).await;
    eventually("the first failure", WAIT, || async {
        let all = deliveries(&system, &broken).await;
        all.into_iter()
            .find(|d| d.attempts == 1 && !d.last_error.is_empty())
    })
    .await;
    let second = submit(&system, "breaker-2", &fixture.daily_life_area_id, false).await;
    // The healthy destination gets both at once.
    let arrived = healthy.wait_for(2, WAIT).await;
    assert_eq!(payload(&arrived[1].body)["need_id"], second.id.as_str());
    // The broken one's second delivery is postponed by the open breaker: no attempt was made
    // (none counted, none logged), and it waits for the cool-down.
    let postponed = eventually("the second delivery to be postponed", WAIT, || async {
        let all = deliveries(&system, &broken).await;
        all.into_iter().find(|d| {
            d.attempts == 0 && d.next_attempt_at.as_ref().unwrap().seconds > Utc::now().timestamp() + 30
        })
    })
    .await;
    assert!(delivery(&system, &postponed.id).await.attempt_log.is_empty());
    system.shutdown().await;
}
