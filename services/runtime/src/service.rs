//! The host every service runs in: it connects the pool and migrates the schema, starts the
//! outbox relay and the health monitor, runs consumers, and serves gRPC with health and
//! reflection until shutdown, then waits for every background task to drain.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::auth::{AuthLayer, Authenticator, KeyResolver, RateLimit, RemoteKeys};

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

use crate::amqp::Topology;
use crate::config::{Config, ServiceName};
use crate::consumer::{ConsumerSettings, EventHandler, run_consumer};
use crate::health::{BrokerStatus, run_health_monitor};
use crate::partitions::{PartitionSettings, run_partitioned_consumer};
use crate::{db, outbox};

/// A service configured with another partition layout than RabbitMQ holds does not start (see
/// `Topology::check_partition_layout`): a crash loop with the reason in its log is what an
/// operator notices, where a relay retrying in the background might not be. A broker that
/// does not answer now is no reason to refuse: the relay checks again when it connects.
async fn refuse_another_partition_layout(name: ServiceName, config: &Config) -> anyhow::Result<()> {
    let connection_name = format!("tsunagu-{}-preflight", name.as_str());
    let connecting = crate::amqp::connect(&config.amqp_url, &connection_name);
    let Ok(Ok(connection)) = tokio::time::timeout(std::time::Duration::from_secs(5), connecting).await else {
        return Ok(());
    };
    let checked = Topology::from_config(config)
        .check_partition_layout(&connection, name)
        .await;
    let _ = connection.close(200, "checked".into()).await;
    checked
}

pub struct ServiceHost {
    pub name: ServiceName,
    pub config: Arc<Config>,
    pub pool: PgPool,
    /// Poked after a commit that wrote to the outbox, so the relay publishes at once.
    pub outbox_wake: Arc<Notify>,
    pub shutdown: CancellationToken,
    broker_status: BrokerStatus,
    tasks: JoinSet<()>,
    /// Where API keys are checked: the registry's own store, else the registry over gRPC.
    keys: Option<Arc<dyn KeyResolver>>,
}

impl ServiceHost {
    /// Connects to the service's database, migrates its schema and starts the outbox relay.
    pub async fn start(
        name: ServiceName,
        config: Arc<Config>,
        migrations: &Migrator,
        shutdown: CancellationToken,
    ) -> anyhow::Result<ServiceHost> {
        ServiceHost::start_with_role(name, config, migrations, shutdown, None).await
    }

    /// Like [`start`](Self::start), for a service whose tables carry row-level security: the
    /// migrations run as the configured user (the tables' owner), then the service's pool acts
    /// as `role` with the tenant of each task (`db::connect_guarded`).
    pub async fn start_guarded(
        name: ServiceName,
        config: Arc<Config>,
        migrations: &Migrator,
        shutdown: CancellationToken,
        role: &'static str,
    ) -> anyhow::Result<ServiceHost> {
        ServiceHost::start_with_role(name, config, migrations, shutdown, Some(role)).await
    }

    async fn start_with_role(
        name: ServiceName,
        config: Arc<Config>,
        migrations: &Migrator,
        shutdown: CancellationToken,
        role: Option<&'static str>,
    ) -> anyhow::Result<ServiceHost> {
        let service_config = config.service(name);
        let pool = db::connect(
            &service_config.database_url,
            name.as_str(),
            config.database_max_connections,
        )
        .await?;
        db::migrate(&pool, name.as_str(), migrations).await?;
        refuse_another_partition_layout(name, &config).await?;
        let pool = match role {
            None => pool,
            Some(role) => {
                pool.close().await;
                db::connect_guarded(
                    &service_config.database_url,
                    name.as_str(),
                    config.database_max_connections,
                    role,
                )
                .await?
            }
        };
        let mut host = ServiceHost {
            name,
            config,
            pool,
            outbox_wake: Arc::new(Notify::new()),
            shutdown,
            broker_status: BrokerStatus::default(),
            tasks: JoinSet::new(),
            keys: None,
        };
        register_outbox_gauges(name.as_str(), host.pool.clone());
        host.tasks.spawn(outbox::run_relay(
            name,
            host.pool.clone(),
            host.config.amqp_url.clone(),
            Topology::from_config(&host.config),
            host.outbox_wake.clone(),
            host.broker_status.clone(),
            host.shutdown.clone(),
        ));
        Ok(host)
    }

