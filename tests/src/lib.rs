//! Test harness: runs the four services in-process against the real PostgreSQL and RabbitMQ
//! of this machine. Each [`TestSystem`] has its own database and its own AMQP namespace
//! (exchange and queue names), so tests run side by side without seeing each other, and
//! removes both when it shuts down.

pub mod bench;
pub mod certificates;
pub mod otlp_receiver;
pub mod smtp_server;
pub mod tcp_proxy;
pub mod webhook_receiver;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tsunagu_proto::intake::v1::intake_service_client::IntakeServiceClient;
use tsunagu_proto::matching::v1::matching_service_client::MatchingServiceClient;
use tsunagu_proto::notifications::v1::notifications_service_client::NotificationsServiceClient;
use tsunagu_proto::registry::v1 as registry_pb;
use tsunagu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use tsunagu_runtime::amqp::Topology;
use tsunagu_runtime::auth::Role;
use tsunagu_runtime::config::Config;
use tsunagu_runtime::grpc::TracedChannel;
use tsunagu_runtime::service::RunningService;
use tsunagu_runtime::{ServiceName, amqp, db};

pub const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432";
pub const RABBITMQ_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Options of a test system.
#[derive(Default, Clone)]
pub struct Options {
    /// Where services reach RabbitMQ (a [`tcp_proxy::TcpProxy`] to cut it); default: directly.
    pub amqp_url: Option<String>,
    /// OTLP endpoint for traces; the process-wide subscriber must have been set up with it.
    pub otlp_endpoint: Option<String>,
    /// Route notifications' registry lookups through a [`tcp_proxy::TcpProxy`], to cut them.
    pub registry_through_proxy: bool,
    /// `TSUNAGU_AMQP_DELIVERY_LIMIT`; default: the configuration's default.
    pub delivery_limit: Option<u32>,
    /// Let the registry load the official list on start. Off by default: most tests build
    /// the few areas they need, and 1,788 areas would only slow them down.
    pub seed_official_areas: bool,
    /// `TSUNAGU_DATABASE_MAX_CONNECTIONS` per service; default 4 (tests run side by side).
    pub database_max_connections: Option<u32>,
    /// Further settings, e.g. `("TSUNAGU_INTAKE_FOLLOW_UP_SWEEP_SECONDS", "1")`.
    pub env: Vec<(&'static str, String)>,
    /// Services not to start (matching or notifications; registry and intake always run), to
    /// measure a service without the work downstream of it.
    pub without: Vec<ServiceName>,
}

/// A channel whose calls carry an API key (and the trace context).
pub type KeyedChannel = TracedChannel;

/// The keys every test system starts with.
pub struct TestKeys {
    /// 岐阜県's administrator ([`PREFECTURE`]).
    pub prefecture_admin: String,
    /// 大垣市's administrator ([`MUNICIPALITY`]): what the default clients of intake, matching
    /// and notifications carry (the registry's carry the prefecture admin's).
    pub municipal_admin: String,
}

/// Settings as environment variables: (name, value), the first of a name wins.
pub type Settings = Vec<(&'static str, String)>;

pub struct TestSystem {
    pub config: Arc<Config>,
    /// The settings `config` was read from, for a service started as a process of its own
    /// (its environment).
    pub settings: Settings,
    pub keys: TestKeys,
    pub database_url: String,
    database_name: String,
    pub topology: Topology,
    shutdown: CancellationToken,
    services: Vec<RunningService>,
    /// With `Options::registry_through_proxy`: the proxy between notifications and registry.
    pub registry_proxy: Option<tcp_proxy::TcpProxy>,
    /// Set once the database and the broker objects are removed; a test that panics before
    /// `shutdown` leaves it unset, and `Drop` removes them instead.
    cleaned_up: bool,
}

impl TestSystem {
    pub async fn start() -> TestSystem {
        TestSystem::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> TestSystem {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let database_name = format!("tsunagu_test_{suffix}");
        let database_url = format!("{POSTGRES_URL}/{database_name}");
        db::ensure_database(&database_url)
            .await
            .expect("create the test database");

        let namespace = format!("tsunagu-test-{suffix}");
        let internal_token = tsunagu_runtime::auth::random_internal_token();
        let amqp_url = options
            .amqp_url
            .clone()
            .unwrap_or_else(|| RABBITMQ_URL.to_string());
        let vars = |registry_url: Option<String>| {
            let mut vars = vec![
                ("TSUNAGU_DATABASE_URL", database_url.clone()),
                (
                    "TSUNAGU_DATABASE_MAX_CONNECTIONS",
                    options.database_max_connections.unwrap_or(4).to_string(),
                ),
                ("TSUNAGU_AMQP_URL", amqp_url.clone()),
                ("TSUNAGU_AMQP_NAMESPACE", namespace.clone()),
                ("TSUNAGU_INTERNAL_TOKEN", internal_token.clone()),
                ("TSUNAGU_REGISTRY_LISTEN", "127.0.0.1:0".to_string()),
                ("TSUNAGU_INTAKE_LISTEN", "127.0.0.1:0".to_string()),
                ("TSUNAGU_MATCHING_LISTEN", "127.0.0.1:0".to_string()),
                ("TSUNAGU_NOTIFICATIONS_LISTEN", "127.0.0.1:0".to_string()),
                (
                    "TSUNAGU_REGISTRY_SEED_OFFICIAL_AREAS",
                    options.seed_official_areas.to_string(),
                ),
                // A fixed test key (32 bytes of 0x2a): residents' data is sealed in every test.
                (
                    "TSUNAGU_INTAKE_ENCRYPTION_KEYS",
                    "test-1:KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=".to_string(),
                ),
            ];
            if let Some(url) = registry_url {
                vars.push(("TSUNAGU_REGISTRY_URL", url));
            }
            vars.extend(options.env.iter().cloned());
            // The tests' webhook receivers listen on the loopback interface, which the
            // destination guard refuses unless allowed; a test of the guard sets its own
            // (earlier, so it wins).
            vars.push((
                "TSUNAGU_WEBHOOK_ALLOWED_DESTINATIONS",
                "127.0.0.1,::1".to_string(),
            ));
            if let Some(endpoint) = &options.otlp_endpoint {
                vars.push(("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone()));
            }
            if let Some(limit) = options.delivery_limit {
                vars.push(("TSUNAGU_AMQP_DELIVERY_LIMIT", limit.to_string()));
            }
            vars
        };
        let configure = |vars: &Settings| {
            Config::from_lookup(|key| vars.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()))
                .expect("test configuration is valid")
        };

        let shutdown = CancellationToken::new();
        let registry = tsunagu_registry::start(Arc::new(configure(&vars(None))), shutdown.clone())
            .await
            .expect("registry starts");
        // Notifications looks organisations up in the registry, so it needs the real port.
        let registry_proxy = match options.registry_through_proxy {
            true => Some(tcp_proxy::TcpProxy::start(registry.local_addr).await),
            false => None,
        };
        let registry_url = registry_proxy
            .as_ref()
            .map_or_else(|| registry.url(), |proxy| proxy.http_url());
        let settings = vars(Some(registry_url));
        let config = Arc::new(configure(&settings));
        let intake = tsunagu_intake::start(config.clone(), shutdown.clone())
            .await
            .expect("intake starts");
        let mut services = vec![registry, intake];
        if !options.without.contains(&ServiceName::Matching) {
            let matching = tsunagu_matching::start(config.clone(), shutdown.clone())
                .await
                .expect("matching starts");
            services.push(matching);
        }
        if !options.without.contains(&ServiceName::Notifications) {
            let destinations = tsunagu_notifications::DestinationPolicy::from_lookup(|key| {
                settings.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone())
            })
            .expect("test webhook destinations are valid");
            let notifications =
                tsunagu_notifications::start_with(config.clone(), destinations, shutdown.clone())
                    .await
                    .expect("notifications starts");
            services.push(notifications);
        }
        let keys = TestKeys {
            prefecture_admin: create_key(&database_url, Role::PrefectureAdmin, PREFECTURE, None, 30).await,
            municipal_admin: create_key(&database_url, Role::MunicipalAdmin, MUNICIPALITY, None, 30).await,
        };
        TestSystem {
            topology: Topology::from_config(&config),
            config,
            settings,
            keys,
            database_url,
            database_name,
            shutdown,
            services,
            registry_proxy,
            cleaned_up: false,
        }
    }

    pub fn service(&self, name: ServiceName) -> &RunningService {
        self.services
            .iter()
            .find(|s| s.name == name)
            .expect("every service runs")
    }

    /// A channel to `name` with the key the tests act with by default: the prefecture's
    /// administrator for the registry (it builds the area tree and registers across the
    /// prefecture), 大垣市's administrator for the services that hold its residents' needs.
    fn channel(&self, name: ServiceName) -> KeyedChannel {
        let key = match name {
            ServiceName::Registry => &self.keys.prefecture_admin,
            _ => &self.keys.municipal_admin,
        };
        self.channel_with_key(name, key)
    }

    /// A channel to `name` whose calls carry `key` (any text: malformed keys are sent as they
    /// are, for tests of refusals) — over mutual TLS with the services' certificate when the
    /// system runs with it.
    pub fn channel_with_key(&self, name: ServiceName, key: &str) -> KeyedChannel {
        let tls = self.config.tls.as_ref().map(|files| {
            tsunagu_runtime::grpc::TlsMaterial::read(files)
                .expect("the test certificates")
                .client()
        });
        tsunagu_runtime::grpc::traced_channel_with_tls(&self.service(name).url(), key, tls.as_ref())
            .expect("valid url and key")
    }

    /// A channel to `name` that carries no credentials at all.
    pub fn anonymous_channel(&self, name: ServiceName) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(self.service(name).url())
            .expect("valid url")
            .connect_lazy()
    }

    /// A new key of `role` in `scope_code` (a provider's names its organisation), valid for
    /// `valid_days`, written straight into the registry's database.
    pub async fn key(&self, role: Role, scope_code: &str, organization_id: Option<uuid::Uuid>) -> String {
        create_key(&self.database_url, role, scope_code, organization_id, 30).await
    }

    pub fn registry(&self) -> RegistryServiceClient<KeyedChannel> {
        RegistryServiceClient::new(self.channel(ServiceName::Registry))
    }

    pub fn intake(&self) -> IntakeServiceClient<KeyedChannel> {
        IntakeServiceClient::new(self.channel(ServiceName::Intake))
    }

    pub fn matching(&self) -> MatchingServiceClient<KeyedChannel> {
        MatchingServiceClient::new(self.channel(ServiceName::Matching))
    }

    pub fn notifications(&self) -> NotificationsServiceClient<KeyedChannel> {
        NotificationsServiceClient::new(self.channel(ServiceName::Notifications))
    }

    pub fn health(&self, name: ServiceName) -> tonic_health::pb::health_client::HealthClient<KeyedChannel> {
        tonic_health::pb::health_client::HealthClient::new(self.channel(name))
    }

    pub fn grpc_channel(&self, name: ServiceName) -> KeyedChannel {
        self.channel(name)
    }

    /// A pool on the test database with `search_path` set to one service's schema.
    pub async fn database(&self, schema: ServiceName) -> sqlx::PgPool {
        db::connect(&self.database_url, schema.as_str(), 2)
            .await
            .expect("connect to the test database")
    }

    /// The names of matching's partition queues up to their number: `<namespace>.matching.p`.
    pub fn matching_partitions_prefix(&self) -> String {
        let first = self.topology.partition_queue(ServiceName::Matching, 0);
        first.trim_end_matches("000").to_string()
    }

    /// A consumer of the system's dead-letter queue on `channel`, to read what was dead-lettered.
    pub async fn dead_letters(&self, channel: &lapin::Channel) -> lapin::Consumer {
        channel
            .basic_consume(
                self.topology.dead_letter_queue().as_str().into(),
                "tsunagu-test-dead-letter-reader".into(),
                lapin::options::BasicConsumeOptions::default(),
                lapin::types::FieldTable::default(),
            )
            .await
            .expect("consume the dead-letter queue")
    }

    /// Publishes a raw envelope to the system's events exchange, as a duplicate publisher would.
    pub async fn publish(&self, envelope: &amqp::Envelope) {
        let connection = amqp::connect(RABBITMQ_URL, "tsunagu-test-publisher")
            .await
            .expect("broker");
        let channel = amqp::confirm_channel(&connection).await.expect("channel");
        amqp::publish_confirmed(
            &channel,
            &self.topology.events_exchange(),
            &envelope.event_type,
            &envelope.body(),
            envelope.properties(),
        )
        .await
        .expect("published and routed");
        let _ = connection.close(200, "done".into()).await;
    }

    /// Removes one binding of a service's queue (or of its partition exchange), as a broken
    /// or half-migrated topology would.
    pub async fn unbind(&self, service: ServiceName, pattern: &str) {
        let connection = amqp::connect(RABBITMQ_URL, "tsunagu-test-unbind")
            .await
            .expect("connect");
        let channel = connection.create_channel().await.expect("channel");
        if self.topology.is_partitioned(service) {
            channel
                .exchange_unbind(
                    self.topology.partition_exchange(service).as_str().into(),
                    self.topology.events_exchange().as_str().into(),
                    pattern.into(),
                    Default::default(),
                    lapin::types::FieldTable::default(),
                )
                .await
                .expect("unbind");
        } else {
            channel
                .queue_unbind(
                    self.topology.queue(service).as_str().into(),
                    self.topology.events_exchange().as_str().into(),
                    pattern.into(),
                    lapin::types::FieldTable::default(),
                )
                .await
                .expect("unbind");
        }
        let _ = connection.close(200, "done".into()).await;
    }

    /// Stops every service (draining), then removes the test's queues, exchanges and database.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        for service in std::mem::take(&mut self.services) {
            service.wait().await.expect("service stops cleanly");
        }
        remove_test_resources(&self.topology, &self.database_name).await;
        self.cleaned_up = true;
    }
}

