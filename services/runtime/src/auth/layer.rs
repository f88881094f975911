//! The tower layer in front of every service's routes: authenticates the call before any
//! handler runs and leaves the [`Principal`](super::Principal) in the request's extensions.

use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use tower::{Layer, Service};

use super::{Authenticator, Role};

/// Paths that stay open: health checks (load balancers, `tsunagu` preflight) and reflection
/// (`grpcurl list`), which reveal no data.
const OPEN_PREFIXES: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

#[derive(Clone)]
pub struct AuthLayer {
    authenticator: Authenticator,
    service: &'static str,
}

impl AuthLayer {
    /// `service` names the calls' metrics (`crate::metrics`).
    pub fn new(authenticator: Authenticator, service: &'static str) -> AuthLayer {
        AuthLayer {
            authenticator,
            service,
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Authenticated<S>;

    fn layer(&self, inner: S) -> Authenticated<S> {
        Authenticated {
            inner,
            authenticator: self.authenticator.clone(),
            service: self.service,
        }
    }
}

#[derive(Clone)]
pub struct Authenticated<S> {
    inner: S,
    authenticator: Authenticator,
    service: &'static str,
}

impl<S, B> Service<http::Request<B>> for Authenticated<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The service that was polled ready handles this call; a clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let authenticator = self.authenticator.clone();
        let service = self.service;
        Box::pin(async move {
            let path = request.uri().path().to_string();
            if OPEN_PREFIXES.iter().any(|open| path.starts_with(open)) {
                return inner.call(request).await;
            }
            let started = std::time::Instant::now();
            let method = path.rsplit('/').next().unwrap_or_default().to_string();
            // The leaf certificate the handshake verified, when the service speaks mutual TLS.
            let certificate = request
                .extensions()
                .get::<tonic::transport::server::TlsConnectInfo<tonic::transport::server::TcpConnectInfo>>()
                .and_then(|info| info.peer_certs())
                .and_then(|certificates| certificates.first().map(|der| der.as_ref().to_vec()));
            match authenticator
                .admit(request.headers(), certificate.as_deref())
                .await
            {
                Ok(principal) => {
                    tracing::Span::current().record("tsunagu.role", principal.role.as_str());
                    // The handler runs as the caller's tenant: where a service's tables carry
                    // row-level security, the database shows it nothing else.
                    let scope = crate::db::Scope {
                        tenant: match principal.role {
                            Role::Service => crate::db::EVERY_TENANT.to_string(),
                            _ => principal.scope_code.clone(),
                        },
                        organization: principal
                            .organization_id
                            .map(|id| id.to_string())
                            .unwrap_or_default(),
                    };
                    // Handlers and the stores below them put reads and changes on the audit
                    // trail as this call (`crate::audit`).
                    let call = crate::audit::Call {
                        actor: crate::audit::Actor::from_parts(
                            &principal,
                            remote_address(&request),
                            request
                                .headers()
                                .get("user-agent")
                                .and_then(|value| value.to_str().ok()),
                        ),
                        method: method.clone(),
                    };
                    request.extensions_mut().insert(principal);
                    let response =
                        crate::db::as_scope(scope, crate::audit::as_call(call, inner.call(request))).await;
                    if let Ok(response) = &response {
                        record_call(service, &method, grpc_code(response.headers()), started);
                    }
                    response
                }
                Err(status) => {
                    tracing::info!(path, code = ?status.code(), "call refused before its handler");
                    record_call(service, &method, status.code() as i32, started);
                    Ok(status.into_http())
                }
            }
        })
    }
}

/// The client's address, over plain TCP or TLS.
fn remote_address<B>(request: &http::Request<B>) -> Option<std::net::SocketAddr> {
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    let extensions = request.extensions();
    extensions
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| {
            extensions
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|info| info.get_ref().remote_addr())
        })
}

/// The call's gRPC status as far as the response's headers tell: an error answered before any
/// message carries it there ("trailers-only"); otherwise it is OK, or an error in the trailers
/// of a stream that had begun, counted as OK here.
fn grpc_code(headers: &http::HeaderMap) -> i32 {
    headers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

/// `tsunagu_rpc_server_calls_total` and `_duration_seconds`, by service, method and code.
fn record_call(service: &'static str, method: &str, code: i32, started: std::time::Instant) {
    let code_name = format!("{:?}", tonic::Code::from_i32(code));
    crate::metrics::count(
        "tsunagu_rpc_server_calls_total",
        "gRPC calls handled, by service, method and status code.",
        &[("service", service), ("method", method), ("code", &code_name)],
        1.0,
    );
    crate::metrics::observe(
        "tsunagu_rpc_server_duration_seconds",
        "Time from a call's arrival to its response headers, by service and method.",
        &[("service", service), ("method", method)],
        started.elapsed().as_secs_f64(),
    );
}