    /// Consumes the service's queue with `handler` (inbox-deduplicated).
    pub fn spawn_consumer<H: EventHandler>(&mut self, handler: H) {
        let settings = ConsumerSettings {
            service: self.name,
            amqp_url: self.config.amqp_url.clone(),
            topology: Topology::from_config(&self.config),
            prefetch: self.config.amqp_prefetch,
        };
        self.tasks.spawn(run_consumer(
            settings,
            self.pool.clone(),
            handler,
            self.broker_status.clone(),
            self.shutdown.clone(),
        ));
    }

    /// Consumes a fair share of the service's partition queues with `handler`, alongside
    /// whatever other workers of the service run (see `crate::partitions`).
    pub fn spawn_partitioned_consumer<H: EventHandler>(&mut self, handler: H) {
        let settings = PartitionSettings {
            consumer: ConsumerSettings {
                service: self.name,
                amqp_url: self.config.amqp_url.clone(),
                topology: Topology::from_config(&self.config),
                prefetch: self.config.amqp_prefetch,
            },
            rebalance: std::time::Duration::from_millis(u64::from(self.config.matching_rebalance_millis)),
        };
        self.tasks.spawn(run_partitioned_consumer(
            settings,
            self.pool.clone(),
            handler,
            self.broker_status.clone(),
            self.shutdown.clone(),
        ));
    }

    /// Runs a background task of the service (a worker, a sweep) that ends on shutdown; the
    /// service waits for it before it reports stopped.
    pub fn spawn_task(&mut self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(task);
    }

    /// Checks API keys with `keys` (the registry, which holds them) instead of asking the
    /// registry over gRPC.
    pub fn check_keys_with(&mut self, keys: Arc<dyn KeyResolver>) {
        self.keys = Some(keys);
    }

    /// Binds the listen address and serves `routes` plus health and reflection in the
    /// background, every other call authenticated first (`crate::auth`).
    /// `grpc_service_name` is the full name health checks ask for.
    pub async fn serve(
        mut self,
        routes: Routes,
        grpc_service_name: &'static str,
    ) -> anyhow::Result<RunningService> {
        let listen_addr = self.config.service(self.name).listen_addr;
        let listener = tokio::net::TcpListener::bind(listen_addr)
            .await
            .map_err(|error| {
                anyhow::anyhow!(
                    "{} cannot listen on {listen_addr}: {error} (set TSUNAGU_{}_LISTEN to another address)",
                    self.name,
                    self.name.as_str().to_uppercase()
                )
            })?;
        let local_addr = listener.local_addr()?;

        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        self.tasks.spawn(run_health_monitor(
            health_reporter,
            grpc_service_name,
            self.pool.clone(),
            self.broker_status.clone(),
            self.shutdown.clone(),
        ));
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tsunagu_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tsunagu_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;

        let internal_token = self.config.internal_token()?;
        // Every replica shares the internal token, so a page token one issues, another opens.
        crate::page_token::set_secret(internal_token);
        let keys: Arc<dyn KeyResolver> = match self.keys.take() {
            Some(keys) => keys,
            None => Arc::new(RemoteKeys::new(
                crate::grpc::service_channel(&self.config, &self.config.registry_url)?,
                std::time::Duration::from_secs(u64::from(self.config.auth_cache_seconds)),
            )),
        };
        let limit = RateLimit {
            per_second: f64::from(self.config.rate_limit_per_second),
            burst: f64::from(self.config.rate_limit_burst),
        };
        let authenticator = Authenticator::new(
            internal_token,
            self.config.internal_token_accepted.as_deref(),
            keys,
            limit,
        );

        let service = self.name.as_str();
        let tls = match &self.config.tls {
            Some(files) => Some(crate::grpc::TlsMaterial::read(files)?),
            None => None,
        };
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = &tls {
            builder = builder.tls_config(tls.server())?;
        }
        let router = builder
            .trace_fn(move |request| crate::grpc::server_span(service, request))
            .timeout(std::time::Duration::from_secs(u64::from(
                self.config.grpc_timeout_seconds,
            )))
            .layer(AuthLayer::new(authenticator, service))
            // After the caller is known, before any handler reads the request.
            .layer(crate::request_guard::RequestGuardLayer)
            .add_routes(routes)
            // Every service keeps its audit trail (`crate::audit`) and serves it.
            .add_service(crate::audit::api::server(self.pool.clone()))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha);