impl Drop for TestSystem {
    /// A failed test still removes what it created: on a thread of its own, because the
    /// test's runtime is going away.
    fn drop(&mut self) {
        if self.cleaned_up {
            return;
        }
        self.shutdown.cancel();
        let (topology, database_name) = (self.topology.clone(), self.database_name.clone());
        let cleanup = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                runtime.block_on(remove_test_resources(&topology, &database_name));
            }
        });
        let _ = cleanup.join();
    }
}

async fn remove_test_resources(topology: &Topology, database_name: &str) {
    if let Ok(connection) = amqp::connect(RABBITMQ_URL, "tsunagu-test-cleanup").await {
        if let Ok(channel) = connection.create_channel().await {
            let _ = topology.delete(&channel).await;
            let _ = channel.close(200, "cleanup".into()).await;
        }
        let _ = connection.close(200, "cleanup".into()).await;
    }
    if let Ok(pool) = sqlx::PgPool::connect(&format!("{POSTGRES_URL}/postgres")).await {
        let statement = format!("DROP DATABASE IF EXISTS \"{database_name}\" WITH (FORCE)");
        let _ = sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&pool).await;
        pool.close().await;
    }
}

/// Creates a key in the registry's schema of the test database.
async fn create_key(
    database_url: &str,
    role: Role,
    scope_code: &str,
    organization_id: Option<uuid::Uuid>,
    valid_days: u32,
) -> String {
    let pool = db::connect(database_url, ServiceName::Registry.as_str(), 1)
        .await
        .expect("connect to the registry's schema");
    let grant = tsunagu_registry::access::KeyGrant {
        name: format!("test {}", role.as_str()),
        role,
        scope_code: scope_code.to_string(),
        organization_id,
        valid_days,
        certificate_der: None,
    };
    let (_, key) = tsunagu_registry::access::create_key(&pool, &grant, "test harness", None)
        .await
        .expect("create a test key");
    pool.close().await;
    key
}

