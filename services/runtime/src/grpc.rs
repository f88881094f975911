//! gRPC plumbing: server spans that continue the caller's trace, a client interceptor that
//! sends the current trace along, and paging helpers.

use tonic::service::Interceptor;
use tonic::transport::Channel;
use tracing::Span;

use crate::error::{ServiceError, ServiceResult};
use crate::telemetry::{self, HttpHeaderExtractor, MetadataInjector};

/// The span of one incoming call, a child of the caller's span when it sent `traceparent`.
/// Used as tonic's `trace_fn`, which creates the span before the handler enters it.
pub fn server_span(service: &'static str, request: &http::Request<()>) -> Span {
    let path = request.uri().path().trim_start_matches('/');
    let (rpc_service, rpc_method) = path.split_once('/').unwrap_or((path, ""));
    let span = tracing::info_span!(
        "grpc request",
        otel.name = path,
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = rpc_service,
        rpc.method = rpc_method,
        tsunagu.service = service,
    );
    telemetry::set_remote_parent(&span, &HttpHeaderExtractor(request.headers()));
    span
}

/// Client interceptor: puts the current span's trace context into the call's metadata, and
/// the caller's credentials (`authorization: Bearer …`) when it has some.
#[derive(Clone, Debug, Default)]
pub struct PropagateTrace {
    authorization: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
}

impl PropagateTrace {
    /// Calls that carry `token` (the internal token between services, or an API key).
    pub fn with_token(token: &str) -> anyhow::Result<PropagateTrace> {
        let authorization = format!("Bearer {token}")
            .parse()
            .map_err(|_| anyhow::anyhow!("a token must be printable ASCII"))?;
        Ok(PropagateTrace {
            authorization: Some(authorization),
        })
    }
}

impl Interceptor for PropagateTrace {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        telemetry::inject_current(&mut MetadataInjector(request.metadata_mut()));
        if let Some(authorization) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", authorization.clone());
        }
        Ok(request)
    }
}

pub type TracedChannel = tonic::service::interceptor::InterceptedService<Channel, PropagateTrace>;

/// A lazily connecting channel to `url` whose calls carry the trace context and `token`
/// (another service's calls carry the deployment's internal token).
pub fn traced_channel(url: &str, token: &str) -> anyhow::Result<TracedChannel> {
    traced_channel_with_tls(url, token, None)
}

/// [`traced_channel`] over TLS when `tls` is given: the server is checked against its CA, and
/// the client presents its own certificate (mutual TLS).
pub fn traced_channel_with_tls(
    url: &str,
    token: &str,
    tls: Option<&tonic::transport::ClientTlsConfig>,
) -> anyhow::Result<TracedChannel> {
    let mut endpoint = tonic::transport::Endpoint::from_shared(url.to_string())?
        .connect_timeout(std::time::Duration::from_secs(3))
        .timeout(std::time::Duration::from_secs(10));
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls.clone())?;
    }
    Ok(tonic::service::interceptor::InterceptedService::new(
        endpoint.connect_lazy(),
        PropagateTrace::with_token(token)?,
    ))
}

/// The PEM files of mutual TLS, read.
#[derive(Clone)]
pub struct TlsMaterial {
    pub identity: tonic::transport::Identity,
    pub ca: tonic::transport::Certificate,
}

impl TlsMaterial {
    pub fn read(files: &crate::config::TlsFiles) -> anyhow::Result<TlsMaterial> {
        let read = |variable: &str, path: &str| {
            std::fs::read(path)
                .map_err(|error| anyhow::anyhow!("{variable}={path:?} cannot be read: {error}"))
        };
        Ok(TlsMaterial {
            identity: tonic::transport::Identity::from_pem(
                read("TSUNAGU_TLS_CERT", &files.cert)?,
                read("TSUNAGU_TLS_KEY", &files.key)?,
            ),
            ca: tonic::transport::Certificate::from_pem(read("TSUNAGU_TLS_CA", &files.ca)?),
        })
    }

    /// As a server: this identity, and client certificates of the CA required.
    pub fn server(&self) -> tonic::transport::ServerTlsConfig {
        tonic::transport::ServerTlsConfig::new()
            .identity(self.identity.clone())
            .client_ca_root(self.ca.clone())
    }

