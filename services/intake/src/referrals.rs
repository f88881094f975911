//! Intake's consumer: what other services tell intake. The registry's new categories
//! (`category.created`, see `categories`) and its areas (`area.*`, see `areas`), and matching's proposals and their answers, which
//! move a need through its lifecycle so that the need's status, history and watchers follow
//! the referral: proposed → 提案中, accepted → 受諾済み, rejected, expired or withdrawn by
//! matching → マッチング中 again.
//!
//! A step the need's current status does not allow (it was put on hold, cancelled …) is left
//! out and logged: the coordinator's decision stands over matching's news.

use sqlx::PgConnection;
use tsunagu_runtime::amqp::Envelope;
use tsunagu_runtime::consumer::{EventHandler, HandlerError};
use tsunagu_runtime::error::ServiceError;
use tsunagu_runtime::events::{self, MatchAnswered, MatchProposed};
use uuid::Uuid;

use crate::lifecycle::{self, NeedStatus, Transition};
use crate::store;
use crate::{areas, categories};

pub struct IntakeListener {
    pub outbox_wake: std::sync::Arc<tokio::sync::Notify>,
}

/// Who the history names for steps matching made.
const MATCHING: &str = "マッチング / matching";

impl EventHandler for IntakeListener {
    async fn handle(&self, tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
        let (need_id, steps): (Uuid, &[NeedStatus]) = match event.event_type.as_str() {
            events::CATEGORY_CREATED => return categories::learn(tx, event).await,
            events::AREA_CREATED | events::AREA_UPDATED | events::AREA_DELETED => {
                return areas::learn(tx, event).await;
            }
            events::MATCH_PROPOSED => (decode::<MatchProposed>(event)?.need_id, &[NeedStatus::Proposed]),
            // An acceptance that overtook its proposal still lands: proposed, then accepted.
            events::MATCH_ACCEPTED => {
                let accepted = decode::<MatchAnswered>(event)?;
                // The provider helping may ask for the resident's contact (GetSharedContact).
                sqlx::query("UPDATE need SET accepted_organization_id = $2 WHERE id = $1")
                    .bind(accepted.need_id)
                    .bind(accepted.organization_id)
                    .execute(&mut *tx)
                    .await?;
                (accepted.need_id, &[NeedStatus::Proposed, NeedStatus::Accepted])
            }
            events::MATCH_REJECTED | events::MATCH_EXPIRED => {
                (decode::<MatchAnswered>(event)?.need_id, &[NeedStatus::Matching])
            }
            // Matching took the proposal back (the resource or the need changed) and looks
            // again; a need paused or closed by a coordinator stays where it is.
            events::MATCH_WITHDRAWN => {
                let need_id = decode::<MatchAnswered>(event)?.need_id;
                if store::status_of(tx, need_id).await.ok() != Some(NeedStatus::Proposed) {
                    return Ok(());
                }
                (need_id, &[NeedStatus::Matching])
            }
            other => {
                tracing::debug!(event_type = other, "event not used by intake");
                return Ok(());
            }
        };
        for &to in steps {
            move_need(tx, need_id, to, &event.event_type).await?;
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

/// Moves the need to `to` when its lifecycle allows it from where it is; otherwise leaves it.
async fn move_need(
    tx: &mut PgConnection,
    need_id: Uuid,
    to: NeedStatus,
    because: &str,
) -> Result<(), HandlerError> {
    let transition = Transition {
        to,
        reason: String::new(),
        outcome: None,
    };
    let current = match store::status_of(tx, need_id).await {
        Ok(current) => current,
        // Not a need of this intake (another deployment's, or a test's raw event).
        Err(ServiceError::NotFound(_)) => {
            tracing::warn!(%need_id, because, "matching named a need intake does not hold");
            return Ok(());
        }
        Err(error) => return Err(HandlerError::Transient(anyhow::anyhow!("{error}"))),
    };
    if current == to || lifecycle::check(current, &transition).is_err() {
        tracing::info!(%need_id, from = current.as_str(), to = to.as_str(), because, "need left where it is");
        return Ok(());
    }
    store::transition_in(tx, need_id, &transition, 0, MATCHING)
        .await
        .map_err(|error| HandlerError::Transient(anyhow::anyhow!("{error}")))?;
    tracing::info!(%need_id, from = current.as_str(), to = to.as_str(), because, "need moved by matching");
    Ok(())
}
