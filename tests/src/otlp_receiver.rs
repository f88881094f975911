//! An OTLP/gRPC receiver inside the test: it speaks the real collector protocol
//! (`opentelemetry.proto.collector.trace.v1.TraceService/Export` and
//! `…metrics.v1.MetricsService/Export`) and keeps every span and every data point it
//! receives, flattened, for the test to inspect.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use tokio_stream::wrappers::TcpListenerStream;

/// One received span with what the tests look at.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub name: String,
    pub kind: i32,
    pub service_name: String,
    pub attributes: Vec<(String, String)>,
}

impl ReceivedSpan {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One received data point: a sum's or gauge's value, or a histogram's count and sum.
#[derive(Debug, Clone)]
pub struct ReceivedPoint {
    pub service_name: String,
    pub metric: String,
    /// "sum", "gauge" or "histogram".
    pub kind: &'static str,
    pub monotonic: bool,
    pub attributes: Vec<(String, String)>,
    pub value: f64,
    /// Histograms: observations in each bucket, and the bucket bounds.
    pub bucket_counts: Vec<u64>,
    pub explicit_bounds: Vec<f64>,
}

impl ReceivedPoint {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Default)]
pub struct OtlpReceiver {
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    points: Arc<Mutex<Vec<ReceivedPoint>>>,
}

impl OtlpReceiver {
    /// Starts the receiver on a free port; returns it and its endpoint URL.
    pub async fn start() -> (OtlpReceiver, String) {
        let receiver = OtlpReceiver::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr: SocketAddr = listener.local_addr().expect("address");
        let service = TraceServiceServer::new(receiver.clone());
        let metrics = MetricsServiceServer::new(receiver.clone());
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .add_service(metrics)
                .serve_with_incoming(TcpListenerStream::new(listener))
                .await
                .expect("receiver serves");
        });
        (receiver, format!("http://{addr}"))
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().expect("lock").clone()
    }

    /// Every data point received so far, oldest first.
    pub fn points(&self) -> Vec<ReceivedPoint> {
        self.points.lock().expect("lock").clone()
    }
}

#[tonic::async_trait]
impl MetricsService for OtlpReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let mut received = Vec::new();
        for resource_metrics in request.into_inner().resource_metrics {
            let service_name = service_name(resource_metrics.resource.as_ref());
            for scope in resource_metrics.scope_metrics {
                for metric in scope.metrics {
                    let point = |kind, monotonic, attributes: &[KeyValue], value| ReceivedPoint {
                        service_name: service_name.clone(),
                        metric: metric.name.clone(),
                        kind,
                        monotonic,
                        attributes: texts(attributes),
                        value,
                        bucket_counts: Vec::new(),
                        explicit_bounds: Vec::new(),
                    };
                    match &metric.data {
                        Some(metric::Data::Sum(sum)) => received.extend(
                            sum.data_points
                                .iter()
                                .map(|p| point("sum", sum.is_monotonic, &p.attributes, number(&p.value))),
                        ),
                        Some(metric::Data::Gauge(gauge)) => received.extend(
                            gauge
                                .data_points
                                .iter()
                                .map(|p| point("gauge", false, &p.attributes, number(&p.value))),
                        ),
                        Some(metric::Data::Histogram(histogram)) => {
                            received.extend(histogram.data_points.iter().map(|p| ReceivedPoint {
                                bucket_counts: p.bucket_counts.clone(),
                                explicit_bounds: p.explicit_bounds.clone(),
                                ..point("histogram", false, &p.attributes, p.count as f64)
                            }))
                        }
                        _ => {}
                    }
                }
            }
        }
        self.points.lock().expect("lock").extend(received);
        Ok(tonic::Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

fn number(value: &Option<number_data_point::Value>) -> f64 {
    match value {
        Some(number_data_point::Value::AsDouble(value)) => *value,
        Some(number_data_point::Value::AsInt(value)) => *value as f64,
        None => f64::NAN,
    }
}

fn texts(attributes: &[KeyValue]) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map(any_value_text).unwrap_or_default(),
            )
        })
        .collect()
}

#[tonic::async_trait]
impl TraceService for OtlpReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            let service_name = service_name(resource_spans.resource.as_ref());
            for scope_spans in resource_spans.scope_spans {
                for span in scope_spans.spans {
                    received.push(ReceivedSpan {
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent_span_id: hex(&span.parent_span_id),
                        name: span.name,
                        kind: span.kind,
                        service_name: service_name.clone(),
                        attributes: texts(&span.attributes),
                    });
                }
            }
        }
        self.spans.lock().expect("lock").extend(received);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// The `service.name` of a resource ("" without one).
fn service_name(resource: Option<&opentelemetry_proto::tonic::resource::v1::Resource>) -> String {
    resource
        .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
        .and_then(|kv| kv.value.as_ref())
        .map(any_value_text)
        .unwrap_or_default()
}

fn any_value_text(value: &opentelemetry_proto::tonic::common::v1::AnyValue) -> String {
    match &value.value {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        _ => String::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
