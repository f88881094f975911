//! Webhooks: a signed JSON POST to a municipal system.
//!
//! One HTTP/1.1 connection per delivery (hyper's low-level client): deliveries to one
//! receiver are spread out by the scheduler, so a pool would mostly hold idle sockets, and
//! a fresh connection never inherits a half-broken one. HTTPS trusts Mozilla's roots (built
//! in, as for e-mail, so a slim container without CA files still works) plus an optional extra
//! CA (prefectural and LGWAN systems often use a private one); plain HTTP only where the
//! operator allowed it (tests, on-premise LANs).
//!
//! The outcome is read from the status alone: 2xx delivered; 408, 429, 5xx, connection
//! errors and timeouts may pass, so they are retried; any other answer is final. Redirects
//! are **not** followed (a 3xx is final): following one would send the signed payload to a
//! host nobody registered, and a moved endpoint is for the subscription's owner to update.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use super::destination::DestinationPolicy;
use super::{ChannelAdapter, CheckFuture, Outgoing, SendError, SendFuture, signature};

const USER_AGENT: &str = concat!("tsunagu-notifications/", env!("CARGO_PKG_VERSION"));
/// Longer URLs are more likely pasted by mistake than meant; browsers' practical limit too.
const MAX_URL_LENGTH: usize = 2048;
/// How much of an error answer goes into the delivery log: enough to recognise the error.
const EXCERPT_CHARS: usize = 200;
/// How long `CreateSubscription` waits for the webhook's name to resolve: a slow resolver must
/// not hold the call (the delivery resolves and checks again).
const SUBSCRIPTION_LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Bounds the whole delivery: connecting, TLS, sending and reading the status.
    pub timeout: Duration,
    /// PEM certificates trusted in addition to Mozilla's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Accept `http://` URLs (tests, on-premise LANs); otherwise `https://` only.
    pub allow_plain_http: bool,
    /// Which internal hosts and networks the operator allows (none by default).
    pub destinations: DestinationPolicy,
}

impl Default for WebhookSettings {
    fn default() -> WebhookSettings {
        WebhookSettings {
            timeout: Duration::from_secs(10),
            ca_pem: None,
            allow_plain_http: false,
            destinations: DestinationPolicy::strict(),
        }
    }
}

pub struct WebhookAdapter {
    timeout: Duration,
    allow_plain_http: bool,
    destinations: DestinationPolicy,
    tls: TlsConnector,
}

impl WebhookAdapter {
    /// Builds the TLS configuration once; fails on an unusable `ca_pem`, so that a wrong
    /// file stops the service at start rather than every delivery later.
    pub fn new(settings: WebhookSettings) -> anyhow::Result<WebhookAdapter> {
        let mut roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(pem) = &settings.ca_pem {
            let mut added = 0;
            for certificate in CertificateDer::pem_slice_iter(pem) {
                let certificate = certificate
                    .map_err(|error| anyhow::anyhow!("the webhook CA is not valid PEM: {error}"))?;
                roots.add(certificate).map_err(|error| {
                    anyhow::anyhow!("the webhook CA is not a usable certificate: {error}")
                })?;
                added += 1;
            }
            anyhow::ensure!(added > 0, "the webhook CA file holds no certificate");
        }
        // The ring provider explicitly: it is the one the workspace builds (tonic's tls-ring),
        // and naming it avoids depending on a process-wide default being installed.
        let mut config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(WebhookAdapter {
            timeout: settings.timeout,
            allow_plain_http: settings.allow_plain_http,
            destinations: settings.destinations,
            tls: TlsConnector::from(Arc::new(config)),
        })
    }

    async fn deliver(&self, outgoing: &Outgoing) -> Result<(), SendError> {
        let target = Target::parse(&outgoing.address, self.allow_plain_http).map_err(SendError::Permanent)?;
        let secret = outgoing.secret.as_deref().ok_or_else(|| {
            SendError::Permanent("the webhook subscription has no signing secret".to_string())
        })?;
        let body = serde_json::to_vec(&outgoing.payload)
            .map_err(|error| SendError::Permanent(format!("the payload is not serialisable: {error}")))?;
        let request = build_request(&target, outgoing, secret, body, unix_now())?;

        let deadline = Instant::now() + self.timeout;
        // Resolve once, check every address, connect only to those: a second lookup inside
        // `connect` could be answered differently (DNS rebinding).
        self.destinations
            .check_host(&target.host)
            .map_err(SendError::Permanent)?;
        let addresses: Vec<SocketAddr> = within(
            deadline,
            self.timeout,
            &format!("resolving {}", target.host),
            tokio::net::lookup_host((target.host.as_str(), target.port)),
        )
        .await?
        .collect();
        self.destinations
            .check_resolved(&target.host, &addresses)
            .map_err(SendError::Permanent)?;
        let stream = within(
            deadline,
            self.timeout,
            &format!("connecting to {}", target.origin()),
            TcpStream::connect(addresses.as_slice()),
        )
        .await?;
        let _ = stream.set_nodelay(true);
        let answer = if target.https {
            let name = ServerName::try_from(target.host.clone())
                .map_err(|error| SendError::Permanent(format!("invalid host name: {error}")))?;
            let stream = within(
                deadline,
                self.timeout,
                "negotiating TLS",
                self.tls.connect(name, stream),
            )
            .await?;
            exchange(stream, request, deadline, self.timeout).await?
        } else {
            exchange(stream, request, deadline, self.timeout).await?
        };
        classify(answer.status, &answer.detail)
    }
}

