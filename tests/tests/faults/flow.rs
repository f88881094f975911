//! A stream of needs through the whole system, and the ledger that tells whether each was
//! proposed and notified exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tonic::Code;
use tsunagu_proto::intake::v1 as intake_pb;
use tsunagu_proto::intake::v1::intake_service_client::IntakeServiceClient;
use tsunagu_runtime::ServiceName;
use tsunagu_tests::{KeyedChannel, MUNICIPALITY, Options, TestSystem, consent_to_share, eventually};

/// Settings every fault test's system runs with, and the test's own.
pub fn options(without_matching: bool, extra: &[(&'static str, &str)]) -> Options {
    // The callers are one integration key; the tests are about faults, not about its limit.
    let mut env = vec![("TSUNAGU_RATE_LIMIT_PER_SECOND", "0".to_string())];
    env.extend(extra.iter().map(|(name, value)| (*name, value.to_string())));
    Options {
        env,
        without: if without_matching {
            vec![ServiceName::Matching]
        } else {
            Vec::new()
        },
        ..Options::default()
    }
}

/// One partition, rebalanced every 200 ms, and no matching worker in the test's process: the
/// test starts its own worker processes, one of which holds all the work.
pub fn one_partition_with_worker_processes() -> Options {
    options(
        true,
        &[
            ("TSUNAGU_MATCHING_PARTITIONS", "1"),
            ("TSUNAGU_MATCHING_REBALANCE_MILLIS", "200"),
        ],
    )
}

/// What the callers saw.
pub struct Submitted {
    pub need_ids: Vec<String>,
    /// When each need was accepted.
    pub accepted_at: Vec<Instant>,
    /// Calls that failed (the service or its database away) and were made again.
    pub retried_calls: usize,
    /// The first refusal, to tell what went wrong.
    pub first_refusal: Option<String>,
}

/// `count` needs of ゴミ出し in `area_id` (request ids `{prefix}-{n}`) submitted by
/// `callers` concurrent callers, in the background. A call that fails for any reason but bad
/// input is made again with the same request id after 100 ms — as an integrating system
/// would — and intake answers a repeated request with the need it accepted first.
pub struct Stream {
    count: usize,
    accepted: Arc<AtomicUsize>,
    callers: JoinHandle<Submitted>,
}

impl Stream {
    pub fn start(system: &TestSystem, area_id: &str, prefix: &str, count: usize, callers: usize) -> Stream {
        let accepted = Arc::new(AtomicUsize::new(0));
        let callers = tokio::spawn(submit_needs(
            system.intake(),
            area_id.to_string(),
            prefix.to_string(),
            count,
            callers,
            accepted.clone(),
        ));
        Stream {
            count,
            accepted,
            callers,
        }
    }

    /// Waits until `at_least` needs were accepted: the middle of the stream, to act in.
    pub async fn wait_for_accepted(&self, at_least: usize) {
        eventually("the callers to get so far", Duration::from_secs(180), || async {
            (self.accepted.load(Ordering::Relaxed) >= at_least).then_some(())
        })
        .await;
    }

    /// Waits for the callers; every need was accepted.
    pub async fn finish(self) -> Submitted {
        let submitted = self.callers.await.expect("a caller panicked");
        assert_eq!(submitted.need_ids.len(), self.count);
        submitted
    }
}

async fn submit_needs(
    intake: IntakeServiceClient<KeyedChannel>,
    area_id: String,
    prefix: String,
    count: usize,
    callers: usize,
    accepted: Arc<AtomicUsize>,
) -> Submitted {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let (mut intake, next, accepted) = (intake.clone(), next.clone(), accepted.clone());
        let (area_id, prefix) = (area_id.clone(), prefix.clone());
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let mut retried = 0;
            let mut first_refusal = None;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    return (mine, retried, first_refusal);
                }
                let request = intake_pb::SubmitNeedRequest {
                    request_id: format!("{prefix}-{n}"),
                    municipality_code: MUNICIPALITY.into(),
                    area_id: area_id.clone(),
                    category: "ゴミ出し".into(),
                    urgency: intake_pb::Urgency::Routine.into(),
                    consent: Some(consent_to_share()),
                    ..Default::default()
                };
                let deadline = Instant::now() + Duration::from_secs(180);
                let need = loop {
                    match intake.submit_need(request.clone()).await {
                        Ok(response) => break response.into_inner().need.expect("need in response"),
                        Err(status) if status.code() == Code::InvalidArgument => {
                            panic!("the test's need is refused: {status:?}")
                        }
                        Err(status) => {
                            assert!(
                                Instant::now() < deadline,
                                "{} still refused after 180 s: {status:?}",
                                request.request_id
                            );
                            retried += 1;
                            first_refusal
                                .get_or_insert_with(|| format!("{:?}: {}", status.code(), status.message()));
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                };
                accepted.fetch_add(1, Ordering::Relaxed);
                mine.push((need.id, Instant::now()));
            }
        }));
    }
    let mut submitted = Submitted {
        need_ids: Vec::with_capacity(count),
        accepted_at: Vec::with_capacity(count),
        retried_calls: 0,
        first_refusal: None,
    };
    for task in tasks {
        let (mine, retried, refusal) = task.await.expect("a caller panicked");
        submitted.first_refusal = submitted.first_refusal.or(refusal);
        for (id, at) in mine {
            submitted.need_ids.push(id);
            submitted.accepted_at.push(at);
        }
        submitted.retried_calls += retried;
    }
    submitted
}

