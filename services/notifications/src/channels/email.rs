//! The e-mail channel: one plain-text UTF-8 message per delivery, handed to the municipality's
//! SMTP relay.
//!
//! The relay is given as a URL:
//! - `smtp://host:port`: plain SMTP that upgrades with STARTTLS whenever the relay offers it
//!   (opportunistic: many municipal relays inside a closed network have no certificate);
//! - `smtp://host:port?tls=required`: STARTTLS or nothing is sent;
//! - `smtps://host:port`: TLS from the first byte (port 465 by default).
//!
//! `smtp://` without a port means 25. Certificates are checked against Mozilla's roots plus,
//! where given, the municipality's own CA (`ca_pem`). A relay that wants a login gets it from
//! the URL, `smtp://user:password@host:587?tls=required` (percent-encoded; AUTH PLAIN or
//! LOGIN): only over a connection that is certainly encrypted — `?tls=required` or `smtps://`
//! — so a password never crosses the network in clear, and never in an error text.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{ChannelAdapter, Outgoing, SendError, SendFuture};

/// How long to wait for the TCP connection (lettre applies it to connecting only).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The whole SMTP exchange of one message. lettre's async client has no per-command timeout,
/// so a relay that accepts the connection and then stalls would hold a sender forever.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// How the e-mail channel reaches its relay.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// `smtp://host:port`, `smtp://host:port?tls=required` or `smtps://host:port`.
    pub url: String,
    /// The sender, e.g. `noreply@example.jp` or `大垣市 <noreply@example.jp>`.
    pub from: String,
    /// An extra root certificate (PEM) to trust, e.g. a municipality's private CA.
    pub ca_pem: Option<Vec<u8>>,
}

pub struct EmailAdapter {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `host:port` of the relay: the circuit breaker's destination and part of error texts.
    relay: String,
}

/// Whether and how the connection to the relay is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    Opportunistic,
    Required,
    Implicit,
}

/// The relay part of [`EmailSettings::url`].
#[derive(PartialEq, Eq)]
struct Relay {
    host: String,
    port: u16,
    security: Security,
    /// (user, password) for SMTP AUTH.
    login: Option<(String, String)>,
}

/// Never prints the password.
impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.login.as_ref().map(|(user, _)| user))
            .finish()
    }
}

impl Relay {
    fn parse(raw_url: &str) -> Result<Relay, String> {
        // Error texts show the URL without its password.
        let url = &tsunagu_runtime::db::redact(raw_url);
        let (scheme, rest) = raw_url
            .split_once("://")
            .ok_or_else(|| format!("the SMTP URL {url:?} has no scheme (smtp:// or smtps://)"))?;
        let (authority, query) = match rest.split_once('?') {
            Some((authority, query)) => (authority, Some(query)),
            None => (rest, None),
        };
        let authority = authority.strip_suffix('/').unwrap_or(authority);
        let (login, authority) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => (Some(login(userinfo, url)?), host),
            None => (None, authority),
        };
        if authority.contains('/') {
            return Err(format!(
                "the SMTP URL {url:?} may hold only a login, host and port (no path)"
            ));
        }
        let security = match (scheme, query) {
            ("smtp", None | Some("tls=opportunistic")) => Security::Opportunistic,
            ("smtp", Some("tls=required")) => Security::Required,
            ("smtps", None) => Security::Implicit,
            ("smtp" | "smtps", Some(query)) => {
                return Err(format!(
                    "the SMTP URL {url:?} has an unknown query {query:?} (only tls=required)"
                ));
            }
            (scheme, _) => {
                return Err(format!(
                    "the SMTP URL {url:?} has the scheme {scheme:?}; expected smtp or smtps"
                ));
            }
        };
        let (host, port) = split_host_port(authority)
            .ok_or_else(|| format!("the SMTP URL {url:?} has no valid host[:port]"))?;
        let port = port.unwrap_or(match security {
            Security::Implicit => 465,
            _ => 25,
        });
        if login.is_some() && security == Security::Opportunistic {
            return Err(format!(
                "the SMTP URL {url:?} has a login but may send it unencrypted: add ?tls=required \
                 or use smtps:// / パスワードは暗号化された接続でのみ送ります"
            ));
        }
        Ok(Relay {
            host: host.to_string(),
            port,
            security,
            login,
        })
    }

    /// `host:port`, with an IPv6 host in brackets.
    fn address(&self) -> String {
        match self.host.contains(':') {
            true => format!("[{}]:{}", self.host, self.port),
            false => format!("{}:{}", self.host, self.port),
        }
    }
}

