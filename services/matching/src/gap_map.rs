//! The gap map (見える化): for each area of a layer (the municipality, its daily-life areas, or
//! the municipalities of a prefecture) and each category, how many needs there are and what
//! became of them — proposed, accepted, waiting for consent, unmatched and why — beside the
//! capacity the resources serving the area offer and use, and the area issues (地域課題)
//! counted there. What a 協議体 reads to decide which service to develop next. Pure: the
//! caller loads the facts.

use std::collections::{BTreeMap, HashMap, HashSet};

use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct AreaNode {
    pub parent: Option<Uuid>,
    pub name: String,
}

/// What became of a need, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeedState {
    AwaitingConsent,
    Proposed,
    Accepted,
    /// With the kind of its reason: no_resource, no_coverage, at_capacity or conditions.
    Unmatched(UnmatchedKind),
    /// Paused by a coordinator (保留): open, but proposed to nobody.
    OnHold,
    /// Helped and closed: history, not an open need.
    Completed,
    Withdrawn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnmatchedKind {
    NoResource,
    NoCoverage,
    AtCapacity,
    /// Resources cover the area but none meets the need's schedule, eligibility, fee or
    /// requirements.
    Conditions,
}

impl UnmatchedKind {
    pub fn parse(stored: Option<&str>) -> UnmatchedKind {
        match stored {
            Some("no_resource") => UnmatchedKind::NoResource,
            Some("no_coverage") => UnmatchedKind::NoCoverage,
            Some("conditions") => UnmatchedKind::Conditions,
            _ => UnmatchedKind::AtCapacity,
        }
    }
}

pub struct NeedFact {
    pub area_id: Uuid,
    pub category: String,
    pub state: NeedState,
}

pub struct ResourceFact {
    pub category: String,
    pub capacity: i64,
    pub committed: i64,
    pub coverage: Vec<Uuid>,
}

pub struct IssueFact {
    pub area_id: Uuid,
    pub category: String,
    pub count: i64,
}

/// One row of the map: an area and a category.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GapRow {
    pub area_id: Uuid,
    pub area_name: String,
    pub category: String,
    /// Open needs (not withdrawn, not completed).
    pub needs: i64,
    pub awaiting_consent: i64,
    pub proposed: i64,
    pub accepted: i64,
    pub unmatched: i64,
    pub unmatched_no_resource: i64,
    pub unmatched_no_coverage: i64,
    pub unmatched_at_capacity: i64,
    pub unmatched_conditions: i64,
    /// Places offered by the resources serving the area, and those taken.
    pub capacity_offered: i64,
    pub capacity_used: i64,
    /// Residents counted by area issues (surveys, 地域ケア会議 …).
    pub area_issue_count: i64,
    /// Needs completed with help (not among `needs`), and open needs on hold.
    pub completed: i64,
    pub on_hold: i64,
}

/// The areas and what is known in them.
pub struct Facts<'a> {
    pub areas: &'a HashMap<Uuid, AreaNode>,
    pub needs: &'a [NeedFact],
    pub resources: &'a [ResourceFact],
    pub issues: &'a [IssueFact],
}

fn ancestors_or_self<'a>(areas: &'a HashMap<Uuid, AreaNode>, area: Uuid) -> impl Iterator<Item = Uuid> + 'a {
    let mut seen = HashSet::new();
    std::iter::successors(Some(area), move |at| areas.get(at).and_then(|node| node.parent))
        // A cycle in a broken read model must not hang the map.
        .take_while(move |at| seen.insert(*at))
}

/// The row of (area, category), made empty the first time.
fn row_of<'r>(
    rows: &'r mut BTreeMap<(Uuid, String), GapRow>,
    areas: &HashMap<Uuid, AreaNode>,
    area: Uuid,
    category: &str,
) -> &'r mut GapRow {
    rows.entry((area, category.to_string()))
        .or_insert_with(|| GapRow {
            area_id: area,
            area_name: areas.get(&area).map(|node| node.name.clone()).unwrap_or_default(),
            category: category.to_string(),
            ..GapRow::default()
        })
}

