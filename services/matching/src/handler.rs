//! Routes events to the read model, placement and re-optimisation. Runs inside the inbox
//! transaction.

use std::collections::HashSet;
use std::sync::Arc;

use sqlx::PgConnection;
use tokio::sync::Notify;
use tsunagu_runtime::amqp::Envelope;
use tsunagu_runtime::consumer::{EventHandler, HandlerError};
use tsunagu_runtime::events::{self, AreaCreated, NeedSubmitted, NeedWithdrawn};

use crate::proposals::{self, NeedRef, Withdrawal};
use crate::{read_model, reoptimise, taxonomy};

pub struct MatchingHandler {
    pub outbox_wake: Arc<Notify>,
}

impl EventHandler for MatchingHandler {
    async fn handle(&self, tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
        // Placement works across municipal borders (a resource covers areas of several
        // municipalities; a freed place goes to whichever need waits for it): the consumer
        // acts as the service itself for this transaction. Calls stay behind the wall.
        sqlx::query("SELECT set_config('tsunagu.tenant', '*', true)")
            .execute(&mut *tx)
            .await?;
        match event.event_type.as_str() {
            // Events from the registry and from intake travel through different relays, so a
            // need may arrive before the area or resource that serves it. Each new area or
            // resource therefore gives the unmatched needs it touches another chance.
            events::AREA_CREATED | events::AREA_UPDATED => {
                let area: AreaCreated = decode(event)?;
                read_model::apply_area(tx, &area).await?;
                let waiting = reoptimise::unmatched_in_area(tx, area.area_id).await?;
                reoptimise::place_again(tx, waiting, &HashSet::new()).await?;
            }
            events::RESOURCE_CREATED | events::RESOURCE_UPDATED | events::RESOURCE_DELETED => {
                reoptimise::resource_changed(tx, &decode(event)?).await?;
            }
            events::CATEGORY_CREATED => taxonomy::learn(tx, &decode(event)?).await?,
            events::HELPER_CREATED | events::HELPER_UPDATED | events::HELPER_DELETED => {
                let deleted = event.event_type == events::HELPER_DELETED;
                read_model::apply_helper(tx, &decode(event)?, deleted).await?;
            }
            events::NEED_SUBMITTED | events::NEED_UPDATED => apply_need(tx, &decode(event)?).await?,
            events::NEED_STATUS_CHANGED => reoptimise::need_status_changed(tx, &decode(event)?).await?,
            events::NEED_WITHDRAWN => withdraw_need(tx, &decode(event)?).await?,
            events::AREA_ISSUE_RECORDED => read_model::apply_area_issue(tx, &decode(event)?).await?,
            // Its `resource.*` binding also brings what is news to people, not to the read
            // model: a verification, or that one is overdue, changes no term of the resource.
            events::RESOURCE_VERIFIED | events::RESOURCE_VERIFICATION_OVERDUE => {}
            // Organisations matter to matching through their resources and helpers.
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
    let held: Option<(String, i64, bool)> =
        sqlx::query_as("SELECT status, version, on_hold FROM need WHERE id = $1 FOR UPDATE")
            .bind(need.need_id)
            .fetch_optional(&mut *tx)
            .await?;
    // Version 0: events written before intake sent versions; applied only when new.
    let stale = held
        .as_ref()
        .is_some_and(|(_, version, _)| need.version == 0 || *version >= need.version);
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
             status = CASE WHEN need.status = 'proposed' THEN need.status ELSE $6 END",
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
    if !need.shared {
        return Ok(());
    }
    let reference = NeedRef {
        id: need.need_id,
        municipality_code: need.municipality_code.clone(),
        area_id: need.area_id,
        category: need.category.clone(),
        urgency: need.urgency.clone(),
    };
    let (status, on_hold) = held.map_or(("new".to_string(), false), |(status, _, on_hold)| {
        (status, on_hold)
    });
    if status == "proposed" {
        // An edit keeps the proposal while its resource still fits the need as it now is.
        reoptimise::need_edited(tx, &reference).await?;
    } else if !on_hold {
        // New, unmatched, or back: a new consent, or reopened after it was closed.
        proposals::match_need(tx, &reference).await?;
    }
    Ok(())
}

/// The need may no longer be matched or shared: its open proposal is withdrawn and the
/// capacity it held given back.
#[tracing::instrument(name = "withdraw need", skip_all, fields(tsunagu.need_id = %withdrawn.need_id, tsunagu.municipality_code = withdrawn.municipality_code))]
async fn withdraw_need(tx: &mut PgConnection, withdrawn: &NeedWithdrawn) -> Result<(), HandlerError> {
    let updated = sqlx::query(
        "UPDATE need SET status = 'withdrawn', version = $2, unmatched_reason = NULL, on_hold = false
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
    let released = proposals::open_of_need(tx, withdrawn.need_id).await?;
    if let Some(proposal) = &released {
        proposals::withdraw(tx, proposal, Withdrawal::NeedWithdrawn).await?;
        // The place it gave back may serve a need that waited for it.
        let waiting = reoptimise::unmatched_near(tx, proposal.resource_id).await?;
        reoptimise::place_again(tx, waiting, &HashSet::new()).await?;
    }
    tracing::info!(need_id = %withdrawn.need_id, reason = withdrawn.reason, released = released.is_some(), "need withdrawn");
    Ok(())
}
