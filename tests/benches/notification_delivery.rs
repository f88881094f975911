//! Notification deliveries per second (issue 6), to the in-app inbox and to a webhook, on this
//! machine, against the real PostgreSQL and RabbitMQ and a real HTTP receiver
//! (`WebhookReceiver`, answering 200) in the same process. Matching is not started: the bench
//! publishes `need.unmatched` events straight to the events exchange (coordinators' inbox, the
//! municipality's feed; no registry lookup), so notifications is the only service at work.
//!
//! 1. **In-app**: N events published at once; the time from the first publish until the
//!    notifications database holds N new in-app notifications (polled every 10 ms).
//! 2. **Webhook, end to end**: the same with a webhook subscription of the municipality's
//!    feed; the time from the first publish until the last of the N deliveries was answered
//!    200, and each event's latency from its publish to that answer.
//! 3. **Webhook, isolated events**: events published at a low steady rate, for the latency
//!    one event sees when nothing else is queued.
//! 4. **Webhook, the deliverer alone**: N deliveries written by the consumer while the
//!    subscription's quiet hours hold them, then made due at once by one `UPDATE`; the time
//!    from that release until the last was answered.
//!
//! Set beside them, measured in the same run: plain single-row `INSERT` transactions into a
//! scratch table of the same database (one connection, as the consumer handles one event at a
//! time; and 32 clients over the 10 connections of the service's pool, as the deliverer
//! records its concurrent sends), before and after; and plain HTTP POSTs of a delivered
//! webhook's own body and headers to the same receiver, 32 at a time (the deliverer's batch),
//! one connection each as the webhook adapter does — and, for comparison, over kept-alive
//! connections.
//!
//! ```sh
//! cargo bench -p tsunagu-tests --bench notification_delivery
//! ```
//!
//! `TSUNAGU_BENCH_EVENTS` (default 5,000) events per burst phase; `TSUNAGU_BENCH_SECONDS`
//! (default 5) per reference phase; `TSUNAGU_BENCH_CONNECTIONS` (default 10, the production
//! default) database connections of the service and of the wide reference;
//! `TSUNAGU_BENCH_PACED_RATE` (default 10 events/s) and `TSUNAGU_BENCH_PACED_SECONDS` (default
//! 10) for phase 3. The figures of record are in `docs/benchmarks/notification-delivery.md`.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use chrono::{DateTime, Timelike, Utc};
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tsunagu_proto::notifications::v1 as pb;
use tsunagu_runtime::ServiceName;
use tsunagu_runtime::amqp::{self, Envelope, PublishError};
use tsunagu_runtime::events::{self, NeedUnmatched};
use tsunagu_tests::bench::setting;
use tsunagu_tests::webhook_receiver::{ReceivedRequest, WebhookReceiver};
use tsunagu_tests::{MUNICIPALITY, Options, RABBITMQ_URL, TestSystem};
use uuid::Uuid;

/// How many deliveries the deliverer claims in one round and sends concurrently
/// (`services/notifications/src/lib.rs`): the concurrency of the HTTP reference.
const DELIVERER_BATCH: usize = 32;
/// Unconfirmed publishes in flight during a burst.
const PUBLISHES_IN_FLIGHT: usize = 256;
/// How long any phase may take before the run fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(300);

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

/// What one phase achieved.
struct Phase {
    operations: usize,
    wall: Duration,
    latencies: Vec<Duration>,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.operations as f64 / self.wall.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        percentile(&self.latencies, p)
    }
}

fn percentile(latencies: &[Duration], p: f64) -> Duration {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}

/// `later - earlier` of two wall-clock instants (zero if the clock says otherwise).
fn between(earlier: DateTime<Utc>, later: DateTime<Utc>) -> Duration {
    (later - earlier).to_std().unwrap_or(Duration::ZERO)
}

