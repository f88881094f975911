//! The referral loop of a proposal (domain.md §8): made (waiting for a coordinator's approval
//! where the municipality wants one, else sent to the provider with an answer deadline),
//! accepted, rejected with a reason, expired, or withdrawn with its need. Every step that ends
//! a proposal gives its unit of capacity back and, for a rejection or an expiry, matches the
//! need again without the resources that declined it.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use tsunagu_runtime::error::{ServiceError, ServiceResult};
use tsunagu_runtime::events::{self, MatchAnswered, MatchProposed, NeedUnmatched};
use tsunagu_runtime::outbox;
use uuid::Uuid;

use crate::placement::{self, Decision, Pending, Placed};

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    AwaitingApproval,
    Proposed,
    Accepted,
    Rejected,
    Expired,
    Withdrawn,
    Completed,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::AwaitingApproval,
        Status::Proposed,
        Status::Accepted,
        Status::Rejected,
        Status::Expired,
        Status::Withdrawn,
        Status::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::AwaitingApproval => "awaiting_approval",
            Status::Proposed => "proposed",
            Status::Accepted => "accepted",
            Status::Rejected => "rejected",
            Status::Expired => "expired",
            Status::Withdrawn => "withdrawn",
            Status::Completed => "completed",
        }
    }

    pub fn parse(stored: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|status| status.as_str() == stored)
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::AwaitingApproval => "承認待ち",
            Status::Proposed => "提案中",
            Status::Accepted => "受諾",
            Status::Rejected => "辞退",
            Status::Expired => "期限切れ",
            Status::Withdrawn => "取り下げ",
            Status::Completed => "支援完了",
        }
    }
}

/// What may be done with a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Approve,
    Accept,
    Reject,
}

impl Action {
    /// The statuses the action applies to, and the status it leads to.
    fn rule(self) -> (&'static [Status], Status) {
        match self {
            Action::Approve => (&[Status::AwaitingApproval], Status::Proposed),
            Action::Accept => (&[Status::Proposed], Status::Accepted),
            Action::Reject => (&[Status::AwaitingApproval, Status::Proposed], Status::Rejected),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Action::Approve => "承認",
            Action::Accept => "受諾",
            Action::Reject => "辞退",
        }
    }

    /// The English past participle ("cannot be accepted"), spelt out: a suffix glued to the
    /// variant's name once produced "Acceptd".
    fn done(self) -> &'static str {
        match self {
            Action::Approve => "approved",
            Action::Accept => "accepted",
            Action::Reject => "declined",
        }
    }
}

/// The status `action` leads to from `current`, or the refusal naming where the proposal is.
pub fn next(current: Status, action: Action) -> ServiceResult<Status> {
    let (from, to) = action.rule();
    if from.contains(&current) {
        Ok(to)
    } else {
        Err(ServiceError::FailedPrecondition(format!(
            "この提案は「{}」です。{}できません / a proposal that is {} cannot be {}",
            current.label(),
            action.label(),
            current.as_str(),
            action.done()
        )))
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProposalRow {
    pub id: Uuid,
    pub municipality_code: String,
    pub need_id: Uuid,
    pub resource_id: Uuid,
    pub organization_id: Uuid,
    pub category: String,
    pub status: String,
    pub proposed_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub approved_by: Option<String>,
    pub responded_by: Option<String>,
    pub responded_at: Option<DateTime<Utc>>,
    pub response_reason: Option<String>,
    pub cost: i64,
    pub factors: sqlx::types::Json<Vec<FactorRow>>,
}

/// One factor of a proposal's cost, as stored.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FactorRow {
    pub name: String,
    pub cost: i64,
}

pub const PROPOSAL_COLUMNS: &str =
    "id, municipality_code, need_id, resource_id, organization_id, category, status,
     proposed_at, sent_at, expires_at, approved_by, responded_by, responded_at, response_reason, cost, factors";

/// A municipality's settings of the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub require_approval: bool,
    pub proposal_ttl_seconds: i32,
}

pub const DEFAULT_TTL_SECONDS: i32 = 7 * 24 * 3600;

pub async fn settings(conn: &mut PgConnection, municipality_code: &str) -> sqlx::Result<Settings> {
    let row: Option<(bool, i32)> = sqlx::query_as(
        "SELECT require_approval, proposal_ttl_seconds FROM municipality_settings WHERE municipality_code = $1",
    )
    .bind(municipality_code)
    .fetch_optional(conn)
    .await?;
    Ok(row.map_or(
        Settings {
            require_approval: false,
            proposal_ttl_seconds: DEFAULT_TTL_SECONDS,
        },
        |(require_approval, proposal_ttl_seconds)| Settings {
            require_approval,
            proposal_ttl_seconds,
        },
    ))
}

