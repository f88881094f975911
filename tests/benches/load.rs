//! Load benchmark (issue 8): an open-loop load of needs through the gRPC API of the whole
//! system, running in this process against the real PostgreSQL and RabbitMQ of this machine.
//! A ticker issues `SubmitNeed` calls at a fixed rate whatever the answers do (at most
//! `TSUNAGU_LOAD_MAX_IN_FLIGHT` unanswered; a call due while the bound is reached is not
//! issued, and counted). Every need has the resident's consent to share it and a resource
//! with room for it, so matching proposes it and notifications tells the provider in its
//! in-app inbox (a need nobody can serve would tell the coordinators instead: whichever
//! notification comes first counts). The bench follows both inboxes over
//! `SubscribeNotifications` with the municipal administrator's key, and records when each
//! need's notification arrives in this process.
//!
//! It reports, per offered rate: the calls answered per second, their latency
//! (p50/p95/p99/max), the errors by gRPC code, and the end-to-end latency from the start of
//! a need's `SubmitNeed` call to the arrival of its notification, with the needs that had none
//! within the drain deadline. Beside them, measured in the same run on the same PostgreSQL and
//! RabbitMQ, before the load and again after it: the ceiling of plain single-row `INSERT`
//! transactions (autocommit, durable) over as many connections as intake's pool and over one
//! connection (the one-at-a-time consumers' ceiling), and of RabbitMQ publishes with confirms
//! (persistent messages of a real `need.submitted` body to a durable quorum queue, a fixed
//! number of confirms outstanding). Every figure is read as a ratio to them. It also prints
//! where the end-to-end time goes (each stage's start, from the databases' timestamps) and the
//! CPU of the machine, of this process, of PostgreSQL and of RabbitMQ while the load ran.
//!
//! ```sh
//! cargo bench -p tsunagu-tests --bench load
//! TSUNAGU_LOAD_RATES="50 100 200 400" cargo bench -p tsunagu-tests --bench load
//! ```
//!
//! Settings: `TSUNAGU_LOAD_RATE` (needs/s, default 100) or `TSUNAGU_LOAD_RATES` (several,
//! stepped through in order, each drained before the next); `TSUNAGU_LOAD_SECONDS` (default 20)
//! per rate; `TSUNAGU_LOAD_MAX_IN_FLIGHT` (default 256); `TSUNAGU_LOAD_DRAIN_SECONDS` (default
//! 120), how long after the last call of a rate its needs may take to be notified;
//! `TSUNAGU_LOAD_CONNECTIONS` (default 10, the production pool); `TSUNAGU_LOAD_CEILING_SECONDS`
//! (default 5) per ceiling phase; `TSUNAGU_LOAD_PUBLISHES_IN_FLIGHT` (default 16) outstanding
//! confirms of the publish ceiling; `TSUNAGU_LOAD_INSERT_CLIENTS` (default 16) clients of the
//! INSERT ceiling. The figures of record are in `docs/benchmarks/load.md`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use lapin::options::{QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldTable};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tsunagu_proto::notifications::v1 as notifications_pb;
use tsunagu_runtime::ServiceName;
use tsunagu_runtime::amqp::{self, Envelope};
use tsunagu_tests::bench::{need_request, setting};
use tsunagu_tests::{Fixture, MUNICIPALITY, Options, RABBITMQ_URL, TestSystem};

/// How often the drain checks whether every need of a rate has been notified.
const DRAIN_POLL: Duration = Duration::from_millis(20);

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

