//! Matching as needs arrive: the solver's flow and potentials are kept between arrivals, so
//! placing a new need is one shortest-path search, and the assignment after it is the exact
//! optimum of the instance with that need — the same objective a full solve reaches (tested).
//! The search may move needs placed before (to another offer, or out) when that is cheaper
//! overall; `add_need` says which.

use crate::ssp::Solver;
use crate::{Arc, Assignment, Instance, InstanceError};

pub struct Matcher {
    instance: Instance,
    solver: Solver,
}

impl Matcher {
    /// Solves `instance` (on one thread) and keeps the state for arrivals.
    pub fn new(instance: Instance) -> Matcher {
        let mut solver = Solver::new(instance.offers());
        solver.grow(instance.needs());
        for need in 0..instance.needs() {
            solver.place(&instance, need);
        }
        Matcher { instance, solver }
    }

    /// Adds a need and places it; returns its index and the needs whose assignment changed
    /// (the new one included).
    pub fn add_need(&mut self, penalty: i64, arcs: &[Arc]) -> Result<(usize, Vec<usize>), InstanceError> {
        let need = self.instance.push_need(penalty, arcs)?;
        self.solver.grow(self.instance.needs());
        self.solver.place(&self.instance, need);
        let moved = self.solver.moved.iter().map(|&need| need as usize).collect();
        Ok((need, moved))
    }

    /// The arc serving `need` (its index among the need's arcs), if any.
    pub fn arc_of(&self, need: usize) -> Option<u32> {
        self.solver.arc_of(need)
    }

    pub fn assignment(&self) -> Assignment {
        self.solver.assignment(&self.instance)
    }

    pub fn instance(&self) -> &Instance {
        &self.instance
    }
}
