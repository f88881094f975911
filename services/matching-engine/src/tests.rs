//! The solver against optima found independently: exhaustive search on small random
//! instances, and a plain min-cost flow (Bellman–Ford successive shortest paths on the
//! explicit network, no potentials, no pruning, no components) on larger ones.

use crate::{Arc, Assignment, Instance, Matcher, solve};

/// A small deterministic generator (xorshift64*), so that every failure names its seed.
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
}

/// A random instance: each need gets up to `max_arcs` arcs to random offers.
fn random(
    seed: u64,
    needs: usize,
    offers: usize,
    max_arcs: u64,
    max_cost: i64,
    max_capacity: u32,
) -> Instance {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let capacity = (0..offers)
        .map(|_| rng.below(u64::from(max_capacity) + 1) as u32)
        .collect();
    let penalty = (0..needs)
        .map(|_| 1 + rng.below(max_cost as u64 + 10) as i64)
        .collect();
    let (mut tails, mut heads, mut costs) = (Vec::new(), Vec::new(), Vec::new());
    for need in 0..needs {
        for _ in 0..rng.below(max_arcs + 1) {
            tails.push(need as u32);
            heads.push(rng.below(offers as u64) as u32);
            costs.push(rng.below(max_cost as u64 + 1) as i64);
        }
    }
    Instance::new(capacity, penalty, &tails, &heads, &costs).unwrap()
}

/// The optimum by trying every choice for every need.
fn brute_force(instance: &Instance) -> i64 {
    fn go(instance: &Instance, need: usize, load: &mut Vec<u32>) -> i64 {
        if need == instance.needs() {
            return 0;
        }
        let mut best = instance.penalty(need) + go(instance, need + 1, load);
        for arc in instance.arcs_of(need) {
            let offer = arc.offer as usize;
            if load[offer] < instance.capacity(offer) {
                load[offer] += 1;
                best = best.min(arc.cost + go(instance, need + 1, load));
                load[offer] -= 1;
            }
        }
        best
    }
    go(instance, 0, &mut vec![0; instance.offers()])
}

