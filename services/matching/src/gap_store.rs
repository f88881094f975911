//! Loads the facts of a gap map from matching's read model: the areas, the needs of the
//! municipalities in scope and what became of them, the resources (coverage may cross
//! borders), and the area issues.

use std::collections::HashMap;

use sqlx::PgPool;
use uuid::Uuid;

use crate::gap_map::{
    AreaNode, Facts, GapRow, IssueFact, NeedFact, NeedState, ResourceFact, UnmatchedKind, gap_map,
};

/// Which areas make the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    DailyLifeArea,
    Municipality,
}

impl Layer {
    fn kind(self) -> &'static str {
        match self {
            Layer::DailyLifeArea => "daily_life_area",
            Layer::Municipality => "municipality",
        }
    }
}

pub struct Map {
    pub rows: Vec<GapRow>,
    pub municipality_codes: Vec<String>,
}

/// The map of `code` (a municipality, or a prefecture: all its municipalities). Without a
/// layer: a municipality's daily-life areas, a prefecture's municipalities.
pub async fn load(pool: &PgPool, code: &str, layer: Option<Layer>) -> sqlx::Result<Map> {
    // A prefecture's municipalities, or the municipality itself.
    let mut scope: Vec<String> = sqlx::query_scalar(
        "SELECT m.municipality_code FROM area p JOIN area m ON m.parent_id = p.id AND m.kind = 'municipality'
         WHERE p.kind = 'prefecture' AND p.municipality_code = $1 ORDER BY m.municipality_code",
    )
    .bind(code)
    .fetch_all(pool)
    .await?;
    let is_prefecture = !scope.is_empty();
    if scope.is_empty() {
        scope.push(code.to_string());
    }
    let layer = layer.unwrap_or(if is_prefecture {
        Layer::Municipality
    } else {
        Layer::DailyLifeArea
    });
    let area_rows: Vec<(Uuid, Option<Uuid>, String, String, String)> =
        sqlx::query_as("SELECT id, parent_id, name, kind, municipality_code FROM area")
            .fetch_all(pool)
            .await?;
    let layer_areas: Vec<Uuid> = area_rows
        .iter()
        .filter(|(_, _, _, kind, municipality)| kind == layer.kind() && scope.contains(municipality))
        .map(|(id, ..)| *id)
        .collect();
    let areas: HashMap<Uuid, AreaNode> = area_rows
        .into_iter()
        .map(|(id, parent, name, _, _)| (id, AreaNode { parent, name }))
        .collect();
    let need_rows: Vec<(Uuid, String, String, Option<String>, bool, bool)> = sqlx::query_as(
        "SELECT n.area_id, n.category, n.status, n.unmatched_kind,
                EXISTS (SELECT 1 FROM proposal p WHERE p.need_id = n.id AND p.status = 'accepted'),
                n.on_hold
         FROM need n WHERE n.municipality_code = ANY($1)",
    )
    .bind(&scope)
    .fetch_all(pool)
    .await?;
    let needs: Vec<NeedFact> = need_rows
        .into_iter()
        .map(|(area_id, category, status, kind, accepted, on_hold)| NeedFact {
            area_id,
            category,
            state: match status.as_str() {
                "withdrawn" => NeedState::Withdrawn,
                "closed" => NeedState::Completed,
                // A paused need that holds an accepted place still counts as accepted.
                _ if on_hold && !accepted => NeedState::OnHold,
                "awaiting_consent" => NeedState::AwaitingConsent,
                "unmatched" => NeedState::Unmatched(UnmatchedKind::parse(kind.as_deref())),
                _ if accepted => NeedState::Accepted,
                _ => NeedState::Proposed,
            },
        })
        .collect();
    let resource_rows: Vec<(String, i32, i32, Vec<Uuid>)> = sqlx::query_as(
        "SELECT r.category, r.capacity, r.committed, array_agg(rc.area_id ORDER BY rc.area_id)
         FROM resource r JOIN resource_coverage rc ON rc.resource_id = r.id
         WHERE r.accepting GROUP BY r.id ORDER BY r.id",
    )
    .fetch_all(pool)
    .await?;
    let resources: Vec<ResourceFact> = resource_rows
        .into_iter()
        .map(|(category, capacity, committed, coverage)| ResourceFact {
            category,
            capacity: i64::from(capacity),
            committed: i64::from(committed),
            coverage,
        })
        .collect();
    let issue_rows: Vec<(Uuid, String, i32)> =
        sqlx::query_as("SELECT area_id, category, count FROM area_issue WHERE municipality_code = ANY($1)")
            .bind(&scope)
            .fetch_all(pool)
            .await?;
    let issues: Vec<IssueFact> = issue_rows
        .into_iter()
        .map(|(area_id, category, count)| IssueFact {
            area_id,
            category,
            count: i64::from(count),
        })
        .collect();
    let facts = Facts {
        areas: &areas,
        needs: &needs,
        resources: &resources,
        issues: &issues,
    };
    Ok(Map {
        rows: gap_map(&layer_areas, &facts),
        municipality_codes: scope,
    })
}
