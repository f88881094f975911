//! Metrics (issue 8) in the Prometheus text format, served at `/metrics` on
//! `TSUNAGU_METRICS_LISTEN` by the process that runs the services (`tsunagu serve`, `up`).
//! Counters and histograms are recorded where things happen — every gRPC call (the auth
//! layer), every consumed message (the consumer), every delivery attempt (notifications), every
//! matching decision — and gauges that live in a database (outbox backlog and age) are read at
//! scrape time by the collectors the services register. One process-wide registry: every
//! series carries the `service` it belongs to.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub mod otlp;

/// Seconds: from a fast database round trip to a slow solve.
pub const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Seconds to a quarter of an hour: how far behind a consumer is, through a broker outage.
pub const LAG_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
];

pub(crate) type Labels = Vec<(&'static str, String)>;

struct Histogram {
    bounds: &'static [f64],
    /// Observations at or below each bound (cumulative).
    counts: Vec<u64>,
    count: u64,
    sum: f64,
}

/// A gauge a collector read at scrape time.
pub struct Sample {
    pub name: &'static str,
    pub help: &'static str,
    pub labels: Labels,
    pub value: f64,
}

pub type Collector = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Vec<Sample>> + Send>> + Send + Sync>;

#[derive(Default)]
struct Registry {
    counters: BTreeMap<(&'static str, Labels), f64>,
    histograms: BTreeMap<(&'static str, Labels), Histogram>,
    help: BTreeMap<&'static str, &'static str>,
    collectors: Vec<Collector>,
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

fn with<T>(work: impl FnOnce(&mut Registry) -> T) -> T {
    let mut registry = registry().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    work(&mut registry)
}

/// Adds `by` to the counter `name` with `labels`.
pub fn count(name: &'static str, help: &'static str, labels: &[(&'static str, &str)], by: f64) {
    let labels = owned(labels);
    with(|registry| {
        registry.help.insert(name, help);
        *registry.counters.entry((name, labels)).or_default() += by;
    });
}

/// Observes `seconds` in the histogram `name` with `labels`.
pub fn observe(name: &'static str, help: &'static str, labels: &[(&'static str, &str)], seconds: f64) {
    observe_in(name, help, labels, seconds, BUCKETS);
}

/// Like [`observe`], with bucket bounds of its own (the first observation of a series fixes
/// them).
pub fn observe_in(
    name: &'static str,
    help: &'static str,
    labels: &[(&'static str, &str)],
    seconds: f64,
    bounds: &'static [f64],
) {
    let labels = owned(labels);
    with(|registry| {
        registry.help.insert(name, help);
        let histogram = registry
            .histograms
            .entry((name, labels))
            .or_insert_with(|| Histogram {
                bounds,
                counts: vec![0; bounds.len()],
                count: 0,
                sum: 0.0,
            });
        for (bucket, bound) in histogram.counts.iter_mut().zip(histogram.bounds) {
            if seconds <= *bound {
                *bucket += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    });
}

/// Registers a collector of gauges read at scrape time (e.g. a service's outbox backlog).
pub fn register_collector(collector: Collector) {
    with(|registry| registry.collectors.push(collector));
}

fn owned(labels: &[(&'static str, &str)]) -> Labels {
    labels
        .iter()
        .map(|(name, value)| (*name, value.to_string()))
        .collect()
}

fn label_text(labels: &Labels, extra: Option<(&str, String)>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}=\"{}\"", escape(value)))
        .collect();
    if let Some((name, value)) = extra {
        parts.push(format!("{name}=\"{value}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Every series at one moment: what the scrape shows and what goes over OTLP.
pub(crate) struct Snapshot {
    /// (name, help, labels, value)
    pub counters: Vec<(&'static str, &'static str, Labels, f64)>,
    /// (name, help, labels, histogram)
    pub histograms: Vec<(&'static str, &'static str, Labels, HistogramPoint)>,
    /// Gauges read by the collectors now, sorted by name.
    pub gauges: Vec<Sample>,
}

pub(crate) struct HistogramPoint {
    pub bounds: &'static [f64],
    /// Observations at or below each bound (cumulative, as Prometheus has them).
    pub at_or_below: Vec<u64>,
    pub count: u64,
    pub sum: f64,
}

pub(crate) async fn snapshot() -> Snapshot {
    let collectors = with(|registry| registry.collectors.clone());
    let mut gauges = Vec::new();
    for collector in collectors {
        // A database that does not answer in time costs its gauges, not the scrape.
        if let Ok(collected) = tokio::time::timeout(Duration::from_secs(2), collector()).await {
            gauges.extend(collected);
        }
    }
    gauges.sort_by(|a, b| a.name.cmp(b.name));
    with(|registry| Snapshot {
        counters: registry
            .counters
            .iter()
            .map(|((name, labels), value)| (*name, registry.help[name], labels.clone(), *value))
            .collect(),
        histograms: registry
            .histograms
            .iter()
            .map(|((name, labels), histogram)| {
                let point = HistogramPoint {
                    bounds: histogram.bounds,
                    at_or_below: histogram.counts.clone(),
                    count: histogram.count,
                    sum: histogram.sum,
                };
                (*name, registry.help[name], labels.clone(), point)
            })
            .collect(),
        gauges,
    })
}

/// Everything, in the Prometheus text exposition format.
pub async fn render() -> String {
    let snapshot = snapshot().await;
    let mut out = String::new();
    {
        let mut last = "";
        for (name, help, labels, value) in &snapshot.counters {
            if *name != last {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
                last = name;
            }
            let _ = writeln!(out, "{name}{} {value}", label_text(labels, None));
        }
        for (name, help, labels, histogram) in &snapshot.histograms {
            if *name != last {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
                last = name;
            }
            for (count, bound) in histogram.at_or_below.iter().zip(histogram.bounds) {
                let _ = writeln!(
                    out,
                    "{name}_bucket{} {count}",
                    label_text(labels, Some(("le", bound.to_string())))
                );
            }
            let _ = writeln!(
                out,
                "{name}_bucket{} {}",
                label_text(labels, Some(("le", "+Inf".into()))),
                histogram.count
            );
            let _ = writeln!(out, "{name}_sum{} {}", label_text(labels, None), histogram.sum);
            let _ = writeln!(
                out,
                "{name}_count{} {}",
                label_text(labels, None),
                histogram.count
            );
        }
    }
    let mut last = "";
    for sample in snapshot.gauges {
        if sample.name != last {
            let _ = writeln!(
                out,
                "# HELP {} {}\n# TYPE {} gauge",
                sample.name, sample.help, sample.name
            );
            last = sample.name;
        }
        let _ = writeln!(
            out,
            "{}{} {}",
            sample.name,
            label_text(&sample.labels, None),
            sample.value
        );
    }
    out
}

/// Serves `/metrics` on `address` until `shutdown`; returns the bound address (port 0 picks one).
pub async fn serve(address: SocketAddr, shutdown: CancellationToken) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            let Ok((stream, _)) = accepted else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(|request: hyper::Request<hyper::body::Incoming>| async move {
                        let response = if request.uri().path() == "/metrics" {
                            hyper::Response::builder()
                                .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
                                .body(http_body_util::Full::new(bytes::Bytes::from(render().await)))
                        } else {
                            hyper::Response::builder()
                                .status(404)
                                .body(http_body_util::Full::new(bytes::Bytes::from_static(
                                    b"/metrics\n",
                                )))
                        };
                        response.map_err(std::io::Error::other)
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counters_and_histograms_render_in_the_text_format() {
        count(
            "tsunagu_test_total",
            "A test counter.",
            &[("service", "x\"y")],
            2.0,
        );
        observe(
            "tsunagu_test_seconds",
            "A test histogram.",
            &[("service", "x")],
            0.003,
        );
        let text = render().await;
        assert!(text.contains("# TYPE tsunagu_test_total counter"), "{text}");
        assert!(
            text.contains("tsunagu_test_total{service=\"x\\\"y\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("tsunagu_test_seconds_bucket{service=\"x\",le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("tsunagu_test_seconds_bucket{service=\"x\",le=\"0.0025\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("tsunagu_test_seconds_count{service=\"x\"} 1"),
            "{text}"
        );
    }
}
