//! The exact solver: successive shortest paths on the residual network, one need at a time.
//!
//! Network: need → offer (capacity 1, the arc's cost), offer → sink (the offer's capacity,
//! cost 0), need → sink (capacity 1, the need's penalty: "unserved"). Each need in turn sends
//! its unit to the sink along a shortest path of the residual network; a path may move needs
//! already placed to other offers (or leave one unserved) when that is cheaper overall. Node
//! potentials keep every residual arc's reduced cost non-negative, so each search is a
//! Dijkstra, and it stops as soon as it reaches the sink — usually after a few steps, because
//! most needs find a free offer at once. After the last need the flow is a min-cost flow of
//! value N: the exact optimum (each augmentation along a shortest path preserves the absence
//! of negative residual cycles).
//!
//! Arcs that cost as much as the penalty or more are never needed: serving the need that way
//! is no better than leaving it unserved, and leaves less capacity to others.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::{Assignment, Instance};

const NONE: u32 = u32::MAX;

/// How a node was reached on the current search tree.
#[derive(Clone, Copy)]
enum Step {
    /// need → offer over the need's arc with this local index.
    Serve { need: u32, arc: u32 },
    /// offer → need: the need leaves the offer (reverse of its arc).
    Leave { offer: u32 },
    /// need → sink: the need is left unserved.
    Unserve { need: u32 },
    /// offer → sink: the offer takes one more need.
    Fill { offer: u32 },
}

struct Solver<'a> {
    instance: &'a Instance,
    needs: usize,
    /// Node ids: needs `0..N`, offers `N..N+M`, the sink `N+M`.
    sink: usize,
    potential: Vec<i64>,
    /// The arc serving each need (local index), `NONE` when unserved or not yet placed, and
    /// that arc's cost (read on every reverse step of a search).
    arc_of: Vec<u32>,
    cost_of: Vec<i64>,
    load: Vec<u32>,
    /// The needs each offer serves, and each need's place in its offer's list.
    served_by: Vec<Vec<u32>>,
    place: Vec<u32>,
    // Search state, reused: `stamp[v] == round` marks v as seen in this search.
    distance: Vec<i64>,
    stamp: Vec<u32>,
    done: Vec<u32>,
    step: Vec<Step>,
    round: u32,
    heap: BinaryHeap<Reverse<(i64, u32)>>,
    settled: Vec<u32>,
}

pub fn solve(instance: &Instance) -> Assignment {
    let mut solver = Solver::new(instance);
    for need in 0..instance.needs() {
        solver.place(need);
    }
    solver.into_assignment()
}

