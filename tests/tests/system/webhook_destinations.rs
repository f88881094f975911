//! Server-side request forgery (issue 17): a webhook may not point into the deployment's own
//! networks — loopback, link-local (the cloud's metadata service), private, CGNAT, unspecified,
//! multicast, in-cluster names — unless the operator allows it
//! (`TSUNAGU_WEBHOOK_ALLOWED_DESTINATIONS`); refused when the subscription is made and again
//! at every delivery, after resolving the name.

use std::time::Duration;

use tonic::Code;
use tonic_types::StatusExt;
use tsunagu_proto::intake::v1 as intake_pb;
use tsunagu_proto::notifications::v1 as pb;
use tsunagu_runtime::ServiceName;
use tsunagu_tests::webhook_receiver::WebhookReceiver;
use tsunagu_tests::{Fixture, MUNICIPALITY, Options, TestSystem, eventually};

use crate::support::violated_fields;

const ALLOWED: &str = "TSUNAGU_WEBHOOK_ALLOWED_DESTINATIONS";

/// A system whose operator allows `allowed` (nothing when empty), plain HTTP on.
async fn system(allowed: &str) -> TestSystem {
    TestSystem::start_with(Options {
        env: vec![
            (ALLOWED, allowed.to_string()),
            ("TSUNAGU_WEBHOOK_ALLOW_HTTP", "true".to_string()),
        ],
        ..Options::default()
    })
    .await
}

async fn subscribe(system: &TestSystem, url: &str) -> Result<pb::CreateSubscriptionResponse, tonic::Status> {
    system
        .notifications()
        .create_subscription(pb::CreateSubscriptionRequest {
            subscription: Some(tsunagu_tests::municipal_system_webhook(
                url,
                "大垣市 福祉システム",
                &["need.unmatched"],
            )),
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_into_internal_networks_are_refused_at_subscription() {
    let system = system("").await;
    for url in [
        "https://127.0.0.1/hook",
        "https://127.8.9.10:8443/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/hook",
        "https://172.16.5.4/hook",
        "https://192.168.1.1/hook",
        "https://100.64.0.1/hook",
        "https://0.0.0.0/hook",
        "https://224.0.0.1/hook",
        "https://[::1]/hook",
        "https://[::]/hook",
        "https://[fe80::1]/hook",
        "https://[fd00::1]/hook",
        "https://[ff02::1]/hook",
        "https://[::ffff:169.254.169.254]/hook",
        "https://localhost/hook",
        "http://localhost:8080/hook",
        "https://registry/hook",
        "https://registry.tsunagu.svc/hook",
        "https://registry.tsunagu.svc.cluster.local/hook",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://2130706433/hook",
    ] {
        let status = subscribe(&system, url).await.expect_err(url);
        assert_eq!(violated_fields(&status), ["subscription.address"], "{url}");
        let description = status.get_error_details().bad_request().unwrap().field_violations[0]
            .description
            .clone();
        let (japanese, english) = description
            .split_once(" / ")
            .unwrap_or_else(|| panic!("{url}: Japanese / English: {description}"));
        assert!(japanese.contains("Webhookの宛先"), "{url}: {japanese}");
        assert!(english.contains(ALLOWED), "{url}: {english}");
    }
    // A public destination is still accepted (its name need not resolve yet).
    subscribe(&system, "https://hooks.city.ogaki.lg.jp/tsunagu")
        .await
        .expect("a public webhook");
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_allows_hosts_and_networks() {
    let system = system("127.0.0.1, 10.20.0.0/16, fd00::/8, hooks.city.lan").await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "https://10.20.1.2/hook",
        "https://[fd00::5]/hook",
        "https://hooks.city.lan/hook",
    ] {
        subscribe(&system, url).await.expect(url);
    }
    for url in [
        "https://127.0.0.2/hook",
        "https://10.21.0.1/hook",
        "https://169.254.169.254/",
        "https://localhost/hook",
    ] {
        let status = subscribe(&system, url).await.expect_err(url);
        assert_eq!(status.code(), Code::InvalidArgument, "{url}");
    }
    system.shutdown().await;
}

/// A subscription stored before the guard (or while the operator still allowed its network)
/// is refused at delivery: the address is resolved and checked before any connection, and the
/// refusal is final — dead, with the reason in the log, and nothing reaches the receiver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_to_an_internal_address_is_refused_and_dead_lettered() {
    let receiver = WebhookReceiver::start(vec![]);
    let system = system("").await;
    let fixture = Fixture::create(&system, 1).await;
    let created = subscribe(&system, "https://hooks.city.ogaki.lg.jp/tsunagu")
        .await
        .expect("a public webhook");
    let subscription_id = created.subscription.unwrap().id;
    // What an older version let in: the receiver on the loopback interface.
    let database = system.database(ServiceName::Notifications).await;
    sqlx::query("UPDATE subscription SET address = $1 WHERE id = $2::uuid")
        .bind(receiver.url())
        .bind(&subscription_id)
        .execute(&database)
        .await
        .expect("point the subscription at the loopback");

    system
        .intake()
        .submit_need(intake_pb::SubmitNeedRequest {
            request_id: "ssrf-1".into(),
            municipality_code: MUNICIPALITY.into(),
            area_id: fixture.daily_life_area_id.clone(),
            // No resource of the fixture offers it: the need is unmatched at once.
            category: "外出支援".into(),
            urgency: intake_pb::Urgency::Urgent.into(),
            consent: Some(tsunagu_tests::consent_to_share()),
            ..Default::default()
        })
        .await
        .expect("need accepted");

    let dead = eventually(
        "the delivery to be dead-lettered",
        Duration::from_secs(30),
        || async {
            let deliveries = system
                .notifications()
                .list_deliveries(pb::ListDeliveriesRequest {
                    municipality_code: MUNICIPALITY.into(),
                    subscription_id: subscription_id.clone(),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .deliveries;
            deliveries
                .into_iter()
                .find(|d| d.state == pb::DeliveryState::Dead as i32)
        },
    )
    .await;
    let delivery = system
        .notifications()
        .get_delivery(pb::GetDeliveryRequest { id: dead.id })
        .await
        .unwrap()
        .into_inner()
        .delivery
        .unwrap();
    assert_eq!(delivery.attempts, 1, "a refusal is not retried");
    let error = &delivery.last_error;
    assert!(
        error.contains("a loopback address") && error.contains("ループバック"),
        "{error}"
    );
    assert!(receiver.requests().is_empty(), "nothing reached the receiver");
    system.shutdown().await;
}
