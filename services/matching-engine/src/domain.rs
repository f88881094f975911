//! The engine's domain API: needs and resources as the matching service knows them, turned
//! into an [`Instance`] — which resource may serve which need (hard constraints), at which
//! integer cost (weighted factors) — and the solver's answer turned back into explanations a
//! coordinator reads: the factors of every proposal, and why a need stayed unmatched, with the
//! nearest alternatives.
//!
//! Everything is deterministic: the same needs, resources and weights give the same arcs in
//! the same order, hence the same optimum.

use std::collections::HashMap;

use crate::{Assignment, Instance};

/// A tree of areas (都道府県 → 市区町村 → 日常生活圏域 → …) or of categories, by index.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    parent: Vec<Option<u32>>,
}

impl Tree {
    pub fn new(parent: Vec<Option<u32>>) -> Tree {
        Tree { parent }
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    /// `node`, its parent, its parent's parent … up to the root.
    pub fn ancestors(&self, node: u32) -> impl Iterator<Item = u32> + '_ {
        std::iter::successors(Some(node), move |&at| self.parent[at as usize])
    }

    /// Whether `inner` is `outer` or lies below it.
    pub fn contains(&self, outer: u32, inner: u32) -> bool {
        self.ancestors(inner).any(|at| at == outer)
    }
}

/// A weekly window in minutes after local midnight; weekday 1 = Monday … 7 = Sunday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub weekday: u8,
    pub start: u16,
    pub end: u16,
}

/// Minutes `a` and `b` share in a week.
fn overlap_minutes(a: &[Window], b: &[Window]) -> u32 {
    let mut total = 0;
    for x in a {
        for y in b {
            if x.weekday == y.weekday {
                let (start, end) = (x.start.max(y.start), x.end.min(y.end));
                if end > start {
                    total += u32::from(end - start);
                }
            }
        }
    }
    total
}

fn total_minutes(windows: &[Window]) -> u32 {
    windows
        .iter()
        .map(|w| u32::from(w.end.saturating_sub(w.start)))
        .sum()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    Female,
    Male,
}

/// A point (degrees); distances are great-circle, in metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub latitude: f64,
    pub longitude: f64,
}

fn metres(a: Point, b: Point) -> i64 {
    let (la, lb) = (a.latitude.to_radians(), b.latitude.to_radians());
    let dla = lb - la;
    let dlo = (b.longitude - a.longitude).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la.cos() * lb.cos() * (dlo / 2.0).sin().powi(2);
    (2.0 * 6_371_000.0 * h.sqrt().asin()).round() as i64
}

#[derive(Debug, Clone, Default)]
pub struct Need {
    pub area: u32,
    pub category: u32,
    pub urgent: bool,
    pub location: Option<Point>,
    /// When help is wanted; empty: any time.
    pub windows: Vec<Window>,
    /// Eligibility code (一般高齢者 … 要介護5 as 0..9); `None`: not stated.
    pub eligibility: Option<u8>,
    /// The most the resident pays per use; `None`: any fee.
    pub max_fee: Option<u32>,
    pub wheelchair: bool,
    /// The helper's gender, and whether it is required (else preferred).
    pub gender: Option<(Gender, bool)>,
    /// Languages the helper must speak (any one); empty: no requirement.
    pub languages: Vec<String>,
    /// Helpers the resident knows (registry ids as numbers).
    pub known_helpers: Vec<u64>,
    /// Resources this need must not be proposed again (rejected before).
    pub excluded: Vec<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct Resource {
    pub category: u32,
    /// Areas it serves; a need is covered when one of them contains the need's area.
    pub coverage: Vec<u32>,
    pub location: Option<Point>,
    /// When it runs; empty: any time (e.g. a shop's delivery).
    pub windows: Vec<Window>,
    /// Eligibility codes it accepts; empty: everyone.
    pub eligibility: Vec<u8>,
    /// Fee per use; `None`: unknown.
    pub fee: Option<u32>,
    /// Places in the period, and those already taken by accepted matches.
    pub capacity: u32,
    pub taken: u32,
    pub wheelchair: bool,
    pub genders: Vec<Gender>,
    pub languages: Vec<String>,
    pub helpers: Vec<u64>,
}

/// The weights of the cost, per municipality (configuration). All integers: the optimum is
/// exact and reproducible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weights {
    /// Per kilometre between need and resource (when both have a location).
    pub per_km: i64,
    /// Per percent of the wanted minutes the resource's schedule does not cover.
    pub per_percent_unscheduled: i64,
    /// The least share of the wanted minutes a resource must cover, in percent.
    pub min_schedule_percent: u32,
    /// When none of the resource's helpers is one the resident knows (and they know one).
    pub unfamiliar_helper: i64,
    /// When the helper's gender is a preference the resource cannot promise.
    pub gender_preference_missed: i64,
    /// When the resource's fee is unknown.
    pub unknown_fee: i64,
    /// Per percent of the resource's capacity already taken (spreads the load).
    pub per_percent_load: i64,
    /// The cost of leaving a routine or an urgent need unmatched.
    pub routine_unmatched: i64,
    pub urgent_unmatched: i64,
}