/// `user:password` of a URL, percent-decoded.
fn login(userinfo: &str, url: &str) -> Result<(String, String), String> {
    let (user, password) = userinfo
        .split_once(':')
        .ok_or_else(|| format!("the SMTP URL {url:?} has a user but no password (user:password@host)"))?;
    let decode = |part: &str| {
        percent_decode(part)
            .ok_or_else(|| format!("the SMTP URL {url:?} has a login that is not percent-encoded UTF-8"))
    };
    let (user, password) = (decode(user)?, decode(password)?);
    if user.is_empty() || password.is_empty() {
        return Err(format!("the SMTP URL {url:?} has an empty user or password"));
    }
    Ok((user, password))
}

/// `%XX` sequences to bytes, then UTF-8; `None` for a broken sequence or invalid UTF-8.
/// (The percent-encoding crate passes a broken sequence through as it is: a password would
/// change silently.)
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; `None` when empty or the port is not a number.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed.split_once(']')?;
            (
                host,
                after.strip_prefix(':').or(Some(after).filter(|a| a.is_empty())),
            )
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = match port {
        None | Some("") => None,
        Some(port) => Some(port.parse::<u16>().ok().filter(|p| *p != 0)?),
    };
    (!host.is_empty()).then_some((host, port))
}

/// The error shown when a subscription's address is not one (Japanese first, then English).
fn address_error(address: &str) -> String {
    format!("メールアドレスの形式が正しくありません / not an e-mail address: {address:?}")
}

/// A bare address (`user@example.jp`). lettre's mailbox parser would also take
/// `Name <user@example.jp>` but silently ignores what follows the first mailbox, so a list
/// pasted into one field would reach only its first member.
fn parse_address(address: &str) -> Result<Address, String> {
    Address::from_str(address).map_err(|_| address_error(address))
}

impl EmailAdapter {
    pub fn new(settings: EmailSettings) -> anyhow::Result<EmailAdapter> {
        let relay = Relay::parse(&settings.url).map_err(anyhow::Error::msg)?;
        let from = Mailbox::from_str(&settings.from)
            .with_context(|| format!("the e-mail sender {:?} is not an address", settings.from))?;

        let mut tls = TlsParameters::builder(relay.host.clone());
        if let Some(pem) = &settings.ca_pem {
            // lettre takes a PEM without certificates as an empty list: say so instead of
            // failing later with "unknown issuer".
            anyhow::ensure!(
                String::from_utf8_lossy(pem).contains("-----BEGIN CERTIFICATE-----"),
                "the e-mail CA file holds no PEM certificate"
            );
            let certificate = Certificate::from_pem(pem).context("the e-mail CA certificate")?;
            tls = tls.add_root_certificate(certificate);
        }
        let tls = tls.build().context("TLS settings for the SMTP relay")?;
        let tls = match relay.security {
            Security::Opportunistic => Tls::Opportunistic(tls),
            Security::Required => Tls::Required(tls),
            Security::Implicit => Tls::Wrapper(tls),
        };
        // A connection per message (no pool): notifications are few, and a fresh session never
        // trips over a pooled connection the relay dropped while restarting.
        let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(relay.host.clone())
            .port(relay.port)
            .tls(tls)
            .timeout(Some(CONNECT_TIMEOUT));
        if let Some((user, password)) = &relay.login {
            transport = transport.credentials(Credentials::new(user.clone(), password.clone()));
        }
        let transport = transport.build();
        Ok(EmailAdapter {
            transport,
            from,
            relay: relay.address(),
        })
    }

