//! Configuration from the environment, with defaults that work on a developer's machine
//! (PostgreSQL and RabbitMQ on localhost). Every problem is reported at once, before anything
//! starts, in words an operator can act on.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// The four services, in the order they start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceName {
    Registry,
    Intake,
    Matching,
    Notifications,
}

impl ServiceName {
    pub const ALL: [ServiceName; 4] = [
        ServiceName::Registry,
        ServiceName::Intake,
        ServiceName::Matching,
        ServiceName::Notifications,
    ];

    /// Lowercase name: the PostgreSQL schema, the queue suffix and the `service.name` suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::Registry => "registry",
            ServiceName::Intake => "intake",
            ServiceName::Matching => "matching",
            ServiceName::Notifications => "notifications",
        }
    }

    pub fn parse(name: &str) -> Option<ServiceName> {
        ServiceName::ALL.into_iter().find(|s| s.as_str() == name)
    }

    fn env_prefix(self) -> &'static str {
        match self {
            ServiceName::Registry => "TSUNAGU_REGISTRY",
            ServiceName::Intake => "TSUNAGU_INTAKE",
            ServiceName::Matching => "TSUNAGU_MATCHING",
            ServiceName::Notifications => "TSUNAGU_NOTIFICATIONS",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            ServiceName::Registry => 50051,
            ServiceName::Intake => 50052,
            ServiceName::Matching => 50053,
            ServiceName::Notifications => 50054,
        }
    }
}

impl std::fmt::Display for ServiceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    Text,
    /// One JSON object per line with the trace id, for log collectors.
    Json,
}