impl ChannelAdapter for WebhookAdapter {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn validate_address(&self, address: &str) -> Result<(), String> {
        let target = Target::parse(address, self.allow_plain_http)?;
        self.destinations.check_host(&target.host)
    }

    fn check_destination<'a>(&'a self, address: &'a str) -> CheckFuture<'a> {
        Box::pin(async move {
            let target = Target::parse(address, self.allow_plain_http)?;
            self.destinations.check_host(&target.host)?;
            // Where the name leads today; a name that does not resolve (yet, or in time) may be
            // a receiver still being set up, and every delivery checks again anyway.
            let lookup = tokio::net::lookup_host((target.host.as_str(), target.port));
            match tokio::time::timeout(SUBSCRIPTION_LOOKUP_TIMEOUT, lookup).await {
                Ok(Ok(addresses)) => self
                    .destinations
                    .check_resolved(&target.host, &addresses.collect::<Vec<_>>()),
                Ok(Err(_)) | Err(_) => Ok(()),
            }
        })
    }

    fn destination(&self, outgoing: &Outgoing) -> String {
        match Target::parse(&outgoing.address, true) {
            Ok(target) => target.origin(),
            // Unparsable addresses fail permanently on send; any stable key will do.
            Err(_) => outgoing.address.clone(),
        }
    }

    fn send<'a>(&'a self, outgoing: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(self.deliver(outgoing))
    }
}

/// A webhook URL, checked and taken apart.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    https: bool,
    /// Without the brackets of an IPv6 literal: what `connect` and TLS want.
    host: String,
    port: u16,
    /// `host[:port]` as written: the `Host` header.
    authority: String,
    path_and_query: String,
}

impl Target {
    fn parse(address: &str, allow_plain_http: bool) -> Result<Target, String> {
        let scheme_error = || match allow_plain_http {
            true => {
                "WebhookのURLは https:// または http:// で始めてください / the webhook URL must start with https:// or http://"
            }
            false => "WebhookのURLは https:// で始めてください / the webhook URL must start with https://",
        };
        if address.len() > MAX_URL_LENGTH {
            return Err(format!(
                "WebhookのURLが長すぎます（{MAX_URL_LENGTH}文字まで） / the webhook URL is too long (at most {MAX_URL_LENGTH} characters)"
            ));
        }
        let uri: Uri = address.parse().map_err(|_| {
            "WebhookのURLの形式が正しくありません / the webhook URL is not a valid URL".to_string()
        })?;
        let https = match uri.scheme_str() {
            Some(scheme) if scheme.eq_ignore_ascii_case("https") => true,
            Some(scheme) if scheme.eq_ignore_ascii_case("http") && allow_plain_http => false,
            _ => return Err(scheme_error().to_string()),
        };
        let authority = uri
            .authority()
            .filter(|authority| !authority.host().is_empty())
            .ok_or_else(|| "WebhookのURLにホスト名がありません / the webhook URL has no host".to_string())?;
        // Credentials in a URL end up in logs and screens; receivers check the signature.
        if authority.as_str().contains('@') {
            return Err("WebhookのURLに利用者名やパスワードを含めないでください / the webhook URL must not contain a user name or password".to_string());
        }
        let host = authority.host();
        // `Authority::port` is `None` for an unusable port too (`:99999`): read it ourselves.
        let port = match authority.as_str()[host.len()..].trim_start_matches(':') {
            "" if https => 443,
            "" => 80,
            port => port
                .parse::<u16>()
                .ok()
                .filter(|port| *port != 0)
                .ok_or_else(|| {
                    "WebhookのURLのポート番号が正しくありません / the webhook URL has an invalid port"
                        .to_string()
                })?,
        };
        Ok(Target {
            https,
            host: host.trim_start_matches('[').trim_end_matches(']').to_string(),
            port,
            authority: authority.as_str().to_string(),
            path_and_query: uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
        })
    }