    fn message(&self, outgoing: &Outgoing) -> Result<Message, SendError> {
        let to = parse_address(&outgoing.address).map_err(SendError::Permanent)?;
        // Templates and events are checked before they get here; this is the last wall
        // against header injection (`件名\r\nBcc: …`) whatever a future path lets through.
        let subject = one_line_header("Subject", &outgoing.subject)?;
        let event_type = one_line_header("X-Tsunagu-Event", &outgoing.event_type)?;
        Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            // lettre encodes non-ASCII headers per RFC 2047 and folds them.
            .subject(subject)
            // Stable across retries: a receiver (or the relay) can drop a repeat.
            .message_id(Some(format!("<{}@tsunagu>", outgoing.delivery_id)))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Tsunagu-Event"),
                event_type,
            ))
            .header(ContentType::TEXT_PLAIN)
            .body(outgoing.body.clone())
            .map_err(|error| SendError::Permanent(format!("the e-mail cannot be built: {error}")))
    }

    /// 5xx replies are final (unknown mailbox, rejected content); everything else — refused
    /// or dropped connections, TLS trouble, 4xx replies — may pass on a later try.
    fn classify(&self, error: SmtpError) -> SendError {
        let text = format!("SMTP relay {}: {error}", self.relay);
        match error.is_permanent() {
            true => SendError::Permanent(text),
            false => SendError::Retryable(text),
        }
    }
}

/// A header value without control characters (CR and LF above all, which would end the
/// header and start another); anything else is a permanent failure: no retry can fix it.
fn one_line_header(name: &str, value: &str) -> Result<String, SendError> {
    match value.chars().any(char::is_control) {
        false => Ok(value.to_string()),
        true => Err(SendError::Permanent(format!(
            "the e-mail header {name} contains a line break or another control character and is not sent (header injection)"
        ))),
    }
}

