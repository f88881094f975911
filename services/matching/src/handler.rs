//! Routes events to the read model and the rule. Runs inside the inbox transaction.

use std::sync::Arc;

use sqlx::PgConnection;
use tokio::sync::Notify;
use tsunagu_runtime::amqp::Envelope;
use tsunagu_runtime::consumer::{EventHandler, HandlerError};
use tsunagu_runtime::events::{self, MatchProposed, NeedSubmitted, NeedUnmatched};
use tsunagu_runtime::outbox;
use uuid::Uuid;

use crate::read_model;
use crate::rule::{self, Decision};

pub struct MatchingHandler {
    pub outbox_wake: Arc<Notify>,
}

impl EventHandler for MatchingHandler {
    async fn handle(&self, tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
        match event.event_type.as_str() {
            events::AREA_CREATED => read_model::apply_area(tx, &decode(event)?).await?,
            events::RESOURCE_CREATED => read_model::apply_resource(tx, &decode(event)?).await?,
            events::NEED_SUBMITTED => match_need(tx, &decode(event)?).await?,
            // Organisations matter to matching once eligibility and load are modelled.
            events::ORGANIZATION_CREATED => {}
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
        Decision::Proposed(candidate) => {
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
        }
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