        let shutdown = self.shutdown.clone();
        let mut tasks = std::mem::take(&mut self.tasks);
        let pool = self.pool.clone();
        let handle = tokio::spawn(async move {
            let served = router
                .serve_with_incoming_shutdown(without_nagle(listener), shutdown.cancelled())
                .await;
            // The server has drained its in-flight calls; now the relay and consumers finish.
            shutdown.cancel();
            while tasks.join_next().await.is_some() {}
            pool.close().await;
            tracing::info!(service, "stopped");
            served.map_err(anyhow::Error::from)
        });
        tracing::info!(service, %local_addr, "serving gRPC");
        Ok(RunningService {
            name: self.name,
            local_addr,
            tls: tls.is_some(),
            handle,
        })
    }
}

/// The listener's connections with Nagle's algorithm off. tonic sets `TCP_NODELAY` only on
/// connections it accepts itself; ours come from our own listener (bound first, so port 0
/// can be reported), and without it every reply written in two segments waited for the
/// client's delayed ACK: about 40 ms per call, measured (docs/benchmarks/intake-submit.md).
fn without_nagle(
    listener: tokio::net::TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt;
    TcpListenerStream::new(listener).map(|accepted| {
        let stream = accepted?;
        stream.set_nodelay(true)?;
        Ok(stream)
    })
}

/// A service running in the background.
pub struct RunningService {
    pub name: ServiceName,
    pub local_addr: SocketAddr,
    /// Whether it serves over (mutual) TLS.
    pub tls: bool,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningService {
    /// Waits until the service stopped (after its shutdown token was cancelled) and drained.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.handle.await?
    }

    /// `http://<addr>` for clients, `https://` when the service serves TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }
}

/// The service's outbox backlog and the age of its oldest unpublished event, read at each
/// scrape: a broker outage shows as a growing backlog before anything is lost.
fn register_outbox_gauges(service: &'static str, pool: PgPool) {
    crate::metrics::register_collector(std::sync::Arc::new(move || {
        let pool = pool.clone();
        Box::pin(async move {
            let read: Result<(i64, Option<f64>), sqlx::Error> = sqlx::query_as(
                "SELECT count(*), extract(epoch FROM now() - min(created_at))::float8
                 FROM outbox WHERE published_at IS NULL",
            )
            .fetch_one(&pool)
            .await;
            let Ok((backlog, age)) = read else {
                return Vec::new();
            };
            vec![
                crate::metrics::Sample {
                    name: "tsunagu_outbox_backlog",
                    help: "Events committed but not yet published to RabbitMQ.",
                    labels: vec![("service", service.to_string())],
                    value: backlog as f64,
                },
                crate::metrics::Sample {
                    name: "tsunagu_outbox_oldest_age_seconds",
                    help: "Age of the oldest unpublished event (0 when none).",
                    labels: vec![("service", service.to_string())],
                    value: age.unwrap_or(0.0),
                },
            ]
        })
    }));
}