/// Polls `probe` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The area tree, an organisation and a resource most tests need.
pub struct Fixture {
    pub prefecture_id: String,
    pub municipality_id: String,
    pub daily_life_area_id: String,
    pub organization_id: String,
    pub resource_id: String,
}

pub const MUNICIPALITY: &str = "212024"; // 大垣市
pub const PREFECTURE: &str = "210005"; // 岐阜県

impl Fixture {
    /// Creates 岐阜県 → 大垣市 → a daily-life area, an NPO active there, and a ゴミ出し
    /// resource with `capacity` covering the municipality (so the daily-life area inherits it).
    pub async fn create(system: &TestSystem, capacity: u32) -> Fixture {
        let mut registry = system.registry();
        let area = |kind: registry_pb::AreaKind, code: &str, name: &str, parent: &str| {
            registry_pb::CreateAreaRequest {
                kind: kind.into(),
                code: code.into(),
                name: name.into(),
                name_kana: String::new(),
                parent_id: parent.into(),
                ..Default::default()
            }
        };
        let prefecture = registry
            .create_area(area(registry_pb::AreaKind::Prefecture, PREFECTURE, "", ""))
            .await
            .expect("prefecture")
            .into_inner()
            .area
            .unwrap();
        let municipality = registry
            .create_area(area(
                registry_pb::AreaKind::Municipality,
                MUNICIPALITY,
                "",
                &prefecture.id,
            ))
            .await
            .expect("municipality")
            .into_inner()
            .area
            .unwrap();
        let daily = registry
            .create_area(area(
                registry_pb::AreaKind::DailyLifeArea,
                "",
                "西部圏域",
                &municipality.id,
            ))
            .await
            .expect("daily-life area")
            .into_inner()
            .area
            .unwrap();
        let organization = registry
            .create_organization(registry_pb::CreateOrganizationRequest {
                municipality_code: MUNICIPALITY.into(),
                name: "NPO法人 ささえあい".into(),
                name_kana: "ササエアイ".into(),
                kind: registry_pb::OrganizationKind::Npo.into(),
                area_ids: vec![daily.id.clone()],
                ..Default::default()
            })
            .await
            .expect("organization")
            .into_inner()
            .organization
            .unwrap();
        let resource = registry
            .create_resource(new_resource(
                &organization.id,
                "ゴミ出し支え隊",
                "ゴミ出し",
                &[&municipality.id],
                capacity,
            ))
            .await
            .expect("resource")
            .into_inner()
            .resource
            .unwrap();
        Fixture {
            prefecture_id: prefecture.id,
            municipality_id: municipality.id,
            daily_life_area_id: daily.id,
            organization_id: organization.id,
            resource_id: resource.id,
        }
    }
}

