//! Sustained need submission (issue 4): clients call `SubmitNeed` on the real intake service
//! as fast as it answers, each need a durable commit of the need, its history row, its
//! consent and its `need.submitted` outbox row, with the outbox relay publishing to RabbitMQ
//! (publisher confirms, quorum queue) — first with intake alone, then with the whole system
//! running (matching proposing every need, notifications telling the provider), all on this
//! machine. Set beside it, from the same run and the same PostgreSQL: plain single-row
//! `INSERT` transactions by as many clients over as many connections — the ceiling of durable
//! commits here — before and after the whole-system phase.
//!
//! ```sh
//! cargo bench -p tsunagu-tests --bench intake_submit
//! ```
//!
//! `TSUNAGU_BENCH_SECONDS` (default 20) is the length of each measured phase,
//! `TSUNAGU_BENCH_CLIENTS` (default 16) the number of concurrent clients; both sides use
//! `TSUNAGU_BENCH_CONNECTIONS` (default 10, the production default) database connections.
//! The figures of record are in `docs/benchmarks/intake-submit.md`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tsunagu_runtime::ServiceName;
use tsunagu_tests::bench::{need_request, setting};
use tsunagu_tests::{Fixture, MUNICIPALITY, Options, TestSystem};

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
        let mut sorted = self.latencies.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[at]
    }
}

