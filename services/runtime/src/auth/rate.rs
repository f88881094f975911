//! Per-key rate limits (issue 7): each API key may make `per_second` calls a second on
//! average, in bursts of up to `burst`, per service process — a token bucket per key prefix.
//! A call over the limit gets RESOURCE_EXHAUSTED saying when to retry. Calls between services
//! are not limited (they carry the internal token, not a key).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The limit, or none (`per_second` 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

/// Most keys tracked; past it, buckets full again are forgotten.
const MOST_TRACKED: usize = 10_000;

impl RateLimiter {
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one call's token for `key`; `Err(wait)` when none is left.
    pub fn admit(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.limit.per_second <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().expect("the limiter lock is never poisoned");
        if buckets.len() >= MOST_TRACKED && !buckets.contains_key(key) {
            let limit = self.limit;
            buckets.retain(|_, bucket| bucket.level(limit, now) < limit.burst);
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: self.limit.burst,
            refilled: now,
        });
        bucket.tokens = bucket.level(self.limit, now);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.limit.per_second,
            ))
        }
    }
}

impl Bucket {
    fn level(&self, limit: RateLimit, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        (self.tokens + elapsed * limit.per_second).min(limit.burst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_admitted_then_calls_wait_for_the_refill() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 2.0,
            burst: 3.0,
        });
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.admit("a", start).is_ok());
        }
        let wait = limiter.admit("a", start).unwrap_err();
        assert!(
            wait <= Duration::from_millis(500) && wait > Duration::ZERO,
            "{wait:?}"
        );
        assert!(
            limiter.admit("b", start).is_ok(),
            "another key has its own bucket"
        );
        assert!(limiter.admit("a", start + Duration::from_millis(500)).is_ok());
        assert!(limiter.admit("a", start + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn no_limit_admits_everything() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 0.0,
            burst: 0.0,
        });
        let now = Instant::now();
        assert!((0..1000).all(|_| limiter.admit("a", now).is_ok()));
    }
}