pub async fn save_settings(
    conn: &mut PgConnection,
    municipality_code: &str,
    settings: Settings,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO municipality_settings (municipality_code, require_approval, proposal_ttl_seconds)
         VALUES ($1, $2, $3)
         ON CONFLICT (municipality_code) DO UPDATE SET require_approval = $2, proposal_ttl_seconds = $3,
             updated_at = now()",
    )
    .bind(municipality_code)
    .bind(settings.require_approval)
    .bind(settings.proposal_ttl_seconds)
    .execute(conn)
    .await?;
    Ok(())
}

/// What matching knows of a need, for (re)matching it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NeedRef {
    pub id: Uuid,
    pub municipality_code: String,
    pub area_id: Uuid,
    pub category: String,
    pub urgency: String,
}

/// Records a proposal for `need` with `candidate` (whose place `placement::place` took): sent
/// to the provider at once, or waiting for a coordinator's approval where the municipality
/// wants one, with the cost and factors that chose it. Announced as `match.proposed` or
/// `match.pending_approval`.
pub async fn propose(tx: &mut PgConnection, need: &NeedRef, candidate: &Placed) -> sqlx::Result<Uuid> {
    let settings = settings(tx, &need.municipality_code).await?;
    let status = if settings.require_approval {
        Status::AwaitingApproval
    } else {
        Status::Proposed
    };
    let proposal_id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO proposal (id, municipality_code, need_id, resource_id, organization_id, category, status,
                               sent_at, expires_at, cost, factors)
         VALUES ($1, $2, $3, $4, $5, $6, $7,
                 CASE WHEN $7 = 'proposed' THEN now() END,
                 CASE WHEN $7 = 'proposed' THEN now() + make_interval(secs => $8) END, $9, $10)",
    )
    .bind(proposal_id)
    .bind(&need.municipality_code)
    .bind(need.id)
    .bind(candidate.resource_id)
    .bind(candidate.organization_id)
    .bind(&need.category)
    .bind(status.as_str())
    .bind(f64::from(settings.proposal_ttl_seconds))
    .bind(candidate.cost)
    .bind(sqlx::types::Json(
        candidate
            .factors
            .iter()
            .map(|(name, cost)| FactorRow {
                name: name.clone(),
                cost: *cost,
            })
            .collect::<Vec<_>>(),
    ))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE need SET status = 'proposed', unmatched_reason = NULL, unmatched_kind = NULL WHERE id = $1",
    )
    .bind(need.id)
    .execute(&mut *tx)
    .await?;
    let event = MatchProposed {
        proposal_id,
        need_id: need.id,
        municipality_code: need.municipality_code.clone(),
        resource_id: candidate.resource_id,
        organization_id: candidate.organization_id,
        category: need.category.clone(),
        urgency: need.urgency.clone(),
        area_id: Some(need.area_id),
    };
    let event_type = match status {
        Status::AwaitingApproval => events::MATCH_PENDING_APPROVAL,
        _ => events::MATCH_PROPOSED,
    };
    outbox::enqueue(tx, event_type, &need.municipality_code, &event).await?;
    tracing::info!(need_id = %need.id, %proposal_id, resource_id = %candidate.resource_id, status = status.as_str(), "match proposed");
    Ok(proposal_id)
}

/// What intake told matching of the need, and the resources that declined it before.
pub async fn pending(tx: &mut PgConnection, need: &NeedRef) -> sqlx::Result<Pending> {
    let details: Option<sqlx::types::Json<tsunagu_runtime::events::NeedDetailsPayload>> =
        sqlx::query_scalar("SELECT details FROM need WHERE id = $1")
            .bind(need.id)
            .fetch_optional(&mut *tx)
            .await?
            .flatten();
    let declined: Vec<Uuid> = sqlx::query_scalar(
        "SELECT resource_id FROM proposal WHERE need_id = $1 AND status IN ('rejected', 'expired')",
    )
    .bind(need.id)
    .fetch_all(&mut *tx)
    .await?;
    Ok(Pending {
        need: need.clone(),
        details: details.map(|json| json.0),
        declined,
    })
}