impl Default for Weights {
    fn default() -> Weights {
        Weights {
            per_km: 100,
            per_percent_unscheduled: 20,
            min_schedule_percent: 50,
            unfamiliar_helper: 300,
            gender_preference_missed: 500,
            unknown_fee: 200,
            per_percent_load: 5,
            routine_unmatched: 100_000,
            urgent_unmatched: 1_000_000,
        }
    }
}

/// Why a resource of the need's category cannot serve it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exclusion {
    Eligibility,
    Schedule { percent: u32 },
    Fee { fee: u32 },
    Wheelchair,
    Gender,
    Language,
    NoCapacity,
    RejectedBefore,
}

impl Exclusion {
    /// In the words a coordinator reads.
    pub fn describe(&self) -> String {
        match self {
            Exclusion::Eligibility => "対象者の区分が合わない / does not accept the eligibility".into(),
            Exclusion::Schedule { percent } => {
                format!(
                    "日時が合わない（希望の{percent}%のみ） / schedule covers {percent}% of the wanted time"
                )
            }
            Exclusion::Fee { fee } => {
                format!("料金が上限を超える（{fee}円） / fee {fee} yen is over the limit")
            }
            Exclusion::Wheelchair => "車いす対応車両がない / no wheelchair-capable vehicle".into(),
            Exclusion::Gender => "担い手の性別の条件に合わない / cannot meet the helper gender".into(),
            Exclusion::Language => "言語の条件に合わない / no helper speaks the language".into(),
            Exclusion::NoCapacity => "受け入れ枠がない / no place left".into(),
            Exclusion::RejectedBefore => "以前に辞退された / declined this need before".into(),
        }
    }
}

/// One factor of an arc's cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Factor {
    pub name: &'static str,
    pub cost: i64,
}

/// A resource that may serve a need, at this cost, for these reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub resource: u32,
    pub cost: i64,
    pub factors: Vec<Factor>,
}

/// The hard constraints of `resource` for `need`, and the cost factors in `FACTORS` order;
/// allocates nothing (it runs for every pair a need looks at).
fn score(
    need: &Need,
    resource_index: u32,
    resource: &Resource,
    weights: &Weights,
) -> Result<[i64; FACTORS.len()], Exclusion> {
    if need.excluded.contains(&resource_index) {
        return Err(Exclusion::RejectedBefore);
    }
    if let Some(eligibility) = need.eligibility
        && !resource.eligibility.is_empty()
        && !resource.eligibility.contains(&eligibility)
    {
        return Err(Exclusion::Eligibility);
    }
    let wanted = total_minutes(&need.windows);
    let percent = if need.windows.is_empty() || resource.windows.is_empty() || wanted == 0 {
        100
    } else {
        overlap_minutes(&need.windows, &resource.windows) * 100 / wanted
    };
    if percent < weights.min_schedule_percent {
        return Err(Exclusion::Schedule { percent });
    }
    if let (Some(limit), Some(fee)) = (need.max_fee, resource.fee)
        && fee > limit
    {
        return Err(Exclusion::Fee { fee });
    }
    if need.wheelchair && !resource.wheelchair {
        return Err(Exclusion::Wheelchair);
    }
    let gender_fits = need
        .gender
        .is_none_or(|(gender, _)| resource.genders.contains(&gender));
    if let Some((_, true)) = need.gender
        && !gender_fits
    {
        return Err(Exclusion::Gender);
    }
    if !need.languages.is_empty() && !need.languages.iter().any(|l| resource.languages.contains(l)) {
        return Err(Exclusion::Language);
    }
    if resource.taken >= resource.capacity {
        return Err(Exclusion::NoCapacity);
    }
    let distance = match (need.location, resource.location) {
        (Some(a), Some(b)) => metres(a, b) * weights.per_km / 1000,
        _ => 0,
    };
    let unfamiliar =
        !need.known_helpers.is_empty() && !need.known_helpers.iter().any(|h| resource.helpers.contains(h));
    Ok([
        distance,
        i64::from(100 - percent.min(100)) * weights.per_percent_unscheduled,
        if unfamiliar { weights.unfamiliar_helper } else { 0 },
        if gender_fits {
            0
        } else {
            weights.gender_preference_missed
        },
        if need.max_fee.is_some() && resource.fee.is_none() {
            weights.unknown_fee
        } else {
            0
        },
        i64::from(resource.taken * 100 / resource.capacity.max(1)) * weights.per_percent_load,
    ])
}