impl ChannelAdapter for EmailAdapter {
    fn name(&self) -> &'static str {
        "email"
    }

    fn validate_address(&self, address: &str) -> Result<(), String> {
        parse_address(address).map(|_| ())
    }

    fn destination(&self, _outgoing: &Outgoing) -> String {
        self.relay.clone()
    }

    fn send<'a>(&'a self, outgoing: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(async move {
            let message = self.message(outgoing)?;
            match tokio::time::timeout(SEND_TIMEOUT, self.transport.send(message)).await {
                Ok(Ok(_response)) => Ok(()),
                Ok(Err(error)) => Err(self.classify(error)),
                Err(_elapsed) => Err(SendError::Retryable(format!(
                    "SMTP relay {}: no answer within {SEND_TIMEOUT:?}",
                    self.relay
                ))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(host: &str, port: u16, security: Security) -> Relay {
        Relay {
            host: host.into(),
            port,
            security,
            login: None,
        }
    }

    #[test]
    fn a_login_is_taken_only_over_certain_encryption_and_never_shown() {
        let parsed =
            Relay::parse("smtp://tsunagu%40ogaki:p%40ss%3Aword@mail.example.jp:587?tls=required").unwrap();
        assert_eq!(
            parsed.login,
            Some(("tsunagu@ogaki".to_string(), "p@ss:word".to_string()))
        );
        assert_eq!(parsed.address(), "mail.example.jp:587");
        assert!(!format!("{parsed:?}").contains("p@ss"), "{parsed:?}");
        assert!(
            Relay::parse("smtps://user:secret@mail.example.jp")
                .unwrap()
                .login
                .is_some()
        );
        for (url, reason) in [
            ("smtp://user:secret@mail.example.jp", "may send it unencrypted"),
            ("smtp://user@mail.example.jp?tls=required", "no password"),
            ("smtp://:secret@mail.example.jp?tls=required", "empty user"),
            (
                "smtp://user:%zz@mail.example.jp?tls=required",
                "not percent-encoded",
            ),
        ] {
            let error = Relay::parse(url).expect_err(url);
            assert!(error.contains(reason), "{url}: {error}");
            assert!(!error.contains("secret"), "the password shows in {error}");
        }
    }

    #[test]
    fn relay_urls_name_host_port_and_encryption() {
        let parse = |url| Relay::parse(url).unwrap();
        assert_eq!(
            parse("smtp://127.0.0.1:2525"),
            relay("127.0.0.1", 2525, Security::Opportunistic)
        );
        assert_eq!(
            parse("smtp://mail.example.jp/"),
            relay("mail.example.jp", 25, Security::Opportunistic)
        );
        assert_eq!(
            parse("smtp://mail.example.jp:587?tls=required"),
            relay("mail.example.jp", 587, Security::Required)
        );
        assert_eq!(
            parse("smtps://mail.example.jp"),
            relay("mail.example.jp", 465, Security::Implicit)
        );
        assert_eq!(
            parse("smtp://[::1]:2525"),
            relay("::1", 2525, Security::Opportunistic)
        );
        assert_eq!(parse("smtp://[::1]:2525").address(), "[::1]:2525");
        assert_eq!(parse("smtps://mail.example.jp").address(), "mail.example.jp:465");
    }

    #[test]
    fn malformed_relay_urls_are_refused_with_a_reason() {
        for (url, reason) in [
            ("mail.example.jp:25", "no scheme"),
            ("http://mail.example.jp", "expected smtp or smtps"),
            ("smtp://mail.example.jp:25?tls=maybe", "unknown query"),
            ("smtps://mail.example.jp?tls=required", "unknown query"),
            ("smtp://mail.example.jp/relay", "no path"),
            ("smtp://mail.example.jp:smtp", "no valid host"),
            ("smtp://mail.example.jp:70000", "no valid host"),
            ("smtp://:25", "no valid host"),
            ("smtp://[::1", "no valid host"),
        ] {
            let error = Relay::parse(url).expect_err(url);
            assert!(error.contains(reason), "{url}: {error}");
        }
    }

    fn adapter() -> EmailAdapter {
        EmailAdapter::new(EmailSettings {
            url: "smtp://127.0.0.1:2525".into(),
            from: "大垣市 <noreply@example.jp>".into(),
            ca_pem: None,
        })
        .expect("valid settings")
    }

    #[test]
    fn subscription_addresses_must_be_one_bare_address() {
        let adapter = adapter();
        assert_eq!(adapter.validate_address("taro.yamada@example.jp"), Ok(()));
        for bad in [
            "",
            "taro",
            "taro@",
            "@example.jp",
            "taro @example.jp",
            "taro@example.jp, hanako@example.jp",
            "山田 <taro@example.jp>",
        ] {
            let error = adapter.validate_address(bad).expect_err(bad);
            assert!(error.starts_with("メールアドレスの形式が正しくありません / not an e-mail address"));
        }
    }

    #[test]
    fn a_header_with_a_line_break_is_never_sent() {
        let outgoing = |subject: &str, event_type: &str| Outgoing {
            delivery_id: uuid::Uuid::nil(),
            event_id: uuid::Uuid::nil(),
            event_type: event_type.into(),
            address: "taro@example.jp".into(),
            secret: None,
            subject: subject.into(),
            body: "本文".into(),
            payload: serde_json::Value::Null,
        };
        let adapter = adapter();
        assert!(adapter.message(&outgoing("新しい提案", "match.proposed")).is_ok());
        for (subject, event_type) in [
            ("件名\r\nBcc: attacker@example.com", "match.proposed"),
            ("件名\nBcc: attacker@example.com", "match.proposed"),
            ("件名\r", "match.proposed"),
            ("件名", "match.proposed\r\nBcc: attacker@example.com"),
        ] {
            let Err(SendError::Permanent(reason)) = adapter.message(&outgoing(subject, event_type)) else {
                panic!("{subject:?} / {event_type:?} must be refused for good");
            };
            assert!(reason.contains("header injection"), "{reason}");
        }
    }

    #[test]
    fn one_relay_carries_every_message() {
        let outgoing = Outgoing {
            delivery_id: uuid::Uuid::nil(),
            event_id: uuid::Uuid::nil(),
            event_type: "need.matched".into(),
            address: "taro@example.jp".into(),
            secret: None,
            subject: String::new(),
            body: String::new(),
            payload: serde_json::Value::Null,
        };
        assert_eq!(adapter().destination(&outgoing), "127.0.0.1:2525");
        assert_eq!(adapter().name(), "email");
    }

    #[test]
    fn bad_settings_fail_at_construction() {
        let settings = |url: &str, from: &str, ca_pem: Option<&[u8]>| EmailSettings {
            url: url.into(),
            from: from.into(),
            ca_pem: ca_pem.map(<[u8]>::to_vec),
        };
        assert!(EmailAdapter::new(settings("smtp://h:25", "not an address", None)).is_err());
        assert!(EmailAdapter::new(settings("ftp://h:25", "a@example.jp", None)).is_err());
        assert!(EmailAdapter::new(settings("smtp://h:25", "a@example.jp", Some(b"garbage"))).is_err());
    }
}
