//! One need is one trace: from intake's gRPC call, through the outbox and RabbitMQ to
//! matching, through RabbitMQ again to notifications, and over gRPC to the registry — received
//! by a real OTLP/gRPC receiver. (Its own test binary: the tracing subscriber is per process.)

use std::collections::BTreeSet;
use std::time::Duration;

use tsunagu_proto::intake::v1 as intake_pb;
use tsunagu_proto::notifications::v1 as notifications_pb;
use tsunagu_runtime::config::Config;
use tsunagu_runtime::{ServiceName, telemetry};
use tsunagu_tests::otlp_receiver::{OtlpReceiver, ReceivedSpan};
use tsunagu_tests::webhook_receiver::WebhookReceiver;
use tsunagu_tests::{Fixture, MUNICIPALITY, Options, TestSystem, eventually, municipal_system_webhook};

const SPAN_KIND_SERVER: i32 = 2;
const SPAN_KIND_CLIENT: i32 = 3;
const SPAN_KIND_PRODUCER: i32 = 4;
const SPAN_KIND_CONSUMER: i32 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_need_is_one_trace_across_all_four_services() {
    let (receiver, endpoint) = OtlpReceiver::start().await;
    // A log filter with targets more verbose than the rest once made spans vanish from the
    // trace (tokio-rs/tracing#2519); traces must not depend on what the log shows.
    let telemetry_config = Config::from_lookup(|key| match key {
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(endpoint.clone()),
        "RUST_LOG" => Some("warn,sqlx=info,tsunagu_matching=debug".into()),
        _ => None,
    })
    .unwrap();
    let telemetry = telemetry::init("tsunagu-test", &telemetry_config).expect("telemetry");

    let system = TestSystem::start_with(Options {
        otlp_endpoint: Some(endpoint.clone()),
        // The municipality's system hears of the proposal over a webhook on the loopback.
        env: vec![("TSUNAGU_WEBHOOK_ALLOW_HTTP", "true".into())],
        ..Options::default()
    })
    .await;
    let fixture = Fixture::create(&system, 3).await;
    let webhook = WebhookReceiver::start(vec![]);
    system
        .notifications()
        .create_subscription(notifications_pb::CreateSubscriptionRequest {
            subscription: Some(municipal_system_webhook(
                &webhook.url(),
                "大垣市 福祉システム",
                &["match.proposed"],
            )),
        })
        .await
        .expect("webhook subscription");
    // The need's journey is only one trace if matching already knows the resource; otherwise
    // the proposal is made later, in the trace of the resource's own event.
    let matching_db = system.database(ServiceName::Matching).await;
    eventually("matching knows the resource", Duration::from_secs(30), || async {
        let known: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM resource WHERE id = $1::uuid)")
            .bind(&fixture.resource_id)
            .fetch_one(&matching_db)
            .await
            .unwrap();
        known.then_some(())
    })
    .await;

    let need = system
        .intake()
        .submit_need(intake_pb::SubmitNeedRequest {
            request_id: "traced".into(),
            municipality_code: MUNICIPALITY.into(),
            area_id: fixture.daily_life_area_id.clone(),
            category: "ゴミ出し".into(),
            urgency: intake_pb::Urgency::Urgent.into(),
            resident_id: String::new(),
            // Personal data: it must show in no span.
            referrer: Some(intake_pb::Referrer {
                name: "山田花子".into(),
                contact: "0584-00-0000".into(),
                ..Default::default()
            }),
            notes: "山田さんのゴミ出し、毎週火曜".into(),
            consent: Some(tsunagu_tests::consent_to_share()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .need
        .unwrap();
    eventually("the provider's notification", Duration::from_secs(30), || async {
        let notifications = system
            .notifications()
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
        notifications.iter().any(|n| n.need_id == need.id).then_some(())
    })
    .await;

    // The last span (the registry's answer) ends just after the notification commits; flush
    // until the whole journey has arrived.
    let trace = eventually(
        "the complete trace at the OTLP receiver",
        Duration::from_secs(30),
        || {
            telemetry.flush();
            let spans = receiver.spans();
            async move {
                let submit = spans
                    .iter()
                    .find(|s| s.name == "tsunagu.intake.v1.IntakeService/SubmitNeed")?;
                let trace: Vec<ReceivedSpan> = spans
                    .iter()
                    .filter(|s| s.trace_id == submit.trace_id)
                    .cloned()
                    .collect();
                let looked_up = trace.iter().any(|s| {
                    s.name == "tsunagu.registry.v1.RegistryService/GetOrganization"
                        && s.kind == SPAN_KIND_SERVER
                });
                let sent = trace.iter().any(|s| s.name == "notifications send");
                (looked_up && sent).then_some(trace)
            }
        },
    )
    .await;

    let services: BTreeSet<&str> = trace
        .iter()
        .filter_map(|s| s.attribute("tsunagu.service"))
        .collect();
    assert_eq!(
        services,
        BTreeSet::from(["intake", "matching", "notifications", "registry"]),
        "spans of all four services in one trace"
    );

    let find = |kind: i32, service: &str, name_contains: &str| -> &ReceivedSpan {
        trace
            .iter()
            .find(|s| {
                s.kind == kind
                    && s.attribute("tsunagu.service") == Some(service)
                    && s.name.contains(name_contains)
            })
            .unwrap_or_else(|| panic!("no {service} span of kind {kind} named *{name_contains}*: {trace:#?}"))
    };
    let submit = find(SPAN_KIND_SERVER, "intake", "SubmitNeed");
    let intake_publish = find(SPAN_KIND_PRODUCER, "intake", "events publish");
    let matching_process = find(SPAN_KIND_CONSUMER, "matching", "process");
    let matching_publish = find(SPAN_KIND_PRODUCER, "matching", "events publish");
    let notifications_process = find(SPAN_KIND_CONSUMER, "notifications", "process");
    let lookup_call = find(SPAN_KIND_CLIENT, "notifications", "GetOrganization");
    let lookup_served = find(SPAN_KIND_SERVER, "registry", "GetOrganization");

    // The parent links cross every hop: outbox row → broker headers → gRPC metadata.
    assert_eq!(
        intake_publish.parent_span_id, submit.span_id,
        "the relay continues the request's trace"
    );
    assert_eq!(
        matching_process.parent_span_id, intake_publish.span_id,
        "AMQP headers carry the context"
    );
    assert_eq!(notifications_process.parent_span_id, matching_publish.span_id);
    assert_eq!(
        lookup_served.parent_span_id, lookup_call.span_id,
        "gRPC metadata carries the context"
    );

    // Messaging and RPC attributes after the OpenTelemetry semantic conventions.
    assert_eq!(matching_process.attribute("messaging.system"), Some("rabbitmq"));
    assert_eq!(
        matching_process.attribute("messaging.rabbitmq.destination.routing_key"),
        Some("need.submitted")
    );
    assert_eq!(
        notifications_process.attribute("tsunagu.municipality_code"),
        Some(MUNICIPALITY)
    );
    assert_eq!(lookup_served.attribute("rpc.system"), Some("grpc"));
    assert_eq!(lookup_served.attribute("rpc.method"), Some("GetOrganization"));
    assert!(trace.iter().all(|s| s.service_name == "tsunagu-test"));

    // The webhook to the municipality's system is sent in the same trace, under the
    // notifications consumer that wrote the delivery.
    let send = trace
        .iter()
        .find(|s| s.name == "notifications send")
        .expect("the delivery's send span");
    assert_eq!(send.kind, SPAN_KIND_PRODUCER);
    assert_eq!(send.attribute("messaging.system"), Some("webhook"));
    assert_eq!(send.attribute("messaging.operation.type"), Some("send"));
    assert_eq!(send.attribute("tsunagu.event_type"), Some("match.proposed"));
    assert!(
        trace
            .iter()
            .any(|s| s.span_id == send.parent_span_id
                && s.attribute("tsunagu.service") == Some("notifications")),
        "the send continues the consumer's trace: {send:?}"
    );
    assert_eq!(webhook.requests().len(), 1, "one webhook request");

    // The ids of what the messages are about (never personal data) ride on the spans.
    assert_eq!(
        matching_process.attribute("tsunagu.need_id"),
        Some(need.id.as_str())
    );
    assert_eq!(
        notifications_process.attribute("tsunagu.need_id"),
        Some(need.id.as_str())
    );
    let proposal_id = notifications_process
        .attribute("tsunagu.proposal_id")
        .expect("match.proposed names its proposal");
    assert_eq!(
        matching_publish.attribute("tsunagu.proposal_id"),
        Some(proposal_id)
    );

    // The significant database operations, after the database conventions, in the same trace.
    let db = |service: &str, name: &str| -> &ReceivedSpan {
        let span = find(SPAN_KIND_CLIENT, service, name);
        assert_eq!(span.attribute("db.system.name"), Some("postgresql"), "{span:?}");
        assert_eq!(span.attribute("db.namespace"), Some(service), "{span:?}");
        let (operation, table) = name.split_once(' ').expect("operation and table");
        assert_eq!(span.attribute("db.operation.name"), Some(operation), "{span:?}");
        assert_eq!(span.attribute("db.collection.name"), Some(table), "{span:?}");
        span
    };
    assert_eq!(
        db("intake", "INSERT need").attribute("tsunagu.need_id"),
        Some(need.id.as_str())
    );
    assert_eq!(
        db("matching", "INSERT inbox").parent_span_id,
        matching_process.span_id,
        "the inbox insert is part of handling the message"
    );
    db("matching", "SELECT resource");
    assert_eq!(
        db("matching", "UPDATE resource").attribute("tsunagu.resource_id"),
        Some(fixture.resource_id.as_str())
    );
    let recorded = db("notifications", "INSERT notification");
    assert_eq!(recorded.attribute("tsunagu.need_id"), Some(need.id.as_str()));
    assert_eq!(recorded.attribute("tsunagu.proposal_id"), Some(proposal_id));
    assert_eq!(
        db("registry", "SELECT organization").attribute("tsunagu.organization_id"),
        Some(fixture.organization_id.as_str())
    );
    for span in &trace {
        for (key, value) in &span.attributes {
            assert!(
                !value.contains("山田"),
                "personal data in {key} of {}: {value}",
                span.name
            );
        }
    }

    // Each relay batch is a span of its own (a batch serves many traces) with its size; its
    // bookkeeping in the outbox is a database span under it.
    let spans = receiver.spans();
    let batch = spans
        .iter()
        .find(|s| s.name == "outbox relay batch" && s.attribute("tsunagu.service") == Some("intake"))
        .expect("intake's relay batch span");
    assert!(batch.attribute("messaging.batch.message_count").is_some());
    assert!(
        spans
            .iter()
            .any(|s| s.name == "UPDATE outbox" && s.parent_span_id == batch.span_id),
        "the batch's bookkeeping is under it"
    );

    matching_db.close().await;
    system.shutdown().await;
    telemetry.shutdown();
}