/// The factors of an arc's cost, in the order `score` computes them.
const FACTORS: [&str; 6] = [
    "distance",
    "schedule",
    "unfamiliar_helper",
    "gender_preference",
    "unknown_fee",
    "load",
];

/// The hard constraints and the cost of `resource` for `need`, with its non-zero factors.
pub fn evaluate(
    need: &Need,
    resource_index: u32,
    resource: &Resource,
    weights: &Weights,
) -> Result<Candidate, Exclusion> {
    let scores = score(need, resource_index, resource, weights)?;
    let factors: Vec<Factor> = FACTORS
        .iter()
        .zip(scores)
        .filter(|(_, cost)| *cost != 0)
        .map(|(name, cost)| Factor { name, cost })
        .collect();
    Ok(Candidate {
        resource: resource_index,
        cost: scores.iter().sum(),
        factors,
    })
}

/// The world the needs are matched in.
pub struct World<'a> {
    pub areas: &'a Tree,
    pub categories: &'a Tree,
    pub resources: &'a [Resource],
    pub weights: &'a Weights,
}

/// Resources by (covered area, category), so that a need looks only at resources that could
/// be its candidates. A resource's category fits a need's when it is the same, a more general
/// one (家事援助 serves 掃除), or a more specific one (a need for 生活支援 in general is met by
/// ゴミ出し); its coverage fits when one of its areas contains the need's area.
struct Index {
    by_area_category: HashMap<(u32, u32), Vec<u32>>,
    /// Each category's strict descendants (the taxonomy is small).
    below: Vec<Vec<u32>>,
}

impl Index {
    fn new(world: &World<'_>) -> Index {
        let mut by_area_category: HashMap<(u32, u32), Vec<u32>> = HashMap::new();
        for (index, resource) in world.resources.iter().enumerate() {
            for &area in &resource.coverage {
                by_area_category
                    .entry((area, resource.category))
                    .or_default()
                    .push(index as u32);
            }
        }
        let mut below: Vec<Vec<u32>> = vec![Vec::new(); world.categories.len()];
        for category in 0..world.categories.len() as u32 {
            for ancestor in world.categories.ancestors(category).skip(1) {
                below[ancestor as usize].push(category);
            }
        }
        Index {
            by_area_category,
            below,
        }
    }

    /// The resources a need looks at, ascending, each once.
    fn looked_at(&self, need: &Need, world: &World<'_>, seen: &mut Vec<u32>) {
        seen.clear();
        for area in world.areas.ancestors(need.area) {
            let categories = world
                .categories
                .ancestors(need.category)
                .chain(self.below[need.category as usize].iter().copied());
            for category in categories {
                if let Some(found) = self.by_area_category.get(&(area, category)) {
                    seen.extend(found);
                }
            }
        }
        seen.sort_unstable();
        seen.dedup();
    }
}