/// A request for a resource of [`MUNICIPALITY`] people use, with the fields tests vary; the
/// rest is left for the registry's defaults.
pub fn new_resource(
    organization_id: &str,
    name: &str,
    category: &str,
    coverage_area_ids: &[&str],
    maximum: u32,
) -> registry_pb::CreateResourceRequest {
    registry_pb::CreateResourceRequest {
        resource: Some(registry_pb::Resource {
            municipality_code: MUNICIPALITY.into(),
            organization_id: organization_id.into(),
            name: name.into(),
            category: category.into(),
            coverage_area_ids: coverage_area_ids.iter().map(|id| id.to_string()).collect(),
            capacity: Some(registry_pb::Capacity {
                available: maximum,
                maximum,
                ..Default::default()
            }),
            // Women and men help: a need that requires either gender can be matched.
            capabilities: Some(registry_pb::Capabilities {
                helper_genders: vec![
                    registry_pb::Gender::Female.into(),
                    registry_pb::Gender::Male.into(),
                ],
                ..Default::default()
            }),
            ..Default::default()
        }),
        created_by: "テスト".into(),
    }
}

/// A webhook of 大垣市's own system ([`MUNICIPALITY`]) on its municipality feed — every
/// event about its needs of `event_types` (all when empty) — as the system `name`.
pub fn municipal_system_webhook(
    url: &str,
    name: &str,
    event_types: &[&str],
) -> tsunagu_proto::notifications::v1::Subscription {
    use tsunagu_proto::notifications::v1 as pb;
    pb::Subscription {
        municipality_code: MUNICIPALITY.into(),
        recipient: Some(pb::Recipient {
            kind: Some(pb::recipient::Kind::Municipality(MUNICIPALITY.into())),
        }),
        subscriber_kind: pb::SubscriberKind::MunicipalSystem.into(),
        subscriber_name: name.into(),
        channel: "webhook".into(),
        address: url.into(),
        event_types: event_types.iter().map(|t| t.to_string()).collect(),
        ..Default::default()
    }
}

