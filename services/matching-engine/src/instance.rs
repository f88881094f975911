//! The problem: needs `0..N`, offers `0..M` with capacities, arcs (need, offer, cost) and a
//! penalty per need for staying unserved.

use std::fmt;

/// One way to serve a need: offer `offer` at `cost`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arc {
    pub offer: u32,
    pub cost: i64,
}

/// A validated instance. Arcs are grouped by need (`arcs_of(need)`); arcs that cost as much
/// as leaving the need unserved, or more, are kept (the caller may want to explain them) but
/// the solver never needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    offers: usize,
    capacity: Vec<u32>,
    penalty: Vec<i64>,
    /// `arc_start[i]..arc_start[i + 1]` are need i's arcs in `arcs`.
    arc_start: Vec<usize>,
    arcs: Vec<Arc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceError {
    /// An arc names a need or offer outside the instance.
    OutOfRange { arc: usize },
    /// A cost or penalty below zero, or one so large that sums could overflow.
    BadCost {
        what: &'static str,
        index: usize,
        value: i64,
    },
    /// Arcs must be given grouped by need, needs ascending.
    Unsorted { arc: usize },
    /// Arrays of different lengths, or a count that does not fit.
    Shape(String),
}

impl fmt::Display for InstanceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceError::OutOfRange { arc } => {
                write!(f, "arc {arc} names a need or offer outside the instance")
            }
            InstanceError::BadCost { what, index, value } => {
                write!(f, "{what} {index} is {value}: costs and penalties are 0..=2^40")
            }
            InstanceError::Unsorted { arc } => write!(
                f,
                "arc {arc} is out of order: arcs are grouped by need, ascending"
            ),
            InstanceError::Shape(reason) => write!(f, "{reason}"),
        }
    }
}

impl std::error::Error for InstanceError {}

/// Costs and penalties stay below 2^40, so that sums over millions of arcs stay far from
/// overflow (2^40 × 2^23 < 2^63).
pub const MAX_COST: i64 = 1 << 40;

impl Instance {
    /// Builds an instance from arcs given as (need, offer, cost), grouped by need ascending —
    /// the layout of the benchmark format (`tails.bin` sorted).
    pub fn new(
        capacity: Vec<u32>,
        penalty: Vec<i64>,
        tails: &[u32],
        heads: &[u32],
        costs: &[i64],
    ) -> Result<Instance, InstanceError> {
        let needs = penalty.len();
        let offers = capacity.len();
        if tails.len() != heads.len() || heads.len() != costs.len() {
            return Err(InstanceError::Shape(format!(
                "tails, heads and costs differ in length ({}, {}, {})",
                tails.len(),
                heads.len(),
                costs.len()
            )));
        }
        if needs > u32::MAX as usize || offers > u32::MAX as usize {
            return Err(InstanceError::Shape("more than 2^32 needs or offers".into()));
        }
        for (index, &value) in penalty.iter().enumerate() {
            if !(0..=MAX_COST).contains(&value) {
                return Err(InstanceError::BadCost {
                    what: "penalty",
                    index,
                    value,
                });
            }
        }
        let mut arc_start = Vec::with_capacity(needs + 1);
        arc_start.push(0);
        let mut arcs = Vec::with_capacity(tails.len());
        for (index, ((&tail, &head), &cost)) in tails.iter().zip(heads).zip(costs).enumerate() {
            if tail as usize >= needs || head as usize >= offers {
                return Err(InstanceError::OutOfRange { arc: index });
            }
            if !(0..=MAX_COST).contains(&cost) {
                return Err(InstanceError::BadCost {
                    what: "arc cost",
                    index,
                    value: cost,
                });
            }
            let tail = tail as usize;
            if tail + 1 < arc_start.len() {
                return Err(InstanceError::Unsorted { arc: index });
            }
            while arc_start.len() <= tail {
                arc_start.push(index);
            }
            arcs.push(Arc { offer: head, cost });
        }
        while arc_start.len() <= needs {
            arc_start.push(arcs.len());
        }
        Ok(Instance {
            offers,
            capacity,
            penalty,
            arc_start,
            arcs,
        })
    }

    pub fn needs(&self) -> usize {
        self.penalty.len()
    }

    pub fn offers(&self) -> usize {
        self.offers
    }

    pub fn arc_count(&self) -> usize {
        self.arcs.len()
    }

    pub fn capacity(&self, offer: usize) -> u32 {
        self.capacity[offer]
    }

    pub fn penalty(&self, need: usize) -> i64 {
        self.penalty[need]
    }

    pub fn arcs_of(&self, need: usize) -> &[Arc] {
        &self.arcs[self.arc_start[need]..self.arc_start[need + 1]]
    }

    /// Appends a need with its arcs; returns its index.
    pub fn push_need(&mut self, penalty: i64, arcs: &[Arc]) -> Result<usize, InstanceError> {
        let need = self.needs();
        if !(0..=MAX_COST).contains(&penalty) {
            return Err(InstanceError::BadCost {
                what: "penalty",
                index: need,
                value: penalty,
            });
        }
        for (index, arc) in arcs.iter().enumerate() {
            if arc.offer as usize >= self.offers {
                return Err(InstanceError::OutOfRange { arc: index });
            }
            if !(0..=MAX_COST).contains(&arc.cost) {
                return Err(InstanceError::BadCost {
                    what: "arc cost",
                    index,
                    value: arc.cost,
                });
            }
        }
        self.penalty.push(penalty);
        self.arcs.extend_from_slice(arcs);
        self.arc_start.push(self.arcs.len());
        Ok(need)
    }
}