    /// `scheme://host:port`: what the circuit breaker groups by.
    fn origin(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        match self.host.contains(':') {
            true => format!("{scheme}://[{}]:{}", self.host, self.port),
            false => format!("{scheme}://{}:{}", self.host, self.port),
        }
    }
}

fn build_request(
    target: &Target,
    outgoing: &Outgoing,
    secret: &str,
    body: Vec<u8>,
    now: i64,
) -> Result<Request<Full<Bytes>>, SendError> {
    Request::post(target.path_and_query.as_str())
        .header(header::HOST, target.authority.as_str())
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(header::USER_AGENT, USER_AGENT)
        // One request per connection (see the module comment): tell the receiver so.
        .header(header::CONNECTION, "close")
        .header(signature::HEADER, signature::sign(secret.as_bytes(), now, &body))
        .header("Tsunagu-Event", outgoing.event_type.as_str())
        .header("Tsunagu-Event-Id", outgoing.event_id.to_string())
        .header("Tsunagu-Delivery", outgoing.delivery_id.to_string())
        .body(Full::new(Bytes::from(body)))
        .map_err(|error| SendError::Permanent(format!("cannot build the webhook request: {error}")))
}

/// The status and, for an error, what the receiver said about it.
struct Answer {
    status: StatusCode,
    detail: String,
}

async fn exchange<S>(
    stream: S,
    request: Request<Full<Bytes>>,
    deadline: Instant,
    timeout: Duration,
) -> Result<Answer, SendError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = within(
        deadline,
        timeout,
        "starting HTTP",
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await?;
    // The connection runs beside the request; it is aborted when the delivery is over, so
    // a receiver that never closes cannot keep a task alive.
    let connection = AbortOnDrop(tokio::spawn(connection));
    let response = within(
        deadline,
        timeout,
        "waiting for the answer",
        sender.send_request(request),
    )
    .await?;
    let status = response.status();
    let mut detail = String::new();
    if !status.is_success() {
        if let Some(location) = response.headers().get(header::LOCATION) {
            detail = format!("Location: {}; ", String::from_utf8_lossy(location.as_bytes()));
        }
        if let Some(retry_after) = response.headers().get(header::RETRY_AFTER) {
            detail.push_str(&format!(
                "Retry-After: {}; ",
                String::from_utf8_lossy(retry_after.as_bytes())
            ));
        }
        // What is left of the time; an answer whose body never ends still has its status.
        let excerpt = tokio::time::timeout_at(deadline, excerpt(response.into_body()))
            .await
            .unwrap_or_default();
        detail.push_str(&excerpt);
    }
    drop(connection);
    Ok(Answer { status, detail })
}

/// The first characters of a body, on one line; reading stops once there are enough.
async fn excerpt(mut body: Incoming) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < EXCERPT_CHARS * 4 {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    bytes.extend_from_slice(&data);
                }
            }
            _ => break,
        }
    }
    let text: String = String::from_utf8_lossy(&bytes)
        .chars()
        .take(EXCERPT_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    text.trim().to_string()
}

/// Delivered, worth retrying, or final: by status.
fn classify(status: StatusCode, detail: &str) -> Result<(), SendError> {
    let code = status.as_u16();
    let message = || {
        let reason = status.canonical_reason().unwrap_or("");
        format!("webhook answered {code} {reason}: {detail}")
            .trim_end_matches([' ', ':', ';'])
            .to_string()
    };
    match code {
        200..=299 => Ok(()),
        408 | 429 | 500..=599 => Err(SendError::Retryable(message())),
        300..=399 => Err(SendError::Permanent(format!(
            "{} (redirects are not followed)",
            message()
        ))),
        _ => Err(SendError::Permanent(message())),
    }
}

