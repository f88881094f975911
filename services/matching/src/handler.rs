//! Routes events to the read model and the rule. Runs inside the inbox transaction.

use std::sync::Arc;

use sqlx::PgConnection;
use tokio::sync::Notify;
use tsunagu_runtime::amqp::Envelope;
use tsunagu_runtime::consumer::{EventHandler, HandlerError};
use tsunagu_runtime::events::{
    self, AreaCreated, MatchAnswered, NeedSubmitted, NeedWithdrawn, ResourceChanged,
};
use tsunagu_runtime::outbox;
use uuid::Uuid;

use crate::placement::{self, Decision};
use crate::proposals::{self, NeedRef, PROPOSAL_COLUMNS, ProposalRow};
use crate::read_model;

pub struct MatchingHandler {
    pub outbox_wake: Arc<Notify>,
}

impl EventHandler for MatchingHandler {
    async fn handle(&self, tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
        match event.event_type.as_str() {
            // Events from the registry and from intake travel through different relays, so a
            // need may arrive before the area or resource that serves it. Each new area or
            // resource therefore gives the unmatched needs it touches another chance.
            events::AREA_CREATED | events::AREA_UPDATED => {
                let area: AreaCreated = decode(event)?;
                read_model::apply_area(tx, &area).await?;
                rematch(tx, UnmatchedNeeds::InAreaSubtree(area.area_id)).await?;
            }
            events::RESOURCE_CREATED | events::RESOURCE_UPDATED | events::RESOURCE_DELETED => {
                let resource: ResourceChanged = decode(event)?;
                let applied = read_model::apply_resource(tx, &resource).await?;
                if applied && resource.accepting {
                    rematch(tx, UnmatchedNeeds::OfCategory(resource.category)).await?;
                }
            }
            events::NEED_SUBMITTED | events::NEED_UPDATED => apply_need(tx, &decode(event)?).await?,
            events::NEED_WITHDRAWN => withdraw_need(tx, &decode(event)?).await?,
            events::AREA_ISSUE_RECORDED => read_model::apply_area_issue(tx, &decode(event)?).await?,
            // Organisations matter to matching once eligibility and load are modelled.
            events::ORGANIZATION_CREATED | events::ORGANIZATION_UPDATED | events::ORGANIZATION_DELETED => {}
            other => tracing::debug!(event_type = other, "event not used by matching"),
        }
        Ok(())
    }

    fn after_commit(&self) {
        self.outbox_wake.notify_one();
    }
}

fn decode<T: serde::de::DeserializeOwned>(event: &Envelope) -> Result<T, HandlerError> {
    event.decode().map_err(|error| {
        HandlerError::Permanent(anyhow::anyhow!(
            "{} payload does not match its contract: {error}",
            event.event_type
        ))
    })
}

/// Applies a need's state from intake (`need.submitted` or `need.updated`), unless an
/// equal or newer version was applied already. A need intake may not share yet waits for its
/// consent; one that may be shared and holds no proposal is matched.
#[tracing::instrument(name = "apply need", skip_all, fields(tsunagu.need_id = %need.need_id, tsunagu.municipality_code = need.municipality_code))]
async fn apply_need(tx: &mut PgConnection, need: &NeedSubmitted) -> Result<(), HandlerError> {
    let held: Option<(String, i64)> =
        sqlx::query_as("SELECT status, version FROM need WHERE id = $1 FOR UPDATE")
            .bind(need.need_id)
            .fetch_optional(&mut *tx)
            .await?;
    // Version 0: events written before intake sent versions; applied only when new.
    let stale = held
        .as_ref()
        .is_some_and(|(_, version)| need.version == 0 || *version >= need.version);
    if stale {
        tracing::debug!(need_id = %need.need_id, "older need state ignored");
        return Ok(());
    }
    let waiting = if need.shared {
        "unmatched"
    } else {
        "awaiting_consent"
    };
    sqlx::query(
        "INSERT INTO need (id, municipality_code, area_id, category, urgency, status, version, resident_id, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (id) DO UPDATE SET area_id = $3, category = $4, urgency = $5, version = $7, resident_id = $8,
             details = $9,
             status = CASE WHEN need.status IN ('proposed', 'withdrawn') THEN need.status ELSE $6 END",
    )
    .bind(need.need_id)
    .bind(&need.municipality_code)
    .bind(need.area_id)
    .bind(&need.category)
    .bind(&need.urgency)
    .bind(waiting)
    .bind(need.version)
    .bind(need.resident_id)
    .bind(need.details.as_ref().map(sqlx::types::Json))
    .execute(&mut *tx)
    .await?;
    let status = held.map(|(status, _)| status);
    // A proposal stands until the provider answers (issue 5 re-matches edited needs); a
    // withdrawn need comes back only through a new consent, which intake sends as shared.
    if !need.shared || status.as_deref() == Some("proposed") {
        return Ok(());
    }
    let reference = NeedRef {
        id: need.need_id,
        municipality_code: need.municipality_code.clone(),
        area_id: need.area_id,
        category: need.category.clone(),
        urgency: need.urgency.clone(),
    };
    proposals::match_need(tx, &reference).await?;
    Ok(())
}