/// The consent most tests record with a need: the resident agreed in writing that the need
/// may go to matched providers (without it, matching proposes the need to nobody).
pub fn consent_to_share() -> tsunagu_proto::intake::v1::ConsentInput {
    use tsunagu_proto::intake::v1 as pb;
    pb::ConsentInput {
        given_by: pb::ConsentGiver::Resident.into(),
        method: pb::ConsentMethod::Written.into(),
        scopes: vec![pb::ConsentScope::ShareNeedWithProviders.into()],
        consented_at: None,
    }
}

/// A queue of the test's own, bound to every event of the system: what a subscriber on the
/// broker would receive, message for message, to inspect what leaves a service.
pub struct EventTap {
    connection: lapin::Connection,
    channel: lapin::Channel,
    queue: String,
}

/// One message as the broker delivered it.
#[derive(Debug, Clone)]
pub struct TappedEvent {
    pub routing_key: String,
    pub body: String,
}

impl TappedEvent {
    pub fn payload(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("events are JSON")
    }
}

impl TestSystem {
    /// Binds a fresh exclusive queue to the events exchange with `#`.
    pub async fn tap_events(&self) -> EventTap {
        use lapin::options::{QueueBindOptions, QueueDeclareOptions};
        let connection = amqp::connect(RABBITMQ_URL, "tsunagu-test-tap")
            .await
            .expect("broker");
        let channel = connection.create_channel().await.expect("channel");
        let queue = format!(
            "{}.tap.{}",
            self.topology.events_exchange(),
            uuid::Uuid::now_v7().simple()
        );
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await
            .expect("declare the tap queue");
        channel
            .queue_bind(
                queue.as_str().into(),
                self.topology.events_exchange().as_str().into(),
                "#".into(),
                QueueBindOptions::default(),
                lapin::types::FieldTable::default(),
            )
            .await
            .expect("bind the tap queue");
        EventTap {
            connection,
            channel,
            queue,
        }
    }
}

