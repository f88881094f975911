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
//! of negative residual cycles). The same step places a need that arrives later: the solver
//! state is kept, so an arrival costs one search, and the result is the optimum of the
//! instance with the new need (the incremental matcher relies on it).
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

/// The flow and potentials of a (partly) solved instance. It holds no reference to the
/// instance: every call takes it, so that needs can be appended between calls.
pub struct Solver {
    offers: usize,
    /// Node ids: offers `0..M`, the sink `M`, need i is `M + 1 + i` (needs can be appended).
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
    /// The needs whose assignment the last placement changed (the placed need included).
    pub moved: Vec<u32>,
}

pub fn solve(instance: &Instance) -> Assignment {
    let mut solver = Solver::new(instance.offers());
    solver.grow(instance.needs());
    for need in 0..instance.needs() {
        solver.place(instance, need);
    }
    solver.assignment(instance)
}

impl Solver {
    pub fn new(offers: usize) -> Solver {
        let nodes = offers + 1;
        Solver {
            offers,
            sink: offers,
            potential: vec![0; nodes],
            arc_of: Vec::new(),
            cost_of: Vec::new(),
            load: vec![0; offers],
            served_by: vec![Vec::new(); offers],
            place: Vec::new(),
            distance: vec![0; nodes],
            stamp: vec![0; nodes],
            done: vec![0; nodes],
            step: vec![Step::Fill { offer: 0 }; nodes],
            round: 0,
            heap: BinaryHeap::new(),
            settled: Vec::new(),
            moved: Vec::new(),
        }
    }

    /// Makes room for needs up to `needs` (not placed yet). A new need's potential starts at
    /// the sink's, which keeps its penalty arc's reduced cost non-negative.
    pub fn grow(&mut self, needs: usize) {
        let nodes = self.offers + 1 + needs;
        let sink_potential = self.potential[self.sink];
        self.arc_of.resize(needs, NONE);
        self.cost_of.resize(needs, 0);
        self.place.resize(needs, NONE);
        self.potential.resize(nodes, sink_potential);
        self.distance.resize(nodes, 0);
        self.stamp.resize(nodes, 0);
        self.done.resize(nodes, 0);
        self.step.resize(nodes, Step::Fill { offer: 0 });
    }

    fn need_node(&self, need: usize) -> usize {
        self.offers + 1 + need
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
    fn place_directly(&mut self, instance: &Instance, source: usize) -> bool {
        let source_node = self.need_node(source);
        let potential = self.potential[source_node];
        let sink_potential = self.potential[self.sink];
        let penalty = instance.penalty(source);
        let unserved = penalty + potential - sink_potential;
        let mut cheapest_first_step = unserved;
        let mut best: Option<(i64, u32)> = None;
        for (local, arc) in instance.arcs_of(source).iter().enumerate() {
            if arc.cost >= penalty {
                continue;
            }
            let offer = arc.offer as usize;
            let reduced = arc.cost + potential - self.potential[offer];
            cheapest_first_step = cheapest_first_step.min(reduced);
            if self.load[offer] < instance.capacity(offer) {
                let to_sink = reduced + self.potential[offer] - sink_potential;
                if best.is_none_or(|(length, _)| to_sink < length) {
                    best = Some((to_sink, local as u32));
                }
            }
        }
        let (length, arc) = match best {
            Some((length, arc)) if length <= unserved => (length, Some(arc)),
            _ => (unserved, None),
        };
        if length > cheapest_first_step {
            return false;
        }
        // As the search would have done: only the source lies strictly closer than the sink.
        self.potential[source_node] -= length;
        match arc {
            Some(arc) => self.serve(instance, source as u32, arc),
            None => self.arc_of[source] = NONE,
        }
        self.moved.push(source as u32);
        true
    }

    /// Sends need `source`'s unit to the sink along a shortest residual path.
    pub fn place(&mut self, instance: &Instance, source: usize) {
        self.moved.clear();
        if self.place_directly(instance, source) {
            return;
        }
        self.round += 1;
        self.heap.clear();
        self.settled.clear();
        let source_node = self.need_node(source);
        self.stamp[source_node] = self.round;
        self.distance[source_node] = 0;
        self.heap.push(Reverse((0, source_node as u32)));
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
            if node > sink {
                let need = node - sink - 1;
                let penalty = instance.penalty(need);
                for (local, arc) in instance.arcs_of(need).iter().enumerate() {
                    if arc.cost >= penalty || self.arc_of[need] == local as u32 {
                        continue;
                    }
                    let offer = arc.offer as usize;
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
                let offer = node;
                if self.load[offer] < instance.capacity(offer) {
                    let reduced = potential - self.potential[sink];
                    debug_assert!(reduced >= 0, "negative reduced cost {reduced}");
                    self.relax(sink, distance + reduced, Step::Fill { offer: offer as u32 });
                }
                for position in 0..self.served_by[offer].len() {
                    let need = self.served_by[offer][position] as usize;
                    let need_node = self.need_node(need);
                    let reduced = -self.cost_of[need] + potential - self.potential[need_node];
                    debug_assert!(reduced >= 0, "negative reduced cost {reduced}");
                    self.relax(need_node, distance + reduced, Step::Leave { offer: offer as u32 });
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
        self.augment(instance, source_node);
    }

    fn serve(&mut self, instance: &Instance, need: u32, arc: u32) {
        let chosen = instance.arcs_of(need as usize)[arc as usize];
        let offer = chosen.offer as usize;
        self.arc_of[need as usize] = arc;
        self.cost_of[need as usize] = chosen.cost;
        self.place[need as usize] = self.served_by[offer].len() as u32;
        self.served_by[offer].push(need);
        self.load[offer] += 1;
    }

    /// Applies the path found to the sink, from the source onwards.
    fn augment(&mut self, instance: &Instance, source_node: usize) {
        // (node, how it was reached), from the sink back to the source.
        let mut path = Vec::new();
        let mut node = self.sink;
        while node != source_node {
            let step = self.step[node];
            path.push((node, step));
            node = match step {
                Step::Serve { need, .. } | Step::Unserve { need } => self.need_node(need as usize),
                Step::Leave { offer } | Step::Fill { offer } => offer as usize,
            };
        }
        for (node, step) in path.into_iter().rev() {
            match step {
                Step::Serve { need, arc } => {
                    self.serve(instance, need, arc);
                    self.moved.push(need);
                }
                // The need reached leaves the offer; its next step serves or unserves it.
                Step::Leave { offer } => self.remove(offer as usize, (node - self.sink - 1) as u32),
                Step::Unserve { need } => {
                    self.arc_of[need as usize] = NONE;
                    self.moved.push(need);
                }
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

    /// The arc serving `need` (local index), if any.
    pub fn arc_of(&self, need: usize) -> Option<u32> {
        (self.arc_of[need] != NONE).then_some(self.arc_of[need])
    }

    pub fn assignment(&self, instance: &Instance) -> Assignment {
        let mut objective = 0;
        let arc_of: Vec<Option<u32>> = (0..instance.needs())
            .map(|need| {
                let chosen = self.arc_of(need);
                objective += match chosen {
                    None => instance.penalty(need),
                    Some(_) => self.cost_of[need],
                };
                chosen
            })
            .collect();
        Assignment { arc_of, objective }
    }
}