/// The map for the areas of `layer`, rows ordered by area name then category.
pub fn gap_map(layer: &[Uuid], facts: &Facts<'_>) -> Vec<GapRow> {
    let layer_set: HashSet<Uuid> = layer.iter().copied().collect();
    // The layer area an area lies in (itself or its nearest ancestor in the layer).
    let layer_of = |area: Uuid| ancestors_or_self(facts.areas, area).find(|at| layer_set.contains(at));
    // For every area at or above a layer area, the layer areas below it.
    let mut below: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for &area in layer {
        for ancestor in ancestors_or_self(facts.areas, area) {
            below.entry(ancestor).or_default().push(area);
        }
    }
    let mut rows: BTreeMap<(Uuid, String), GapRow> = BTreeMap::new();
    for need in facts.needs {
        let Some(area) = layer_of(need.area_id) else {
            continue;
        };
        if need.state == NeedState::Withdrawn {
            continue;
        }
        let counts = row_of(&mut rows, facts.areas, area, &need.category);
        if need.state == NeedState::Completed {
            counts.completed += 1;
            continue;
        }
        counts.needs += 1;
        match need.state {
            NeedState::AwaitingConsent => counts.awaiting_consent += 1,
            NeedState::Proposed => counts.proposed += 1,
            NeedState::Accepted => counts.accepted += 1,
            NeedState::Unmatched(kind) => {
                counts.unmatched += 1;
                match kind {
                    UnmatchedKind::NoResource => counts.unmatched_no_resource += 1,
                    UnmatchedKind::NoCoverage => counts.unmatched_no_coverage += 1,
                    UnmatchedKind::AtCapacity => counts.unmatched_at_capacity += 1,
                    UnmatchedKind::Conditions => counts.unmatched_conditions += 1,
                }
            }
            NeedState::OnHold => counts.on_hold += 1,
            NeedState::Completed | NeedState::Withdrawn => {}
        }
    }
    for resource in facts.resources {
        // The layer areas it serves: those inside a coverage area, and the one a coverage
        // area lies in.
        let mut served: Vec<Uuid> = Vec::new();
        for &covered in &resource.coverage {
            served.extend(below.get(&covered).into_iter().flatten());
            served.extend(layer_of(covered));
        }
        served.sort_unstable();
        served.dedup();
        for area in served {
            let counts = row_of(&mut rows, facts.areas, area, &resource.category);
            counts.capacity_offered += resource.capacity;
            counts.capacity_used += resource.committed;
        }
    }
    for issue in facts.issues {
        if let Some(area) = layer_of(issue.area_id) {
            row_of(&mut rows, facts.areas, area, &issue.category).area_issue_count += issue.count;
        }
    }
    let mut rows: Vec<GapRow> = rows.into_values().collect();
    rows.sort_by(|a, b| (&a.area_name, &a.category, a.area_id).cmp(&(&b.area_name, &b.category, b.area_id)));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_capacity_and_issues_land_in_the_areas_that_contain_them() {
        let (city, west, east, street) = (
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            Uuid::from_u128(3),
            Uuid::from_u128(4),
        );
        let node = |parent: Option<Uuid>, name: &str| AreaNode {
            parent,
            name: name.into(),
        };
        let areas: HashMap<Uuid, AreaNode> = [
            (city, node(None, "大垣市")),
            (west, node(Some(city), "西部圏域")),
            (east, node(Some(city), "東部圏域")),
            (street, node(Some(west), "丸の内")),
        ]
        .into();
        let need = |area, state| NeedFact {
            area_id: area,
            category: "life.garbage".into(),
            state,
        };
        let needs = [
            need(street, NeedState::Proposed),
            need(west, NeedState::Unmatched(UnmatchedKind::AtCapacity)),
            need(east, NeedState::Unmatched(UnmatchedKind::NoCoverage)),
            need(east, NeedState::Withdrawn),
            need(east, NeedState::AwaitingConsent),
        ];
        let resources = [
            // The whole city: serves both daily-life areas.
            ResourceFact {
                category: "life.garbage".into(),
                capacity: 5,
                committed: 1,
                coverage: vec![city],
            },
            // A street in the west: serves the west only.
            ResourceFact {
                category: "life.garbage".into(),
                capacity: 2,
                committed: 2,
                coverage: vec![street],
            },
        ];
        let issues = [IssueFact {
            area_id: east,
            category: "life.shopping".into(),
            count: 42,
        }];
        let facts = Facts {
            areas: &areas,
            needs: &needs,
            resources: &resources,
            issues: &issues,
        };
        let rows = gap_map(&[west, east], &facts);
        let find = |area: Uuid, category: &str| {
            rows.iter()
                .find(|r| r.area_id == area && r.category == category)
                .unwrap()
        };
        let west_row = find(west, "life.garbage");
        assert_eq!(
            (west_row.needs, west_row.proposed, west_row.unmatched_at_capacity),
            (2, 1, 1)
        );
        assert_eq!((west_row.capacity_offered, west_row.capacity_used), (7, 3));
        let east_row = find(east, "life.garbage");
        assert_eq!(
            (
                east_row.needs,
                east_row.unmatched_no_coverage,
                east_row.awaiting_consent
            ),
            (2, 1, 1)
        );
        assert_eq!(east_row.capacity_offered, 5);
        assert_eq!(find(east, "life.shopping").area_issue_count, 42);
        // The municipality layer sums it all once.
        let rows = gap_map(&[city], &facts);
        let total = rows.iter().find(|r| r.category == "life.garbage").unwrap();
        assert_eq!((total.needs, total.unmatched, total.capacity_offered), (4, 2, 7));
        assert_eq!(rows[0].area_name, "大垣市");
    }
}
