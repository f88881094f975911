//! Placing needs with the engine (`tsunagu-matching-engine`): the needs waiting for a
//! proposal, the resources that cover their areas and the municipality's weights become the
//! engine's domain input; the exact optimum over the capacity left decides which need goes
//! where; every decision carries its explanation (the factors of a proposal's cost, or why a
//! need stayed unmatched, with the nearest alternatives).
//!
//! Proposals already made stand: their places are taken (`committed`) before the solve, so a
//! new need or a new resource re-optimises only what is still open and never moves a match a
//! provider was told of. Taking a place is a guarded `UPDATE … WHERE committed < capacity`,
//! so two workers whose municipalities share a resource never overbook it: a need that lost
//! such a race is placed again with the capacity that is left.

use std::collections::HashMap;

use sqlx::PgConnection;
use sqlx::types::Json;
use tracing::Instrument;
use tsunagu_matching_engine::domain::{
    self, Explanation, Gender, Need, Point, Resource, Tree, Unmatched, Weights, Window, World,
};
use tsunagu_runtime::db;
use tsunagu_runtime::events::{NeedDetailsPayload, ResourceTermsPayload};
use uuid::Uuid;

use crate::proposals::NeedRef;
use crate::taxonomy::Taxonomy;
use crate::weights;

/// A need waiting for a proposal, with what the engine weighs and the resources that
/// declined it before.
pub struct Pending {
    pub need: NeedRef,
    pub details: Option<NeedDetailsPayload>,
    pub declined: Vec<Uuid>,
}

/// The chosen resource (one of its places already taken) and why it was chosen.
#[derive(Debug, Clone)]
pub struct Placed {
    pub resource_id: Uuid,
    pub organization_id: Uuid,
    pub cost: i64,
    pub factors: Vec<(String, i64)>,
}

#[derive(Debug, Clone)]
pub enum Decision {
    Proposed(Placed),
    /// `kind` is the gap map's: no_resource, no_coverage, at_capacity or conditions.
    Unmatched {
        reason: String,
        kind: &'static str,
    },
}

/// How often a need that lost a race for a place is placed again before it is reported at
/// capacity (each retry sees the places the winners took).
const RACE_RETRIES: usize = 3;

/// Decides every pending need of one municipality together, taking the chosen places in the
/// caller's transaction. Decisions come back in the order of `pending`.
pub async fn place(
    tx: &mut PgConnection,
    municipality_code: &str,
    pending: &[Pending],
) -> sqlx::Result<Vec<Decision>> {
    let weights = weights::load(tx, municipality_code).await?;
    let mut decisions: Vec<Option<Decision>> = vec![None; pending.len()];
    let mut open: Vec<usize> = (0..pending.len()).collect();
    for attempt in 0..=RACE_RETRIES {
        if open.is_empty() {
            break;
        }
        let batch: Vec<&Pending> = open.iter().map(|&i| &pending[i]).collect();
        let solved = solve(tx, &batch, &weights).await?;
        // Places are taken in resource order, so two workers never wait on each other's rows
        // in opposite orders.
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_by_key(|&i| match &solved[i] {
            Decision::Proposed(placed) => Some(placed.resource_id),
            Decision::Unmatched { .. } => None,
        });
        let mut lost = Vec::new();
        for i in order {
            let decision = solved[i].clone();
            if let Decision::Proposed(placed) = &decision
                && !take_place(tx, placed.resource_id).await?
            {
                if attempt < RACE_RETRIES {
                    lost.push(open[i]);
                    continue;
                }
                decisions[open[i]] = Some(Decision::Unmatched {
                    reason: Unmatched::AllCandidatesTaken.describe(),
                    kind: "at_capacity",
                });
                continue;
            }
            decisions[open[i]] = Some(decision);
        }
        lost.sort_unstable();
        open = lost;
    }
    Ok(decisions
        .into_iter()
        .map(|decision| decision.expect("every pending need is decided"))
        .collect())
}

async fn take_place(tx: &mut PgConnection, resource_id: Uuid) -> sqlx::Result<bool> {
    let span = db::span("matching", "UPDATE", "resource");
    span.record("tsunagu.resource_id", resource_id.to_string());
    let taken =
        sqlx::query("UPDATE resource SET committed = committed + 1 WHERE id = $1 AND committed < capacity")
            .bind(resource_id)
            .execute(&mut *tx)
            .instrument(span)
            .await?
            .rows_affected();
    Ok(taken == 1)
}