/// Runs `clients` loops of `operation` for `seconds`, timing each call.
async fn drive<F, Fut>(clients: usize, seconds: u64, operation: F) -> anyhow::Result<Phase>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let operation = Arc::new(operation);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (operation, stop) = (operation.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let call = Instant::now();
                operation(client).await?;
                latencies.push(call.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    Ok(Phase {
        operations: latencies.len(),
        wall: started.elapsed(),
        latencies,
    })
}

/// Single-row durable INSERT transactions (autocommit) by `clients` over `pool`.
async fn insert_reference(pool: &sqlx::PgPool, clients: usize, seconds: u64) -> anyhow::Result<Phase> {
    let pool = pool.clone();
    drive(clients, seconds, move |_| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "INSERT INTO bench_single_insert (id, municipality_code, payload) VALUES ($1, $2, $3)",
            )
            .bind(Uuid::now_v7())
            .bind(MUNICIPALITY)
            .bind(serde_json::json!({"category": "life.garbage", "urgency": "routine"}))
            .execute(&pool)
            .await?;
            Ok(())
        }
    })
    .await
}

/// The shape of the deliverer's record of one attempt (`deliver.rs`, `record`): one durable
/// transaction of an INSERT and an UPDATE of the same row, by `clients` over `pool`.
async fn record_shaped_reference(pool: &sqlx::PgPool, clients: usize, seconds: u64) -> anyhow::Result<Phase> {
    let pool = pool.clone();
    drive(clients, seconds, move |_| {
        let pool = pool.clone();
        async move {
            let id = Uuid::now_v7();
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO bench_single_insert (id, municipality_code, payload) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(MUNICIPALITY)
            .bind(serde_json::json!({"outcome": "sending"}))
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE bench_single_insert SET payload = $2 WHERE id = $1")
                .bind(id)
                .bind(serde_json::json!({"outcome": "delivered"}))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        }
    })
    .await
}

/// A `need.unmatched` event of a new need.
fn unmatched(area_id: Uuid) -> Envelope {
    let need_id = Uuid::now_v7();
    Envelope {
        id: Uuid::now_v7(),
        event_type: events::NEED_UNMATCHED.into(),
        municipality_code: MUNICIPALITY.into(),
        payload: serde_json::to_value(NeedUnmatched {
            need_id,
            municipality_code: MUNICIPALITY.into(),
            area_id,
            category: "life.garbage".into(),
            reason: "この地域でゴミ出しを支援できる資源がありません".into(),
            urgency: Some("routine".into()),
        })
        .expect("a serialisable event"),
        trace_headers: HashMap::new(),
    }
}

fn unmatched_events(count: usize, area_id: Uuid) -> Vec<Envelope> {
    (0..count).map(|_| unmatched(area_id)).collect()
}

/// When each event was published (just before its `basic.publish`).
struct Published {
    at: HashMap<Uuid, DateTime<Utc>>,
    first: DateTime<Utc>,
    /// From the first publish until the broker had confirmed every event.
    took: Duration,
}

/// One connection and one confirm channel for the whole run (`TestSystem::publish` opens a
/// connection per event, which would measure itself).
struct Publisher {
    connection: lapin::Connection,
    channel: lapin::Channel,
    exchange: String,
}

impl Publisher {
    async fn open(system: &TestSystem) -> anyhow::Result<Publisher> {
        let connection = amqp::connect(RABBITMQ_URL, "tsunagu-bench-publisher").await?;
        let channel = amqp::confirm_channel(&connection).await?;
        Ok(Publisher {
            connection,
            channel,
            exchange: system.topology.events_exchange(),
        })
    }

    async fn publish(&self, envelope: &Envelope) -> Result<DateTime<Utc>, PublishError> {
        let at = Utc::now();
        amqp::publish_confirmed(
            &self.channel,
            &self.exchange,
            &envelope.event_type,
            &envelope.body(),
            envelope.properties(),
        )
        .await?;
        Ok(at)
    }