/// Min-cost flow of value N on the explicit network, by Bellman–Ford shortest paths.
fn reference_min_cost_flow(instance: &Instance) -> i64 {
    struct Edge {
        to: usize,
        capacity: i64,
        cost: i64,
    }
    let (needs, offers) = (instance.needs(), instance.offers());
    let (source, sink) = (needs + offers, needs + offers + 1);
    let mut edges: Vec<Edge> = Vec::new();
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); needs + offers + 2];
    let mut add = |edges: &mut Vec<Edge>, from: usize, to: usize, capacity: i64, cost: i64| {
        out[from].push(edges.len());
        edges.push(Edge { to, capacity, cost });
        out[to].push(edges.len());
        edges.push(Edge {
            to: from,
            capacity: 0,
            cost: -cost,
        });
    };
    for need in 0..needs {
        add(&mut edges, source, need, 1, 0);
        add(&mut edges, need, sink, 1, instance.penalty(need));
        for arc in instance.arcs_of(need) {
            add(&mut edges, need, needs + arc.offer as usize, 1, arc.cost);
        }
    }
    for offer in 0..offers {
        add(
            &mut edges,
            needs + offer,
            sink,
            i64::from(instance.capacity(offer)),
            0,
        );
    }
    let mut total = 0;
    for _ in 0..needs {
        let mut distance = vec![i64::MAX; out.len()];
        let mut via = vec![usize::MAX; out.len()];
        distance[source] = 0;
        for _ in 0..out.len() {
            let mut changed = false;
            for from in 0..out.len() {
                if distance[from] == i64::MAX {
                    continue;
                }
                for &edge in &out[from] {
                    let e = &edges[edge];
                    if e.capacity > 0 && distance[from] + e.cost < distance[e.to] {
                        distance[e.to] = distance[from] + e.cost;
                        via[e.to] = edge;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        total += distance[sink];
        let mut node = sink;
        while node != source {
            let edge = via[node];
            edges[edge].capacity -= 1;
            edges[edge ^ 1].capacity += 1;
            node = edges[edge ^ 1].to;
        }
    }
    total
}

fn check(instance: &Instance, expected: i64, what: &str) -> Assignment {
    for threads in [1, 2] {
        let assignment = solve(instance, threads);
        assignment
            .verify(instance)
            .unwrap_or_else(|error| panic!("{what}, {threads} threads: infeasible: {error}"));
        assert_eq!(assignment.objective, expected, "{what}, {threads} threads");
    }
    solve(instance, 1)
}

#[test]
fn small_random_instances_reach_the_exhaustive_optimum() {
    for seed in 0..2_000 {
        let needs = 1 + (seed % 7) as usize;
        let offers = 1 + (seed % 4) as usize;
        let instance = random(seed, needs, offers, 3, 20, 2);
        check(&instance, brute_force(&instance), &format!("seed {seed}"));
    }
}

#[test]
fn larger_random_instances_reach_the_min_cost_flow_optimum() {
    for seed in 0..150 {
        let needs = 20 + (seed % 60) as usize;
        let offers = 3 + (seed % 17) as usize;
        // Tight capacities and close costs: many displacement chains.
        let instance = random(seed, needs, offers, 5, 12, 3);
        check(
            &instance,
            reference_min_cost_flow(&instance),
            &format!("seed {seed}"),
        );
    }
}

#[test]
fn a_need_is_moved_when_that_frees_room_for_another() {
    // Need 0 prefers offer 0 (cost 1) but can use offer 1 (cost 2); need 1 can only use
    // offer 0. Each offer takes one. The optimum moves need 0 to offer 1: 2 + 5 = 7.
    let instance = Instance::new(vec![1, 1], vec![100, 100], &[0, 0, 1], &[0, 1, 0], &[1, 2, 5]).unwrap();
    let assignment = check(&instance, 7, "displacement");
    assert_eq!(assignment.arc_of, [Some(1), Some(0)]);
}

#[test]
fn a_need_stays_unserved_when_serving_it_costs_more_than_its_penalty() {
    let instance = Instance::new(vec![5], vec![10, 3], &[0, 1], &[0, 0], &[4, 3]).unwrap();
    let assignment = check(&instance, 4 + 3, "penalty");
    assert_eq!(assignment.arc_of, [Some(0), None]);
}

#[test]
fn urgent_needs_win_scarce_capacity() {
    // One place; the urgent need (penalty 50) gets it although it costs more to serve.
    let instance = Instance::new(vec![1], vec![10, 50], &[0, 1], &[0, 0], &[1, 8]).unwrap();
    let assignment = check(&instance, 10 + 8, "urgency");
    assert_eq!(assignment.arc_of, [None, Some(0)]);
}

#[test]
fn bad_instances_are_refused() {
    use crate::InstanceError;
    assert_eq!(
        Instance::new(vec![1], vec![1], &[0], &[1], &[1]),
        Err(InstanceError::OutOfRange { arc: 0 })
    );
    assert!(matches!(
        Instance::new(vec![1], vec![1], &[0], &[0], &[-1]),
        Err(InstanceError::BadCost { .. })
    ));
    assert_eq!(
        Instance::new(vec![1], vec![1, 1], &[1, 0], &[0, 0], &[1, 1]),
        Err(InstanceError::Unsorted { arc: 1 })
    );
}

#[test]
fn verify_catches_what_a_wrong_solver_would_claim() {
    let instance = Instance::new(vec![1], vec![9, 9], &[0, 1], &[0, 0], &[1, 1]).unwrap();
    let over = Assignment {
        arc_of: vec![Some(0), Some(0)],
        objective: 2,
    };
    assert!(over.verify(&instance).is_err());
    let wrong_sum = Assignment {
        arc_of: vec![Some(0), None],
        objective: 2,
    };
    assert!(wrong_sum.verify(&instance).is_err());
}

#[test]
fn needs_arriving_one_by_one_reach_the_optimum_of_a_full_solve() {
    for seed in 0..300 {
        let needs = 5 + (seed % 40) as usize;
        let offers = 2 + (seed % 9) as usize;
        let whole = random(seed, needs, offers, 4, 15, 2);
        // Start from the first third, then let the rest arrive.
        let start = needs / 3;
        let capacity = (0..offers).map(|offer| whole.capacity(offer)).collect();
        let penalty = (0..start).map(|need| whole.penalty(need)).collect();
        let (mut tails, mut heads, mut costs) = (Vec::new(), Vec::new(), Vec::new());
        for need in 0..start {
            for arc in whole.arcs_of(need) {
                tails.push(need as u32);
                heads.push(arc.offer);
                costs.push(arc.cost);
            }
        }
        let mut matcher = Matcher::new(Instance::new(capacity, penalty, &tails, &heads, &costs).unwrap());
        for need in start..needs {
            let arcs: Vec<Arc> = whole.arcs_of(need).to_vec();
            let (index, moved) = matcher.add_need(whole.penalty(need), &arcs).unwrap();
            assert_eq!(index, need);
            assert!(
                moved.contains(&need),
                "seed {seed}: the new need is among the moved"
            );
            let now = matcher.assignment();
            now.verify(matcher.instance()).unwrap();
            // After each arrival: the optimum of everything so far.
            assert_eq!(
                now.objective,
                solve(matcher.instance(), 1).objective,
                "seed {seed}, need {need}"
            );
        }
        assert_eq!(
            matcher.assignment().objective,
            brute_or_flow(&whole),
            "seed {seed}"
        );
    }
}

fn brute_or_flow(instance: &Instance) -> i64 {
    if instance.needs() <= 7 {
        brute_force(instance)
    } else {
        reference_min_cost_flow(instance)
    }
}