#[derive(sqlx::FromRow)]
struct ResourceRow {
    id: Uuid,
    organization_id: Uuid,
    category: String,
    capacity: i32,
    committed: i32,
    terms: Option<Json<ResourceTermsPayload>>,
    coverage: Vec<Uuid>,
    /// The helpers of the resource's organisation.
    helpers: Vec<Uuid>,
}

/// What the pending needs touch, in the engine's terms: the areas of the needs and their
/// ancestors, the resources covering any of them, the category tree and the helpers.
struct Loaded {
    resource_rows: Vec<ResourceRow>,
    resources: Vec<Resource>,
    needs: Vec<Need>,
    area_tree: Tree,
    category_tree: Tree,
}

impl Loaded {
    fn world<'a>(&'a self, weights: &'a Weights) -> World<'a> {
        World {
            areas: &self.area_tree,
            categories: &self.category_tree,
            resources: &self.resources,
            weights,
        }
    }
}

async fn load(tx: &mut PgConnection, pending: &[&Pending]) -> sqlx::Result<Loaded> {
    // The areas of the needs and all their ancestors: a resource covering any of them serves
    // the need (coverage may cross municipal borders).
    let need_areas: Vec<Uuid> = pending.iter().map(|p| p.need.area_id).collect();
    let area_rows: Vec<(Uuid, Option<Uuid>)> = sqlx::query_as(
        "WITH RECURSIVE up (id, parent_id) AS (
             SELECT id, parent_id FROM area WHERE id = ANY($1)
             UNION
             SELECT a.id, a.parent_id FROM area a JOIN up ON a.id = up.parent_id
         )
         SELECT id, parent_id FROM up ORDER BY id",
    )
    .bind(&need_areas)
    .fetch_all(&mut *tx)
    .await?;
    let mut areas = Index::default();
    for (id, _) in &area_rows {
        areas.add(*id);
    }
    // A need's area that matching has not heard of yet is a root of its own: only resources
    // covering exactly that area can serve it until the area arrives.
    for id in &need_areas {
        areas.add(*id);
    }
    let mut area_parents: Vec<Option<u32>> = vec![None; areas.len()];
    for (id, parent) in &area_rows {
        area_parents[areas.get(id) as usize] = parent.and_then(|parent| areas.find(&parent));
    }
    let resource_rows: Vec<ResourceRow> = sqlx::query_as(
        "SELECT r.id, r.organization_id, r.category, r.capacity, r.committed, r.terms,
                array_agg(rc.area_id ORDER BY rc.area_id) AS coverage,
                COALESCE((SELECT array_agg(h.id ORDER BY h.id) FROM helper h
                          WHERE h.organization_id = r.organization_id AND NOT h.deleted), '{}') AS helpers
         FROM resource r JOIN resource_coverage rc ON rc.resource_id = r.id
         WHERE r.accepting AND rc.area_id = ANY($1)
         GROUP BY r.id ORDER BY r.id",
    )
    .bind(areas.ids())
    .fetch_all(&mut *tx)
    .instrument(db::span("matching", "SELECT", "resource"))
    .await?;

    let taxonomy = Taxonomy::load(tx).await?;
    let mut categories = CategoryIndex::new(&taxonomy);
    for row in &resource_rows {
        categories.add(&row.category);
    }
    for p in pending {
        categories.add(&p.need.category);
    }
    // Helpers are compared by identity only: their ids become dense numbers.
    let mut helpers = Index::default();
    for row in &resource_rows {
        for helper in &row.helpers {
            helpers.add(*helper);
        }
    }
    for p in pending {
        if let Some(known) = p.details.as_ref().and_then(|d| d.preferred_helper_id) {
            helpers.add(known);
        }
    }
    let resource_index: HashMap<Uuid, u32> = resource_rows
        .iter()
        .enumerate()
        .map(|(i, row)| (row.id, i as u32))
        .collect();
    let resources: Vec<Resource> = resource_rows
        .iter()
        .map(|row| engine_resource(row, &areas, &categories, &helpers))
        .collect();
    let needs: Vec<Need> = pending
        .iter()
        .map(|p| engine_need(p, &areas, &categories, &helpers, &resource_index))
        .collect();
    Ok(Loaded {
        resource_rows,
        resources,
        needs,
        area_tree: Tree::new(area_parents),
        category_tree: categories.tree(),
    })
}

