//! The e-mail channel against a real SMTP server (`tsunagu_tests::smtp_server`): what reaches
//! the relay (a Japanese subject and body decoded intact, the delivery's stable Message-ID),
//! how failures are classified (a relay that is down or defers: try again; an unknown mailbox:
//! final), and STARTTLS with a municipality's private CA. No PostgreSQL or RabbitMQ needed.

use std::time::Duration;

use tsunagu_notifications::channels::email::{EmailAdapter, EmailSettings};
use tsunagu_notifications::channels::{ChannelAdapter, Outgoing, SendError};
use tsunagu_tests::certificates;
use tsunagu_tests::smtp_server::{SmtpServer, unused_port};

const FROM: &str = "noreply@tsunagu.example.jp";
const WAIT: Duration = Duration::from_secs(10);

fn adapter(url: String, ca_pem: Option<Vec<u8>>) -> EmailAdapter {
    EmailAdapter::new(EmailSettings {
        url,
        from: FROM.into(),
        ca_pem,
    })
    .expect("valid e-mail settings")
}

fn outgoing(address: &str) -> Outgoing {
    Outgoing {
        delivery_id: uuid::Uuid::now_v7(),
        event_id: uuid::Uuid::now_v7(),
        event_type: "need.matched".into(),
        address: address.into(),
        secret: None,
        subject: "【大垣市】ゴミ出し支援の申し出がありました".into(),
        body: "山田様\n\nNPO法人 ささえあい から支援の申し出がありました。\n詳細は管理画面でご確認ください。"
            .into(),
        payload: serde_json::json!({}),
    }
}

#[tokio::test]
async fn mail_reaches_the_relay_intact_and_failures_are_classified() {
    let mut server = SmtpServer::start();
    let email = adapter(server.url(), None);
    assert_eq!(
        email.destination(&outgoing("a@example.jp")),
        format!("127.0.0.1:{}", server.port())
    );

    let sent = outgoing("coordinator@example.jp");
    email.send(&sent).await.expect("the relay accepts the message");
    let received = server.wait_for_messages(1, WAIT).await;
    assert_eq!(received.len(), 1, "{received:#?}");
    let mail = &received[0];
    assert_eq!(mail.to, ["coordinator@example.jp"]);
    assert_eq!(mail.from, FROM);
    assert_eq!(mail.subject, sent.subject, "the subject survives RFC 2047");
    assert_eq!(mail.body.trim_end(), sent.body);
    assert!(
        mail.message_id.contains(&sent.delivery_id.to_string()),
        "{}",
        mail.message_id
    );
    assert_eq!(mail.header("X-Tsunagu-Event"), Some("need.matched"));
    assert!(!mail.tls, "this server offers no STARTTLS");

    // The relay's verdict on a recipient: 550 is final, 451 is worth another try.
    let refused = email.send(&outgoing("reject-nobody@example.jp")).await;
    assert!(
        matches!(&refused, Err(SendError::Permanent(text)) if text.contains("550")),
        "{refused:?}"
    );
    let deferred = email.send(&outgoing("defer-busy@example.jp")).await;
    assert!(
        matches!(&deferred, Err(SendError::Retryable(text)) if text.contains("451")),
        "{deferred:?}"
    );

    // A relay that is down: try again later — and later it works.
    server.stop();
    let down = email.send(&sent).await;
    assert!(matches!(down, Err(SendError::Retryable(_))), "{down:?}");
    server.restart();
    email.send(&sent).await.expect("the relay is back");
    let received = server.wait_for_messages(2, WAIT).await;
    assert_eq!(received.len(), 2, "{received:#?}");
    assert_eq!(
        received[1].message_id, mail.message_id,
        "a retry keeps its Message-ID"
    );
}

#[tokio::test]
async fn starttls_with_the_municipality_ca() {
    let certs = certificates::generate();
    let (cert, key) = (
        certs.directory.join("service.pem"),
        certs.directory.join("service.key"),
    );
    let server = SmtpServer::start_on(unused_port(), Some((&cert, &key)));
    let ca = certs.read("ca.pem");

    // Opportunistic (the plain URL) upgrades because the server offers STARTTLS.
    let sent = outgoing("coordinator@example.jp");
    adapter(server.url(), Some(ca.clone()))
        .send(&sent)
        .await
        .expect("sent over STARTTLS");
    let received = server.wait_for_messages(1, WAIT).await;
    assert!(received[0].tls, "the session was upgraded: {:#?}", received[0]);
    assert_eq!(received[0].subject, sent.subject);

    let required = format!("{}?tls=required", server.url());
    adapter(required.clone(), Some(ca))
        .send(&sent)
        .await
        .expect("sent with STARTTLS required");
    let received = server.wait_for_messages(2, WAIT).await;
    assert!(received[1].tls);

    // Without the municipality's CA the certificate is not trusted: nothing is sent.
    let untrusted = adapter(required, None).send(&sent).await;
    assert!(matches!(untrusted, Err(SendError::Retryable(_))), "{untrusted:?}");
    assert_eq!(server.messages().len(), 2);

    // A relay that offers no STARTTLS gets nothing when TLS is required.
    let plain = SmtpServer::start();
    let refused = adapter(format!("{}?tls=required", plain.url()), None)
        .send(&sent)
        .await;
    assert!(matches!(refused, Err(SendError::Retryable(_))), "{refused:?}");
    assert!(plain.messages().is_empty());
}

/// A relay that wants a login: the adapter authenticates after STARTTLS with the user and
/// password of the URL; a wrong password is a final refusal (535), which an operator fixes
/// and then replays.
#[tokio::test]
async fn smtp_auth_with_the_login_of_the_url() {
    let certs = certificates::generate();
    let (cert, key) = (
        certs.directory.join("service.pem"),
        certs.directory.join("service.key"),
    );
    let server = SmtpServer::start_with_auth((&cert, &key), "tsunagu@ogaki", "p@ss:word");
    let ca = certs.read("ca.pem");
    let with_login = |login: &str| format!("smtp://{login}@127.0.0.1:{}?tls=required", server.port());

    let sent = outgoing("coordinator@example.jp");
    adapter(with_login("tsunagu%40ogaki:p%40ss%3Aword"), Some(ca.clone()))
        .send(&sent)
        .await
        .expect("sent after AUTH");
    let received = server.wait_for_messages(1, WAIT).await;
    assert!(received[0].tls);
    assert_eq!(received[0].auth_user.as_deref(), Some("tsunagu@ogaki"));
    assert_eq!(received[0].subject, sent.subject);

    let wrong = adapter(with_login("tsunagu%40ogaki:wrong"), Some(ca.clone()))
        .send(&sent)
        .await;
    match wrong {
        Err(SendError::Permanent(reason)) => assert!(!reason.contains("wrong"), "{reason}"),
        other => panic!("a wrong password is final: {other:?}"),
    }
    // Without a login the relay takes nothing either.
    let anonymous = adapter(
        format!("smtp://127.0.0.1:{}?tls=required", server.port()),
        Some(ca),
    )
    .send(&sent)
    .await;
    assert!(anonymous.is_err(), "{anonymous:?}");
    assert_eq!(server.messages().len(), 1);
}
