//! Independent parts of an instance: needs and offers linked, directly or through others, by
//! arcs worth using. A municipality's needs rarely meet another's offers, so a prefecture
//! falls apart into many parts, each solved on its own — exactly, since no arc joins two of
//! them — and side by side on the available cores.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{Assignment, Instance, ssp};

/// Union–find over needs `0..N` and offers `N..N+M`.
struct Groups {
    parent: Vec<u32>,
}

impl Groups {
    fn new(size: usize) -> Groups {
        Groups {
            parent: (0..size as u32).collect(),
        }
    }

    fn root(&mut self, mut node: u32) -> u32 {
        while self.parent[node as usize] != node {
            let grandparent = self.parent[self.parent[node as usize] as usize];
            self.parent[node as usize] = grandparent;
            node = grandparent;
        }
        node
    }

    fn join(&mut self, a: u32, b: u32) {
        let (a, b) = (self.root(a), self.root(b));
        if a != b {
            self.parent[a.max(b) as usize] = a.min(b);
        }
    }
}

/// One part: its needs and offers, by their indices in the whole instance.
struct Part {
    needs: Vec<u32>,
    offers: Vec<u32>,
}

fn parts(instance: &Instance) -> Vec<Part> {
    let needs = instance.needs();
    let mut groups = Groups::new(needs + instance.offers());
    for need in 0..needs {
        let penalty = instance.penalty(need);
        for arc in instance.arcs_of(need) {
            // An arc no better than leaving the need unserved links nothing.
            if arc.cost < penalty && instance.capacity(arc.offer as usize) > 0 {
                groups.join(need as u32, (needs + arc.offer as usize) as u32);
            }
        }
    }
    let mut index_of_root = vec![u32::MAX; needs + instance.offers()];
    let mut parts: Vec<Part> = Vec::new();
    for node in 0..needs + instance.offers() {
        let root = groups.root(node as u32) as usize;
        if index_of_root[root] == u32::MAX {
            index_of_root[root] = parts.len() as u32;
            parts.push(Part {
                needs: Vec::new(),
                offers: Vec::new(),
            });
        }
        let part = &mut parts[index_of_root[root] as usize];
        if node < needs {
            part.needs.push(node as u32);
        } else {
            part.offers.push((node - needs) as u32);
        }
    }
    parts.retain(|part| !part.needs.is_empty());
    parts
}

/// The part as an instance of its own, with only the arcs that stay inside it.
fn sub_instance(instance: &Instance, part: &Part, local_offer: &[u32]) -> (Instance, Vec<Vec<u32>>) {
    let capacity = part
        .offers
        .iter()
        .map(|&offer| instance.capacity(offer as usize))
        .collect();
    let penalty = part
        .needs
        .iter()
        .map(|&need| instance.penalty(need as usize))
        .collect();
    let (mut tails, mut heads, mut costs) = (Vec::new(), Vec::new(), Vec::new());
    // For each local need, the original index of each kept arc.
    let mut original_arcs = Vec::with_capacity(part.needs.len());
    for (local_need, &need) in part.needs.iter().enumerate() {
        let mut kept = Vec::new();
        let penalty = instance.penalty(need as usize);
        for (index, arc) in instance.arcs_of(need as usize).iter().enumerate() {
            if arc.cost < penalty && instance.capacity(arc.offer as usize) > 0 {
                tails.push(local_need as u32);
                heads.push(local_offer[arc.offer as usize]);
                costs.push(arc.cost);
                kept.push(index as u32);
            }
        }
        original_arcs.push(kept);
    }
    let sub = Instance::new(capacity, penalty, &tails, &heads, &costs)
        .expect("a part of a valid instance is valid");
    (sub, original_arcs)
}

pub fn solve_by_components(instance: &Instance, threads: usize) -> Assignment {
    let mut parts = parts(instance);
    // One part holding everything: the instance itself is that part (the solver skips the
    // arcs no better than the penalty on its own), so no copy is made.
    if parts.len() == 1
        && parts[0].needs.len() == instance.needs()
        && parts[0].offers.len() == instance.offers()
    {
        return ssp::solve(instance);
    }
    // The largest first, so that no thread is left with a big part at the end.
    parts.sort_by_key(|part| std::cmp::Reverse(part.needs.len() + part.offers.len()));
    let mut local_offer = vec![u32::MAX; instance.offers()];
    for part in &parts {
        for (local, &offer) in part.offers.iter().enumerate() {
            local_offer[offer as usize] = local as u32;
        }
    }
    let result = Mutex::new(vec![None; instance.needs()]);
    let next = AtomicUsize::new(0);
    let work = || {
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(part) = parts.get(index) else { break };
            let (sub, original_arcs) = sub_instance(instance, part, &local_offer);
            let solved = ssp::solve(&sub);
            let mut result = result.lock().expect("no solver thread panics");
            for (local_need, chosen) in solved.arc_of.iter().enumerate() {
                result[part.needs[local_need] as usize] =
                    chosen.map(|arc| original_arcs[local_need][arc as usize]);
            }
        }
    };
    let threads = threads.min(parts.len()).max(1);
    if threads == 1 {
        work();
    } else {
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(work);
            }
        });
    }
    let arc_of = result.into_inner().expect("no solver thread panicked");
    let objective = arc_of
        .iter()
        .enumerate()
        .map(|(need, chosen): (usize, &Option<u32>)| match chosen {
            None => instance.penalty(need),
            Some(arc) => instance.arcs_of(need)[*arc as usize].cost,
        })
        .sum();
    Assignment { arc_of, objective }
}