/// Whether `resource_id` may still serve the need, as the need and the resource stand now,
/// with its own place counted free (the need holds it): the test an open proposal must pass
/// after either side changed. Nothing is written.
pub async fn still_fits(tx: &mut PgConnection, pending: &Pending, resource_id: Uuid) -> sqlx::Result<bool> {
    let weights = weights::load(tx, &pending.need.municipality_code).await?;
    let mut loaded = load(tx, &[pending]).await?;
    let Some(offer) = loaded.resource_rows.iter().position(|row| row.id == resource_id) else {
        // It no longer covers the need's area (or takes no one).
        return Ok(false);
    };
    let resource = &mut loaded.resources[offer];
    resource.taken = resource.taken.saturating_sub(1);
    let world = loaded.world(&weights);
    let instance = domain::plan(&loaded.needs, &world, 1);
    let penalty = instance.penalty(0);
    Ok(instance
        .arcs_of(0)
        .iter()
        .any(|arc| arc.offer as usize == offer && arc.cost < penalty))
}

/// Loads what the pending needs touch and solves it; nothing is written.
async fn solve(
    tx: &mut PgConnection,
    pending: &[&Pending],
    weights: &Weights,
) -> sqlx::Result<Vec<Decision>> {
    let loaded = load(tx, pending).await?;
    let world = loaded.world(weights);
    let (needs, resource_rows) = (&loaded.needs, &loaded.resource_rows);
    // The solve is CPU work of milliseconds for a municipality's backlog: it runs on the
    // consumer's task, inside the event's transaction, so what it read stays what it decides.
    let instance = domain::plan(needs, &world, 1);
    let assignment = tsunagu_matching_engine::solve(&instance, 1);
    let explanations = domain::explain(needs, &world, &instance, &assignment);

    let mut decisions = Vec::with_capacity(pending.len());
    for (p, explanation) in pending.iter().zip(explanations) {
        decisions.push(match explanation {
            Explanation::Proposed {
                resource,
                cost,
                factors,
            } => {
                let row = &resource_rows[resource as usize];
                Decision::Proposed(Placed {
                    resource_id: row.id,
                    organization_id: row.organization_id,
                    cost,
                    factors: factors
                        .into_iter()
                        .map(|factor| (factor.name.to_string(), factor.cost))
                        .collect(),
                })
            }
            Explanation::Unmatched { reason, nearest } => {
                let kind = match &reason {
                    Unmatched::NoResourceCovers => {
                        if any_of_category(tx, &p.need.category).await? {
                            "no_coverage"
                        } else {
                            "no_resource"
                        }
                    }
                    Unmatched::AllCandidatesTaken => "at_capacity",
                    Unmatched::Constraint(
                        domain::Exclusion::NoCapacity | domain::Exclusion::RejectedBefore,
                    ) => "at_capacity",
                    Unmatched::Constraint(_) | Unmatched::TooCostly => "conditions",
                };
                Decision::Unmatched {
                    reason: describe(&p.need.category, kind, &reason, &nearest, resource_rows),
                    kind,
                }
            }
        });
    }
    Ok(decisions)
}

/// Whether any accepting resource of the category exists anywhere, to tell "none registered"
/// from "none covers this area".
async fn any_of_category(tx: &mut PgConnection, category: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM resource WHERE category = $1 AND accepting)")
        .bind(category)
        .fetch_one(&mut *tx)
        .await
}