/// Runs `clients` loops of `operation` for `seconds`, timing each call.
async fn drive<F, Fut>(clients: usize, seconds: u64, operation: F) -> anyhow::Result<Phase>
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
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
            let mut sequence = 0;
            while !stop.load(Ordering::Relaxed) {
                let call = Instant::now();
                operation(client, sequence).await?;
                latencies.push(call.elapsed());
                sequence += 1;
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

async fn reference(pool: &sqlx::PgPool, clients: usize, seconds: u64) -> anyhow::Result<Phase> {
    let pool = pool.clone();
    drive(clients, seconds, move |_, _| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "INSERT INTO bench_single_insert (id, municipality_code, payload) VALUES ($1, $2, $3)",
            )
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

/// Waits until matching holds every need intake has and notifications has recorded one
/// notification per proposal; returns the number of proposals.
async fn settle(system: &TestSystem, intake_db: &sqlx::PgPool) -> anyhow::Result<i64> {
    let matching = system.database(ServiceName::Matching).await;
    let notifications = system.database(ServiceName::Notifications).await;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let needs: i64 = sqlx::query_scalar("SELECT count(*) FROM need")
            .fetch_one(intake_db)
            .await?;
        let held: i64 = sqlx::query_scalar("SELECT count(*) FROM need")
            .fetch_one(&matching)
            .await?;
        let proposals: i64 = sqlx::query_scalar("SELECT count(*) FROM proposal")
            .fetch_one(&matching)
            .await?;
        let notified: i64 = sqlx::query_scalar("SELECT count(*) FROM notification")
            .fetch_one(&notifications)
            .await?;
        if held == needs && notified >= proposals {
            return Ok(proposals);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "matching and notifications did not settle: {held}/{needs} needs, {notified}/{proposals} notified"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

/// What one SubmitNeed phase measured besides the calls themselves.
struct Submissions {
    phase: Phase,
    largest_backlog: i64,
    drained: Duration,
}

/// Warms intake up, then drives SubmitNeed for `seconds` while sampling the outbox backlog,
/// and waits until the relay has published every event.
async fn submissions(
    system: &TestSystem,
    intake_db: &sqlx::PgPool,
    area: &str,
    clients: usize,
    seconds: u64,
    label: &'static str,
) -> anyhow::Result<Submissions> {
    let submit = |prefix: String| {
        let (client, area) = (system.intake(), area.to_string());
        move |client_index: usize, sequence: usize| {
            let (mut intake, area, prefix) = (client.clone(), area.clone(), prefix.clone());
            async move {
                let response = intake
                    .submit_need(need_request(&area, format!("{prefix}-{client_index}-{sequence}")))
                    .await?
                    .into_inner();
                anyhow::ensure!(!response.replayed, "every request id is new");
                Ok(())
            }
        }
    };
    drive(clients, 2, submit(format!("warm-{label}"))).await?;
    let backlog_pool = intake_db.clone();
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut largest = 0i64;
            while sampling.load(Ordering::Relaxed) {
                let backlog: i64 =
                    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                        .fetch_one(&backlog_pool)
                        .await
                        .unwrap_or(0);
                largest = largest.max(backlog);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            largest
        })
    };
    let phase = drive(clients, seconds, submit(format!("bench-{label}"))).await?;
    let stopped = Instant::now();
    // The load is over: how long until the relay has published every event (polled, with a
    // deadline so a stuck relay fails the run instead of hanging it).
    let deadline = stopped + Duration::from_secs(120);
    loop {
        let backlog: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(intake_db)
            .await?;
        if backlog == 0 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the relay did not drain the outbox: {backlog} events left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let drained = stopped.elapsed();
    sampling.store(false, Ordering::Relaxed);
    Ok(Submissions {
        phase,
        largest_backlog: sampler.await?,
        drained,
    })
}

async fn run() -> anyhow::Result<()> {
    let seconds = setting("TSUNAGU_BENCH_SECONDS", 20)?;
    let clients = setting("TSUNAGU_BENCH_CLIENTS", 16)? as usize;
    let connections = setting("TSUNAGU_BENCH_CONNECTIONS", 10)? as u32;
    println!(
        "intake_submit: {clients} clients, {seconds} s per phase, {connections} database connections per side, {} cores, started {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        chrono::Local::now().format("%Y-%m-%d %H:%M:%S %z")
    );

    // 1. Intake alone: matching and notifications are not running (the events wait in
    //    matching's queue), so the figure is intake's own cost, its relay included.
    let alone = TestSystem::start_with(Options {
        database_max_connections: Some(connections),
        without: vec![ServiceName::Matching, ServiceName::Notifications],
        // One key drives the whole load: the per-key rate limit would measure itself.
        env: vec![("TSUNAGU_RATE_LIMIT_PER_SECOND", "0".into())],
        ..Options::default()
    })
    .await;
    let alone_db = alone.database(ServiceName::Intake).await;
    let synchronous_commit: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(&alone_db)
        .await?;
    println!("synchronous_commit = {synchronous_commit} (every commit waits for the WAL flush)");
    // Intake takes any area id (the registry owns areas); no resources are needed.
    let some_area = uuid::Uuid::now_v7().to_string();
    let intake_alone = submissions(&alone, &alone_db, &some_area, clients, seconds, "alone").await?;
    alone_db.close().await;
    alone.shutdown().await;

    // 2. The whole system: matching proposes every need, notifications tells the provider.
    let system = TestSystem::start_with(Options {
        database_max_connections: Some(connections),
        env: vec![("TSUNAGU_RATE_LIMIT_PER_SECOND", "0".into())],
        ..Options::default()
    })
    .await;
    // Resources with room for every need, so matching proposes rather than explains.
    let fixture = Fixture::create(&system, 1_000_000).await;
    let intake_db = system.database(ServiceName::Intake).await;
    // The reference table lives in the same database, beside intake's schema.
    let reference_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(connections)
        .connect(&system.database_url)
        .await?;
    sqlx::query(
        "CREATE TABLE bench_single_insert (id UUID PRIMARY KEY, municipality_code TEXT NOT NULL,
         payload JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&reference_pool)
    .await?;
    reference(&reference_pool, clients, 2).await?;
    let before = reference(&reference_pool, clients, seconds).await?;
    let whole = submissions(
        &system,
        &intake_db,
        &fixture.daily_life_area_id,
        clients,
        seconds,
        "whole",
    )
    .await?;
    // Until matching has taken every need and notifications told every provider: the
    // reference after must not share the machine with that work.
    let settle_started = Instant::now();
    let settled = settle(&system, &intake_db).await?;
    let settled_after = settle_started.elapsed() + whole.drained;
    let after = reference(&reference_pool, clients, seconds).await?;
    let ceiling = (before.rate() + after.rate()) / 2.0;

    println!();
    println!("| phase | operations | per second | p50 | p99 | ratio to the INSERT ceiling |");
    println!("|---|--:|--:|--:|--:|--:|");
    for (name, phase) in [
        ("single-row INSERT, before", &before),
        ("SubmitNeed, intake alone", &intake_alone.phase),
        ("SubmitNeed, whole system running", &whole.phase),
        ("single-row INSERT, after", &after),
    ] {
        println!(
            "| {name} | {} | {:.0} | {} | {} | {:.3} |",
            phase.operations,
            phase.rate(),
            ms(phase.percentile(0.5)),
            ms(phase.percentile(0.99)),
            phase.rate() / ceiling
        );
    }
    println!();
    for (name, run) in [("intake alone", &intake_alone), ("whole system", &whole)] {
        println!(
            "{name}: SubmitNeed sustained {:.0}/s = {:.1} % of the mean INSERT ceiling ({ceiling:.0}/s); outbox backlog peaked at {} and drained {} after the load stopped.",
            run.phase.rate(),
            100.0 * run.phase.rate() / ceiling,
            run.largest_backlog,
            ms(run.drained)
        );
    }
    println!(
        "whole system: matching had proposed every need ({settled} proposals) and notifications had recorded one notification each {:.1} s after the load stopped.",
        settled_after.as_secs_f64()
    );
    reference_pool.close().await;
    system.shutdown().await;
    Ok(())
}
