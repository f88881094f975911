//! A webhook receiver inside the test: a real HTTP/1.1 server (hyper) on 127.0.0.1 that
//! answers with scripted statuses and keeps every request it got, headers and raw body, so a
//! test can check what a municipal system would see, signature included.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

/// One request as it arrived, and what the receiver answered.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// In arrival order, names in lowercase.
    pub headers: Vec<(String, String)>,
    /// The raw bytes: signatures are over these, not over parsed JSON.
    pub body: Vec<u8>,
    pub status: u16,
}

impl ReceivedRequest {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    arrived: Notify,
}

#[derive(Default)]
struct State {
    script: VecDeque<u16>,
    requests: Vec<ReceivedRequest>,
}

/// Stops serving (and drops open connections) when dropped.
pub struct WebhookReceiver {
    address: SocketAddr,
    https: bool,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl WebhookReceiver {
    /// Plain HTTP. Answers the statuses of `script` in order, then 200 for ever. Must be
    /// called inside a Tokio runtime.
    pub fn start(script: Vec<u16>) -> WebhookReceiver {
        WebhookReceiver::launch(script, None)
    }

    /// HTTPS with the given certificate chain and key (PEM), e.g. `certificates::generate()`'s
    /// `service.pem`/`service.key`, valid for 127.0.0.1.
    pub fn start_tls(script: Vec<u16>, certificate_pem: &[u8], key_pem: &[u8]) -> WebhookReceiver {
        let certificates = CertificateDer::pem_slice_iter(certificate_pem)
            .collect::<Result<Vec<_>, _>>()
            .expect("PEM certificates");
        let key = PrivateKeyDer::from_pem_slice(key_pem).expect("a PEM private key");
        let config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certificates, key)
            .expect("certificate and key match");
        WebhookReceiver::launch(script, Some(TlsAcceptor::from(Arc::new(config))))
    }

    fn launch(script: Vec<u16>, tls: Option<TlsAcceptor>) -> WebhookReceiver {
        // Bound synchronously so that `url()` is right as soon as `start` returns.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the webhook receiver");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let address = listener.local_addr().expect("receiver address");
        let listener = tokio::net::TcpListener::from_std(listener).expect("inside a Tokio runtime");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                script: script.into(),
                requests: Vec::new(),
            }),
            arrived: Notify::new(),
        });
        let https = tls.is_some();
        let server = tokio::spawn(serve(listener, tls, shared.clone()));
        WebhookReceiver {
            address,
            https,
            shared,
            server,
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}/hooks/tsunagu", self.address)
    }

    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.shared.state.lock().expect("lock").requests.clone()
    }

    /// Waits until `count` requests have arrived and returns all of them; panics after
    /// `deadline` with what did arrive.
    pub async fn wait_for(&self, count: usize, deadline: Duration) -> Vec<ReceivedRequest> {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            // Registered before looking, so a request landing in between still wakes us.
            let arrived = self.shared.arrived.notified();
            let requests = self.requests();
            if requests.len() >= count {
                return requests;
            }
            if tokio::time::timeout_at(until, arrived).await.is_err() {
                panic!(
                    "timed out after {deadline:?} waiting for {count} webhook requests; got {}: {requests:?}",
                    requests.len()
                );
            }
        }
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        // The accept loop owns the connections' JoinSet: aborting it ends them too.
        self.server.abort();
    }
}

async fn serve(listener: tokio::net::TcpListener, tls: Option<TlsAcceptor>, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors or the like: let the test's other tasks run.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        while connections.try_join_next().is_some() {}
        let shared = shared.clone();
        match &tls {
            None => connections.spawn(connection(stream, shared)),
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                connections.spawn(async move {
                    // A client that refuses our certificate is what some tests want; no panic.
                    if let Ok(stream) = acceptor.accept(stream).await {
                        connection(stream, shared).await;
                    }
                })
            }
        };
    }
}

async fn connection<S>(stream: S, shared: Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| answer(request, shared.clone()));
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

async fn answer(
    request: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes().to_vec();
    let status = {
        let mut state = shared.state.lock().expect("lock");
        let status = state.script.pop_front().unwrap_or(200);
        state.requests.push(ReceivedRequest {
            method: parts.method.to_string(),
            path: parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
            headers: parts
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_string(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body,
            status,
        });
        status
    };
    shared.arrived.notify_waiters();
    let status = StatusCode::from_u16(status).expect("a scripted status between 100 and 999");
    Ok(Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(format!(
            "scripted answer {}",
            status.as_u16()
        ))))
        .expect("a valid response"))
}
