//! A circuit breaker per destination (the SMTP relay, a webhook's host): after a run of
//! failures the destination is left alone for a while instead of being hammered by every
//! due delivery, then one trial delivery decides whether it is back. Deliveries held back by
//! an open breaker are postponed, not counted as attempts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One trial is out; others wait for its result.
    HalfOpen,
}

pub struct Breaker {
    threshold: u32,
    cool_down: Duration,
    destinations: Mutex<HashMap<String, State>>,
}

/// Whether a delivery may go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Go,
    /// Try again after this long.
    Wait(Duration),
}

impl Breaker {
    pub fn new(threshold: u32, cool_down: Duration) -> Breaker {
        Breaker {
            threshold: threshold.max(1),
            cool_down,
            destinations: Mutex::new(HashMap::new()),
        }
    }

    pub fn admit(&self, destination: &str, now: Instant) -> Admission {
        let mut destinations = self.destinations.lock().unwrap_or_else(|e| e.into_inner());
        let state = destinations
            .entry(destination.to_string())
            .or_insert(State::Closed { failures: 0 });
        match *state {
            State::Closed { .. } => Admission::Go,
            State::Open { until } if now >= until => {
                *state = State::HalfOpen;
                Admission::Go
            }
            State::Open { until } => Admission::Wait(until - now),
            State::HalfOpen => Admission::Wait(self.cool_down.min(Duration::from_secs(1))),
        }
    }

    pub fn succeeded(&self, destination: &str) {
        let mut destinations = self.destinations.lock().unwrap_or_else(|e| e.into_inner());
        destinations.insert(destination.to_string(), State::Closed { failures: 0 });
    }

    /// Returns true when this failure opened the breaker.
    pub fn failed(&self, destination: &str, now: Instant) -> bool {
        let mut destinations = self.destinations.lock().unwrap_or_else(|e| e.into_inner());
        let state = destinations
            .entry(destination.to_string())
            .or_insert(State::Closed { failures: 0 });
        let failures = match *state {
            State::Closed { failures } => failures + 1,
            // The trial failed (or a send that began before the breaker opened).
            State::HalfOpen | State::Open { .. } => self.threshold,
        };
        if failures >= self.threshold {
            *state = State::Open {
                until: now + self.cool_down,
            };
            true
        } else {
            *state = State::Closed { failures };
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_a_run_of_failures_and_lets_one_trial_through_after_cooling_down() {
        let breaker = Breaker::new(3, Duration::from_secs(30));
        let t0 = Instant::now();
        assert!(!breaker.failed("smtp", t0));
        assert!(!breaker.failed("smtp", t0));
        assert_eq!(breaker.admit("smtp", t0), Admission::Go);
        assert!(breaker.failed("smtp", t0));
        assert_eq!(
            breaker.admit("smtp", t0 + Duration::from_secs(10)),
            Admission::Wait(Duration::from_secs(20))
        );
        // Another destination is not affected.
        assert_eq!(breaker.admit("hooks.example", t0), Admission::Go);
        // After the cool-down one trial goes; the next waits for its outcome.
        let later = t0 + Duration::from_secs(31);
        assert_eq!(breaker.admit("smtp", later), Admission::Go);
        assert!(matches!(breaker.admit("smtp", later), Admission::Wait(_)));
        breaker.succeeded("smtp");
        assert_eq!(breaker.admit("smtp", later), Admission::Go);
    }

    #[test]
    fn a_failed_trial_opens_it_again() {
        let breaker = Breaker::new(1, Duration::from_secs(5));
        let t0 = Instant::now();
        assert!(breaker.failed("x", t0));
        let later = t0 + Duration::from_secs(6);
        assert_eq!(breaker.admit("x", later), Admission::Go);
        assert!(breaker.failed("x", later));
        assert!(matches!(breaker.admit("x", later), Admission::Wait(_)));
    }

    #[test]
    fn success_resets_the_count() {
        let breaker = Breaker::new(2, Duration::from_secs(5));
        let t0 = Instant::now();
        assert!(!breaker.failed("x", t0));
        breaker.succeeded("x");
        assert!(!breaker.failed("x", t0));
    }
}