/// The reason in the words a coordinator uses, with the category's Japanese name and the
/// nearest alternatives the engine found.
fn describe(
    category: &str,
    kind: &str,
    reason: &Unmatched,
    nearest: &[(u32, String)],
    rows: &[ResourceRow],
) -> String {
    let name = tsunagu_runtime::taxonomy::resolve_bundled(category)
        .map(|entry| entry.name.as_str())
        .unwrap_or(category);
    let mut text = match kind {
        "no_resource" => {
            format!("「{name}」の地域資源が登録されていません / no resource of this category is registered")
        }
        "no_coverage" => format!(
            "この区域を対象とする「{name}」の地域資源がありません / no resource of this category covers the area"
        ),
        "at_capacity" => format!(
            "対象となる「{name}」の地域資源はすべて受け入れ上限に達しているか、お断りされました / every candidate is at capacity or declined"
        ),
        _ => format!("「{name}」: {}", reason.describe()),
    };
    if !nearest.is_empty() {
        let alternatives: Vec<String> = nearest
            .iter()
            .map(|(resource, why)| format!("{}（{why}）", rows[*resource as usize].id))
            .collect();
        text.push_str(&format!(" — 近い候補 / nearest: {}", alternatives.join("、")));
    }
    text
}

fn engine_resource(
    row: &ResourceRow,
    areas: &Index,
    categories: &CategoryIndex,
    helpers: &Index,
) -> Resource {
    let terms = row.terms.as_ref().map(|terms| &terms.0);
    Resource {
        category: categories.get(&row.category),
        coverage: row.coverage.iter().filter_map(|area| areas.find(area)).collect(),
        location: terms.and_then(|t| point(t.latitude, t.longitude)),
        windows: terms.map_or_else(Vec::new, |t| {
            windows(
                t.weekly_windows
                    .iter()
                    .map(|w| (w.weekday, w.start_minute, w.end_minute)),
            )
        }),
        eligibility: terms.map_or_else(Vec::new, |t| {
            t.eligibility.iter().map(|e| eligibility(e)).collect()
        }),
        fee: terms.and_then(|t| t.fee_yen),
        capacity: u32::try_from(row.capacity).unwrap_or(0),
        taken: u32::try_from(row.committed).unwrap_or(0),
        wheelchair: terms.is_some_and(|t| t.wheelchair_vehicle),
        genders: terms.map_or_else(Vec::new, |t| {
            t.helper_genders.iter().filter_map(|g| gender(g)).collect()
        }),
        // A resource that lists no language serves in Japanese, as every one here does.
        languages: match terms.map(|t| t.languages.clone()) {
            Some(languages) if !languages.is_empty() => languages,
            _ => vec!["ja".to_string()],
        },
        helpers: row
            .helpers
            .iter()
            .filter_map(|helper| helpers.find(helper))
            .map(u64::from)
            .collect(),
    }
}

fn engine_need(
    pending: &Pending,
    areas: &Index,
    categories: &CategoryIndex,
    helpers: &Index,
    resources: &HashMap<Uuid, u32>,
) -> Need {
    let details = pending.details.as_ref();
    Need {
        area: areas.get(&pending.need.area_id),
        category: categories.get(&pending.need.category),
        urgent: pending.need.urgency == "urgent",
        location: details.and_then(|d| point(d.latitude, d.longitude)),
        windows: details.map_or_else(Vec::new, |d| {
            windows(
                d.time_windows
                    .iter()
                    .map(|w| (w.weekday, w.start_minute, w.end_minute)),
            )
        }),
        eligibility: details.and_then(|d| d.eligibility.as_deref()).map(eligibility),
        max_fee: details.and_then(|d| d.max_fee_yen),
        wheelchair: details.is_some_and(|d| d.wheelchair_vehicle),
        gender: details.and_then(|d| {
            d.helper_gender
                .as_deref()
                .and_then(gender)
                .map(|g| (g, d.helper_gender_required))
        }),
        languages: details.map_or_else(Vec::new, |d| d.languages.clone()),
        known_helpers: details
            .and_then(|d| d.preferred_helper_id)
            .and_then(|helper| helpers.find(&helper))
            .map(u64::from)
            .into_iter()
            .collect(),
        excluded: pending
            .declined
            .iter()
            .filter_map(|id| resources.get(id).copied())
            .collect(),
    }
}

fn point(latitude: Option<f64>, longitude: Option<f64>) -> Option<Point> {
    Some(Point {
        latitude: latitude?,
        longitude: longitude?,
    })
}

fn windows(raw: impl Iterator<Item = (u8, u32, u32)>) -> Vec<Window> {
    raw.map(|(weekday, start, end)| Window {
        weekday,
        start: start.min(1440) as u16,
        end: end.min(1440) as u16,
    })
    .collect()
}