/// Matches `need` (again), leaving out the resources that declined it before; records the
/// proposal, or the need as unmatched with the reason (`need.unmatched`). Returns the
/// proposal's id, if one was made.
pub async fn match_need(tx: &mut PgConnection, need: &NeedRef) -> sqlx::Result<Option<Uuid>> {
    let pending = pending(tx, need).await?;
    let solving = std::time::Instant::now();
    let decision = placement::place(tx, &need.municipality_code, std::slice::from_ref(&pending))
        .await?
        .pop()
        .expect("one decision per need");
    tsunagu_runtime::metrics::observe(
        "tsunagu_matching_place_seconds",
        "Time to decide a need's placement (read model, engine, explanation).",
        &[],
        solving.elapsed().as_secs_f64(),
    );
    let outcome = match &decision {
        Decision::Proposed(_) => "proposed",
        Decision::Unmatched { .. } => "unmatched",
    };
    tsunagu_runtime::metrics::count(
        "tsunagu_matching_decisions_total",
        "Needs matched, by outcome (proposed or unmatched) and municipality.",
        &[
            ("outcome", outcome),
            ("municipality_code", &need.municipality_code),
        ],
        1.0,
    );
    match decision {
        Decision::Proposed(candidate) => propose(tx, need, &candidate).await.map(Some),
        Decision::Unmatched { reason, kind } => {
            record_unmatched(tx, need, &reason, kind).await?;
            announce_unmatched(tx, need, &reason).await?;
            Ok(None)
        }
    }
}

/// Tells the coordinators (`need.unmatched`) that the need found no resource, and why.
pub async fn announce_unmatched(tx: &mut PgConnection, need: &NeedRef, reason: &str) -> sqlx::Result<()> {
    let event = NeedUnmatched {
        need_id: need.id,
        municipality_code: need.municipality_code.clone(),
        area_id: need.area_id,
        category: need.category.clone(),
        reason: reason.to_string(),
        urgency: Some(need.urgency.clone()),
    };
    outbox::enqueue(tx, events::NEED_UNMATCHED, &need.municipality_code, &event).await?;
    tracing::info!(need_id = %need.id, reason, "need unmatched");
    Ok(())
}

/// Keeps why the need is unmatched, for the gap map and for coordinators.
pub async fn record_unmatched(
    tx: &mut PgConnection,
    need: &NeedRef,
    reason: &str,
    kind: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE need SET status = 'unmatched', unmatched_reason = $2, unmatched_kind = $3 WHERE id = $1",
    )
    .bind(need.id)
    .bind(reason)
    .bind(kind)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn lock(tx: &mut PgConnection, id: Uuid) -> ServiceResult<ProposalRow> {
    sqlx::query_as::<_, ProposalRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {PROPOSAL_COLUMNS} FROM proposal WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ServiceError::NotFound(format!("提案 {id}")))
}

pub async fn fetch(conn: &mut PgConnection, id: Uuid) -> ServiceResult<ProposalRow> {
    sqlx::query_as::<_, ProposalRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {PROPOSAL_COLUMNS} FROM proposal WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| ServiceError::NotFound(format!("提案 {id}")))
}

fn answered(row: &ProposalRow) -> MatchAnswered {
    MatchAnswered {
        proposal_id: row.id,
        need_id: row.need_id,
        municipality_code: row.municipality_code.clone(),
        resource_id: row.resource_id,
        organization_id: row.organization_id,
        category: row.category.clone(),
        withdrawal: None,
    }
}

/// Why matching takes an open proposal back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawal {
    /// Intake withdrew the need (cancelled, failed, entered in error, consent withdrawn).
    NeedWithdrawn,
    /// The need was edited and the resource no longer fits it.
    NeedChanged,
    /// The need was put on hold.
    NeedOnHold,
    /// The resource stopped taking needs, shrank, or no longer fits the need.
    ResourceChanged,
}

impl Withdrawal {
    /// The code `match.withdrawn` carries.
    pub fn code(self) -> &'static str {
        match self {
            Withdrawal::NeedWithdrawn => "need_withdrawn",
            Withdrawal::NeedChanged => "need_changed",
            Withdrawal::NeedOnHold => "need_on_hold",
            Withdrawal::ResourceChanged => "resource_changed",
        }
    }

    /// Kept as the proposal's response reason, for coordinators.
    fn reason(self) -> &'static str {
        match self {
            Withdrawal::NeedWithdrawn => "ニーズの取り下げ / the need was withdrawn",
            Withdrawal::NeedChanged => "ニーズの内容が変わり条件に合わない / the edited need no longer fits",
            Withdrawal::NeedOnHold => "ニーズの保留 / the need was put on hold",
            Withdrawal::ResourceChanged => {
                "地域資源の変更（受け入れ停止・枠の縮小・条件） / the resource changed"
            }
        }
    }
}