/// The instance of `needs` in `world`: an arc per resource that may serve a need (its index
/// is the offer's), at the summed cost; the remaining capacity of each resource; each need's
/// cost of staying unmatched. Candidates are generated on up to `threads` threads, in
/// contiguous slices joined in order, so the instance is the same whatever the threads.
pub fn plan(needs: &[Need], world: &World<'_>, threads: usize) -> Instance {
    let index = Index::new(world);
    let chunk = needs.len().div_ceil(threads.max(1)).max(1);
    let arcs: Vec<(Vec<u32>, Vec<u32>, Vec<i64>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = needs
            .chunks(chunk)
            .enumerate()
            .map(|(part, slice)| {
                let index = &index;
                scope.spawn(move || {
                    let (mut tails, mut heads, mut costs) = (Vec::new(), Vec::new(), Vec::new());
                    let mut seen = Vec::new();
                    for (offset, need) in slice.iter().enumerate() {
                        index.looked_at(need, world, &mut seen);
                        for &resource in &seen {
                            if let Ok(scores) =
                                score(need, resource, &world.resources[resource as usize], world.weights)
                            {
                                tails.push((part * chunk + offset) as u32);
                                heads.push(resource);
                                costs.push(scores.iter().sum());
                            }
                        }
                    }
                    (tails, heads, costs)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("candidate generation does not panic"))
            .collect()
    });
    let (mut tails, mut heads, mut costs) = (Vec::new(), Vec::new(), Vec::new());
    for (part_tails, part_heads, part_costs) in arcs {
        tails.extend(part_tails);
        heads.extend(part_heads);
        costs.extend(part_costs);
    }
    let capacity = world
        .resources
        .iter()
        .map(|resource| resource.capacity.saturating_sub(resource.taken))
        .collect();
    let penalty = needs
        .iter()
        .map(|need| {
            if need.urgent {
                world.weights.urgent_unmatched
            } else {
                world.weights.routine_unmatched
            }
        })
        .collect();
    Instance::new(capacity, penalty, &tails, &heads, &costs).expect("arcs are built grouped by need")
}

/// What the engine says about one need after solving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Explanation {
    Proposed {
        resource: u32,
        cost: i64,
        factors: Vec<Factor>,
    },
    Unmatched {
        reason: Unmatched,
        /// The closest alternatives: excluded resources of the category with their reason,
        /// or candidates that went to others (cheapest first), at most three.
        nearest: Vec<(u32, String)>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmatched {
    /// No resource of the need's category covers its area.
    NoResourceCovers,
    /// Resources cover it but none meets the hard constraints; the commonest reason.
    Constraint(Exclusion),
    /// Candidates exist, but their places went to needs that cost more to leave unmatched.
    AllCandidatesTaken,
    /// Every candidate costs more than leaving the need unmatched.
    TooCostly,
}

impl Unmatched {
    pub fn describe(&self) -> String {
        match self {
            Unmatched::NoResourceCovers => {
                "この区域を対象とする、このカテゴリの地域資源がありません / no resource of this category covers the area".into()
            }
            Unmatched::Constraint(exclusion) => format!("条件に合う地域資源がありません: {}", exclusion.describe()),
            Unmatched::AllCandidatesTaken => {
                "対象となる地域資源はすべて受け入れ上限に達しています / every candidate is at capacity".into()
            }
            Unmatched::TooCostly => "候補はあるが条件の差が大きすぎます / every candidate is too poor a fit".into(),
        }
    }
}

/// Explains the solver's answer for each need: the chosen resource's factors, or why the need
/// stayed unmatched with its nearest alternatives (recomputed for those needs only).
pub fn explain(
    needs: &[Need],
    world: &World<'_>,
    instance: &Instance,
    assignment: &Assignment,
) -> Vec<Explanation> {
    let index = Index::new(world);
    let mut seen = Vec::new();
    needs
        .iter()
        .enumerate()
        .map(|(need_index, need)| match assignment.arc_of[need_index] {
            Some(arc) => {
                let resource = instance.arcs_of(need_index)[arc as usize].offer;
                let chosen = evaluate(need, resource, &world.resources[resource as usize], world.weights)
                    .expect("a chosen arc was a candidate");
                Explanation::Proposed {
                    resource,
                    cost: chosen.cost,
                    factors: chosen.factors,
                }
            }
            None => {
                index.looked_at(need, world, &mut seen);
                let mut candidates = Vec::new();
                let mut excluded = Vec::new();
                for &resource in &seen {
                    match evaluate(need, resource, &world.resources[resource as usize], world.weights) {
                        Ok(candidate) => candidates.push(candidate),
                        Err(reason) => excluded.push((resource, reason)),
                    }
                }
                explain_unmatched(instance.penalty(need_index), candidates, &excluded)
            }
        })
        .collect()
}

fn explain_unmatched(
    penalty: i64,
    mut candidates: Vec<Candidate>,
    excluded: &[(u32, Exclusion)],
) -> Explanation {
    if !candidates.is_empty() {
        candidates.sort_by_key(|candidate| (candidate.cost, candidate.resource));
        let reason = if candidates[0].cost >= penalty {
            Unmatched::TooCostly
        } else {
            Unmatched::AllCandidatesTaken
        };
        return Explanation::Unmatched {
            reason,
            nearest: candidates
                .iter()
                .take(3)
                .map(|candidate| {
                    (
                        candidate.resource,
                        format!("費用 {} / cost {}", candidate.cost, candidate.cost),
                    )
                })
                .collect(),
        };
    }
    if excluded.is_empty() {
        return Explanation::Unmatched {
            reason: Unmatched::NoResourceCovers,
            nearest: Vec::new(),
        };
    }
    // The commonest reason among the resources that cover the need; ties by first seen.
    let mut counts: Vec<(&Exclusion, usize)> = Vec::new();
    for (_, reason) in excluded {
        let kind = std::mem::discriminant(reason);
        match counts
            .iter_mut()
            .find(|(seen, _)| std::mem::discriminant(*seen) == kind)
        {
            Some((_, count)) => *count += 1,
            None => counts.push((reason, 1)),
        }
    }
    let commonest = counts
        .iter()
        .max_by_key(|(_, count)| *count)
        .map(|(reason, _)| (*reason).clone())
        .expect("at least one exclusion");
    Explanation::Unmatched {
        reason: Unmatched::Constraint(commonest),
        nearest: excluded
            .iter()
            .take(3)
            .map(|(resource, reason)| (*resource, reason.describe()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solve;

    // Areas: 0 岐阜県 → 1 大垣市 → 2 西部圏域, 3 東部圏域. Categories: 0 生活支援 → 1 ゴミ出し, 2 買い物.
    fn areas() -> Tree {
        Tree::new(vec![None, Some(0), Some(1), Some(1)])
    }

    fn categories() -> Tree {
        Tree::new(vec![None, Some(0), Some(0)])
    }

    const TUESDAY_MORNING: Window = Window {
        weekday: 2,
        start: 540,
        end: 720,
    };

    fn need() -> Need {
        Need {
            area: 2,
            category: 1,
            windows: vec![TUESDAY_MORNING],
            ..Need::default()
        }
    }

    fn resource(coverage: u32, category: u32) -> Resource {
        Resource {
            category,
            coverage: vec![coverage],
            windows: vec![TUESDAY_MORNING],
            capacity: 1,
            ..Resource::default()
        }
    }

    /// Plans, solves and explains `needs` among `resources`.
    fn planned(needs: &[Need], resources: &[Resource]) -> (Instance, Assignment, Vec<Explanation>) {
        let (areas, categories, weights) = (areas(), categories(), Weights::default());
        let world = World {
            areas: &areas,
            categories: &categories,
            resources,
            weights: &weights,
        };
        let instance = plan(needs, &world, 2);
        let assignment = solve(&instance, 1);
        let explanations = explain(needs, &world, &instance, &assignment);
        (instance, assignment, explanations)
    }

    #[test]
    fn coverage_follows_the_area_tree_and_categories_the_taxonomy() {
        let resources = [
            resource(1, 1), // the whole city, ゴミ出し: a candidate
            resource(3, 1), // another daily-life area: not
            resource(2, 2), // 買い物: not
            resource(2, 0), // 生活支援 in general: a candidate (more general)
        ];
        let (instance, _, _) = planned(&[need()], &resources);
        let candidates: Vec<u32> = instance.arcs_of(0).iter().map(|arc| arc.offer).collect();
        assert_eq!(candidates, [0, 3]);
        // A need for 生活支援 in general is met by the more specific ones too.
        let general = Need {
            category: 0,
            ..need()
        };
        let (instance, _, _) = planned(&[general], &resources);
        let candidates: Vec<u32> = instance.arcs_of(0).iter().map(|arc| arc.offer).collect();
        assert_eq!(candidates, [0, 2, 3]);
    }

    #[test]
    fn every_hard_constraint_excludes_with_its_reason() {
        let weights = Weights::default();
        let base = resource(1, 1);
        let cases: Vec<(Need, Resource, Exclusion)> = vec![
            (
                Need {
                    eligibility: Some(5),
                    ..need()
                },
                Resource {
                    eligibility: vec![0, 1],
                    ..base.clone()
                },
                Exclusion::Eligibility,
            ),
            (
                need(),
                Resource {
                    windows: vec![Window {
                        weekday: 3,
                        ..TUESDAY_MORNING
                    }],
                    ..base.clone()
                },
                Exclusion::Schedule { percent: 0 },
            ),
            (
                Need {
                    max_fee: Some(300),
                    ..need()
                },
                Resource {
                    fee: Some(500),
                    ..base.clone()
                },
                Exclusion::Fee { fee: 500 },
            ),
            (
                Need {
                    wheelchair: true,
                    ..need()
                },
                base.clone(),
                Exclusion::Wheelchair,
            ),
            (
                Need {
                    gender: Some((Gender::Female, true)),
                    ..need()
                },
                Resource {
                    genders: vec![Gender::Male],
                    ..base.clone()
                },
                Exclusion::Gender,
            ),
            (
                Need {
                    languages: vec!["pt-BR".into()],
                    ..need()
                },
                Resource {
                    languages: vec!["ja".into()],
                    ..base.clone()
                },
                Exclusion::Language,
            ),
            (
                need(),
                Resource {
                    taken: 1,
                    ..base.clone()
                },
                Exclusion::NoCapacity,
            ),
            (
                Need {
                    excluded: vec![0],
                    ..need()
                },
                base.clone(),
                Exclusion::RejectedBefore,
            ),
        ];
        for (need, resource, expected) in cases {
            assert_eq!(
                evaluate(&need, 0, &resource, &weights),
                Err(expected.clone()),
                "{expected:?}"
            );
        }
        assert!(evaluate(&need(), 0, &base, &weights).is_ok());
    }

    #[test]
    fn costs_are_the_sum_of_named_factors() {
        let weights = Weights::default();
        let near = Point {
            latitude: 35.36,
            longitude: 136.61,
        };
        let need = Need {
            location: Some(near),
            known_helpers: vec![7],
            gender: Some((Gender::Female, false)),
            max_fee: Some(500),
            windows: vec![TUESDAY_MORNING],
            ..need()
        };
        let resource = Resource {
            location: Some(Point {
                latitude: 35.37,
                longitude: 136.61,
            }),
            windows: vec![Window {
                end: 630,
                ..TUESDAY_MORNING
            }],
            capacity: 4,
            taken: 1,
            ..resource(1, 1)
        };
        let candidate = evaluate(&need, 0, &resource, &weights).unwrap();
        let names: Vec<&str> = candidate.factors.iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "distance",
                "schedule",
                "unfamiliar_helper",
                "gender_preference",
                "unknown_fee",
                "load"
            ]
        );
        assert_eq!(
            candidate.cost,
            candidate.factors.iter().map(|f| f.cost).sum::<i64>()
        );
        // 1.1 km; half the wanted minutes; 25 % load.
        assert_eq!(candidate.factors[0].cost, 111);
        assert_eq!(candidate.factors[1].cost, 50 * weights.per_percent_unscheduled);
        assert_eq!(candidate.factors[5].cost, 25 * weights.per_percent_load);
        // A known helper makes the difference between two otherwise equal resources.
        let familiar = Resource {
            helpers: vec![7],
            ..resource.clone()
        };
        assert!(evaluate(&need, 1, &familiar, &weights).unwrap().cost < candidate.cost);
    }

    #[test]
    fn every_answer_is_explained() {
        let resources = [resource(1, 1)];
        let urgent = Need {
            urgent: true,
            ..need()
        };
        let no_shopping = Need {
            category: 2,
            ..need()
        };
        let wheelchair = Need {
            wheelchair: true,
            ..need()
        };
        let (_, _, explanations) = planned(&[need(), urgent, no_shopping, wheelchair], &resources);
        // The one place goes to the urgent need.
        assert!(matches!(
            &explanations[1],
            Explanation::Proposed { resource: 0, .. }
        ));
        let Explanation::Unmatched { reason, nearest } = &explanations[0] else {
            panic!("{:?}", explanations[0])
        };
        assert_eq!(*reason, Unmatched::AllCandidatesTaken);
        assert_eq!(nearest[0].0, 0);
        assert_eq!(
            explanations[2],
            Explanation::Unmatched {
                reason: Unmatched::NoResourceCovers,
                nearest: vec![]
            }
        );
        let Explanation::Unmatched { reason, nearest } = &explanations[3] else {
            panic!("{:?}", explanations[3])
        };
        assert_eq!(*reason, Unmatched::Constraint(Exclusion::Wheelchair));
        assert!(nearest[0].1.contains("車いす"), "{nearest:?}");
        assert!(reason.describe().contains("車いす"));
    }
}