/// Settings of one service as it runs.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Address the gRPC server binds to. Port 0 picks a free port (tests do this).
    pub listen_addr: SocketAddr,
    /// PostgreSQL URL of this service's database. Each service owns a schema named after it;
    /// services may share one database or each move to its own server.
    pub database_url: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub services: BTreeMap<ServiceName, ServiceConfig>,
    /// AMQP URL of RabbitMQ, including the vhost.
    pub amqp_url: String,
    /// Prefix of every exchange and queue name, so that several deployments (or tests) can share
    /// one vhost without seeing each other's messages.
    pub amqp_namespace: String,
    /// Most connections each service's pool opens.
    pub database_max_connections: u32,
    /// How many unacknowledged messages a consumer holds at once.
    pub amqp_prefetch: u16,
    /// How often a message may be delivered before it goes to the dead-letter queue.
    pub amqp_delivery_limit: u32,
    /// URL of the registry's gRPC endpoint, for services that look things up there.
    pub registry_url: String,
    /// Whether `registry_url` was configured, rather than derived from the registry's listen
    /// address (`up` then points the others at where the registry actually listens).
    pub registry_url_configured: bool,
    /// OTLP/gRPC endpoint for traces and metrics; neither is exported when unset.
    pub otlp_endpoint: Option<String>,
    pub log_format: LogFormat,
    /// Which log events are printed, as `target=level` directives (`RUST_LOG`). Traces do
    /// not depend on it.
    pub log_filter: String,
    /// Whether the registry loads the bundled official list of 全国地方公共団体コード when its
    /// area tree has no official area yet (first start).
    pub seed_official_areas: bool,
    /// How often the registry looks for resources whose verification is overdue (older than
    /// their municipality's freshness period) and announces them, in seconds
    /// (TSUNAGU_REGISTRY_FRESHNESS_SWEEP_SECONDS, default 3600). Periods are counted in days,
    /// so an hour late is early enough.
    pub registry_freshness_sweep_seconds: u32,
    /// Keys that seal residents' personal data in intake: `id:base64(32 bytes)`, comma
    /// separated, the first one current (TSUNAGU_INTAKE_ENCRYPTION_KEYS). Parsed by intake;
    /// without it, intake accepts needs but refuses to store personal data.
    pub intake_encryption_keys: Option<String>,
    /// Open needs whose status has not moved for this many days are flagged for follow-up
    /// (TSUNAGU_INTAKE_FOLLOW_UP_DAYS, default 14).
    pub intake_follow_up_days: u32,
    /// How often intake looks for needs due for follow-up, in seconds
    /// (TSUNAGU_INTAKE_FOLLOW_UP_SWEEP_SECONDS, default 60).
    pub intake_follow_up_sweep_seconds: u32,
    /// How often matching looks for unanswered proposals past their deadline, in seconds
    /// (TSUNAGU_MATCHING_EXPIRY_SWEEP_SECONDS, default 30).
    pub matching_expiry_sweep_seconds: u32,
    /// Into how many partition queues matching's events are hashed by municipality
    /// (TSUNAGU_MATCHING_PARTITIONS, default 16, at most 256). Every worker of a deployment
    /// uses the same number; to change it, stop all matching workers and start them with the
    /// new one: they drain the queues the old layout left before they take partitions.
    pub matching_partitions: u16,
    /// How often a matching worker counts the live workers and takes or gives back
    /// partitions, in milliseconds (TSUNAGU_MATCHING_REBALANCE_MILLIS, default 1000).
    pub matching_rebalance_millis: u32,
    /// The secret the services present to each other (TSUNAGU_INTERNAL_TOKEN, at least 32
    /// characters). Required by `serve`; `up` and the tests make one per process.
    pub internal_token: Option<String>,
    /// One more internal token the services accept but never send
    /// (TSUNAGU_INTERNAL_TOKEN_ACCEPTED): a rotation without a full stop adds the new token
    /// here everywhere, then makes it the token with the old one here, then drops this.
    pub internal_token_accepted: Option<String>,
    /// How long a service other than the registry trusts a key the registry admitted, in
    /// seconds (TSUNAGU_AUTH_CACHE_SECONDS, default 10): a revoked key stops working
    /// everywhere within this time.
    pub auth_cache_seconds: u32,
    /// Calls a second each API key may make to one service process on average
    /// (TSUNAGU_RATE_LIMIT_PER_SECOND, default 50; 0: no limit), in bursts of up to
    /// TSUNAGU_RATE_LIMIT_BURST (default 200).
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    /// The longest any call may take before its handler answers, in seconds
    /// (TSUNAGU_GRPC_TIMEOUT_SECONDS, default 300). A client's own `grpc-timeout` is kept when
    /// shorter. Server streams (WatchNeed) are not cut once they started; a client-streaming
    /// import must finish within it.
    pub grpc_timeout_seconds: u32,
    /// Mutual TLS (TSUNAGU_TLS_CERT, TSUNAGU_TLS_KEY, TSUNAGU_TLS_CA: PEM files, all three or
    /// none): the service's certificate and key, presented as a server and as a client of the
    /// other services, and the CA whose certificates it accepts from both sides. With it, a
    /// client without a certificate of that CA cannot connect at all.
    pub tls: Option<TlsFiles>,
    /// Delivery over e-mail and webhooks (issue 6).
    pub notifications: NotificationsSettings,
    /// Where the process serves Prometheus metrics at `/metrics` (TSUNAGU_METRICS_LISTEN,
    /// e.g. 0.0.0.0:9464); unset: not served.
    pub metrics_listen: Option<SocketAddr>,
    /// How often metrics are pushed to `otlp_endpoint` (OTEL_METRIC_EXPORT_INTERVAL, in
    /// milliseconds as OpenTelemetry has it; default 60000).
    pub metrics_export_interval: Duration,
    /// Whether metrics are pushed to `otlp_endpoint` at all (OTEL_METRICS_EXPORTER: `otlp`,
    /// the default, or `none` where a scraper reads /metrics and the same series must not
    /// arrive twice).
    pub metrics_over_otlp: bool,
}