    /// Publishes until the notifications consumer has bound its queue (it declares the
    /// topology when it connects, which may be just after the system started).
    async fn publish_when_bound(&self, envelope: &Envelope) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.publish(envelope).await {
                Ok(_) => return Ok(()),
                Err(PublishError::Unroutable(_)) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Every event at once, `PUBLISHES_IN_FLIGHT` unconfirmed at a time.
    async fn burst(&self, envelopes: &[Envelope]) -> anyhow::Result<Published> {
        let started = Instant::now();
        let results: Vec<Result<(Uuid, DateTime<Utc>), PublishError>> = futures_util::stream::iter(envelopes)
            .map(|envelope| async move { Ok((envelope.id, self.publish(envelope).await?)) })
            .buffer_unordered(PUBLISHES_IN_FLIGHT)
            .collect()
            .await;
        let at = results.into_iter().collect::<Result<HashMap<_, _>, _>>()?;
        Ok(Published {
            first: *at.values().min().context("no events")?,
            at,
            took: started.elapsed(),
        })
    }

    /// One event every `1 / rate` seconds.
    async fn paced(&self, envelopes: &[Envelope], rate: f64) -> anyhow::Result<Published> {
        let started = Instant::now();
        let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut at = HashMap::new();
        for envelope in envelopes {
            ticker.tick().await;
            at.insert(envelope.id, self.publish(envelope).await?);
        }
        Ok(Published {
            first: *at.values().min().context("no events")?,
            at,
            took: started.elapsed(),
        })
    }

    async fn close(self) {
        let _ = self.channel.close(200, "done".into()).await;
        let _ = self.connection.close(200, "done".into()).await;
    }
}

/// Polls `sql` (a count, with `subscription` bound as `$1` if given) every 10 ms until it
/// reaches `target`; returns when it saw it.
async fn wait_for_count(
    db: &sqlx::PgPool,
    what: &str,
    sql: &'static str,
    subscription: Option<Uuid>,
    target: i64,
) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mut query = sqlx::query_scalar::<_, i64>(sql);
        if let Some(id) = subscription {
            query = query.bind(id);
        }
        let count = query.fetch_one(db).await?;
        if count >= target {
            return Ok(Instant::now());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{what}: {count} of {target} after {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

const NOTIFICATIONS: &str = "SELECT count(*) FROM notification";
const DELIVERED: &str = "SELECT count(*) FROM delivery WHERE subscription_id = $1 AND state = 'delivered'";
const HELD: &str = "SELECT count(*) FROM delivery WHERE subscription_id = $1 AND state = 'pending'";

/// Phase 1: N events at once; until N more in-app notifications exist.
async fn in_app(
    publisher: &Publisher,
    db: &sqlx::PgPool,
    events: usize,
    area_id: Uuid,
) -> anyhow::Result<(Phase, Published)> {
    let base: i64 = sqlx::query_scalar(NOTIFICATIONS).fetch_one(db).await?;
    let envelopes = unmatched_events(events, area_id);
    let started = Instant::now();
    let (published, done) = tokio::join!(
        publisher.burst(&envelopes),
        wait_for_count(
            db,
            "in-app notifications",
            NOTIFICATIONS,
            None,
            base + events as i64
        )
    );
    let (published, done) = (published?, done?);
    // Each notification's `created_at` is its consumer transaction's start.
    let recorded: Vec<(Uuid, DateTime<Utc>)> =
        sqlx::query_as("SELECT event_id, created_at FROM notification WHERE event_id = ANY($1)")
            .bind(envelopes.iter().map(|e| e.id).collect::<Vec<_>>())
            .fetch_all(db)
            .await?;
    anyhow::ensure!(
        recorded.len() == events,
        "one in-app notification per event: {} for {events}",
        recorded.len()
    );
    let latencies = recorded
        .iter()
        .map(|(event_id, created_at)| between(published.at[event_id], *created_at))
        .collect();
    Ok((
        Phase {
            operations: events,
            wall: done - started,
            latencies,
        },
        published,
    ))
}

/// What the delivery log says of one successful attempt.
#[derive(sqlx::FromRow)]
struct Answered {
    event_id: Uuid,
    /// The delivery row's insert (its consumer transaction's start).
    written_at: DateTime<Utc>,
    started_at: DateTime<Utc>,
    latency_ms: i32,
}

impl Answered {
    /// When the deliverer had the receiver's 200: the attempt's start plus its latency.
    fn answered_at(&self) -> DateTime<Utc> {
        self.started_at + chrono::TimeDelta::milliseconds(i64::from(self.latency_ms))
    }
}

async fn answered(db: &sqlx::PgPool, events: &[Uuid]) -> anyhow::Result<Vec<Answered>> {
    Ok(sqlx::query_as(
        "SELECT d.event_id, d.created_at AS written_at, a.started_at, a.latency_ms
         FROM delivery d JOIN delivery_attempt a ON a.delivery_id = d.id AND a.outcome = 'delivered'
         WHERE d.event_id = ANY($1)",
    )
    .bind(events)
    .fetch_all(db)
    .await?)
}

/// The receiver got each event exactly once, answered 200, since request number `base`.
fn check_received(receiver: &WebhookReceiver, base: usize, events: &[Envelope]) -> anyhow::Result<()> {
    let requests = receiver.requests();
    let received = &requests[base..];
    let mut seen = HashSet::new();
    for request in received {
        anyhow::ensure!(request.status == 200, "the receiver answered {}", request.status);
        let body: serde_json::Value = serde_json::from_slice(&request.body)?;
        let event_id: Uuid = body["event_id"]
            .as_str()
            .context("event_id in the webhook body")?
            .parse()?;
        anyhow::ensure!(seen.insert(event_id), "event {event_id} delivered twice");
    }
    let expected: HashSet<Uuid> = events.iter().map(|e| e.id).collect();
    anyhow::ensure!(
        seen == expected,
        "the receiver got {} requests for {} events",
        received.len(),
        events.len()
    );
    Ok(())
}

/// Webhook phases 2 and 3: until every event's delivery was answered; latencies from each
/// event's publish to that answer, and from the delivery row's insert to the attempt's start
/// (the deliverer's pick-up).
struct WebhookRun {
    phase: Phase,
    published: Published,
    pickup: Vec<Duration>,
}

async fn webhook(
    publisher: &Publisher,
    db: &sqlx::PgPool,
    receiver: &WebhookReceiver,
    subscription: Uuid,
    envelopes: Vec<Envelope>,
    paced: Option<f64>,
) -> anyhow::Result<WebhookRun> {
    let base: i64 = sqlx::query_scalar(DELIVERED)
        .bind(subscription)
        .fetch_one(db)
        .await?;
    let base_requests = receiver.requests().len();
    let events = envelopes.len();
    let publishing = async {
        match paced {
            Some(rate) => publisher.paced(&envelopes, rate).await,
            None => publisher.burst(&envelopes).await,
        }
    };
    let (published, done) = tokio::join!(
        publishing,
        wait_for_count(
            db,
            "webhook deliveries",
            DELIVERED,
            Some(subscription),
            base + events as i64
        )
    );
    let (published, _) = (published?, done?);
    check_received(receiver, base_requests, &envelopes)?;
    let ids: Vec<Uuid> = envelopes.iter().map(|e| e.id).collect();
    let log = answered(db, &ids).await?;
    anyhow::ensure!(log.len() == events, "{} delivered attempts logged", log.len());
    let last = log
        .iter()
        .map(Answered::answered_at)
        .max()
        .context("no deliveries")?;
    Ok(WebhookRun {
        phase: Phase {
            operations: events,
            wall: between(published.first, last),
            latencies: log
                .iter()
                .map(|a| between(published.at[&a.event_id], a.answered_at()))
                .collect(),
        },
        pickup: log.iter().map(|a| between(a.written_at, a.started_at)).collect(),
        published,
    })
}

/// Phase 4: deliveries held by quiet hours, then due at once.
struct Backlog {
    phase: Phase,
    /// From the release until the first attempt started (the deliverer was idle, polling).
    first_pickup: Duration,
    /// How long the consumer took to write the held deliveries.
    written_in: Duration,
}

async fn backlog(
    publisher: &Publisher,
    db: &sqlx::PgPool,
    receiver: &WebhookReceiver,
    subscription: Uuid,
    events: usize,
    area_id: Uuid,
) -> anyhow::Result<Backlog> {
    let base_requests = receiver.requests().len();
    let envelopes = unmatched_events(events, area_id);
    let started = Instant::now();
    let (published, held) = tokio::join!(
        publisher.burst(&envelopes),
        wait_for_count(
            db,
            "deliveries held by quiet hours",
            HELD,
            Some(subscription),
            events as i64
        )
    );
    let (_, held) = (published?, held?);
    let written_in = held - started;
    let released = Utc::now();
    let made_due = sqlx::query(
        "UPDATE delivery SET next_attempt_at = now() WHERE subscription_id = $1 AND state = 'pending'",
    )
    .bind(subscription)
    .execute(db)
    .await?
    .rows_affected();
    anyhow::ensure!(made_due == events as u64, "{made_due} deliveries released");
    wait_for_count(
        db,
        "released deliveries",
        DELIVERED,
        Some(subscription),
        events as i64,
    )
    .await?;
    check_received(receiver, base_requests, &envelopes)?;
    let ids: Vec<Uuid> = envelopes.iter().map(|e| e.id).collect();
    let log = answered(db, &ids).await?;
    anyhow::ensure!(log.len() == events, "{} delivered attempts logged", log.len());
    let last = log
        .iter()
        .map(Answered::answered_at)
        .max()
        .context("no deliveries")?;
    let first = log.iter().map(|a| a.started_at).min().context("no deliveries")?;
    Ok(Backlog {
        phase: Phase {
            operations: events,
            wall: between(released, last),
            // The attempts themselves, as the deliverer timed them (connect, POST, status).
            latencies: log
                .iter()
                .map(|a| Duration::from_millis(a.latency_ms as u64))
                .collect(),
        },
        first_pickup: between(released, first),
        written_in,
    })
}

/// A delivered webhook request, to be sent again as it was (same body, same headers).
struct Template {
    address: SocketAddr,
    authority: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl Template {
    fn of(url: &str, delivered: &ReceivedRequest) -> anyhow::Result<Template> {
        let uri: hyper::Uri = url.parse()?;
        let authority = uri.authority().context("an authority")?.as_str().to_string();
        Ok(Template {
            address: authority.parse()?,
            authority,
            path: uri.path().to_string(),
            headers: delivered
                .headers
                .iter()
                .filter(|(name, _)| !matches!(name.as_str(), "host" | "content-length" | "connection"))
                .cloned()
                .collect(),
            body: Bytes::from(delivered.body.clone()),
        })
    }

    fn request(&self, close: bool) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut request =
            Request::post(self.path.as_str()).header(hyper::header::HOST, self.authority.as_str());
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if close {
            request = request.header(hyper::header::CONNECTION, "close");
        }
        Ok(request.body(Full::new(self.body.clone()))?)
    }
}

/// One POST on a connection of its own, as the webhook adapter sends (`TCP_NODELAY`, HTTP/1.1,
/// `Connection: close`, the status read and the connection dropped).
async fn post_fresh(template: &Template) -> anyhow::Result<()> {
    let stream = tokio::net::TcpStream::connect(template.address).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let connection = tokio::spawn(connection);
    let response = sender.send_request(template.request(true)?).await?;
    connection.abort();
    anyhow::ensure!(response.status().is_success(), "answered {}", response.status());
    Ok(())
}

async fn http_fresh(template: &Arc<Template>, clients: usize, seconds: u64) -> anyhow::Result<Phase> {
    let template = template.clone();
    drive(clients, seconds, move |_| {
        let template = template.clone();
        async move { post_fresh(&template).await }
    })
    .await
}

/// `clients` connections kept alive, each POSTing as fast as the receiver answers.
async fn http_kept_alive(template: &Arc<Template>, clients: usize, seconds: u64) -> anyhow::Result<Phase> {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (template, stop) = (template.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(template.address).await?;
            stream.set_nodelay(true)?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            let connection = tokio::spawn(connection);
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let call = Instant::now();
                sender.ready().await?;
                let response = sender.send_request(template.request(false)?).await?;
                anyhow::ensure!(response.status().is_success(), "answered {}", response.status());
                response.into_body().collect().await?;
                latencies.push(call.elapsed());
            }
            connection.abort();
            anyhow::Ok(latencies)
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    Ok(Phase {
        operations: latencies.len(),
        wall: started.elapsed(),
        latencies,
    })
}

fn municipality_feed() -> Option<pb::Recipient> {
    Some(pb::Recipient {
        kind: Some(pb::recipient::Kind::Municipality(MUNICIPALITY.into())),
    })
}

/// A webhook subscription of the municipality's feed to `need.unmatched`, made with the
/// municipal administrator's client.
async fn subscribe(
    system: &TestSystem,
    url: String,
    name: &str,
    quiet_hours: Option<pb::QuietHours>,
) -> anyhow::Result<Uuid> {
    let created = system
        .notifications()
        .create_subscription(pb::CreateSubscriptionRequest {
            subscription: Some(pb::Subscription {
                municipality_code: MUNICIPALITY.into(),
                recipient: municipality_feed(),
                subscriber_kind: pb::SubscriberKind::MunicipalSystem.into(),
                subscriber_name: name.into(),
                channel: "webhook".into(),
                address: url,
                event_types: vec![events::NEED_UNMATCHED.into()],
                quiet_hours,
                ..Default::default()
            }),
        })
        .await?
        .into_inner();
    Ok(created.subscription.context("the subscription")?.id.parse()?)
}

/// Quiet hours (Japan time) from a minute ago to two hours ahead: a routine delivery written
/// now waits for their end.
fn quiet_now() -> pb::QuietHours {
    let now = Utc::now();
    let japan = (now.hour() * 60 + now.minute() + 9 * 60) % 1440;
    pb::QuietHours {
        start_minute: (japan + 1439) % 1440,
        end_minute: (japan + 120) % 1440,
    }
}

fn ms(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}

struct Row<'a> {
    name: &'a str,
    phase: &'a Phase,
    /// Which INSERT ceiling, and its rate.
    insert: Option<(&'static str, f64)>,
    http: Option<f64>,
}

async fn run() -> anyhow::Result<()> {
    let events = setting("TSUNAGU_BENCH_EVENTS", 5_000)? as usize;
    let seconds = setting("TSUNAGU_BENCH_SECONDS", 5)?;
    let connections = setting("TSUNAGU_BENCH_CONNECTIONS", 10)? as u32;
    let paced_rate = setting("TSUNAGU_BENCH_PACED_RATE", 10)?.max(1) as f64;
    let paced_seconds = setting("TSUNAGU_BENCH_PACED_SECONDS", 10)?;
    println!(
        "notification_delivery: {events} events per burst, {seconds} s per reference, {connections} database connections, {} cores, started {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        chrono::Local::now().format("%Y-%m-%d %H:%M:%S %z")
    );

    let system = TestSystem::start_with(Options {
        database_max_connections: Some(connections),
        // Nothing proposes or explains: the bench's events are the only work.
        without: vec![ServiceName::Matching],
        // The receiver speaks plain HTTP on the loopback.
        env: vec![("TSUNAGU_WEBHOOK_ALLOW_HTTP", "true".into())],
        ..Options::default()
    })
    .await;
    let db = system.database(ServiceName::Notifications).await;
    let publisher = Publisher::open(&system).await?;
    // Any area id: notifications keeps it as the need's context and asks nobody about it.
    let area_id = Uuid::now_v7();
    let warm_up = unmatched(area_id);
    publisher.publish_when_bound(&warm_up).await?;
    wait_for_count(&db, "the warm-up notification", NOTIFICATIONS, None, 1).await?;

    // The references' table, in the same database.
    let wide = sqlx::postgres::PgPoolOptions::new()
        .max_connections(connections)
        .connect(&system.database_url)
        .await?;
    let narrow = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&system.database_url)
        .await?;
    sqlx::query(
        "CREATE TABLE bench_single_insert (id UUID PRIMARY KEY, municipality_code TEXT NOT NULL,
         payload JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&wide)
    .await?;
    let synchronous_commit: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(&wide)
        .await?;
    println!("synchronous_commit = {synchronous_commit}");
    insert_reference(&wide, DELIVERER_BATCH, 1).await?;
    let narrow_before = insert_reference(&narrow, 1, seconds).await?;
    let wide_before = insert_reference(&wide, DELIVERER_BATCH, seconds).await?;

    // 1. In-app.
    let (in_app, in_app_published) = in_app(&publisher, &db, events, area_id).await?;
    println!(
        "in-app: {events} events published in {} (all confirmed), {} notifications after {}",
        ms(in_app_published.took),
        events,
        ms(in_app.wall)
    );

    // 2. Webhook, end to end.
    let receiver = WebhookReceiver::start(vec![]);
    let subscription = subscribe(&system, receiver.url(), "ベンチマーク受信側", None).await?;
    publisher.publish_when_bound(&unmatched(area_id)).await?;
    let warm = receiver.wait_for(1, Duration::from_secs(30)).await;
    let template = Arc::new(Template::of(&receiver.url(), &warm[0])?);
    let burst = webhook(
        &publisher,
        &db,
        &receiver,
        subscription,
        unmatched_events(events, area_id),
        None,
    )
    .await?;
    println!(
        "webhook: {events} events published in {}, the last answered {} after the first publish",
        ms(burst.published.took),
        ms(burst.phase.wall)
    );

    // 3. Webhook, isolated events.
    let paced_events = (paced_rate * paced_seconds as f64).round().max(1.0) as usize;
    let paced = webhook(
        &publisher,
        &db,
        &receiver,
        subscription,
        unmatched_events(paced_events, area_id),
        Some(paced_rate),
    )
    .await?;

    // 4. The deliverer alone: a second subscription, quiet now, takes over from the first.
    system
        .notifications()
        .delete_subscription(pb::DeleteSubscriptionRequest {
            id: subscription.to_string(),
        })
        .await?;
    let held = subscribe(
        &system,
        receiver.url(),
        "ベンチマーク受信側（静かな時間帯）",
        Some(quiet_now()),
    )
    .await?;
    let drained = backlog(&publisher, &db, &receiver, held, events, area_id).await?;
    println!(
        "deliverer alone: the consumer wrote {events} held deliveries in {}; released at once, the first attempt started {} later",
        ms(drained.written_in),
        ms(drained.first_pickup)
    );
    publisher.close().await;

    // The HTTP references: the same body and headers, to the same receiver.
    println!(
        "HTTP references: {} bytes of body, {} headers, {DELIVERER_BATCH} at a time",
        template.body.len(),
        template.headers.len() + 2
    );
    http_fresh(&template, DELIVERER_BATCH, 1).await?;
    let fresh = http_fresh(&template, DELIVERER_BATCH, seconds).await?;
    let kept_alive = http_kept_alive(&template, DELIVERER_BATCH, seconds).await?;
    let record_shaped = record_shaped_reference(&wide, DELIVERER_BATCH, seconds).await?;

    let narrow_after = insert_reference(&narrow, 1, seconds).await?;
    let wide_after = insert_reference(&wide, DELIVERER_BATCH, seconds).await?;
    let narrow_ceiling = (narrow_before.rate() + narrow_after.rate()) / 2.0;
    let wide_ceiling = (wide_before.rate() + wide_after.rate()) / 2.0;
    let http_ceiling = fresh.rate();

    println!();
    println!(
        "| phase | operations | seconds | per second | ratio to INSERT | ratio to HTTP POST | p50 | p95 | p99 |"
    );
    println!("|---|--:|--:|--:|--:|--:|--:|--:|--:|");
    let insert_1 = Some(("×1", narrow_ceiling));
    let insert_wide = Some(("×32/10", wide_ceiling));
    let paced_name = format!("webhook, {paced_rate:.0} events/s: publish → answered");
    let rows = [
        Row {
            name: "single-row INSERT, 1 connection, before",
            phase: &narrow_before,
            insert: insert_1,
            http: None,
        },
        Row {
            name: "single-row INSERT, 32 clients / 10 connections, before",
            phase: &wide_before,
            insert: insert_wide,
            http: None,
        },
        Row {
            name: "**in-app**: publish → notification recorded",
            phase: &in_app,
            insert: insert_1,
            http: None,
        },
        Row {
            name: "**webhook**, end to end: publish → answered 200",
            phase: &burst.phase,
            insert: insert_1,
            http: Some(http_ceiling),
        },
        Row {
            name: &paced_name,
            phase: &paced.phase,
            insert: None,
            http: None,
        },
        Row {
            name: "**webhook, the deliverer alone** (latency: the attempt)",
            phase: &drained.phase,
            insert: insert_wide,
            http: Some(http_ceiling),
        },
        Row {
            name: "HTTP POST, a connection each, 32 at a time",
            phase: &fresh,
            insert: None,
            http: Some(http_ceiling),
        },
        Row {
            name: "HTTP POST, 32 kept-alive connections",
            phase: &kept_alive,
            insert: None,
            http: Some(http_ceiling),
        },
        Row {
            name: "BEGIN, INSERT, UPDATE, COMMIT, 32 clients / 10 connections",
            phase: &record_shaped,
            insert: insert_wide,
            http: None,
        },
        Row {
            name: "single-row INSERT, 1 connection, after",
            phase: &narrow_after,
            insert: insert_1,
            http: None,
        },
        Row {
            name: "single-row INSERT, 32 clients / 10 connections, after",
            phase: &wide_after,
            insert: insert_wide,
            http: None,
        },
    ];
    for row in rows {
        let insert = match row.insert {
            Some((name, rate)) => format!("{:.3} ({name})", row.phase.rate() / rate),
            None => "—".to_string(),
        };
        let http = match row.http {
            Some(rate) => format!("{:.3}", row.phase.rate() / rate),
            None => "—".to_string(),
        };
        println!(
            "| {} | {} | {:.2} | {:.0} | {insert} | {http} | {} | {} | {} |",
            row.name,
            row.phase.operations,
            row.phase.wall.as_secs_f64(),
            row.phase.rate(),
            ms(row.phase.percentile(0.5)),
            ms(row.phase.percentile(0.95)),
            ms(row.phase.percentile(0.99)),
        );
    }
    println!();
    println!(
        "ceilings (mean of before and after): INSERT ×1 {narrow_ceiling:.0}/s, INSERT ×32/10 {wide_ceiling:.0}/s; HTTP POST (a connection each, 32 at a time) {http_ceiling:.0}/s"
    );
    println!(
        "webhook end to end {:.0}/s = {:.3} of the in-app rate; the deliverer alone {:.0}/s = {:.3} of the record-shaped transactions ({:.0}/s)",
        burst.phase.rate(),
        burst.phase.rate() / in_app.rate(),
        drained.phase.rate(),
        drained.phase.rate() / record_shaped.rate(),
        record_shaped.rate(),
    );
    let late = paced
        .pickup
        .iter()
        .filter(|d| **d > Duration::from_millis(50))
        .count();
    println!(
        "the deliverer's pick-up (delivery row written → attempt started): end to end p50 {} p99 {}; at {paced_rate:.0} events/s p50 {} p95 {} p99 {} max {}, {late} of {} later than 50 ms",
        ms(percentile(&burst.pickup, 0.5)),
        ms(percentile(&burst.pickup, 0.99)),
        ms(percentile(&paced.pickup, 0.5)),
        ms(percentile(&paced.pickup, 0.95)),
        ms(percentile(&paced.pickup, 0.99)),
        ms(percentile(&paced.pickup, 1.0)),
        paced.pickup.len(),
    );

    wide.close().await;
    narrow.close().await;
    db.close().await;
    drop(receiver);
    system.shutdown().await;
    Ok(())
}