impl<'a> Solver<'a> {
    fn new(instance: &'a Instance) -> Solver<'a> {
        let needs = instance.needs();
        let offers = instance.offers();
        let nodes = needs + offers + 1;
        Solver {
            instance,
            needs,
            sink: needs + offers,
            potential: vec![0; nodes],
            arc_of: vec![NONE; needs],
            cost_of: vec![0; needs],
            load: vec![0; offers],
            served_by: vec![Vec::new(); offers],
            place: vec![NONE; needs],
            distance: vec![0; nodes],
            stamp: vec![0; nodes],
            done: vec![0; nodes],
            step: vec![Step::Fill { offer: 0 }; nodes],
            round: 0,
            heap: BinaryHeap::new(),
            settled: Vec::new(),
        }
    }

    fn offer_node(&self, offer: u32) -> usize {
        self.needs + offer as usize
    }

    /// Offers `distance` to `node` through `step`, if it improves what the search knows. A node
    /// no closer than the sink's best distance so far cannot lie on a shortest path to it, and
    /// is not queued (most of a search's candidates, measured).
    fn relax(&mut self, node: usize, distance: i64, step: Step) {
        if self.done[node] == self.round {
            return;
        }
        if node != self.sink && self.stamp[self.sink] == self.round && distance >= self.distance[self.sink] {
            return;
        }
        if self.stamp[node] != self.round || distance < self.distance[node] {
            self.stamp[node] = self.round;
            self.distance[node] = distance;
            self.step[node] = step;
            self.heap.push(Reverse((distance, node as u32)));
        }
    }

    /// The shortest path when it is the obvious one: every path to the sink starts with one of
    /// the source's own arcs, and later arcs have non-negative reduced costs, so a free offer
    /// reached by the source's cheapest arc — with nothing more to pay to the sink — is a
    /// shortest path, found without a search. So is the penalty arc when nothing is cheaper.
    /// Most needs are placed this way.
    fn place_directly(&mut self, source: usize) -> bool {
        let potential = self.potential[source];
        let sink_potential = self.potential[self.sink];
        let penalty = self.instance.penalty(source);
        let mut cheapest_first_step = penalty + potential - sink_potential;
        let mut best: Option<(i64, u32, u32)> = None;
        for (local, arc) in self.instance.arcs_of(source).iter().enumerate() {
            if arc.cost >= penalty {
                continue;
            }
            let offer = self.needs + arc.offer as usize;
            let reduced = arc.cost + potential - self.potential[offer];
            cheapest_first_step = cheapest_first_step.min(reduced);
            if self.load[arc.offer as usize] < self.instance.capacity(arc.offer as usize) {
                let to_sink = reduced + self.potential[offer] - sink_potential;
                if best.is_none_or(|(length, _, _)| to_sink < length) {
                    best = Some((to_sink, local as u32, arc.offer));
                }
            }
        }
        let unserved = penalty + potential - sink_potential;
        let (length, step) = match best {
            Some((length, arc, _)) if length <= unserved => (length, Some(arc)),
            _ => (unserved, None),
        };
        if length > cheapest_first_step {
            return false;
        }
        // As the search would have done: only the source lies strictly closer than the sink.
        self.potential[source] -= length;
        match step {
            Some(arc) => {
                let chosen = self.instance.arcs_of(source)[arc as usize];
                let offer = chosen.offer as usize;
                self.arc_of[source] = arc;
                self.cost_of[source] = chosen.cost;
                self.place[source] = self.served_by[offer].len() as u32;
                self.served_by[offer].push(source as u32);
                self.load[offer] += 1;
            }
            None => self.arc_of[source] = NONE,
        }
        true
    }

    /// Sends need `source`'s unit to the sink along a shortest residual path.
    fn place(&mut self, source: usize) {
        if self.place_directly(source) {
            return;
        }
        self.round += 1;
        self.heap.clear();
        self.settled.clear();
        self.stamp[source] = self.round;
        self.distance[source] = 0;
        self.heap.push(Reverse((0, source as u32)));
        let sink = self.sink;
        let to_sink = loop {
            let Some(Reverse((distance, node))) = self.heap.pop() else {
                unreachable!("the need's own penalty arc always reaches the sink");
            };
            let node = node as usize;
            if self.done[node] == self.round || distance > self.distance[node] {
                continue;
            }
            self.done[node] = self.round;
            self.settled.push(node as u32);
            if node == sink {
                break distance;
            }
            let potential = self.potential[node];
            if node < self.needs {
                let need = node;
                let penalty = self.instance.penalty(need);
                for (local, arc) in self.instance.arcs_of(need).iter().enumerate() {
                    if arc.cost >= penalty || self.arc_of[need] == local as u32 {
                        continue;
                    }
                    let offer = self.offer_node(arc.offer);
                    let reduced = arc.cost + potential - self.potential[offer];
                    debug_assert!(reduced >= 0, "negative reduced cost {reduced}");
                    self.relax(
                        offer,
                        distance + reduced,
                        Step::Serve {
                            need: need as u32,
                            arc: local as u32,
                        },
                    );
                }
                // Unserved: only a need that is served (or being placed) can become so.
                if self.arc_of[need] != NONE || need == source {
                    let reduced = penalty + potential - self.potential[sink];
                    debug_assert!(reduced >= 0, "negative reduced cost {reduced}");
                    self.relax(sink, distance + reduced, Step::Unserve { need: need as u32 });
                }
            } else {
                let offer = (node - self.needs) as u32;
                if self.load[offer as usize] < self.instance.capacity(offer as usize) {
                    let reduced = potential - self.potential[sink];
                    debug_assert!(reduced >= 0, "negative reduced cost {reduced}");
                    self.relax(sink, distance + reduced, Step::Fill { offer });
                }
                for position in 0..self.served_by[offer as usize].len() {
                    let need = self.served_by[offer as usize][position] as usize;
                    let reduced = -self.cost_of[need] + potential - self.potential[need];
                    debug_assert!(reduced >= 0, "negative reduced cost {reduced}");
                    self.relax(need, distance + reduced, Step::Leave { offer });
                }
            }
        };
        // Potentials: every node settled closer than the sink moves by its distance; with the
        // others (and a uniform shift) this keeps all reduced costs non-negative.
        for &node in &self.settled {
            let node = node as usize;
            if self.distance[node] < to_sink {
                self.potential[node] += self.distance[node] - to_sink;
            }
        }
        self.augment(source);
    }

    /// Applies the path found to the sink, from the source onwards.
    fn augment(&mut self, source: usize) {
        // (node, how it was reached), from the sink back to the source.
        let mut path = Vec::new();
        let mut node = self.sink;
        while node != source {
            let step = self.step[node];
            path.push((node, step));
            node = match step {
                Step::Serve { need, .. } | Step::Unserve { need } => need as usize,
                Step::Leave { offer } | Step::Fill { offer } => self.offer_node(offer),
            };
        }
        for (node, step) in path.into_iter().rev() {
            match step {
                Step::Serve { need, arc } => {
                    let chosen = self.instance.arcs_of(need as usize)[arc as usize];
                    let offer = chosen.offer as usize;
                    self.arc_of[need as usize] = arc;
                    self.cost_of[need as usize] = chosen.cost;
                    self.place[need as usize] = self.served_by[offer].len() as u32;
                    self.served_by[offer].push(need);
                    self.load[offer] += 1;
                }
                // The need reached leaves the offer; its next step serves or unserves it.
                Step::Leave { offer } => self.remove(offer as usize, node as u32),
                Step::Unserve { need } => self.arc_of[need as usize] = NONE,
                Step::Fill { .. } => {}
            }
        }
    }

    fn remove(&mut self, offer: usize, need: u32) {
        let position = self.place[need as usize] as usize;
        let list = &mut self.served_by[offer];
        list.swap_remove(position);
        if let Some(&moved) = list.get(position) {
            self.place[moved as usize] = position as u32;
        }
        self.place[need as usize] = NONE;
        self.load[offer] -= 1;
    }

    fn into_assignment(self) -> Assignment {
        let mut objective = 0;
        let arc_of: Vec<Option<u32>> = self
            .arc_of
            .iter()
            .enumerate()
            .map(|(need, &arc)| {
                if arc == NONE {
                    objective += self.instance.penalty(need);
                    None
                } else {
                    objective += self.instance.arcs_of(need)[arc as usize].cost;
                    Some(arc)
                }
            })
            .collect();
        Assignment { arc_of, objective }
    }
}