/// The offered rates: `TSUNAGU_LOAD_RATES` ("50 100 200"), else `TSUNAGU_LOAD_RATE`.
fn rates() -> anyhow::Result<Vec<u64>> {
    match std::env::var("TSUNAGU_LOAD_RATES") {
        Ok(list) => {
            let rates = list
                .split([' ', ','])
                .filter(|rate| !rate.is_empty())
                .map(|rate| {
                    rate.parse::<u64>()
                        .with_context(|| format!("TSUNAGU_LOAD_RATES: {rate:?} is not a whole number"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            anyhow::ensure!(
                !rates.is_empty() && rates.iter().all(|rate| *rate > 0),
                "TSUNAGU_LOAD_RATES needs at least one rate above 0"
            );
            Ok(rates)
        }
        Err(_) => {
            let rate = setting("TSUNAGU_LOAD_RATE", 100)?;
            anyhow::ensure!(rate > 0, "TSUNAGU_LOAD_RATE must be above 0");
            Ok(vec![rate])
        }
    }
}

/// p50, p95, p99 and the largest of a set of latencies.
#[derive(Clone, Copy, Default)]
struct Percentiles {
    count: usize,
    p50: Duration,
    p95: Duration,
    p99: Duration,
    max: Duration,
}

impl Percentiles {
    /// `p` as text; a dash when nothing was measured.
    fn show(&self, p: fn(&Percentiles) -> Duration) -> String {
        if self.count == 0 {
            "—".to_string()
        } else {
            ms(p(self))
        }
    }

    fn of(mut latencies: Vec<Duration>) -> Percentiles {
        if latencies.is_empty() {
            return Percentiles::default();
        }
        latencies.sort();
        let at = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
        Percentiles {
            count: latencies.len(),
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: *latencies.last().unwrap_or(&Duration::ZERO),
        }
    }
}

fn ms(duration: Duration) -> String {
    let millis = duration.as_secs_f64() * 1000.0;
    if millis >= 1000.0 {
        format!("{:.2} s", millis / 1000.0)
    } else {
        format!("{millis:.1} ms")
    }
}

/// CPU time so far, in clock ticks (`/proc`): the machine's busy and total, and that of this
/// process, of PostgreSQL's processes and of RabbitMQ's (`beam.smp`). Zeros without `/proc`.
#[derive(Clone, Copy, Default)]
struct CpuTicks {
    busy: u64,
    total: u64,
    this_process: u64,
    postgres: u64,
    rabbitmq: u64,
}

/// utime + stime of one `/proc/<pid>/stat`, and the process's name.
fn process_ticks(stat: &str) -> Option<(&str, u64)> {
    let name = &stat[stat.find('(')? + 1..stat.rfind(')')?];
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    // After the name: state is field 3 of the line, utime 14 and stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

fn cpu_ticks() -> CpuTicks {
    let mut ticks = CpuTicks::default();
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    if let Some(line) = stat.lines().find(|line| line.starts_with("cpu ")) {
        let fields: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|field| field.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal (guest time is counted in user).
        ticks.total = fields.iter().take(8).sum();
        let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
        ticks.busy = ticks.total - idle;
    }
    let own = std::process::id().to_string();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = entry.file_name();
        let Some(pid) = pid.to_str().filter(|pid| pid.bytes().all(|b| b.is_ascii_digit())) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        match process_ticks(&stat) {
            Some((_, used)) if pid == own => ticks.this_process += used,
            Some(("postgres", used)) => ticks.postgres += used,
            Some((name, used)) if name.starts_with("beam.smp") => ticks.rabbitmq += used,
            _ => {}
        }
    }
    ticks
}

/// Shares of the machine's CPU (all cores = 1) used since `since`: busy in all, this process
/// (the four services and the load generator), PostgreSQL, RabbitMQ.
#[derive(Clone, Copy, Default)]
struct CpuShares {
    busy: f64,
    this_process: f64,
    postgres: f64,
    rabbitmq: f64,
}

fn cpu_shares_since(since: CpuTicks) -> CpuShares {
    let now = cpu_ticks();
    let total = now.total.saturating_sub(since.total);
    if total == 0 {
        return CpuShares::default();
    }
    let share = |now: u64, then: u64| now.saturating_sub(then) as f64 / total as f64;
    CpuShares {
        busy: share(now.busy, since.busy),
        this_process: share(now.this_process, since.this_process),
        postgres: share(now.postgres, since.postgres),
        rabbitmq: share(now.rabbitmq, since.rabbitmq),
    }
}

/// Runs `clients` loops of `operation` for `seconds`; the operations completed per second.
async fn closed_loop<F, Fut>(clients: usize, seconds: u64, operation: F) -> anyhow::Result<f64>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let operation = Arc::new(operation);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (operation, stop) = (operation.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = 0usize;
            while !stop.load(Ordering::Relaxed) {
                operation().await?;
                done += 1;
            }
            anyhow::Ok(done)
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut done = 0;
    for task in tasks {
        done += task.await??;
    }
    Ok(done as f64 / started.elapsed().as_secs_f64())
}

/// Plain single-row durable `INSERT` transactions into a scratch table of the same database.
async fn insert_ceiling(pool: &sqlx::PgPool, clients: usize, seconds: u64) -> anyhow::Result<f64> {
    let pool = pool.clone();
    closed_loop(clients, seconds, move || {
        let pool = pool.clone();
        async move {
            sqlx::query("INSERT INTO bench_load_insert (id, municipality_code, payload) VALUES ($1, $2, $3)")
                .bind(uuid::Uuid::now_v7())
                .bind(MUNICIPALITY)
                .bind(serde_json::json!({"category": "life.garbage", "urgency": "routine"}))
                .execute(&pool)
                .await?;
            Ok(())
        }
    })
    .await
}

/// Publishes with confirms, `in_flight` outstanding, of `payload` as persistent messages to a
/// scratch durable quorum queue of the test's namespace (declared here, deleted after).
async fn publish_ceiling(
    system: &TestSystem,
    payload: &serde_json::Value,
    in_flight: usize,
    seconds: u64,
) -> anyhow::Result<f64> {
    let connection = amqp::connect(RABBITMQ_URL, "tsunagu-bench-load-ceiling").await?;
    let channel = amqp::confirm_channel(&connection).await?;
    let queue = format!(
        "{}.load-ceiling.{}",
        system.topology.events_exchange(),
        uuid::Uuid::now_v7().simple()
    );
    let mut quorum = FieldTable::default();
    quorum.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            quorum,
        )
        .await?;
    let (publisher, target, payload) = (channel.clone(), Arc::new(queue.clone()), payload.clone());
    let rate = closed_loop(in_flight, seconds, move || {
        let (channel, queue) = (publisher.clone(), target.clone());
        // Persistent, with the message id, type and headers the relay sends.
        let envelope = Envelope {
            id: uuid::Uuid::now_v7(),
            event_type: "need.submitted".into(),
            municipality_code: MUNICIPALITY.into(),
            payload: payload.clone(),
            trace_headers: HashMap::new(),
        };
        async move {
            // The default exchange routes to the queue named by the routing key; mandatory, so
            // an unrouted message is an error, not a silent success.
            amqp::publish_confirmed(&channel, "", &queue, &envelope.body(), envelope.properties()).await?;
            Ok(())
        }
    })
    .await;
    let _ = channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await;
    let _ = channel.close(200, "done".into()).await;
    let _ = connection.close(200, "done".into()).await;
    rate
}

/// Both ceilings, measured while the system is idle.
#[derive(Clone, Copy)]
struct Ceilings {
    /// Single-row INSERTs by many clients over intake's pool size.
    insert: f64,
    /// Single-row INSERTs one after the other over one connection: what a consumer that
    /// handles one event at a time could commit at most.
    insert_serial: f64,
    publish: f64,
}

impl Ceilings {
    fn mean(a: Ceilings, b: Ceilings) -> Ceilings {
        Ceilings {
            insert: (a.insert + b.insert) / 2.0,
            insert_serial: (a.insert_serial + b.insert_serial) / 2.0,
            publish: (a.publish + b.publish) / 2.0,
        }
    }
}

/// When a need's first notification reached this process.
#[derive(Clone)]
struct Arrival {
    at: Instant,
    /// The notification's `created_at`: the start of notifications' transaction that wrote it.
    created_at: Option<DateTime<Utc>>,
}

type Arrivals = Arc<Mutex<HashMap<String, Arrival>>>;

/// Follows one in-app inbox over `SubscribeNotifications`, resuming from the last cursor if
/// the stream ends, and records the first notification of each need.
fn follow(
    system: &TestSystem,
    recipient: notifications_pb::recipient::Kind,
    arrivals: Arrivals,
    resubscribed: Arc<AtomicUsize>,
) -> JoinHandle<()> {
    let mut client = system.notifications();
    tokio::spawn(async move {
        let mut cursor = String::new();
        let mut first = true;
        loop {
            if !first {
                resubscribed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            first = false;
            let request = notifications_pb::SubscribeNotificationsRequest {
                recipient: Some(notifications_pb::Recipient {
                    kind: Some(recipient.clone()),
                }),
                cursor: cursor.clone(),
            };
            let mut stream = match client.subscribe_notifications(request).await {
                Ok(response) => response.into_inner(),
                Err(status) => {
                    eprintln!("SubscribeNotifications refused: {status}");
                    continue;
                }
            };
            while let Ok(Some(notification)) = stream.message().await {
                let at = Instant::now();
                cursor = notification.cursor.clone();
                if notification.need_id.is_empty() {
                    continue;
                }
                let created_at = notification
                    .created_at
                    .and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32));
                arrivals
                    .lock()
                    .expect("arrivals lock")
                    .entry(notification.need_id)
                    .or_insert(Arrival { at, created_at });
            }
        }
    })
}

/// One `SubmitNeed` call as the load generator saw it.
struct Call {
    started: Instant,
    started_utc: DateTime<Utc>,
    latency: Duration,
    /// The need's id, or the gRPC code of the refusal.
    outcome: Result<String, tonic::Code>,
}

/// What one offered rate achieved.
struct Step {
    rate: u64,
    seconds: u64,
    due: u64,
    not_issued: u64,
    /// How far the ticker fell behind its schedule at worst.
    ticker_lag: Duration,
    answered: usize,
    /// Answered calls per second, from the first call to the last answer.
    achieved: f64,
    errors: BTreeMap<String, usize>,
    call: Percentiles,
    end_to_end: Percentiles,
    notified: usize,
    never_notified: usize,
    /// Needs notified per second, from the first call to the last notification.
    notified_rate: f64,
    /// From the last call issued until the last need was notified.
    drained_after: Duration,
    /// The share of the machine's CPU busy while the calls were issued.
    cpu: CpuShares,
    /// Where the end-to-end time goes: each stage's moment after the call's start.
    stages: Vec<(&'static str, Percentiles)>,
}

/// When an outbox row was written (its transaction's start) and picked up by the relay (the
/// relay's transaction's start), by need.
async fn outbox_times(
    db: &sqlx::PgPool,
    event_types: &[&str],
    needs: &[String],
) -> anyhow::Result<HashMap<String, (DateTime<Utc>, Option<DateTime<Utc>>)>> {
    let rows: Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT payload->>'need_id', created_at, published_at FROM outbox
         WHERE event_type = ANY($1) AND payload->>'need_id' = ANY($2)",
    )
    .bind(event_types.iter().map(|t| t.to_string()).collect::<Vec<_>>())
    .bind(needs)
    .fetch_all(db)
    .await?;
    let mut times = HashMap::new();
    for (need, created_at, published_at) in rows {
        // The first event of the need, if several.
        let entry = times.entry(need).or_insert((created_at, published_at));
        if created_at < entry.0 {
            *entry = (created_at, published_at);
        }
    }
    Ok(times)
}

fn since(start: DateTime<Utc>, at: DateTime<Utc>) -> Duration {
    (at - start).to_std().unwrap_or_default()
}

struct Load<'a> {
    system: &'a TestSystem,
    intake_db: sqlx::PgPool,
    matching_db: sqlx::PgPool,
    area_id: String,
    arrivals: Arrivals,
    max_in_flight: usize,
    drain: Duration,
}

impl Load<'_> {
    /// Offers `rate` needs a second for `seconds`, then waits until every answered need was
    /// notified or the drain deadline passed.
    async fn offer(&self, label: &str, rate: u64, seconds: u64) -> anyhow::Result<Step> {
        let intake = self.system.intake();
        let bound = Arc::new(Semaphore::new(self.max_in_flight));
        let due = rate * seconds;
        let mut calls = Vec::with_capacity(due as usize);
        let mut not_issued = 0;
        let mut ticker_lag = Duration::ZERO;
        let cpu = cpu_ticks();
        let started = Instant::now();
        for sequence in 0..due {
            let at = started + Duration::from_secs_f64(sequence as f64 / rate as f64);
            tokio::time::sleep_until(at.into()).await;
            ticker_lag = ticker_lag.max(Instant::now().saturating_duration_since(at));
            let Ok(permit) = bound.clone().try_acquire_owned() else {
                not_issued += 1;
                continue;
            };
            let mut intake = intake.clone();
            let request = need_request(&self.area_id, format!("load-{label}-{sequence}"));
            calls.push(tokio::spawn(async move {
                let _permit = permit;
                let (started, started_utc) = (Instant::now(), Utc::now());
                let outcome = match intake.submit_need(request).await {
                    Ok(response) => Ok(response.into_inner().need.map(|need| need.id).unwrap_or_default()),
                    Err(status) => Err(status.code()),
                };
                Call {
                    started,
                    started_utc,
                    latency: started.elapsed(),
                    outcome,
                }
            }));
        }
        let issued_until = Instant::now();
        let cpu = cpu_shares_since(cpu);
        let mut answered = Vec::new();
        let mut errors = BTreeMap::new();
        let mut last_answer = started;
        for call in calls {
            let call = call.await?;
            last_answer = last_answer.max(call.started + call.latency);
            match &call.outcome {
                Ok(_) => answered.push(call),
                Err(code) => *errors.entry(format!("{code:?}")).or_insert(0) += 1,
            }
        }
        let deadline = issued_until + self.drain;
        loop {
            let waiting = {
                let arrivals = self.arrivals.lock().expect("arrivals lock");
                answered
                    .iter()
                    .filter(|call| {
                        call.outcome
                            .as_ref()
                            .is_ok_and(|need| !arrivals.contains_key(need))
                    })
                    .count()
            };
            if waiting == 0 || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(DRAIN_POLL).await;
        }
        let arrivals = self.arrivals.lock().expect("arrivals lock").clone();
        let mut end_to_end = Vec::new();
        let mut last_notified = started;
        for call in &answered {
            let Some(arrival) = call.outcome.as_ref().ok().and_then(|need| arrivals.get(need)) else {
                continue;
            };
            end_to_end.push(arrival.at.saturating_duration_since(call.started));
            last_notified = last_notified.max(arrival.at);
        }
        let notified = end_to_end.len();
        let stages = self.stages(&answered, &arrivals).await?;
        Ok(Step {
            rate,
            seconds,
            due,
            not_issued,
            ticker_lag,
            answered: answered.len(),
            achieved: answered.len() as f64 / (last_answer - started).as_secs_f64(),
            errors,
            call: Percentiles::of(answered.iter().map(|call| call.latency).collect()),
            end_to_end: Percentiles::of(end_to_end),
            notified,
            never_notified: answered.len() - notified,
            notified_rate: notified as f64 / (last_notified - started).as_secs_f64().max(f64::EPSILON),
            drained_after: last_notified.saturating_duration_since(issued_until),
            cpu,
            stages,
        })
    }

    /// Each stage of the needs that were notified, from the databases' timestamps.
    async fn stages(
        &self,
        answered: &[Call],
        arrivals: &HashMap<String, Arrival>,
    ) -> anyhow::Result<Vec<(&'static str, Percentiles)>> {
        let needs: Vec<String> = answered
            .iter()
            .filter_map(|call| call.outcome.as_ref().ok().cloned())
            .collect();
        let intake = outbox_times(&self.intake_db, &["need.submitted"], &needs).await?;
        let matching = outbox_times(&self.matching_db, &["match.proposed", "need.unmatched"], &needs).await?;
        let mut stages: [(&'static str, Vec<Duration>); 6] = [
            ("intake's transaction began", Vec::new()),
            ("intake's relay picked need.submitted up", Vec::new()),
            ("matching's transaction began", Vec::new()),
            ("matching's relay picked its event up", Vec::new()),
            ("notifications' transaction began", Vec::new()),
            ("the notification arrived here", Vec::new()),
        ];
        for call in answered {
            let Ok(need) = &call.outcome else { continue };
            let (Some(arrival), Some(submitted), Some(decided)) =
                (arrivals.get(need), intake.get(need), matching.get(need))
            else {
                continue;
            };
            let start = call.started_utc;
            let moments = [
                Some(since(start, submitted.0)),
                submitted.1.map(|at| since(start, at)),
                Some(since(start, decided.0)),
                decided.1.map(|at| since(start, at)),
                arrival.created_at.map(|at| since(start, at)),
                Some(arrival.at.saturating_duration_since(call.started)),
            ];
            for ((_, stage), moment) in stages.iter_mut().zip(moments) {
                if let Some(moment) = moment {
                    stage.push(moment);
                }
            }
        }
        Ok(stages
            .into_iter()
            .map(|(name, moments)| (name, Percentiles::of(moments)))
            .collect())
    }
}

async fn run() -> anyhow::Result<()> {
    let rates = rates()?;
    let seconds = setting("TSUNAGU_LOAD_SECONDS", 20)?;
    let max_in_flight = setting("TSUNAGU_LOAD_MAX_IN_FLIGHT", 256)? as usize;
    let drain = Duration::from_secs(setting("TSUNAGU_LOAD_DRAIN_SECONDS", 120)?);
    let connections = setting("TSUNAGU_LOAD_CONNECTIONS", 10)? as u32;
    let ceiling_seconds = setting("TSUNAGU_LOAD_CEILING_SECONDS", 5)?;
    let publishes_in_flight = setting("TSUNAGU_LOAD_PUBLISHES_IN_FLIGHT", 16)? as usize;
    let insert_clients = setting("TSUNAGU_LOAD_INSERT_CLIENTS", 16)? as usize;
    anyhow::ensure!(max_in_flight > 0, "TSUNAGU_LOAD_MAX_IN_FLIGHT must be above 0");
    println!(
        "load: offered {rates:?} needs/s, {seconds} s each, at most {max_in_flight} calls in flight, \
         {connections} database connections per service, {} cores, started {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        chrono::Local::now().format("%Y-%m-%d %H:%M:%S %z")
    );

    let system = TestSystem::start_with(Options {
        database_max_connections: Some(connections),
        // One key drives the whole load: the per-key rate limit would measure itself.
        env: vec![("TSUNAGU_RATE_LIMIT_PER_SECOND", "0".into())],
        ..Options::default()
    })
    .await;
    // Resources with room for every need, so matching proposes rather than explains.
    let fixture = Fixture::create(&system, 1_000_000).await;
    let intake_db = system.database(ServiceName::Intake).await;
    let synchronous_commit: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(&intake_db)
        .await?;
    println!("synchronous_commit = {synchronous_commit}");

    // Both inboxes a need's notification can land in, followed as the municipality's
    // administrator sees them (the organisation's filtered to the municipality's needs).
    let arrivals: Arrivals = Arc::default();
    let resubscribed = Arc::new(AtomicUsize::new(0));
    let followers = [
        follow(
            &system,
            notifications_pb::recipient::Kind::OrganizationId(fixture.organization_id.clone()),
            arrivals.clone(),
            resubscribed.clone(),
        ),
        follow(
            &system,
            notifications_pb::recipient::Kind::CoordinatorsOfMunicipality(MUNICIPALITY.into()),
            arrivals.clone(),
            resubscribed.clone(),
        ),
    ];
    let load = Load {
        system: &system,
        intake_db: intake_db.clone(),
        matching_db: system.database(ServiceName::Matching).await,
        area_id: fixture.daily_life_area_id.clone(),
        arrivals: arrivals.clone(),
        max_in_flight,
        drain,
    };

    // Warm-up: connections, caches, the consumers' first deliveries; also proves the whole
    // chain notifies before anything is measured.
    let warm = load.offer("warm", 50, 2).await?;
    anyhow::ensure!(
        warm.never_notified == 0 && warm.errors.is_empty(),
        "warm-up: {} of {} needs not notified, errors {:?}",
        warm.never_notified,
        warm.answered,
        warm.errors
    );
    // What the running system costs with nothing to do (relays, sweeps, the two streams).
    let idle_since = cpu_ticks();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = cpu_shares_since(idle_since);
    // The publish ceiling sends what the relay sends: a real need.submitted body.
    let payload: serde_json::Value = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE event_type = 'need.submitted' ORDER BY created_at LIMIT 1",
    )
    .fetch_one(&intake_db)
    .await?;
    let body_bytes = serde_json::to_vec(&payload)?.len();

    let reference_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(connections)
        .connect(&system.database_url)
        .await?;
    let serial_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&system.database_url)
        .await?;
    sqlx::query(
        "CREATE TABLE bench_load_insert (id UUID PRIMARY KEY, municipality_code TEXT NOT NULL,
         payload JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&reference_pool)
    .await?;
    let ceilings = || async {
        anyhow::Ok(Ceilings {
            insert: insert_ceiling(&reference_pool, insert_clients, ceiling_seconds).await?,
            insert_serial: insert_ceiling(&serial_pool, 1, ceiling_seconds).await?,
            publish: publish_ceiling(&system, &payload, publishes_in_flight, ceiling_seconds).await?,
        })
    };
    let before = ceilings().await?;

    let mut steps = Vec::new();
    for (index, rate) in rates.iter().enumerate() {
        let step = load.offer(&format!("step{index}"), *rate, seconds).await?;
        println!(
            "offered {rate}/s: {} answered ({:.1}/s), {} notified, {} never, drained {} after the last call",
            step.answered,
            step.achieved,
            step.notified,
            step.never_notified,
            ms(step.drained_after)
        );
        steps.push(step);
    }
    // A backlog left by the last rate would share the machine with the second measurement.
    let backlog: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        .fetch_one(&intake_db)
        .await?;
    let after = ceilings().await?;
    // The second measurement shares the machine with the services if a backlog was left (a
    // rate matching could not drain within the deadline): then only the first one counts.
    let busy_after = backlog > 0 || steps.iter().any(|step| step.never_notified > 0);
    let ceiling = if busy_after {
        before
    } else {
        Ceilings::mean(before, after)
    };
    let outbox_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&intake_db)
        .await?;

    println!();
    println!(
        "SubmitNeed calls (open loop; ratios to {}):",
        if busy_after {
            "the ceilings before the load: the system still worked through a backlog during the second measurement"
        } else {
            "the mean of the ceilings before and after"
        }
    );
    println!();
    println!(
        "| offered/s | answered/s | not issued | errors | p50 | p95 | p99 | max | CPU busy | ÷ INSERT ceiling | ÷ publish-confirm ceiling |"
    );
    println!("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for step in &steps {
        println!(
            "| {} | {:.1} | {} | {} | {} | {} | {} | {} | {:.0} % | {:.3} | {:.3} |",
            step.rate,
            step.achieved,
            step.not_issued,
            step.errors.values().sum::<usize>(),
            step.call.show(|p| p.p50),
            step.call.show(|p| p.p95),
            step.call.show(|p| p.p99),
            step.call.show(|p| p.max),
            100.0 * step.cpu.busy,
            step.achieved / ceiling.insert,
            step.achieved / ceiling.publish,
        );
    }
    println!();
    println!("End to end, from the call's start to the notification's arrival over SubscribeNotifications:");
    println!();
    println!(
        "| offered/s | notified | notified/s | p50 | p95 | p99 | max | not notified | notified/s ÷ one-connection INSERT ceiling |"
    );
    println!("|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for step in &steps {
        println!(
            "| {} | {} | {:.1} | {} | {} | {} | {} | {} | {:.3} |",
            step.rate,
            step.notified,
            step.notified_rate,
            step.end_to_end.show(|p| p.p50),
            step.end_to_end.show(|p| p.p95),
            step.end_to_end.show(|p| p.p99),
            step.end_to_end.show(|p| p.max),
            step.never_notified,
            step.notified_rate / ceiling.insert_serial,
        );
    }
    println!();
    println!(
        "idle system, 3 s: CPU {:.0} % of the machine: this process {:.0} %, PostgreSQL {:.0} %, RabbitMQ {:.0} %",
        100.0 * idle.busy,
        100.0 * idle.this_process,
        100.0 * idle.postgres,
        100.0 * idle.rabbitmq,
    );
    for step in &steps {
        println!(
            "offered {}/s: CPU while issuing {:.0} % of the machine: this process (services and load) {:.0} %, \
             PostgreSQL {:.0} %, RabbitMQ {:.0} %, the rest {:.0} %",
            step.rate,
            100.0 * step.cpu.busy,
            100.0 * step.cpu.this_process,
            100.0 * step.cpu.postgres,
            100.0 * step.cpu.rabbitmq,
            100.0 * (step.cpu.busy - step.cpu.this_process - step.cpu.postgres - step.cpu.rabbitmq).max(0.0),
        );
    }
    for step in &steps {
        println!(
            "offered {}/s for {} s: {} due, {} not issued (bound of {max_in_flight} reached), ticker lag ≤ {}, \
             {} answered, errors {:?}; {} notified, the last {} after the last call",
            step.rate,
            step.seconds,
            step.due,
            step.not_issued,
            ms(step.ticker_lag),
            step.answered,
            step.errors,
            step.notified,
            ms(step.drained_after),
        );
    }
    println!();
    println!(
        "where the time goes: each stage's moment after the call's start, p50 / p99 (database clocks: transaction starts)"
    );
    println!();
    let mut header = "| stage |".to_string();
    let mut rule = "|---|".to_string();
    for step in &steps {
        header.push_str(&format!(" {}/s |", step.rate));
        rule.push_str("--:|");
    }
    println!("{header}");
    println!("{rule}");
    for (index, (name, _)) in steps
        .first()
        .map_or(&[][..], |step| &step.stages[..])
        .iter()
        .enumerate()
    {
        let mut line = format!("| {name} |");
        for step in &steps {
            let stage = step.stages[index].1;
            line.push_str(&format!(
                " {} / {} |",
                stage.show(|p| p.p50),
                stage.show(|p| p.p99)
            ));
        }
        println!("{line}");
    }
    println!();
    println!(
        "ceilings (before / after / used for the ratios, per s): single-row INSERT by {insert_clients} clients over {connections} connections \
         {:.0} / {:.0} / {:.0}; single-row INSERT over 1 connection {:.0} / {:.0} / {:.0}; publish with confirm of \
         {body_bytes}-byte persistent messages to a quorum queue, {publishes_in_flight} outstanding, {:.0} / {:.0} / {:.0}",
        before.insert,
        after.insert,
        ceiling.insert,
        before.insert_serial,
        after.insert_serial,
        ceiling.insert_serial,
        before.publish,
        after.publish,
        ceiling.publish
    );
    println!(
        "each need costs intake one durable commit (need, history, consent, audit entry, outbox row) and one \
         publish with confirm; answered/s ÷ a ceiling is the share of that one operation's rate on this machine \
         that SubmitNeed sustains (below saturation it only restates the offered rate). Downstream, one \
         transaction per event, in order, for one municipality: matching two events a need (need.submitted, \
         need.status_changed), intake one (match.proposed), notifications two; notified/s ÷ the one-connection \
         INSERT ceiling is the share of one-at-a-time commits that chain reaches."
    );
    println!(
        "outbox rows {outbox_rows}, unpublished before the second ceilings {backlog}; streams resubscribed {} times",
        resubscribed.load(Ordering::Relaxed)
    );
    for follower in followers {
        follower.abort();
    }
    reference_pool.close().await;
    serial_pool.close().await;
    load.matching_db.close().await;
    intake_db.close().await;
    system.shutdown().await;
    Ok(())
}