impl EventTap {
    /// Every message waiting in the tap now, oldest first.
    pub async fn drain(&self) -> Vec<TappedEvent> {
        use lapin::options::BasicGetOptions;
        let mut events = Vec::new();
        while let Some(message) = self
            .channel
            .basic_get(self.queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
        {
            events.push(TappedEvent {
                routing_key: message.delivery.routing_key.as_str().to_string(),
                body: String::from_utf8_lossy(&message.delivery.data).into_owned(),
            });
        }
        events
    }

    /// Collects messages until `done` holds for what was collected, or panics after `timeout`.
    pub async fn collect_until(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[TappedEvent]) -> bool,
    ) -> Vec<TappedEvent> {
        let mut seen = Vec::new();
        let deadline = Instant::now() + timeout;
        loop {
            seen.extend(self.drain().await);
            if done(&seen) {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; saw {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn close(self) {
        let _ = self.channel.close(200, "done".into()).await;
        let _ = self.connection.close(200, "done".into()).await;
    }
}

/// A service's database as the service's own role sees it, for tests of the database wall
/// (row-level security): every query runs with the tenant and organisation it is given.
pub struct Wall {
    pool: sqlx::PgPool,
}

impl TestSystem {
    /// Connects to `service`'s schema acting as `role` (e.g. `tsunagu_intake::DATABASE_ROLE`).
    pub async fn wall(&self, service: ServiceName, role: &'static str) -> Wall {
        Wall {
            pool: db::connect_guarded(&self.database_url, service.as_str(), 1, role)
                .await
                .expect("connect as the service's role"),
        }
    }
}

impl Wall {
    /// The single number `query` (a `SELECT count(*) …`) returns as `tenant` acting for
    /// `organization` ("" for none).
    pub async fn count(&self, query: &str, tenant: &str, organization: &str) -> i64 {
        let scope = db::Scope {
            tenant: tenant.into(),
            organization: organization.into(),
        };
        db::as_scope(scope, async {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(query.to_string()))
                .fetch_one(&self.pool)
                .await
                .expect("the count query runs")
        })
        .await
    }

    /// How many rows `statement` (an UPDATE or DELETE) changed as `tenant`.
    pub async fn rows_changed(&self, statement: &str, tenant: &str) -> u64 {
        db::as_tenant(tenant, async {
            sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
                .execute(&self.pool)
                .await
                .expect("the statement runs")
                .rows_affected()
        })
        .await
    }

    /// The generic plan of `query` (one uuid parameter, `$1`) as `tenant`: what a service runs
    /// once PostgreSQL caches a prepared statement's plan, whatever the value.
    pub async fn generic_plan(&self, query: &str, tenant: &str) -> String {
        db::as_tenant(tenant, async {
            let mut connection = self.pool.acquire().await.expect("a connection");
            let statements = [
                "SET plan_cache_mode = force_generic_plan".to_string(),
                format!("PREPARE probe(uuid) AS {query}"),
            ];
            for statement in statements {
                sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                    .execute(&mut *connection)
                    .await
                    .expect("the statement runs");
            }
            let lines: Vec<String> = sqlx::raw_sql(sqlx::AssertSqlSafe(
                "EXPLAIN EXECUTE probe('00000000-0000-0000-0000-000000000000')".to_string(),
            ))
            .fetch_all(&mut *connection)
            .await
            .expect("the plan")
            .iter()
            .map(|row| sqlx::Row::get::<String, _>(row, 0))
            .collect();
            sqlx::raw_sql(sqlx::AssertSqlSafe(
                "DEALLOCATE probe; RESET plan_cache_mode".to_string(),
            ))
            .execute(&mut *connection)
            .await
            .expect("reset");
            lines.join("\n")
        })
        .await
    }

    pub async fn close(self) {
        self.pool.close().await;
    }
}