    /// As a client of another service: its certificate checked against the CA, this identity
    /// presented.
    pub fn client(&self) -> tonic::transport::ClientTlsConfig {
        tonic::transport::ClientTlsConfig::new()
            .ca_certificate(self.ca.clone())
            .identity(self.identity.clone())
    }
}

/// A channel from one service to another: TLS when the deployment uses it, the internal
/// token always.
pub fn service_channel(config: &crate::Config, url: &str) -> anyhow::Result<TracedChannel> {
    let tls = match &config.tls {
        Some(files) => Some(TlsMaterial::read(files)?.client()),
        None => None,
    };
    traced_channel_with_tls(url, config.internal_token()?, tls.as_ref())
}

/// The span of an outgoing call; the interceptor runs inside it, so the callee's span
/// becomes its child.
pub fn client_span(service: &'static str, rpc_service: &'static str, rpc_method: &'static str) -> Span {
    tracing::info_span!(
        "grpc call",
        otel.name = format!("{rpc_service}/{rpc_method}"),
        otel.kind = "client",
        rpc.system = "grpc",
        rpc.service = rpc_service,
        rpc.method = rpc_method,
        tsunagu.service = service,
    )
}

/// Whether a failed call means the other service could not be reached or could not answer
/// now, rather than that it refused this request. tonic reports a connection that fails as
/// `UNKNOWN` "transport error" (with the transport error as its source), not `UNAVAILABLE`.
pub fn is_unreachable(status: &tonic::Status) -> bool {
    use tonic::Code;
    let transport_failure =
        std::error::Error::source(status).is_some_and(|source| source.is::<tonic::transport::Error>());
    transport_failure
        || matches!(
            status.code(),
            Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Cancelled
        )
}

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 500;

/// A validated page request: the size is capped, and the token names the last item of the
/// previous page (ids are UUIDv7, so they sort by creation time) — bound to the list and the
/// filters it was issued for (`crate::page_token`), so a token of another list is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub size: u32,
    pub after: Option<uuid::Uuid>,
}

impl Page {
    pub fn parse(page_size: u32, page_token: &str) -> ServiceResult<Page> {
        let size = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        };
        let after = match page_token.trim() {
            "" => None,
            token => Some(crate::page_token::open(token).ok_or_else(|| {
                ServiceError::invalid(
                    "page.page_token",
                    "ページトークンが不正です（この一覧・この条件で返されたものではありません）/ not a token this list returned for these filters",
                )
            })?),
        };
        Ok(Page { size, after })
    }

    /// Reads a request's optional `page`.
    pub fn from_request(page: Option<tsunagu_proto::common::v1::PageRequest>) -> ServiceResult<Page> {
        let page = page.unwrap_or_default();
        Page::parse(page.page_size, &page.page_token)
    }

    /// The token for the page after `items`, whose ids `id` reads; empty on the last page.
    pub fn next_token_after<T>(&self, items: &[T], id: impl Fn(&T) -> uuid::Uuid) -> String {
        self.next_token(items.len(), items.last().map(id))
    }

    /// The next token, given the items of this page.
    pub fn next_token(&self, item_count: usize, last_id: Option<uuid::Uuid>) -> String {
        match last_id {
            Some(id) if item_count as u32 >= self.size => crate::page_token::issue(id),
            _ => String::new(),
        }
    }
}

/// A database timestamp as a protobuf `Timestamp`.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

/// Parses a UUID field, naming the field when it is not one.
pub fn parse_id(field: &str, value: &str) -> ServiceResult<uuid::Uuid> {
    value.trim().parse().map_err(|_| {
        ServiceError::invalid(
            field,
            format!("IDの形式が不正です（入力: {value:?}） / not a UUID"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_defaults_and_caps() {
        assert_eq!(Page::parse(0, "").unwrap().size, DEFAULT_PAGE_SIZE);
        assert_eq!(Page::parse(10_000, "").unwrap().size, MAX_PAGE_SIZE);
        assert!(Page::parse(10, "garbage").is_err());
    }

    #[test]
    fn next_token_only_when_the_page_is_full() {
        let page = Page::parse(2, "").unwrap();
        let id = uuid::Uuid::now_v7();
        let token = page.next_token(2, Some(id));
        assert_eq!(Page::parse(2, &token).unwrap().after, Some(id));
        assert_eq!(page.next_token(1, Some(id)), "");
    }
}
