//! Routes events to the read model and the rule. Runs inside the inbox transaction.

use std::sync::Arc;

use sqlx::PgConnection;
use tokio::sync::Notify;
use tsunagu_runtime::amqp::Envelope;
use tsunagu_runtime::consumer::{EventHandler, HandlerError};
use tsunagu_runtime::events::{
    self, AreaCreated, MatchProposed, NeedSubmitted, NeedUnmatched, ResourceChanged,
};
use tsunagu_runtime::outbox;
use uuid::Uuid;

use crate::read_model;
use crate::rule::{self, Candidate, Decision};

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
            events::NEED_SUBMITTED => match_need(tx, &decode(event)?).await?,
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

#[tracing::instrument(name = "match need", skip_all, fields(tsunagu.need_id = %need.need_id, tsunagu.municipality_code = need.municipality_code))]
async fn match_need(tx: &mut PgConnection, need: &NeedSubmitted) -> Result<(), HandlerError> {
    let decision = rule::decide(tx, need.area_id, &need.category).await?;
    let (status, reason) = match &decision {
        Decision::Proposed(_) => ("proposed", None),
        Decision::Unmatched { reason } => ("unmatched", Some(reason.clone())),
    };
    sqlx::query(
        "INSERT INTO need (id, municipality_code, area_id, category, urgency, status, unmatched_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(need.need_id)
    .bind(&need.municipality_code)
    .bind(need.area_id)
    .bind(&need.category)
    .bind(&need.urgency)
    .bind(status)
    .bind(&reason)
    .execute(&mut *tx)
    .await?;

    match decision {
        Decision::Proposed(candidate) => propose(tx, need, candidate).await?,
        Decision::Unmatched { reason } => {
            let event = NeedUnmatched {
                need_id: need.need_id,
                municipality_code: need.municipality_code.clone(),
                area_id: need.area_id,
                category: need.category.clone(),
                reason: reason.clone(),
            };
            outbox::enqueue(tx, events::NEED_UNMATCHED, &need.municipality_code, &event).await?;
            tracing::info!(need_id = %need.need_id, reason, "need unmatched");
        }
    }
    Ok(())
}

/// Records a proposal and its `match.proposed` event.
async fn propose(
    tx: &mut PgConnection,
    need: &NeedSubmitted,
    candidate: Candidate,
) -> Result<(), HandlerError> {
    let proposal_id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO proposal (id, municipality_code, need_id, resource_id, organization_id, category)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(proposal_id)
    .bind(&need.municipality_code)
    .bind(need.need_id)
    .bind(candidate.resource_id)
    .bind(candidate.organization_id)
    .bind(&need.category)
    .execute(&mut *tx)
    .await?;
    let event = MatchProposed {
        proposal_id,
        need_id: need.need_id,
        municipality_code: need.municipality_code.clone(),
        resource_id: candidate.resource_id,
        organization_id: candidate.organization_id,
        category: need.category.clone(),
        urgency: need.urgency.clone(),
    };
    outbox::enqueue(tx, events::MATCH_PROPOSED, &need.municipality_code, &event).await?;
    tracing::info!(need_id = %need.need_id, %proposal_id, resource_id = %candidate.resource_id, "match proposed");
    Ok(())
}

enum UnmatchedNeeds {
    InAreaSubtree(Uuid),
    OfCategory(String),
}

/// Tries again to match the unmatched needs a registry change may serve: urgent first, then
/// oldest first. Needs that stay unmatched are not reported again.
async fn rematch(tx: &mut PgConnection, which: UnmatchedNeeds) -> Result<(), HandlerError> {
    let (area_id, category) = match which {
        UnmatchedNeeds::InAreaSubtree(area_id) => (Some(area_id), None),
        UnmatchedNeeds::OfCategory(category) => (None, Some(category)),
    };
    // An area's arrival can complete the path from a need's area up to a resource's coverage,
    // so the needs of its whole subtree get another chance.
    let needs: Vec<(Uuid, String, Uuid, String, String)> = sqlx::query_as(
        "WITH RECURSIVE subtree (id) AS (
             SELECT $1::uuid
             UNION ALL
             SELECT a.id FROM area a JOIN subtree s ON a.parent_id = s.id
         )
         SELECT id, municipality_code, area_id, category, urgency FROM need
         WHERE status = 'unmatched'
           AND ($1::uuid IS NULL OR area_id IN (SELECT id FROM subtree))
           AND ($2::text IS NULL OR category = $2)
         ORDER BY urgency = 'urgent' DESC, received_at, id
         FOR UPDATE",
    )
    .bind(area_id)
    .bind(category)
    .fetch_all(&mut *tx)
    .await?;
    for (need_id, municipality_code, area_id, category, urgency) in needs {
        let need = NeedSubmitted {
            need_id,
            municipality_code,
            area_id,
            category,
            urgency,
            resident_id: None,
        };
        if let Decision::Proposed(candidate) = rule::decide(tx, need.area_id, &need.category).await? {
            sqlx::query("UPDATE need SET status = 'proposed', unmatched_reason = NULL WHERE id = $1")
                .bind(need.need_id)
                .execute(&mut *tx)
                .await?;
            propose(tx, &need, candidate).await?;
        }
    }
    Ok(())
}
