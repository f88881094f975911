//! The webhook channel against a real HTTP receiver (no database or broker needed): what a
//! municipal system receives, how its answers are classified, and that the signature a
//! receiver checks holds exactly for the bytes sent.

use std::time::Duration;

use tsunagu_notifications::channels::destination::DestinationPolicy;
use tsunagu_notifications::channels::signature::{self, VerifyError};
use tsunagu_notifications::channels::webhook::{WebhookAdapter, WebhookSettings};
use tsunagu_notifications::channels::{ChannelAdapter, Outgoing, SendError};
use tsunagu_tests::certificates;
use tsunagu_tests::webhook_receiver::WebhookReceiver;

const WAIT: Duration = Duration::from_secs(10);

fn adapter(allow_plain_http: bool, ca_pem: Option<Vec<u8>>) -> WebhookAdapter {
    WebhookAdapter::new(WebhookSettings {
        timeout: Duration::from_secs(5),
        ca_pem,
        allow_plain_http,
        // The receivers of these tests listen on the loopback interface.
        destinations: DestinationPolicy::allowing(&["127.0.0.1"]),
    })
    .expect("webhook adapter")
}

fn outgoing(address: String, secret: &str) -> Outgoing {
    Outgoing {
        delivery_id: uuid::Uuid::now_v7(),
        event_id: uuid::Uuid::now_v7(),
        event_type: "need.matched".into(),
        address,
        secret: Some(secret.into()),
        subject: "支援が見つかりました".into(),
        body: String::new(),
        payload: serde_json::json!({
            "event_type": "need.matched",
            "need_id": "0191f2c4-0000-7000-8000-000000000001",
            "municipality_code": "212024",
        }),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn a_failed_delivery_is_retried_and_the_accepted_one_verifies() {
    let receiver = WebhookReceiver::start(vec![500]);
    let webhook = adapter(true, None);
    let secret = signature::new_secret();
    let message = outgoing(receiver.url(), &secret);
    assert_eq!(webhook.validate_address(&message.address), Ok(()));

    match webhook.send(&message).await {
        Err(SendError::Retryable(reason)) => {
            assert!(reason.contains("500"), "{reason}");
            assert!(
                reason.contains("scripted answer 500"),
                "the body excerpt: {reason}"
            );
        }
        other => panic!("a 500 must be retryable, got {other:?}"),
    }
    assert_eq!(webhook.send(&message).await, Ok(()));

    let requests = receiver.wait_for(2, WAIT).await;
    assert_eq!(requests.len(), 2);
    assert_eq!(requests.iter().map(|r| r.status).collect::<Vec<_>>(), [500, 200]);
    let accepted = &requests[1];
    assert_eq!(accepted.method, "POST");
    assert_eq!(accepted.path, "/hooks/tsunagu");
    assert_eq!(
        accepted.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(accepted.header("tsunagu-event"), Some("need.matched"));
    assert_eq!(
        accepted.header("tsunagu-event-id"),
        Some(message.event_id.to_string().as_str())
    );
    // The retry is the same delivery: a receiver deduplicates on this id.
    let delivery = message.delivery_id.to_string();
    assert_eq!(requests[0].header("tsunagu-delivery"), Some(delivery.as_str()));
    assert_eq!(accepted.header("tsunagu-delivery"), Some(delivery.as_str()));
    assert!(
        accepted
            .header("user-agent")
            .is_some_and(|agent| agent.starts_with("tsunagu-notifications/"))
    );
    assert_eq!(accepted.body, serde_json::to_vec(&message.payload).unwrap());

    // What the receiver does with the secret it was given when it subscribed.
    let header = accepted.header("tsunagu-signature").expect("signed");
    assert_eq!(
        signature::verify(secret.as_bytes(), header, &accepted.body, now(), 300),
        Ok(())
    );
    let mut tampered = accepted.body.clone();
    tampered[5] ^= 0x01;
    assert_eq!(
        signature::verify(secret.as_bytes(), header, &tampered, now(), 300),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        signature::verify(b"whsec_someone_else", header, &accepted.body, now(), 300),
        Err(VerifyError::Mismatch)
    );
}

#[tokio::test]
async fn a_refusal_or_a_redirect_is_final() {
    let receiver = WebhookReceiver::start(vec![404, 302]);
    let webhook = adapter(true, None);
    let message = outgoing(receiver.url(), &signature::new_secret());
    match webhook.send(&message).await {
        Err(SendError::Permanent(reason)) => assert!(reason.contains("404"), "{reason}"),
        other => panic!("a 404 must be permanent, got {other:?}"),
    }
    match webhook.send(&message).await {
        Err(SendError::Permanent(reason)) => {
            assert!(reason.contains("redirects are not followed"), "{reason}")
        }
        other => panic!("a 302 must be permanent, got {other:?}"),
    }
    assert_eq!(receiver.wait_for(2, WAIT).await.len(), 2);
}

#[tokio::test]
async fn an_unreachable_or_silent_receiver_is_retryable() {
    // A port nobody listens on: bound, then released.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let webhook = adapter(true, None);
    let message = outgoing(format!("http://{address}/hooks"), "whsec_x");
    assert_eq!(webhook.destination(&message), format!("http://{address}"));
    assert!(
        matches!(webhook.send(&message).await, Err(SendError::Retryable(_))),
        "connection refused must be retryable"
    );

    // Accepts the connection and never answers: the timeout bounds the delivery.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = silent.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let (_stream, _) = silent.accept().await.unwrap();
        std::future::pending::<()>().await;
    });
    let impatient = WebhookAdapter::new(WebhookSettings {
        timeout: Duration::from_millis(300),
        ca_pem: None,
        allow_plain_http: true,
        destinations: DestinationPolicy::allowing(&["127.0.0.1"]),
    })
    .unwrap();
    let started = std::time::Instant::now();
    match impatient
        .send(&outgoing(format!("http://{address}/hooks"), "whsec_x"))
        .await
    {
        Err(SendError::Retryable(reason)) => assert!(reason.contains("timed out"), "{reason}"),
        other => panic!("a silent receiver must time out, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    holder.abort();
}

#[tokio::test]
async fn https_is_verified_against_the_configured_ca() {
    let certs = certificates::generate();
    let receiver = WebhookReceiver::start_tls(vec![], &certs.read("service.pem"), &certs.read("service.key"));
    let message = outgoing(receiver.url(), "whsec_x");

    // The municipality's private CA is configured: delivered, over https only.
    let trusting = adapter(false, Some(certs.read("ca.pem")));
    assert_eq!(trusting.send(&message).await, Ok(()));
    assert!(trusting.validate_address("http://127.0.0.1/hooks").is_err());

    // Without it the certificate is unknown: nothing reaches the receiver.
    let stranger = adapter(false, None);
    assert!(matches!(
        stranger.send(&message).await,
        Err(SendError::Retryable(_))
    ));
    assert_eq!(receiver.requests().len(), 1);

    // A CA file that holds no certificate stops the service at start.
    assert!(
        WebhookAdapter::new(WebhookSettings {
            ca_pem: Some(b"not a certificate".to_vec()),
            ..WebhookSettings::default()
        })
        .is_err()
    );
}