/// Takes an open proposal back and gives its place back; a provider that was told of it hears
/// that it is off (`match.withdrawn`, with the cause). The need's own status is the caller's.
pub async fn withdraw(tx: &mut PgConnection, proposal: &ProposalRow, cause: Withdrawal) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE proposal SET status = 'withdrawn', withdrawn_at = now(), responded_at = now(), response_reason = $2
         WHERE id = $1",
    )
    .bind(proposal.id)
    .bind(cause.reason())
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE resource SET committed = committed - 1 WHERE id = $1 AND committed > 0")
        .bind(proposal.resource_id)
        .execute(&mut *tx)
        .await?;
    if proposal.sent_at.is_some() {
        let event = MatchAnswered {
            withdrawal: Some(cause.code().to_string()),
            ..answered(proposal)
        };
        outbox::enqueue(tx, events::MATCH_WITHDRAWN, &proposal.municipality_code, &event).await?;
    }
    tracing::info!(proposal_id = %proposal.id, need_id = %proposal.need_id, cause = cause.code(), "proposal withdrawn");
    Ok(())
}

/// The need was completed: an accepted proposal is completed, an unanswered one withdrawn;
/// either way its place is free again.
pub async fn complete(tx: &mut PgConnection, proposal: &ProposalRow) -> sqlx::Result<()> {
    if status_of(proposal) != Status::Accepted {
        return withdraw(tx, proposal, Withdrawal::NeedWithdrawn).await;
    }
    sqlx::query("UPDATE proposal SET status = 'completed' WHERE id = $1")
        .bind(proposal.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE resource SET committed = committed - 1 WHERE id = $1 AND committed > 0")
        .bind(proposal.resource_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The open proposals matching may still take back (not yet accepted), locked, newest first.
pub async fn unanswered_of_resource(
    tx: &mut PgConnection,
    resource_id: Uuid,
) -> sqlx::Result<Vec<ProposalRow>> {
    sqlx::query_as::<_, ProposalRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {PROPOSAL_COLUMNS} FROM proposal
         WHERE resource_id = $1 AND status IN ('awaiting_approval', 'proposed')
         ORDER BY proposed_at DESC, id DESC FOR UPDATE"
    )))
    .bind(resource_id)
    .fetch_all(&mut *tx)
    .await
}

/// The need's open proposal, whatever its step, locked.
pub async fn open_of_need(tx: &mut PgConnection, need_id: Uuid) -> sqlx::Result<Option<ProposalRow>> {
    sqlx::query_as::<_, ProposalRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {PROPOSAL_COLUMNS} FROM proposal
         WHERE need_id = $1 AND status IN ('awaiting_approval', 'proposed', 'accepted') FOR UPDATE"
    )))
    .bind(need_id)
    .fetch_optional(&mut *tx)
    .await
}

/// A coordinator approves: the proposal goes to the provider, with its answer deadline.
pub async fn approve(tx: &mut PgConnection, id: Uuid, approved_by: &str) -> ServiceResult<ProposalRow> {
    let current = lock(tx, id).await?;
    next(status_of(&current), Action::Approve)?;
    let settings = settings(tx, &current.municipality_code).await?;
    let row = sqlx::query_as::<_, ProposalRow>(sqlx::AssertSqlSafe(format!(
        "UPDATE proposal SET status = 'proposed', approved_by = $2, approved_at = now(), sent_at = now(),
                expires_at = now() + make_interval(secs => $3)
         WHERE id = $1 RETURNING {PROPOSAL_COLUMNS}"
    )))
    .bind(id)
    .bind(approved_by)
    .bind(f64::from(settings.proposal_ttl_seconds))
    .fetch_one(&mut *tx)
    .await?;
    let (urgency, area_id): (String, Uuid) =
        sqlx::query_as("SELECT urgency, area_id FROM need WHERE id = $1")
            .bind(row.need_id)
            .fetch_one(&mut *tx)
            .await?;
    let event = MatchProposed {
        proposal_id: row.id,
        need_id: row.need_id,
        municipality_code: row.municipality_code.clone(),
        resource_id: row.resource_id,
        organization_id: row.organization_id,
        category: row.category.clone(),
        urgency,
        area_id: Some(area_id),
    };
    outbox::enqueue(tx, events::MATCH_PROPOSED, &row.municipality_code, &event).await?;
    Ok(row)
}