/// The need may no longer be matched or shared: its open proposal is withdrawn and the
/// capacity it held given back.
#[tracing::instrument(name = "withdraw need", skip_all, fields(tsunagu.need_id = %withdrawn.need_id, tsunagu.municipality_code = withdrawn.municipality_code))]
async fn withdraw_need(tx: &mut PgConnection, withdrawn: &NeedWithdrawn) -> Result<(), HandlerError> {
    let updated = sqlx::query(
        "UPDATE need SET status = 'withdrawn', version = $2, unmatched_reason = NULL
         WHERE id = $1 AND version < $2",
    )
    .bind(withdrawn.need_id)
    .bind(withdrawn.version)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(());
    }
    let released: Option<ProposalRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE proposal SET status = 'withdrawn', withdrawn_at = now(), responded_at = now(),
                response_reason = 'ニーズの取り下げ / the need was withdrawn'
         WHERE need_id = $1 AND status IN ('awaiting_approval', 'proposed', 'accepted')
         RETURNING {PROPOSAL_COLUMNS}"
    )))
    .bind(withdrawn.need_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(proposal) = &released {
        sqlx::query("UPDATE resource SET committed = committed - 1 WHERE id = $1 AND committed > 0")
            .bind(proposal.resource_id)
            .execute(&mut *tx)
            .await?;
        // A provider that was asked (or had accepted) must hear that it is off.
        if proposal.sent_at.is_some() {
            let event = MatchAnswered {
                proposal_id: proposal.id,
                need_id: proposal.need_id,
                municipality_code: proposal.municipality_code.clone(),
                resource_id: proposal.resource_id,
                organization_id: proposal.organization_id,
                category: proposal.category.clone(),
            };
            outbox::enqueue(tx, events::MATCH_WITHDRAWN, &proposal.municipality_code, &event).await?;
        }
    }
    tracing::info!(need_id = %withdrawn.need_id, reason = withdrawn.reason, released = released.is_some(), "need withdrawn");
    Ok(())
}

enum UnmatchedNeeds {
    InAreaSubtree(Uuid),
    OfCategory(String),
}

/// Tries again to match the unmatched needs a registry change may serve, each municipality's
/// together at the optimum over the places left. Needs that stay unmatched keep their (possibly
/// new) reason but are not reported again: the coordinators heard of them already.
async fn rematch(tx: &mut PgConnection, which: UnmatchedNeeds) -> Result<(), HandlerError> {
    let (area_id, category) = match which {
        UnmatchedNeeds::InAreaSubtree(area_id) => (Some(area_id), None),
        UnmatchedNeeds::OfCategory(category) => (None, Some(category)),
    };
    // An area's arrival can complete the path from a need's area up to a resource's coverage,
    // so the needs of its whole subtree get another chance.
    let needs: Vec<NeedRef> = sqlx::query_as(
        "WITH RECURSIVE subtree (id) AS (
             SELECT $1::uuid
             UNION ALL
             SELECT a.id FROM area a JOIN subtree s ON a.parent_id = s.id
         )
         SELECT id, municipality_code, area_id, category, urgency FROM need
         WHERE status = 'unmatched'
           AND ($1::uuid IS NULL OR area_id IN (SELECT id FROM subtree))
           AND ($2::text IS NULL OR category = $2)
         ORDER BY municipality_code, id
         FOR UPDATE",
    )
    .bind(area_id)
    .bind(category)
    .fetch_all(&mut *tx)
    .await?;
    for municipality in needs.chunk_by(|a, b| a.municipality_code == b.municipality_code) {
        let mut pending = Vec::with_capacity(municipality.len());
        for need in municipality {
            pending.push(proposals::pending(tx, need).await?);
        }
        let decisions = placement::place(tx, &municipality[0].municipality_code, &pending).await?;
        for (need, decision) in municipality.iter().zip(decisions) {
            match decision {
                Decision::Proposed(candidate) => {
                    proposals::propose(tx, need, &candidate).await?;
                }
                Decision::Unmatched { reason, kind } => {
                    proposals::record_unmatched(tx, need, &reason, kind).await?;
                }
            }
        }
    }
    Ok(())
}
