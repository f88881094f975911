//! Notifications refuse without revealing (issue 17, ARCHITECTURE "A refusal reveals
//! nothing"): a subscription to the proxies of another municipality's need or of a need that
//! does not exist, and every call naming a subscription or a delivery that is someone else's
//! or made up, get the same PERMISSION_DENIED.

use tonic::Code;
use tsunagu_proto::notifications::v1 as pb;
use tsunagu_proto::notifications::v1::notifications_service_client::NotificationsServiceClient;
use tsunagu_runtime::ServiceName;
use tsunagu_runtime::auth::Role;
use tsunagu_tests::webhook_receiver::WebhookReceiver;
use tsunagu_tests::{Fixture, KeyedChannel, MUNICIPALITY, Options, TestSystem, eventually};

use crate::support::{WAIT, submit_need};

/// 岐阜市: another municipality of the prefecture.
const OTHER_MUNICIPALITY: &str = "212016";

fn proxy_of(need_id: &str, municipality: &str) -> pb::CreateSubscriptionRequest {
    pb::CreateSubscriptionRequest {
        subscription: Some(pb::Subscription {
            municipality_code: municipality.into(),
            recipient: Some(pb::Recipient {
                kind: Some(pb::recipient::Kind::NeedId(need_id.into())),
            }),
            subscriber_kind: pb::SubscriberKind::Proxy.into(),
            subscriber_name: "居宅介護支援事業所 ケアマネジャー".into(),
            channel: "webhook".into(),
            address: "https://care.example.jp/hook".into(),
            ..Default::default()
        }),
    }
}

async fn client(
    system: &TestSystem,
    role: Role,
    scope: &str,
    organization: Option<&str>,
) -> NotificationsServiceClient<KeyedChannel> {
    let key = system
        .key(role, scope, organization.map(|id| id.parse().unwrap()))
        .await;
    NotificationsServiceClient::new(system.channel_with_key(ServiceName::Notifications, &key))
}

fn system_options() -> Options {
    Options {
        env: vec![("TSUNAGU_WEBHOOK_ALLOW_HTTP", "true".to_string())],
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_only_of_a_need_of_the_municipality() {
    let system = TestSystem::start_with(system_options()).await;
    let fixture = Fixture::create(&system, 1).await;
    let need = submit_need(&system, "proxy-scope", &fixture.daily_life_area_id, "ゴミ出し").await;

    // The municipality's own staff subscribe once notifications heard of the need (its
    // proposal).
    eventually("the need's proxies to be subscribable", WAIT, || async {
        system
            .notifications()
            .create_subscription(proxy_of(&need.id, MUNICIPALITY))
            .await
            .ok()
    })
    .await;

    // Another municipality's administrator, naming its own municipality: the need is not
    // one of its needs. A made-up need: the same answer.
    let mut foreign = client(&system, Role::MunicipalAdmin, OTHER_MUNICIPALITY, None).await;
    let made_up = uuid::Uuid::now_v7().to_string();
    for (need_id, municipality) in [
        (need.id.as_str(), OTHER_MUNICIPALITY),
        (made_up.as_str(), OTHER_MUNICIPALITY),
        (need.id.as_str(), MUNICIPALITY),
    ] {
        let refused = foreign
            .create_subscription(proxy_of(need_id, municipality))
            .await
            .expect_err("refused");
        assert_eq!(
            refused.code(),
            Code::PermissionDenied,
            "{need_id} in {municipality}"
        );
    }
    // The need's own municipality, for a need that does not exist: refused the same way.
    let refused = system
        .notifications()
        .create_subscription(proxy_of(&made_up, MUNICIPALITY))
        .await
        .expect_err("a made-up need");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let foreign_message = foreign
        .create_subscription(proxy_of(&need.id, OTHER_MUNICIPALITY))
        .await
        .unwrap_err()
        .message()
        .to_string();
    assert_eq!(refused.message(), foreign_message, "one refusal, word for word");
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_of_others_and_made_up_ids_get_the_same_refusal() {
    let receiver = WebhookReceiver::start(vec![]);
    let system = TestSystem::start_with(system_options()).await;
    let fixture = Fixture::create(&system, 1).await;
    let subscription = system
        .notifications()
        .create_subscription(pb::CreateSubscriptionRequest {
            subscription: Some(tsunagu_tests::municipal_system_webhook(
                &receiver.url(),
                "大垣市 福祉システム",
                &["need.unmatched"],
            )),
        })
        .await
        .expect("the municipality's feed")
        .into_inner()
        .subscription
        .unwrap();
    // A need nobody offers to: unmatched, one delivery to the feed.
    let _need = submit_need(&system, "refusals", &fixture.daily_life_area_id, "外出支援").await;
    let delivery = eventually("a delivery to the feed", WAIT, || async {
        system
            .notifications()
            .list_deliveries(pb::ListDeliveriesRequest {
                municipality_code: MUNICIPALITY.into(),
                subscription_id: subscription.id.clone(),
                ..Default::default()
            })
            .await
            .ok()?
            .into_inner()
            .deliveries
            .into_iter()
            .next()
    })
    .await;

    let made_up = uuid::Uuid::now_v7().to_string();
    let callers = [
        (
            "a provider of the municipality",
            client(
                &system,
                Role::Provider,
                MUNICIPALITY,
                Some(&fixture.organization_id),
            )
            .await,
        ),
        (
            "another municipality's integration",
            client(&system, Role::Integration, OTHER_MUNICIPALITY, None).await,
        ),
        (
            "another municipality's administrator",
            client(&system, Role::MunicipalAdmin, OTHER_MUNICIPALITY, None).await,
        ),
    ];
    for (who, mut caller) in callers {
        for (what, subscription_id, delivery_id) in [
            ("real", subscription.id.as_str(), delivery.id.as_str()),
            ("made up", made_up.as_str(), made_up.as_str()),
        ] {
            let deleted = caller
                .delete_subscription(pb::DeleteSubscriptionRequest {
                    id: subscription_id.into(),
                })
                .await
                .expect_err("DeleteSubscription refused");
            let got = caller
                .get_delivery(pb::GetDeliveryRequest {
                    id: delivery_id.into(),
                })
                .await
                .expect_err("GetDelivery refused");
            let replayed = caller
                .replay_deliveries(pb::ReplayDeliveriesRequest {
                    delivery_ids: vec![delivery_id.into()],
                })
                .await
                .expect_err("ReplayDeliveries refused");
            for (call, status) in [
                ("DeleteSubscription", deleted),
                ("GetDelivery", got),
                ("ReplayDeliveries", replayed),
            ] {
                assert_eq!(
                    status.code(),
                    Code::PermissionDenied,
                    "{who}, {call} of a {what} id: {status:?}"
                );
            }
        }
        // Marking someone else's notifications read marks nothing, as for made-up ids.
        let marked = caller
            .mark_notifications_read(pb::MarkNotificationsReadRequest {
                recipient: Some(pb::Recipient {
                    kind: Some(pb::recipient::Kind::OrganizationId(
                        fixture.organization_id.clone(),
                    )),
                }),
                notification_ids: vec![made_up.clone()],
            })
            .await;
        if let Ok(marked) = marked {
            assert_eq!(marked.into_inner().marked, 0, "{who}");
        } else {
            assert_eq!(marked.unwrap_err().code(), Code::PermissionDenied, "{who}");
        }
    }
    // The subscription is still there for its owners.
    system
        .notifications()
        .delete_subscription(pb::DeleteSubscriptionRequest {
            id: subscription.id.clone(),
        })
        .await
        .expect("the municipality removes its own subscription");
    system.shutdown().await;
}
