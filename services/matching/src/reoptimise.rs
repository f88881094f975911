//! Re-optimising what a change touches. A new need is placed alone; everything else that can
//! change the optimum lands here:
//!
//! - a resource appears, grows or covers more: the unmatched needs it could serve are placed
//!   again, together, at the optimum over the places left;
//! - a resource stops taking needs, shrinks below what it holds, or changes so that a need it
//!   was proposed for no longer fits: those unanswered proposals are withdrawn and their needs
//!   placed again (with the other needs the change touches);
//! - a need is edited so that its proposed resource no longer fits: the same;
//! - a need is paused, resumed or completed (`need.status_changed`): a paused need gives its
//!   unanswered proposal back and is proposed to nobody; a completed one frees its place.
//!
//! Accepted proposals never move: people agreed to them. Unanswered proposals that still fit
//! are not moved either, even when a cheaper place opened: a provider who was asked is not
//! un-asked for a few hundred metres (the engine's `Matcher` shows the optimum such a move
//! would reach; the service trades it for stability).

use std::collections::HashSet;

use sqlx::PgConnection;
use tsunagu_runtime::events::{NeedStatusChanged, ResourceChanged};
use uuid::Uuid;

use crate::placement::{self, Decision};
use crate::proposals::{self, NeedRef, ProposalRow, Withdrawal};
use crate::read_model;
use crate::taxonomy::Taxonomy;

/// Applies a resource's new state and re-places what it touches.
pub async fn resource_changed(tx: &mut PgConnection, resource: &ResourceChanged) -> sqlx::Result<()> {
    if !read_model::apply_resource(tx, resource).await? {
        return Ok(());
    }
    let committed: i32 = sqlx::query_scalar("SELECT committed FROM resource WHERE id = $1")
        .bind(resource.resource_id)
        .fetch_one(&mut *tx)
        .await?;
    let wanted_capacity = i32::try_from(resource.capacity).unwrap_or(i32::MAX);
    let mut excess = if resource.accepting {
        (committed - wanted_capacity).max(0)
    } else {
        i32::MAX
    };
    let mut freed = Vec::new();
    // Newest first: the proposals made last give way first when the resource shrinks.
    for proposal in proposals::unanswered_of_resource(tx, resource.resource_id).await? {
        let fits = if excess > 0 {
            excess -= 1;
            false
        } else {
            let need = need_ref(tx, proposal.need_id).await?;
            let pending = proposals::pending(tx, &need).await?;
            placement::still_fits(tx, &pending, resource.resource_id).await?
        };
        if !fits {
            take_back(tx, &proposal, Withdrawal::ResourceChanged).await?;
            freed.push(proposal.need_id);
        }
    }
    // What the proposals made still hold keeps the capacity up until they are released.
    sqlx::query("UPDATE resource SET capacity = GREATEST($2, committed) WHERE id = $1")
        .bind(resource.resource_id)
        .bind(wanted_capacity)
        .execute(&mut *tx)
        .await?;
    let mut needs = needs_by_id(tx, &freed).await?;
    if resource.accepting {
        needs.extend(unmatched_near(tx, resource.resource_id).await?);
    }
    let announce: HashSet<Uuid> = freed.into_iter().collect();
    place_again(tx, needs, &announce).await
}

/// After intake's edit of a need that holds an unanswered proposal: if the resource no longer
/// fits the need as it now is, the proposal is withdrawn and the need placed again.
pub async fn need_edited(tx: &mut PgConnection, need: &NeedRef) -> sqlx::Result<()> {
    let Some(proposal) = proposals::open_of_need(tx, need.id).await? else {
        return Ok(());
    };
    if proposals::status_of(&proposal) == proposals::Status::Accepted {
        return Ok(());
    }
    let pending = proposals::pending(tx, need).await?;
    if placement::still_fits(tx, &pending, proposal.resource_id).await? {
        return Ok(());
    }
    take_back(tx, &proposal, Withdrawal::NeedChanged).await?;
    proposals::match_need(tx, need).await?;
    // The place it left may serve a need that waited for it.
    let waiting = unmatched_near(tx, proposal.resource_id).await?;
    place_again(tx, waiting, &HashSet::new()).await
}