async fn within<T, E: std::fmt::Display>(
    deadline: Instant,
    timeout: Duration,
    step: &str,
    future: impl Future<Output = Result<T, E>>,
) -> Result<T, SendError> {
    match tokio::time::timeout_at(deadline, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(SendError::Retryable(format!(
            "webhook failed while {step}: {error}"
        ))),
        Err(_) => Err(SendError::Retryable(format!(
            "webhook timed out after {timeout:?} while {step}"
        ))),
    }
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(address: &str) -> Result<Target, String> {
        Target::parse(address, false)
    }

    #[test]
    fn https_urls_are_accepted_and_taken_apart() {
        let target = parse("https://hooks.city.ogaki.lg.jp/tsunagu?key=1").unwrap();
        assert_eq!(
            target,
            Target {
                https: true,
                host: "hooks.city.ogaki.lg.jp".into(),
                port: 443,
                authority: "hooks.city.ogaki.lg.jp".into(),
                path_and_query: "/tsunagu?key=1".into(),
            }
        );
        assert_eq!(target.origin(), "https://hooks.city.ogaki.lg.jp:443");
        let target = parse("HTTPS://10.1.2.3:8443").unwrap();
        assert_eq!((target.port, target.path_and_query.as_str()), (8443, "/"));
        assert_eq!(target.origin(), "https://10.1.2.3:8443");
        assert_eq!(parse("https://example.jp:/").unwrap().port, 443);
        let target = parse("https://[::1]:9000/hook").unwrap();
        assert_eq!(
            (target.host.as_str(), target.authority.as_str()),
            ("::1", "[::1]:9000")
        );
        assert_eq!(target.origin(), "https://[::1]:9000");
    }

    #[test]
    fn plain_http_only_when_allowed() {
        let error = parse("http://127.0.0.1:8080/hook").unwrap_err();
        assert!(
            error.starts_with("WebhookのURLは https:// で始めてください"),
            "{error}"
        );
        assert!(
            error.ends_with("the webhook URL must start with https://"),
            "{error}"
        );
        let target = Target::parse("http://127.0.0.1:8080/hook", true).unwrap();
        assert_eq!(target.origin(), "http://127.0.0.1:8080");
        assert_eq!(Target::parse("http://example.jp", true).unwrap().port, 80);
    }

    #[test]
    fn invalid_urls_are_refused_in_both_languages() {
        for address in [
            "",
            "hooks.example.jp/tsunagu",
            "/tsunagu",
            "ftp://example.jp/",
            "https://",
            "https:///path",
            "https://exa mple.jp/",
            "https://user:password@example.jp/",
            "https://example.jp:0/",
            "https://example.jp:99999/",
            "https://example.jp:8o8o/",
            &format!("https://example.jp/{}", "a".repeat(MAX_URL_LENGTH)),
        ] {
            let error = parse(address).expect_err(address);
            let (japanese, english) = error.split_once(" / ").expect("Japanese / English");
            assert!(japanese.starts_with("Webhook"), "{address}: {error}");
            assert!(english.starts_with("the webhook URL"), "{address}: {error}");
        }
    }

    #[test]
    fn statuses_are_classified() {
        let of = |code: u16| classify(StatusCode::from_u16(code).unwrap(), "detail");
        for code in [200, 201, 202, 204, 299] {
            assert_eq!(of(code), Ok(()), "{code}");
        }
        for code in [408, 429, 500, 502, 503, 504, 599] {
            assert!(matches!(of(code), Err(SendError::Retryable(_))), "{code}");
        }
        for code in [400, 401, 403, 404, 405, 410, 413, 422] {
            assert!(matches!(of(code), Err(SendError::Permanent(_))), "{code}");
        }
        for code in [301, 302, 307, 308] {
            let Err(SendError::Permanent(message)) = of(code) else {
                panic!("{code} must be permanent");
            };
            assert!(message.contains("redirects are not followed"), "{message}");
        }
        assert_eq!(
            of(503),
            Err(SendError::Retryable(
                "webhook answered 503 Service Unavailable: detail".into()
            ))
        );
        assert_eq!(
            classify(StatusCode::NOT_FOUND, ""),
            Err(SendError::Permanent("webhook answered 404 Not Found".into()))
        );
    }

    #[test]
    fn the_request_carries_the_documented_headers() {
        let target = Target::parse("http://127.0.0.1:8080/hooks/tsunagu", true).unwrap();
        let outgoing = Outgoing {
            delivery_id: uuid::Uuid::now_v7(),
            event_id: uuid::Uuid::now_v7(),
            event_type: "need.matched".into(),
            address: "http://127.0.0.1:8080/hooks/tsunagu".into(),
            secret: Some("whsec_x".into()),
            subject: String::new(),
            body: String::new(),
            payload: serde_json::json!({"need_id": "n-1"}),
        };
        let body = serde_json::to_vec(&outgoing.payload).unwrap();
        let request = build_request(&target, &outgoing, "whsec_x", body.clone(), 1_000).unwrap();
        let header = |name: &str| request.headers().get(name).unwrap().to_str().unwrap();
        assert_eq!(request.uri(), "/hooks/tsunagu");
        assert_eq!(header("host"), "127.0.0.1:8080");
        assert_eq!(header("content-type"), "application/json; charset=utf-8");
        assert_eq!(header("tsunagu-event"), "need.matched");
        assert_eq!(header("tsunagu-event-id"), outgoing.event_id.to_string());
        assert_eq!(header("tsunagu-delivery"), outgoing.delivery_id.to_string());
        assert!(header("user-agent").starts_with("tsunagu-notifications/"));
        assert_eq!(
            signature::verify(b"whsec_x", header("tsunagu-signature"), &body, 1_000, 300),
            Ok(())
        );
    }
}