/// How notifications leaves Tsunagu: the SMTP relay, webhooks, and the retry policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationsSettings {
    /// The SMTP relay (TSUNAGU_SMTP_URL): `smtp://host:port` upgrades with STARTTLS when the
    /// server offers it, `?tls=required` insists, `smtps://` is TLS from the start. Unset:
    /// e-mail subscriptions are refused.
    pub smtp_url: Option<String>,
    /// The sender of every e-mail (TSUNAGU_SMTP_FROM, default `Tsunagu <noreply@localhost>`).
    pub smtp_from: String,
    /// A PEM file of a private CA the SMTP relay and webhook receivers may present
    /// (TSUNAGU_NOTIFY_CA), besides the public roots.
    pub extra_ca: Option<String>,
    /// Allow `http://` webhooks (TSUNAGU_WEBHOOK_ALLOW_HTTP, default false): a closed LAN or
    /// tests only; secrets and payloads travel in the clear.
    pub webhook_allow_http: bool,
    /// How long a webhook receiver may take to answer, in seconds (TSUNAGU_WEBHOOK_TIMEOUT_SECONDS, 10).
    pub webhook_timeout_seconds: u32,
    /// The first retry's delay in milliseconds, doubled per attempt with jitter up to an hour
    /// (TSUNAGU_DELIVERY_RETRY_BASE_MILLIS, default 5000).
    pub retry_base_millis: u32,
    /// Attempts before a delivery is dead-lettered (TSUNAGU_DELIVERY_MAX_ATTEMPTS, default 10).
    pub max_attempts: u32,
    /// Consecutive failures to one destination that open its circuit breaker, and how long it
    /// stays open in seconds (TSUNAGU_DELIVERY_BREAKER_FAILURES 5, _BREAKER_SECONDS 30).
    pub breaker_failures: u32,
    pub breaker_seconds: u32,
}

/// Where the PEM files of mutual TLS are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: String,
    pub key: String,
    pub ca: String,
}

/// Matching's partition queues when TSUNAGU_MATCHING_PARTITIONS is not set.
pub const DEFAULT_MATCHING_PARTITIONS: u16 = 16;

/// The most partition queues a partitioned service may have.
pub const MAX_PARTITIONS: u16 = 256;

/// Every problem found in the environment, reported together.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n{}", .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