/// What matching and notifications have done about the needs, counted in their databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ledger {
    pub proposals: i64,
    pub needs_proposed: i64,
    /// `match.proposed` events matching wrote to its outbox.
    pub proposed_events: i64,
    /// `need.unmatched` events: none when capacity suffices.
    pub unmatched_events: i64,
    /// The provider's in-app notifications of a proposal.
    pub notifications: i64,
    pub needs_notified: i64,
}

impl Ledger {
    /// Every one of `needs` proposed once and its provider notified once, nothing more.
    pub fn exactly_once(needs: usize) -> Ledger {
        let needs = needs as i64;
        Ledger {
            proposals: needs,
            needs_proposed: needs,
            proposed_events: needs,
            unmatched_events: 0,
            notifications: needs,
            needs_notified: needs,
        }
    }
}

/// The services' databases, where the tests count.
pub struct Books {
    pub intake: sqlx::PgPool,
    pub matching: sqlx::PgPool,
    pub notifications: sqlx::PgPool,
}

impl Books {
    pub async fn open(system: &TestSystem) -> Books {
        Books {
            intake: system.database(ServiceName::Intake).await,
            matching: system.database(ServiceName::Matching).await,
            notifications: system.database(ServiceName::Notifications).await,
        }
    }

    /// `None` while a database is away (the tests poll through a restart).
    pub async fn ledger(&self) -> Option<Ledger> {
        let (proposals, needs_proposed): (i64, i64) =
            sqlx::query_as("SELECT count(*), count(DISTINCT need_id) FROM proposal")
                .fetch_one(&self.matching)
                .await
                .ok()?;
        let (proposed_events, unmatched_events): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE event_type = 'match.proposed'),
                    count(*) FILTER (WHERE event_type = 'need.unmatched')
               FROM outbox",
        )
        .fetch_one(&self.matching)
        .await
        .ok()?;
        let (notifications, needs_notified): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(DISTINCT need_id) FROM notification
              WHERE event_type = 'match.proposed' AND recipient_kind = 'organization'",
        )
        .fetch_one(&self.notifications)
        .await
        .ok()?;
        Some(Ledger {
            proposals,
            needs_proposed,
            proposed_events,
            unmatched_events,
            notifications,
            needs_notified,
        })
    }

    /// Polls the ledger (every 50 ms, at most `timeout`) until `done` holds; returns when.
    pub async fn wait_until(&self, what: &str, timeout: Duration, done: impl Fn(&Ledger) -> bool) -> Instant {
        eventually(what, timeout, || async {
            let ledger = self.ledger().await?;
            done(&ledger).then(Instant::now)
        })
        .await
    }

    /// Waits until the provider was notified of all `needs` (returns when) and the outboxes
    /// of intake and matching have nothing left on its way, then checks that each need was
    /// proposed and notified exactly once.
    pub async fn expect_exactly_once(&self, needs: usize, timeout: Duration) -> Instant {
        let notified_at = self
            .wait_until("every need to be notified", timeout, |ledger| {
                ledger.needs_notified >= needs as i64
            })
            .await;
        eventually("the outboxes to drain", Duration::from_secs(180), || async {
            let mut pending = 0i64;
            for pool in [&self.intake, &self.matching] {
                pending +=
                    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                        .fetch_one(pool)
                        .await
                        .ok()?;
            }
            (pending == 0).then_some(())
        })
        .await;
        assert_eq!(
            self.ledger().await.expect("databases up"),
            Ledger::exactly_once(needs)
        );
        notified_at
    }

    pub async fn close(self) {
        for pool in [self.intake, self.matching, self.notifications] {
            pool.close().await;
        }
    }
}

/// The figures a test prints for `docs/benchmarks.md` (shown with `--nocapture`).
pub fn report(scenario: &str, figures: &[(&str, String)]) {
    let figures: Vec<String> = figures
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    println!("fault figures [{scenario}] {}", figures.join(" "));
}

pub fn seconds(duration: Duration) -> String {
    format!("{:.2}s", duration.as_secs_f64())
}
