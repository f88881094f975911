//! A synthetic prefecture at the benchmark's size through the engine's domain API:
//! 100,000 needs and 20,000 resources in 30 municipalities of 8 daily-life areas each, with
//! categories, schedules, eligibility, fees, requirements and locations; candidate generation
//! (`domain::plan`), the exact solve and the explanations, each timed.
//!
//! ```sh
//! cargo bench -p tsunagu-matching-engine --bench prefecture
//! ```
//!
//! `TSUNAGU_BENCH_NEEDS` / `TSUNAGU_BENCH_RESOURCES` change the size.

use std::time::Instant;

use tsunagu_matching_engine::domain::{
    self, Explanation, Gender, Need, Point, Resource, Tree, Weights, Window, World,
};
use tsunagu_matching_engine::solve;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const MUNICIPALITIES: u32 = 30;
const DAILY_AREAS: u32 = 8;
const TOP_CATEGORIES: u32 = 4;
const LEAVES_PER_TOP: u32 = 4;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let needs_count = setting("TSUNAGU_BENCH_NEEDS", 100_000);
    let resources_count = setting("TSUNAGU_BENCH_RESOURCES", 20_000);
    let mut rng = Rng(0x7473_756e_6167_7521);

    // Areas: 0 the prefecture; municipalities 1..=30; daily-life areas after them.
    let mut parents = vec![None];
    parents.extend((0..MUNICIPALITIES).map(|_| Some(0)));
    for municipality in 1..=MUNICIPALITIES {
        parents.extend((0..DAILY_AREAS).map(|_| Some(municipality)));
    }
    let areas = Tree::new(parents);
    let daily = |municipality: u32, index: u32| 1 + MUNICIPALITIES + (municipality - 1) * DAILY_AREAS + index;
    // Each municipality sits on a grid; its daily-life areas around it.
    let centre = |municipality: u32| Point {
        latitude: 35.0 + f64::from((municipality - 1) / 6) * 0.15,
        longitude: 136.5 + f64::from((municipality - 1) % 6) * 0.15,
    };
    // Categories: top-level ones, each with leaves.
    let mut category_parents: Vec<Option<u32>> = (0..TOP_CATEGORIES).map(|_| None).collect();
    for top in 0..TOP_CATEGORIES {
        category_parents.extend((0..LEAVES_PER_TOP).map(|_| Some(top)));
    }
    let categories = Tree::new(category_parents);
    let leaf = |rng: &mut Rng| TOP_CATEGORIES + rng.below(u64::from(TOP_CATEGORIES * LEAVES_PER_TOP)) as u32;
    let window = |rng: &mut Rng| {
        let start = 480 + 60 * rng.below(8) as u16;
        Window {
            weekday: 1 + rng.below(6) as u8,
            start,
            end: start + 60 * (1 + rng.below(3) as u16),
        }
    };
    let near = |rng: &mut Rng, centre: Point| Point {
        latitude: centre.latitude + (rng.below(1000) as f64 - 500.0) / 10_000.0,
        longitude: centre.longitude + (rng.below(1000) as f64 - 500.0) / 10_000.0,
    };

    let generated = Instant::now();
    let resources: Vec<Resource> = (0..resources_count)
        .map(|_| {
            let municipality = 1 + rng.below(u64::from(MUNICIPALITIES)) as u32;
            // Most serve one or two daily-life areas, some the whole municipality, a few
            // reach into the neighbouring one.
            let mut coverage = if rng.chance(40) {
                vec![municipality]
            } else {
                vec![daily(municipality, rng.below(u64::from(DAILY_AREAS)) as u32)]
            };
            if rng.chance(20) {
                coverage.push(daily(municipality, rng.below(u64::from(DAILY_AREAS)) as u32));
            }
            if rng.chance(5) {
                coverage.push(1 + (municipality % MUNICIPALITIES));
            }
            // Half run on weekday office hours, the others a few sessions a week.
            let windows = if rng.chance(50) {
                (1..=5)
                    .map(|weekday| Window {
                        weekday,
                        start: 540,
                        end: 1020,
                    })
                    .collect()
            } else {
                (0..2 + rng.below(5)).map(|_| window(&mut rng)).collect()
            };
            Resource {
                category: if rng.chance(10) {
                    rng.below(u64::from(TOP_CATEGORIES)) as u32
                } else {
                    leaf(&mut rng)
                },
                coverage,
                location: Some(near(&mut rng, centre(municipality))),
                windows,
                eligibility: if rng.chance(20) {
                    (0..4).collect()
                } else {
                    Vec::new()
                },
                fee: if rng.chance(15) {
                    None
                } else {
                    Some(100 * rng.below(5) as u32)
                },
                capacity: 1 + rng.below(10) as u32,
                taken: 0,
                wheelchair: rng.chance(10),
                genders: if rng.chance(50) {
                    vec![Gender::Female, Gender::Male]
                } else {
                    vec![Gender::Female]
                },
                languages: if rng.chance(5) {
                    vec!["ja".into(), "pt-BR".into()]
                } else {
                    vec!["ja".into()]
                },
                helpers: (0..rng.below(3)).map(|_| rng.below(5_000)).collect(),
            }
        })
        .collect();
    let needs: Vec<Need> = (0..needs_count)
        .map(|_| {
            let municipality = 1 + rng.below(u64::from(MUNICIPALITIES)) as u32;
            Need {
                area: daily(municipality, rng.below(u64::from(DAILY_AREAS)) as u32),
                category: leaf(&mut rng),
                urgent: rng.chance(10),
                location: Some(near(&mut rng, centre(municipality))),
                windows: (0..1 + rng.below(2)).map(|_| window(&mut rng)).collect(),
                eligibility: Some(rng.below(9) as u8),
                max_fee: if rng.chance(50) {
                    Some(100 * (1 + rng.below(5)) as u32)
                } else {
                    None
                },
                wheelchair: rng.chance(3),
                gender: if rng.chance(20) {
                    Some((Gender::Female, rng.chance(30)))
                } else {
                    None
                },
                languages: if rng.chance(2) {
                    vec!["pt-BR".into()]
                } else {
                    Vec::new()
                },
                known_helpers: if rng.chance(10) {
                    vec![rng.below(5_000)]
                } else {
                    Vec::new()
                },
                excluded: Vec::new(),
            }
        })
        .collect();
    let generated_s = generated.elapsed().as_secs_f64();

    let weights = Weights::default();
    let world = World {
        areas: &areas,
        categories: &categories,
        resources: &resources,
        weights: &weights,
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let planned = Instant::now();
    let instance = domain::plan(&needs, &world, threads);
    let plan_s = planned.elapsed().as_secs_f64();
    let solved = Instant::now();
    let assignment = solve(&instance, threads);
    let solve_s = solved.elapsed().as_secs_f64();
    assignment.verify(&instance).expect("the assignment verifies");
    let explained = Instant::now();
    let explanations = domain::explain(&needs, &world, &instance, &assignment);
    let explain_s = explained.elapsed().as_secs_f64();
    let proposed = explanations
        .iter()
        .filter(|e| matches!(e, Explanation::Proposed { .. }))
        .count();
    println!(
        "{{\"bench\": \"prefecture\", \"needs\": {needs_count}, \"resources\": {resources_count}, \"arcs\": {}, \"generate_s\": {generated_s:.3}, \"candidates_s\": {plan_s:.3}, \"solve_s\": {solve_s:.3}, \"explain_s\": {explain_s:.3}, \"total_s\": {:.3}, \"proposed\": {proposed}, \"unmatched\": {}, \"objective\": {}}}",
        instance.arc_count(),
        plan_s + solve_s + explain_s,
        needs_count - proposed,
        assignment.objective
    );
}
