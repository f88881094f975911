//! The matching engine's core: given needs, offers with capacities, and the arcs saying which
//! offer can serve which need at which integer cost, find an assignment of **minimum total
//! cost** — each need served at most once, each offer at most its capacity, an unserved need
//! paying its penalty. This is a min-cost b-matching (a min-cost flow: source → need [1] →
//! offer [cost] → sink [capacity], need → sink [penalty]), solved **exactly**.
//!
//! No I/O and no async: callers (the matching service, the benchmark) build an [`Instance`],
//! call [`solve`], and read an [`Assignment`] they can check with [`Assignment::verify`].
//!
//! - `domain`: needs and resources (area and category trees, schedules, eligibility, fees,
//!   requirements) turned into an instance — candidates and weighted costs — and the answer
//!   turned into explanations;
//! - `instance`: the problem, validated, arcs grouped by need;
//! - `components`: the independent parts of an instance (needs and offers linked by arcs),
//!   solved separately and side by side on the available cores;
//! - `ssp`: the exact solver — successive shortest paths with Dijkstra on reduced costs;
//! - `incremental`: the same solver kept between arrivals: a new need costs one search;
//! - `assignment`: the result and its independent check.

mod assignment;
mod components;
pub mod domain;
mod incremental;
mod instance;
mod ssp;

pub use assignment::{Assignment, VerifyError};
pub use incremental::Matcher;
pub use instance::{Arc, Instance, InstanceError};

/// Solves `instance` exactly, splitting it into independent components and solving them on
/// up to `threads` threads (at least one).
pub fn solve(instance: &Instance, threads: usize) -> Assignment {
    components::solve_by_components(instance, threads.max(1))
}

#[cfg(test)]
mod tests;
