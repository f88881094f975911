//! Metrics (issue 8): a whole need's journey shows in the Prometheus text the process serves —
//! calls by method and code, consumed messages, the outbox backlog, matching's decisions and
//! unmatched needs, delivery attempts by channel — scraped over real HTTP.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tsunagu_tests::{Fixture, TestSystem, eventually};

use crate::support::*;

async fn scrape(address: std::net::SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect to /metrics");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// The sum of the series whose lines start with `prefix` (a series split by a further label,
/// such as the queue, adds up); `None` when there is none.
fn value(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .filter(|line| line.starts_with(prefix))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .reduce(|sum, value| sum + value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_needs_journey_shows_in_the_metrics() {
    let endpoint = CancellationToken::new();
    let address = tsunagu_runtime::metrics::serve("127.0.0.1:0".parse().unwrap(), endpoint.clone())
        .await
        .unwrap();
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let proposed = submit_need(&system, "metrics-1", &fixture.daily_life_area_id, "ゴミ出し").await;
    wait_for_notification(&system, &fixture.organization_id, &proposed.id).await;
    // A second need finds the place taken: unmatched.
    submit_need(&system, "metrics-2", &fixture.daily_life_area_id, "ゴミ出し").await;

    // This system's partition queues: `<namespace>.matching.p`.
    let matching_queues = system.matching_partitions_prefix();
    // Other tests of this process add to the same registry: wait until every series this
    // journey feeds is there (the test checks the plumbing, not exact counts).
    let text = eventually("the journey's series in the metrics", WAIT, || async {
        let text = scrape(address).await;
        let at_least = |prefix: &str, least: f64| value(&text, prefix).unwrap_or(0.0) >= least;
        let complete = at_least("tsunagu_matching_decisions_total{outcome=\"unmatched\"", 1.0)
            && at_least(
                "tsunagu_rpc_server_calls_total{service=\"intake\",method=\"SubmitNeed\",code=\"Ok\"}",
                2.0,
            )
            && at_least(
                &format!(
                    "tsunagu_messages_consumed_total{{service=\"matching\",event_type=\"need.submitted\",outcome=\"handled\",queue=\"{matching_queues}"
                ),
                2.0,
            )
            && at_least("tsunagu_matching_unmatched_needs{municipality_code=\"212024\"}", 1.0)
            && text.contains("tsunagu_outbox_backlog{service=\"intake\"}")
            && text.contains("tsunagu_matching_place_seconds_count")
            // Lag from the commit of the need to matching picking it up, per queue.
            && at_least(
                &format!("tsunagu_message_lag_seconds_count{{service=\"matching\",queue=\"{matching_queues}"),
                2.0,
            )
            && text.contains("tsunagu_message_lag_seconds_bucket{service=\"notifications\",queue=\"")
            && text.contains(",le=\"900\"}");
        complete.then_some(text)
    })
    .await;
    assert!(text.contains("# TYPE tsunagu_rpc_server_duration_seconds histogram"));
    // A refused call is counted with its code.
    let refused = tsunagu_proto::intake::v1::intake_service_client::IntakeServiceClient::new(
        system.anonymous_channel(tsunagu_runtime::ServiceName::Intake),
    )
    .list_needs(tsunagu_proto::intake::v1::ListNeedsRequest::default())
    .await;
    assert!(refused.is_err());
    let text = scrape(address).await;
    assert!(
        value(
            &text,
            "tsunagu_rpc_server_calls_total{service=\"intake\",method=\"ListNeeds\",code=\"Unauthenticated\"}"
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{text}"
    );
    endpoint.cancel();
    system.shutdown().await;
}

/// The same series go to an OTLP collector: a real OTLP/gRPC receiver gets, from the periodic
/// exporter, the calls as a monotonic sum by service, method and code, their latency as a
/// histogram whose buckets add up to its count, and the outbox backlog as a gauge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_are_pushed_over_otlp() {
    let (receiver, otlp_endpoint) = tsunagu_tests::otlp_receiver::OtlpReceiver::start().await;
    let stop = CancellationToken::new();
    let exporter = tokio::spawn(tsunagu_runtime::metrics::otlp::run(
        otlp_endpoint,
        "tsunagu-test".into(),
        std::time::Duration::from_millis(200),
        stop.clone(),
    ));
    let system = TestSystem::start().await;
    let fixture = Fixture::create(&system, 1).await;
    let need = submit_need(&system, "otlp-metrics", &fixture.daily_life_area_id, "ゴミ出し").await;
    wait_for_notification(&system, &fixture.organization_id, &need.id).await;

    let submit_calls = |points: &[tsunagu_tests::otlp_receiver::ReceivedPoint], kind: &str| {
        points
            .iter()
            .rev()
            .find(|p| {
                p.kind == kind
                    && p.attribute("service") == Some("intake")
                    && p.attribute("method") == Some("SubmitNeed")
                    && p.attribute("code") == Some("Ok")
            })
            .cloned()
    };
    let (calls, latency) = eventually("the call metrics at the OTLP receiver", WAIT, || async {
        let points = receiver.points();
        let calls = submit_calls(&points, "sum").filter(|p| p.value >= 1.0)?;
        let latency = points
            .iter()
            .rev()
            .find(|p| {
                p.kind == "histogram"
                    && p.metric == "tsunagu_rpc_server_duration_seconds"
                    && p.attribute("service") == Some("intake")
                    && p.attribute("method") == Some("SubmitNeed")
            })
            .cloned()?;
        Some((calls, latency))
    })
    .await;
    assert_eq!(calls.metric, "tsunagu_rpc_server_calls_total");
    assert!(calls.monotonic, "a counter is a monotonic sum");
    assert_eq!(calls.service_name, "tsunagu-test");
    assert!(latency.value >= 1.0);
    assert_eq!(latency.bucket_counts.len(), latency.explicit_bounds.len() + 1);
    assert_eq!(latency.bucket_counts.iter().sum::<u64>() as f64, latency.value);
    let points = receiver.points();
    assert!(
        points
            .iter()
            .any(|p| p.kind == "gauge" && p.metric == "tsunagu_outbox_backlog"),
        "the collectors' gauges are exported too"
    );

    // Stopping exports once more: nothing counted before the stop is lost.
    system.shutdown().await;
    let received_before_stop = receiver.points().len();
    stop.cancel();
    exporter.await.expect("the exporter stops");
    assert!(
        receiver.points().len() > received_before_stop,
        "a last export at stop"
    );
}
