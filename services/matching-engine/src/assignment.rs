//! A solution: which arc serves each need (or none), and its total cost.

use std::fmt;

use crate::Instance;

/// For each need, the index of the arc that serves it among `Instance::arcs_of(need)`, or
/// `None` when it stays unserved; and the objective: the cost of the chosen arcs plus the
/// penalties of the unserved needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub arc_of: Vec<Option<u32>>,
    pub objective: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    WrongLength { needs: usize, assigned: usize },
    NoSuchArc { need: usize, arc: u32 },
    OverCapacity { offer: usize, load: u64, capacity: u32 },
    WrongObjective { claimed: i64, actual: i64 },
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::WrongLength { needs, assigned } => {
                write!(f, "{assigned} needs assigned, the instance has {needs}")
            }
            VerifyError::NoSuchArc { need, arc } => write!(f, "need {need} has no arc {arc}"),
            VerifyError::OverCapacity {
                offer,
                load,
                capacity,
            } => {
                write!(f, "offer {offer} serves {load} needs, its capacity is {capacity}")
            }
            VerifyError::WrongObjective { claimed, actual } => {
                write!(f, "objective claimed {claimed}, recomputed {actual}")
            }
        }
    }
}

impl std::error::Error for VerifyError {}

impl Assignment {
    /// Checks the assignment against the instance, independently of the solver: every chosen
    /// arc exists, no offer is over capacity, and the objective is what the choices cost.
    pub fn verify(&self, instance: &Instance) -> Result<(), VerifyError> {
        if self.arc_of.len() != instance.needs() {
            return Err(VerifyError::WrongLength {
                needs: instance.needs(),
                assigned: self.arc_of.len(),
            });
        }
        let mut load = vec![0u64; instance.offers()];
        let mut actual = 0i64;
        for (need, chosen) in self.arc_of.iter().enumerate() {
            match chosen {
                None => actual += instance.penalty(need),
                Some(arc) => {
                    let Some(found) = instance.arcs_of(need).get(*arc as usize) else {
                        return Err(VerifyError::NoSuchArc { need, arc: *arc });
                    };
                    load[found.offer as usize] += 1;
                    actual += found.cost;
                }
            }
        }
        for (offer, &load) in load.iter().enumerate() {
            if load > u64::from(instance.capacity(offer)) {
                return Err(VerifyError::OverCapacity {
                    offer,
                    load,
                    capacity: instance.capacity(offer),
                });
            }
        }
        if actual != self.objective {
            return Err(VerifyError::WrongObjective {
                claimed: self.objective,
                actual,
            });
        }
        Ok(())
    }

    /// How many needs are served.
    pub fn served(&self) -> usize {
        self.arc_of.iter().filter(|arc| arc.is_some()).count()
    }
}