pub const DEFAULT_LOG_FILTER: &str =
    "info,sqlx=warn,lapin=warn,amq_protocol=warn,h2=warn,tower=warn,hyper=warn";
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/tsunagu";
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads configuration through `lookup`, so tests can supply their own variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        let get = |key: &str| lookup(key).filter(|value| !value.trim().is_empty());

        let database_url = get("TSUNAGU_DATABASE_URL").unwrap_or(DEFAULT_DATABASE_URL.into());
        check_url(
            &mut problems,
            "TSUNAGU_DATABASE_URL",
            &database_url,
            &["postgres", "postgresql"],
        );

        let mut services = BTreeMap::new();
        for service in ServiceName::ALL {
            let listen_key = format!("{}_LISTEN", service.env_prefix());
            let listen = get(&listen_key).unwrap_or_else(|| format!("127.0.0.1:{}", service.default_port()));
            let listen_addr = match listen.parse::<SocketAddr>() {
                Ok(addr) => addr,
                Err(_) => {
                    problems.push(format!(
                        "{listen_key}={listen:?} is not a socket address such as 0.0.0.0:{}",
                        service.default_port()
                    ));
                    continue;
                }
            };
            let db_key = format!("{}_DATABASE_URL", service.env_prefix());
            let service_db = get(&db_key).unwrap_or_else(|| database_url.clone());
            check_url(&mut problems, &db_key, &service_db, &["postgres", "postgresql"]);
            services.insert(
                service,
                ServiceConfig {
                    listen_addr,
                    database_url: service_db,
                },
            );
        }

        let amqp_url = get("TSUNAGU_AMQP_URL").unwrap_or(DEFAULT_AMQP_URL.into());
        check_url(&mut problems, "TSUNAGU_AMQP_URL", &amqp_url, &["amqp", "amqps"]);

        let amqp_namespace = get("TSUNAGU_AMQP_NAMESPACE").unwrap_or("tsunagu".into());
        if !amqp_namespace
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            problems.push(format!(
                "TSUNAGU_AMQP_NAMESPACE={amqp_namespace:?} may only hold ASCII letters, digits, '-', '_' and '.'"
            ));
        }

        let database_max_connections =
            parse_number(&mut problems, &get, "TSUNAGU_DATABASE_MAX_CONNECTIONS", 10u32, 1);
        let amqp_prefetch = parse_number(&mut problems, &get, "TSUNAGU_AMQP_PREFETCH", 32u16, 1);
        let amqp_delivery_limit = parse_number(&mut problems, &get, "TSUNAGU_AMQP_DELIVERY_LIMIT", 5u32, 1);

        let registry_url_configured = get("TSUNAGU_REGISTRY_URL").is_some();
        let registry_url = get("TSUNAGU_REGISTRY_URL").unwrap_or_else(|| {
            let port = services
                .get(&ServiceName::Registry)
                .map_or(ServiceName::Registry.default_port(), |s| s.listen_addr.port());
            format!("http://127.0.0.1:{port}")
        });
        check_url(
            &mut problems,
            "TSUNAGU_REGISTRY_URL",
            &registry_url,
            &["http", "https"],
        );

        let otlp_endpoint = get("OTEL_EXPORTER_OTLP_ENDPOINT");
        if let Some(endpoint) = &otlp_endpoint {
            check_url(
                &mut problems,
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                endpoint,
                &["http", "https"],
            );
        }

        let log_format = match get("TSUNAGU_LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                problems.push(format!(
                    "TSUNAGU_LOG_FORMAT={other:?} must be \"text\" or \"json\""
                ));
                LogFormat::Text
            }
        };

        let log_filter = get("RUST_LOG").unwrap_or(DEFAULT_LOG_FILTER.into());
        if log_filter.parse::<tracing_subscriber::filter::Targets>().is_err() {
            problems.push(format!(
                "RUST_LOG={log_filter:?} is not a list of target=level directives such as info,lapin=debug"
            ));
        }

        let seed_official_areas =
            parse_bool(&mut problems, &get, "TSUNAGU_REGISTRY_SEED_OFFICIAL_AREAS", true);
        let registry_freshness_sweep_seconds = parse_number(
            &mut problems,
            &get,
            "TSUNAGU_REGISTRY_FRESHNESS_SWEEP_SECONDS",
            3600u32,
            1,
        );

        let intake_encryption_keys =
            get("TSUNAGU_INTAKE_ENCRYPTION_KEYS").filter(|keys| !keys.trim().is_empty());
        let intake_follow_up_days =
            parse_number(&mut problems, &get, "TSUNAGU_INTAKE_FOLLOW_UP_DAYS", 14u32, 1);
        let intake_follow_up_sweep_seconds = parse_number(
            &mut problems,
            &get,
            "TSUNAGU_INTAKE_FOLLOW_UP_SWEEP_SECONDS",
            60u32,
            1,
        );
        let matching_expiry_sweep_seconds = parse_number(
            &mut problems,
            &get,
            "TSUNAGU_MATCHING_EXPIRY_SWEEP_SECONDS",
            30u32,
            1,
        );
        let matching_partitions = parse_number(
            &mut problems,
            &get,
            "TSUNAGU_MATCHING_PARTITIONS",
            DEFAULT_MATCHING_PARTITIONS,
            1,
        );
        if matching_partitions > MAX_PARTITIONS {
            problems.push(format!(
                "TSUNAGU_MATCHING_PARTITIONS={matching_partitions} must be at most 256"
            ));
        }
        let matching_rebalance_millis = parse_number(
            &mut problems,
            &get,
            "TSUNAGU_MATCHING_REBALANCE_MILLIS",
            1000u32,
            50,
        );

        let internal_token = get("TSUNAGU_INTERNAL_TOKEN");
        let internal_token_accepted =
            get("TSUNAGU_INTERNAL_TOKEN_ACCEPTED").filter(|token| !token.is_empty());
        for (name, token) in [
            ("TSUNAGU_INTERNAL_TOKEN", &internal_token),
            ("TSUNAGU_INTERNAL_TOKEN_ACCEPTED", &internal_token_accepted),
        ] {
            if let Some(token) = token
                && (token.len() < 32 || !token.bytes().all(|b| b.is_ascii_graphic()))
            {
                problems.push(format!(
                    "{name} must be at least 32 printable ASCII characters without spaces \
                     (e.g. `openssl rand -base64 33`)"
                ));
            }
        }
        let auth_cache_seconds = parse_number(&mut problems, &get, "TSUNAGU_AUTH_CACHE_SECONDS", 10u32, 0);
        let rate_limit_per_second =
            parse_number(&mut problems, &get, "TSUNAGU_RATE_LIMIT_PER_SECOND", 50u32, 0);
        let rate_limit_burst = parse_number(&mut problems, &get, "TSUNAGU_RATE_LIMIT_BURST", 200u32, 1);
        let grpc_timeout_seconds =
            parse_number(&mut problems, &get, "TSUNAGU_GRPC_TIMEOUT_SECONDS", 300u32, 1);
        let tls = match (
            get("TSUNAGU_TLS_CERT"),
            get("TSUNAGU_TLS_KEY"),
            get("TSUNAGU_TLS_CA"),
        ) {
            (None, None, None) => None,
            (Some(cert), Some(key), Some(ca)) => {
                for (variable, path) in [
                    ("TSUNAGU_TLS_CERT", &cert),
                    ("TSUNAGU_TLS_KEY", &key),
                    ("TSUNAGU_TLS_CA", &ca),
                ] {
                    if !std::path::Path::new(path).is_file() {
                        problems.push(format!("{variable}={path:?} is not a readable file"));
                    }
                }
                Some(TlsFiles { cert, key, ca })
            }
            _ => {
                problems.push(
                    "mutual TLS needs TSUNAGU_TLS_CERT, TSUNAGU_TLS_KEY and TSUNAGU_TLS_CA together"
                        .to_string(),
                );
                None
            }
        };

        let notifications = NotificationsSettings {
            smtp_url: get("TSUNAGU_SMTP_URL"),
            smtp_from: get("TSUNAGU_SMTP_FROM").unwrap_or_else(|| "Tsunagu <noreply@localhost>".into()),
            extra_ca: get("TSUNAGU_NOTIFY_CA"),
            webhook_allow_http: parse_bool(&mut problems, &get, "TSUNAGU_WEBHOOK_ALLOW_HTTP", false),
            webhook_timeout_seconds: parse_number(
                &mut problems,
                &get,
                "TSUNAGU_WEBHOOK_TIMEOUT_SECONDS",
                10u32,
                1,
            ),
            retry_base_millis: parse_number(
                &mut problems,
                &get,
                "TSUNAGU_DELIVERY_RETRY_BASE_MILLIS",
                5000u32,
                1,
            ),
            max_attempts: parse_number(&mut problems, &get, "TSUNAGU_DELIVERY_MAX_ATTEMPTS", 10u32, 1),
            breaker_failures: parse_number(&mut problems, &get, "TSUNAGU_DELIVERY_BREAKER_FAILURES", 5u32, 1),
            breaker_seconds: parse_number(&mut problems, &get, "TSUNAGU_DELIVERY_BREAKER_SECONDS", 30u32, 1),
        };
        if let Some(url) = &notifications.smtp_url {
            check_url(&mut problems, "TSUNAGU_SMTP_URL", url, &["smtp", "smtps"]);
        }

        let metrics_listen = match get("TSUNAGU_METRICS_LISTEN") {
            None => None,
            Some(raw) => match raw.trim().parse::<SocketAddr>() {
                Ok(address) => Some(address),
                Err(_) => {
                    problems.push(format!(
                        "TSUNAGU_METRICS_LISTEN={raw:?} is not a socket address such as 0.0.0.0:9464"
                    ));
                    None
                }
            },
        };

        let metrics_export_interval = Duration::from_millis(parse_number(
            &mut problems,
            &get,
            "OTEL_METRIC_EXPORT_INTERVAL",
            60_000u64,
            100,
        ));

        let metrics_over_otlp = match get("OTEL_METRICS_EXPORTER").as_deref().map(str::trim) {
            None | Some("") | Some("otlp") => true,
            Some("none") => false,
            Some(other) => {
                problems.push(format!("OTEL_METRICS_EXPORTER={other:?}: expected otlp or none"));
                true
            }
        };

        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        Ok(Config {
            services,
            database_max_connections,
            amqp_url,
            amqp_namespace,
            amqp_prefetch,
            amqp_delivery_limit,
            registry_url,
            registry_url_configured,
            otlp_endpoint,
            log_format,
            log_filter,
            seed_official_areas,
            registry_freshness_sweep_seconds,
            intake_encryption_keys,
            intake_follow_up_days,
            intake_follow_up_sweep_seconds,
            matching_expiry_sweep_seconds,
            matching_partitions,
            matching_rebalance_millis,
            internal_token,
            internal_token_accepted,
            auth_cache_seconds,
            rate_limit_per_second,
            rate_limit_burst,
            grpc_timeout_seconds,
            tls,
            notifications,
            metrics_listen,
            metrics_export_interval,
            metrics_over_otlp,
        })
    }

    /// The internal token, or what to do about its absence.
    pub fn internal_token(&self) -> anyhow::Result<&str> {
        self.internal_token.as_deref().ok_or_else(|| {
            anyhow::anyhow!(
                "TSUNAGU_INTERNAL_TOKEN is not set: every service of a deployment needs the same secret \
                 (at least 32 characters, e.g. `openssl rand -base64 33`) to call the others"
            )
        })
    }

    pub fn service(&self, name: ServiceName) -> &ServiceConfig {
        // Every service gets an entry in `from_lookup`, or configuration fails.
        &self.services[&name]
    }
}

