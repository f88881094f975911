//! A stream of needs through the whole system, and the ledger that tells whether each was
//! proposed and notified exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tonic::Code;
use tsunagu_proto::intake::v1 as intake_pb;
use tsunagu_proto::intake::v1::intake_service_client::IntakeServiceClient;
use tsunagu_tests::{KeyedChannel, MUNICIPALITY, consent_to_share};

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

/// Submits `count` needs of ゴミ出し in `area_id` (request ids `{prefix}-{n}`) through
/// `callers` concurrent callers. A call that fails for any reason but bad input is made again
/// with the same request id after 100 ms — as an integrating system would — and intake answers
/// a repeated request with the need it accepted first. `accepted` counts the needs accepted so
/// far, for the test to act in the middle of the stream.
pub async fn submit_needs(
    intake: IntakeServiceClient<KeyedChannel>,
    area_id: &str,
    prefix: &str,
    count: usize,
    callers: usize,
    accepted: Arc<AtomicUsize>,
) -> Submitted {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let (mut intake, next, accepted) = (intake.clone(), next.clone(), accepted.clone());
        let (area_id, prefix) = (area_id.to_string(), prefix.to_string());
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

/// Waits until `accepted` reaches `at_least`.
pub async fn wait_for_accepted(accepted: &AtomicUsize, at_least: usize) {
    tsunagu_tests::eventually("the callers to get so far", Duration::from_secs(180), || async {
        (accepted.load(Ordering::Relaxed) >= at_least).then_some(())
    })
    .await;
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
    /// `None` while a database is away (the test polls through a restart).
    pub async fn read(matching: &sqlx::PgPool, notifications: &sqlx::PgPool) -> Option<Ledger> {
        let (proposals, needs_proposed): (i64, i64) =
            sqlx::query_as("SELECT count(*), count(DISTINCT need_id) FROM proposal")
                .fetch_one(matching)
                .await
                .ok()?;
        let (proposed_events, unmatched_events): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE event_type = 'match.proposed'),
                    count(*) FILTER (WHERE event_type = 'need.unmatched')
               FROM outbox",
        )
        .fetch_one(matching)
        .await
        .ok()?;
        let (notifications, needs_notified): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(DISTINCT need_id) FROM notification
              WHERE event_type = 'match.proposed' AND recipient_kind = 'organization'",
        )
        .fetch_one(notifications)
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

/// Polls the ledger until the provider has been notified of `needs` needs (at most
/// `timeout`), then lets the system settle for one more read and returns it.
pub async fn wait_until_notified(
    matching: &sqlx::PgPool,
    notifications: &sqlx::PgPool,
    needs: usize,
    timeout: Duration,
) -> Ledger {
    tsunagu_tests::eventually("every need to be notified", timeout, || async {
        let ledger = Ledger::read(matching, notifications).await?;
        (ledger.needs_notified >= needs as i64).then_some(ledger)
    })
    .await
}

/// Polls until the provider's notifications pass `count`: when the flow runs again.
pub async fn wait_for_notifications_beyond(
    matching: &sqlx::PgPool,
    notifications: &sqlx::PgPool,
    count: i64,
) -> Instant {
    tsunagu_tests::eventually("the flow to resume", Duration::from_secs(180), || async {
        let ledger = Ledger::read(matching, notifications).await?;
        (ledger.notifications > count).then(Instant::now)
    })
    .await
}

/// The figure a test prints for `docs/benchmarks.md` (shown with `--nocapture`).
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

/// Waits until intake's and matching's outboxes have published everything: after that no
/// event about the needs is still on its way from them.
pub async fn wait_for_outboxes_drained(intake: &sqlx::PgPool, matching: &sqlx::PgPool) {
    tsunagu_tests::eventually("the outboxes to drain", Duration::from_secs(180), || async {
        let mut pending = 0i64;
        for pool in [intake, matching] {
            pending += sqlx::query_scalar::<_, i64>("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                .fetch_one(pool)
                .await
                .ok()?;
        }
        (pending == 0).then_some(())
    })
    .await;
}

/// A system whose callers no rate limit slows: the callers are one integration key, and the
/// tests are about faults, not about its limit.
pub fn unlimited_callers() -> tsunagu_tests::Options {
    tsunagu_tests::Options {
        env: vec![("TSUNAGU_RATE_LIMIT_PER_SECOND", "0".into())],
        ..Default::default()
    }
}