/// The provider accepts: the place stays taken.
pub async fn accept(tx: &mut PgConnection, id: Uuid, responded_by: &str) -> ServiceResult<ProposalRow> {
    let current = lock(tx, id).await?;
    next(status_of(&current), Action::Accept)?;
    let row = sqlx::query_as::<_, ProposalRow>(sqlx::AssertSqlSafe(format!(
        "UPDATE proposal SET status = 'accepted', responded_by = $2, responded_at = now()
         WHERE id = $1 RETURNING {PROPOSAL_COLUMNS}"
    )))
    .bind(id)
    .bind(responded_by)
    .fetch_one(&mut *tx)
    .await?;
    outbox::enqueue(
        tx,
        events::MATCH_ACCEPTED,
        &row.municipality_code,
        &answered(&row),
    )
    .await?;
    Ok(row)
}

/// The provider (or a coordinator) rejects: the place is released and the need matched again
/// without this resource. Returns the rejected proposal and the next one, if any.
pub async fn reject(
    tx: &mut PgConnection,
    id: Uuid,
    reason: &str,
    responded_by: &str,
) -> ServiceResult<(ProposalRow, Option<ProposalRow>)> {
    let current = lock(tx, id).await?;
    next(status_of(&current), Action::Reject)?;
    let row = end(tx, id, Status::Rejected, reason, Some(responded_by)).await?;
    outbox::enqueue(
        tx,
        events::MATCH_REJECTED,
        &row.municipality_code,
        &answered(&row),
    )
    .await?;
    let next = rematch(tx, row.need_id).await?;
    Ok((row, next))
}

/// Ends an open proposal with `status` and gives its place back.
async fn end(
    tx: &mut PgConnection,
    id: Uuid,
    status: Status,
    reason: &str,
    responded_by: Option<&str>,
) -> ServiceResult<ProposalRow> {
    let row = sqlx::query_as::<_, ProposalRow>(sqlx::AssertSqlSafe(format!(
        "UPDATE proposal SET status = $2, response_reason = $3, responded_by = $4, responded_at = now()
         WHERE id = $1 RETURNING {PROPOSAL_COLUMNS}"
    )))
    .bind(id)
    .bind(status.as_str())
    .bind(reason)
    .bind(responded_by)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("UPDATE resource SET committed = committed - 1 WHERE id = $1 AND committed > 0")
        .bind(row.resource_id)
        .execute(&mut *tx)
        .await?;
    Ok(row)
}

async fn rematch(tx: &mut PgConnection, need_id: Uuid) -> ServiceResult<Option<ProposalRow>> {
    let need = sqlx::query_as::<_, NeedRef>(
        "SELECT id, municipality_code, area_id, category, urgency FROM need
         WHERE id = $1 AND status NOT IN ('withdrawn', 'closed') AND NOT on_hold",
    )
    .bind(need_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(need) = need else { return Ok(None) };
    match match_need(tx, &need).await? {
        Some(next) => Ok(Some(fetch(tx, next).await?)),
        None => Ok(None),
    }
}

/// Expires up to `batch` proposals whose answer deadline passed (`SKIP LOCKED`: replicas
/// share the work), each with `match.expired` and a new match for its need.
pub async fn expire_due(tx: &mut PgConnection, batch: i64) -> ServiceResult<usize> {
    let due: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM proposal WHERE status = 'proposed' AND expires_at < now()
         ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(batch)
    .fetch_all(&mut *tx)
    .await?;
    for &id in &due {
        let row = end(
            tx,
            id,
            Status::Expired,
            "期限までに回答がありませんでした / no answer before the deadline",
            None,
        )
        .await?;
        outbox::enqueue(tx, events::MATCH_EXPIRED, &row.municipality_code, &answered(&row)).await?;
        rematch(tx, row.need_id).await?;
    }
    Ok(due.len())
}

pub fn status_of(row: &ProposalRow) -> Status {
    Status::parse(&row.status).expect("the CHECK constraint admits known statuses only")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_allows_only_its_steps() {
        use Status::*;
        assert_eq!(next(AwaitingApproval, Action::Approve).unwrap(), Proposed);
        assert_eq!(next(Proposed, Action::Accept).unwrap(), Accepted);
        assert_eq!(next(Proposed, Action::Reject).unwrap(), Rejected);
        assert_eq!(next(AwaitingApproval, Action::Reject).unwrap(), Rejected);
        for (status, action) in [
            (AwaitingApproval, Action::Accept),
            (Proposed, Action::Approve),
            (Accepted, Action::Reject),
            (Rejected, Action::Accept),
            (Expired, Action::Accept),
            (Withdrawn, Action::Approve),
        ] {
            let Err(ServiceError::FailedPrecondition(message)) = next(status, action) else {
                panic!("{status:?} {action:?}")
            };
            assert!(message.contains(status.label()), "{message}");
        }
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
    }
}
