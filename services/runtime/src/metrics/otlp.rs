//! The same series as `/metrics`, pushed to an OTLP collector (`OTEL_EXPORTER_OTLP_ENDPOINT`,
//! OTLP/gRPC) every `OTEL_METRIC_EXPORT_INTERVAL` milliseconds: counters as cumulative
//! monotonic sums, histograms as cumulative explicit-bucket histograms, the collectors' gauges
//! as gauges; each series' labels become its attributes. Ops teams that run a collector get
//! metrics and traces from one pipeline; those that scrape keep `/metrics`.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use tokio_util::sync::CancellationToken;

use super::{Labels, Snapshot, snapshot};

/// The OpenTelemetry default export interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// Exports every `interval` until `shutdown`, then once more (the last counts of a stopping
/// process are not lost). A collector that does not answer costs a warning, never the service.
pub async fn run(endpoint: String, service_name: String, interval: Duration, shutdown: CancellationToken) {
    let mut client = match tonic::transport::Endpoint::from_shared(endpoint.clone()) {
        Ok(endpoint) => MetricsServiceClient::new(endpoint.connect_lazy()),
        Err(error) => {
            tracing::warn!(%error, endpoint, "metrics are not exported: the OTLP endpoint is not a URL");
            return;
        }
    };
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is now: nothing has been counted yet
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = shutdown.cancelled() => true,
        };
        let request = request(&service_name, snapshot().await, now_nanos());
        if let Err(status) = client.export(request).await {
            tracing::warn!(code = ?status.code(), message = status.message(), "metrics export to the OTLP collector failed");
        }
        if stopping {
            return;
        }
    }
}

fn request(service_name: &str, snapshot: Snapshot, now: u64) -> ExportMetricsServiceRequest {
    let start = process_start_nanos();
    let mut metrics: Vec<Metric> = Vec::new();
    // The snapshot is sorted by name: consecutive series of one name are one metric.
    let mut push = |name: &str, help: &str, data: metric::Data| match metrics.last_mut() {
        Some(last) if last.name == name => merge(last.data.as_mut(), data),
        _ => metrics.push(Metric {
            name: name.to_string(),
            description: help.to_string(),
            unit: if name.ends_with("_seconds") {
                "s".into()
            } else {
                String::new()
            },
            data: Some(data),
            ..Default::default()
        }),
    };
    for (name, help, labels, value) in snapshot.counters {
        push(
            name,
            help,
            metric::Data::Sum(Sum {
                data_points: vec![number(&labels, start, now, value)],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            }),
        );
    }
    for (name, help, labels, histogram) in snapshot.histograms {
        // OTLP counts per bucket (the last one above every bound); the registry keeps
        // cumulative counts, as Prometheus shows them.
        let mut bucket_counts = Vec::with_capacity(histogram.bounds.len() + 1);
        let mut below = 0;
        for &at_or_below in &histogram.at_or_below {
            bucket_counts.push(at_or_below - below);
            below = at_or_below;
        }
        bucket_counts.push(histogram.count - below);
        push(
            name,
            help,
            metric::Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    attributes: attributes(&labels),
                    start_time_unix_nano: start,
                    time_unix_nano: now,
                    count: histogram.count,
                    sum: Some(histogram.sum),
                    bucket_counts,
                    explicit_bounds: histogram.bounds.to_vec(),
                    ..Default::default()
                }],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            }),
        );
    }
    for sample in snapshot.gauges {
        push(
            sample.name,
            sample.help,
            metric::Data::Gauge(Gauge {
                data_points: vec![number(&sample.labels, 0, now, sample.value)],
            }),
        );
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![text("service.name", service_name)],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "tsunagu".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// Appends the data points of `more` (same kind, same metric) to `data`.
fn merge(data: Option<&mut metric::Data>, more: metric::Data) {
    match (data, more) {
        (Some(metric::Data::Sum(sum)), metric::Data::Sum(more)) => sum.data_points.extend(more.data_points),
        (Some(metric::Data::Histogram(histogram)), metric::Data::Histogram(more)) => {
            histogram.data_points.extend(more.data_points)
        }
        (Some(metric::Data::Gauge(gauge)), metric::Data::Gauge(more)) => {
            gauge.data_points.extend(more.data_points)
        }
        // One name is never two kinds in the registry.
        _ => {}
    }
}

fn number(labels: &Labels, start: u64, now: u64, value: f64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attributes(labels),
        start_time_unix_nano: start,
        time_unix_nano: now,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..Default::default()
    }
}

fn attributes(labels: &Labels) -> Vec<KeyValue> {
    labels.iter().map(|(name, value)| text(name, value)).collect()
}

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64)
}

/// When the cumulative series started: the first time metrics were looked at in this process.
fn process_start_nanos() -> u64 {
    static START: OnceLock<u64> = OnceLock::new();
    *START.get_or_init(now_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{BUCKETS, HistogramPoint, Sample};

    #[test]
    fn series_of_one_name_become_one_metric_and_buckets_are_per_bucket() {
        let labels = |method: &str| vec![("method", method.to_string())];
        let mut at_or_below = vec![0; BUCKETS.len()];
        at_or_below[2..].iter_mut().for_each(|c| *c = 1); // one 5 ms observation
        at_or_below[6..].iter_mut().for_each(|c| *c = 2); // one 100 ms observation
        let snapshot = Snapshot {
            counters: vec![
                ("calls_total", "Calls.", labels("A"), 3.0),
                ("calls_total", "Calls.", labels("B"), 1.0),
            ],
            histograms: vec![(
                "call_seconds",
                "Time.",
                labels("A"),
                HistogramPoint {
                    bounds: BUCKETS,
                    at_or_below,
                    count: 3, // and one above every bound
                    sum: 20.105,
                },
            )],
            gauges: vec![Sample {
                name: "backlog",
                help: "Rows.",
                labels: vec![],
                value: 7.0,
            }],
        };
        let request = request("tsunagu-test", snapshot, 42);
        let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["calls_total", "call_seconds", "backlog"]);
        let Some(metric::Data::Sum(sum)) = &metrics[0].data else {
            panic!("a counter is a sum: {:?}", metrics[0]);
        };
        assert!(sum.is_monotonic);
        assert_eq!(sum.data_points.len(), 2);
        let Some(metric::Data::Histogram(histogram)) = &metrics[1].data else {
            panic!("a histogram: {:?}", metrics[1]);
        };
        let point = &histogram.data_points[0];
        assert_eq!(point.bucket_counts.len(), BUCKETS.len() + 1);
        assert_eq!(point.bucket_counts.iter().sum::<u64>(), 3);
        assert_eq!(point.bucket_counts[2], 1);
        assert_eq!(point.bucket_counts[6], 1);
        assert_eq!(point.bucket_counts[BUCKETS.len()], 1);
        assert_eq!(metrics[1].unit, "s");
        assert!(matches!(metrics[2].data, Some(metric::Data::Gauge(_))));
    }
}