fn check_url(problems: &mut Vec<String>, key: &str, value: &str, schemes: &[&str]) {
    let scheme_ok = value
        .split_once("://")
        .is_some_and(|(scheme, rest)| schemes.contains(&scheme) && !rest.is_empty());
    if !scheme_ok {
        let value = crate::db::redact(value);
        problems.push(format!(
            "{key}={value:?} is not a URL starting with {}",
            schemes
                .iter()
                .map(|s| format!("{s}://"))
                .collect::<Vec<_>>()
                .join(" or ")
        ));
    }
}

fn parse_bool(
    problems: &mut Vec<String>,
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: bool,
) -> bool {
    match get(key).as_deref().map(str::trim) {
        None => default,
        Some("true") | Some("1") => true,
        Some("false") | Some("0") => false,
        Some(other) => {
            problems.push(format!("{key}={other:?} must be true or false"));
            default
        }
    }
}

fn parse_number<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
    problems: &mut Vec<String>,
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: T,
    minimum: T,
) -> T {
    let Some(raw) = get(key) else { return default };
    match raw.trim().parse::<T>() {
        Ok(value) if value >= minimum => value,
        _ => {
            problems.push(format!(
                "{key}={raw:?} must be a whole number of at least {minimum}"
            ));
            default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: BTreeMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|key| vars.get(key).cloned())
    }

    #[test]
    fn defaults_point_at_localhost() {
        let config = config(&[]).unwrap();
        assert_eq!(config.service(ServiceName::Intake).listen_addr.port(), 50052);
        assert_eq!(
            config.service(ServiceName::Matching).database_url,
            DEFAULT_DATABASE_URL
        );
        assert_eq!(config.registry_url, "http://127.0.0.1:50051");
        assert!(config.otlp_endpoint.is_none());
        assert_eq!(config.registry_freshness_sweep_seconds, 3600);
    }

    #[test]
    fn the_freshness_sweep_runs_at_least_every_second() {
        let every_second = config(&[("TSUNAGU_REGISTRY_FRESHNESS_SWEEP_SECONDS", "1")]).unwrap();
        assert_eq!(every_second.registry_freshness_sweep_seconds, 1);
        let error = config(&[("TSUNAGU_REGISTRY_FRESHNESS_SWEEP_SECONDS", "0")]).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("TSUNAGU_REGISTRY_FRESHNESS_SWEEP_SECONDS")
        );
    }

    #[test]
    fn metrics_go_over_otlp_unless_the_exporter_is_none() {
        assert!(config(&[]).unwrap().metrics_over_otlp);
        assert!(
            !config(&[("OTEL_METRICS_EXPORTER", "none")])
                .unwrap()
                .metrics_over_otlp
        );
        let error = config(&[("OTEL_METRICS_EXPORTER", "prometheus")]).unwrap_err();
        assert!(error.to_string().contains("OTEL_METRICS_EXPORTER"), "{error}");
    }

    #[test]
    fn a_second_accepted_internal_token_is_held_to_the_same_rules() {
        let token = "k".repeat(40);
        let rotating = config(&[
            ("TSUNAGU_INTERNAL_TOKEN", &token),
            ("TSUNAGU_INTERNAL_TOKEN_ACCEPTED", &"n".repeat(40)),
        ])
        .unwrap();
        assert_eq!(
            rotating.internal_token_accepted.as_deref(),
            Some("n".repeat(40).as_str())
        );
        let error = config(&[
            ("TSUNAGU_INTERNAL_TOKEN", &token),
            ("TSUNAGU_INTERNAL_TOKEN_ACCEPTED", "short"),
        ])
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("TSUNAGU_INTERNAL_TOKEN_ACCEPTED must be"),
            "{error}"
        );
        let unset = config(&[
            ("TSUNAGU_INTERNAL_TOKEN", &token),
            ("TSUNAGU_INTERNAL_TOKEN_ACCEPTED", ""),
        ])
        .unwrap();
        assert!(
            unset.internal_token_accepted.is_none(),
            "an empty value is no second token"
        );
    }

    #[test]
    fn per_service_database_overrides_the_shared_one() {
        let config = config(&[
            ("TSUNAGU_DATABASE_URL", "postgres://db/shared"),
            ("TSUNAGU_MATCHING_DATABASE_URL", "postgres://other/matching"),
        ])
        .unwrap();
        assert_eq!(
            config.service(ServiceName::Registry).database_url,
            "postgres://db/shared"
        );
        assert_eq!(
            config.service(ServiceName::Matching).database_url,
            "postgres://other/matching"
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let error = config(&[
            ("TSUNAGU_INTAKE_LISTEN", "localhost"),
            ("TSUNAGU_AMQP_URL", "http://x"),
            ("TSUNAGU_AMQP_PREFETCH", "0"),
            ("TSUNAGU_LOG_FORMAT", "xml"),
            ("RUST_LOG", "info,lapin=loud"),
        ])
        .unwrap_err();
        assert_eq!(error.problems.len(), 5, "{error}");
        assert!(error.to_string().contains("RUST_LOG"));
        let message = error.to_string();
        assert!(message.contains("TSUNAGU_INTAKE_LISTEN"));
        assert!(message.contains("TSUNAGU_AMQP_URL"));
        assert!(message.contains("TSUNAGU_AMQP_PREFETCH"));
        assert!(message.contains("TSUNAGU_LOG_FORMAT"));
    }
}