/// Eligibility as the engine compares it: the position in the registry's list; anything else
/// is a value no resource lists.
fn eligibility(stored: &str) -> u8 {
    const KNOWN: [&str; 9] = [
        "general_elderly",
        "project_target",
        "support_1",
        "support_2",
        "care_1",
        "care_2",
        "care_3",
        "care_4",
        "care_5",
    ];
    KNOWN
        .iter()
        .position(|known| *known == stored)
        .map_or(u8::MAX, |i| i as u8)
}

fn gender(stored: &str) -> Option<Gender> {
    match stored {
        "female" => Some(Gender::Female),
        "male" => Some(Gender::Male),
        _ => None,
    }
}

/// Ids to dense indices, in the order first added.
#[derive(Default)]
struct Index {
    ids: Vec<Uuid>,
    of: HashMap<Uuid, u32>,
}

impl Index {
    fn add(&mut self, id: Uuid) {
        if !self.of.contains_key(&id) {
            self.of.insert(id, self.ids.len() as u32);
            self.ids.push(id);
        }
    }

    fn find(&self, id: &Uuid) -> Option<u32> {
        self.of.get(id).copied()
    }

    fn get(&self, id: &Uuid) -> u32 {
        self.of[id]
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    fn ids(&self) -> &[Uuid] {
        &self.ids
    }
}

/// Category codes with their ancestors (bundled or municipal), so a need for 生活支援 (`life`)
/// meets a resource of ゴミ出し (`life.garbage`) and the other way round, and a municipality's
/// own category (`212024.snow`) meets the resources of the category it extends.
struct CategoryIndex<'a> {
    taxonomy: &'a Taxonomy,
    codes: Vec<String>,
    parents: Vec<Option<u32>>,
    of: HashMap<String, u32>,
}

impl<'a> CategoryIndex<'a> {
    fn new(taxonomy: &'a Taxonomy) -> CategoryIndex<'a> {
        CategoryIndex {
            taxonomy,
            codes: Vec::new(),
            parents: Vec::new(),
            of: HashMap::new(),
        }
    }

    fn add(&mut self, code: &str) -> u32 {
        if let Some(&index) = self.of.get(code) {
            return index;
        }
        // Root first, so every parent has its index before its child (and a cycle ends).
        let path = self.taxonomy.ancestors_or_self(code);
        let mut parent = None;
        for step in path.into_iter().rev() {
            let index = match self.of.get(step) {
                Some(&index) => index,
                None => {
                    let index = self.codes.len() as u32;
                    self.codes.push(step.to_string());
                    self.parents.push(parent);
                    self.of.insert(step.to_string(), index);
                    index
                }
            };
            parent = Some(index);
        }
        self.of[code]
    }

    fn get(&self, code: &str) -> u32 {
        self.of[code]
    }

    fn tree(&self) -> Tree {
        Tree::new(self.parents.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_bring_their_ancestors_bundled_or_municipal() {
        let taxonomy = Taxonomy::with_municipal([("212024.snow".to_string(), "life".to_string())]);
        let mut categories = CategoryIndex::new(&taxonomy);
        let garbage = categories.add("life.garbage");
        let life = categories.get("life");
        let tree = categories.tree();
        assert!(tree.contains(life, garbage));
        let own = categories.add("212024.snow");
        let tree = categories.tree();
        assert!(
            tree.contains(life, own),
            "a municipal category sits under its parent"
        );
        assert!(!tree.contains(garbage, own));
        let unknown = categories.add("999999.unknown");
        assert_eq!(
            categories.tree().ancestors(unknown).count(),
            1,
            "a category nobody described stands alone"
        );
    }

    #[test]
    fn stored_terms_become_engine_values() {
        assert_eq!(eligibility("support_1"), 2);
        assert_eq!(eligibility("unknown"), u8::MAX);
        assert_eq!(gender("female"), Some(Gender::Female));
        assert_eq!(point(Some(35.0), None), None);
        let windows = windows([(2u8, 540u32, 2000u32)].into_iter());
        assert_eq!(
            windows,
            [Window {
                weekday: 2,
                start: 540,
                end: 1440
            }]
        );
    }
}