/// Follows intake's lifecycle where it matters to matching: on hold, resumed, completed.
pub async fn need_status_changed(tx: &mut PgConnection, changed: &NeedStatusChanged) -> sqlx::Result<()> {
    let held: Option<(String, i64, i64, bool)> =
        sqlx::query_as("SELECT status, version, status_version, on_hold FROM need WHERE id = $1 FOR UPDATE")
            .bind(changed.need_id)
            .fetch_optional(&mut *tx)
            .await?;
    // Unknown: a draft never shared, or a need of another deployment.
    let Some((status, version, status_version, on_hold)) = held else {
        return Ok(());
    };
    if changed.version < version || changed.version <= status_version {
        tracing::debug!(need_id = %changed.need_id, "older status change ignored");
        return Ok(());
    }
    sqlx::query("UPDATE need SET status_version = $2 WHERE id = $1")
        .bind(changed.need_id)
        .bind(changed.version)
        .execute(&mut *tx)
        .await?;
    match changed.to.as_str() {
        "on_hold" => {
            sqlx::query("UPDATE need SET on_hold = true WHERE id = $1")
                .bind(changed.need_id)
                .execute(&mut *tx)
                .await?;
            if let Some(proposal) = proposals::open_of_need(tx, changed.need_id).await?
                && proposals::status_of(&proposal) != proposals::Status::Accepted
            {
                take_back(tx, &proposal, Withdrawal::NeedOnHold).await?;
                sqlx::query(
                    "UPDATE need SET unmatched_reason = '保留中 / on hold', unmatched_kind = NULL WHERE id = $1",
                )
                .bind(changed.need_id)
                .execute(&mut *tx)
                .await?;
                let waiting = unmatched_near(tx, proposal.resource_id).await?;
                place_again(tx, waiting, &HashSet::new()).await?;
            }
        }
        "completed" => {
            let proposal = proposals::open_of_need(tx, changed.need_id).await?;
            sqlx::query("UPDATE need SET status = 'closed', on_hold = false WHERE id = $1")
                .bind(changed.need_id)
                .execute(&mut *tx)
                .await?;
            if let Some(proposal) = proposal {
                proposals::complete(tx, &proposal).await?;
                let waiting = unmatched_near(tx, proposal.resource_id).await?;
                place_again(tx, waiting, &HashSet::new()).await?;
            }
        }
        _ if on_hold => {
            sqlx::query("UPDATE need SET on_hold = false WHERE id = $1")
                .bind(changed.need_id)
                .execute(&mut *tx)
                .await?;
            if status == "unmatched" {
                let need = need_ref(tx, changed.need_id).await?;
                proposals::match_need(tx, &need).await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Withdraws an open proposal and leaves its need unmatched, for the caller to place again.
async fn take_back(tx: &mut PgConnection, proposal: &ProposalRow, cause: Withdrawal) -> sqlx::Result<()> {
    proposals::withdraw(tx, proposal, cause).await?;
    sqlx::query("UPDATE need SET status = 'unmatched' WHERE id = $1 AND status = 'proposed'")
        .bind(proposal.need_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn need_ref(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<NeedRef> {
    sqlx::query_as("SELECT id, municipality_code, area_id, category, urgency FROM need WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await
}

async fn needs_by_id(tx: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<NeedRef>> {
    sqlx::query_as(
        "SELECT id, municipality_code, area_id, category, urgency FROM need
         WHERE id = ANY($1) AND status = 'unmatched' AND NOT on_hold
         ORDER BY municipality_code, id FOR UPDATE",
    )
    .bind(ids)
    .fetch_all(&mut *tx)
    .await
}

/// The unmatched needs (not on hold) that the resource could serve: in an area its coverage
/// contains, of a category related to its own (the same, more general or more specific).
pub async fn unmatched_near(tx: &mut PgConnection, resource_id: Uuid) -> sqlx::Result<Vec<NeedRef>> {
    let category: Option<String> = sqlx::query_scalar("SELECT category FROM resource WHERE id = $1")
        .bind(resource_id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(category) = category else {
        return Ok(Vec::new());
    };
    let related = Taxonomy::load(tx).await?.related(&category);
    sqlx::query_as(
        "WITH RECURSIVE covered (id) AS (
             SELECT area_id FROM resource_coverage WHERE resource_id = $1
             UNION
             SELECT a.id FROM area a JOIN covered c ON a.parent_id = c.id
         )
         SELECT id, municipality_code, area_id, category, urgency FROM need
         WHERE status = 'unmatched' AND NOT on_hold AND category = ANY($2)
           AND area_id IN (SELECT id FROM covered)
         ORDER BY municipality_code, id
         FOR UPDATE",
    )
    .bind(resource_id)
    .bind(&related)
    .fetch_all(&mut *tx)
    .await
}

/// The unmatched needs in an area's subtree (an area's arrival can complete the path from a
/// need's area up to a resource's coverage).
pub async fn unmatched_in_area(tx: &mut PgConnection, area_id: Uuid) -> sqlx::Result<Vec<NeedRef>> {
    sqlx::query_as(
        "WITH RECURSIVE subtree (id) AS (
             SELECT $1::uuid
             UNION ALL
             SELECT a.id FROM area a JOIN subtree s ON a.parent_id = s.id
         )
         SELECT id, municipality_code, area_id, category, urgency FROM need
         WHERE status = 'unmatched' AND NOT on_hold AND area_id IN (SELECT id FROM subtree)
         ORDER BY municipality_code, id
         FOR UPDATE",
    )
    .bind(area_id)
    .fetch_all(&mut *tx)
    .await
}

/// Places `needs` again, each municipality's together at the optimum over the places left.
/// Needs that stay unmatched keep their (possibly new) reason; only those in `announce` (whose
/// proposal was just taken back) are reported: the coordinators heard of the others already.
pub async fn place_again(
    tx: &mut PgConnection,
    mut needs: Vec<NeedRef>,
    announce: &HashSet<Uuid>,
) -> sqlx::Result<()> {
    needs.sort_by(|a, b| (&a.municipality_code, a.id).cmp(&(&b.municipality_code, b.id)));
    needs.dedup_by_key(|need| need.id);
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
                    if announce.contains(&need.id) {
                        proposals::announce_unmatched(tx, need, &reason).await?;
                    }
                }
            }
        }
    }
    Ok(())
}
