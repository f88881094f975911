//! When a delivery goes out: at once, after the subscriber's quiet hours, in the daily
//! digest, or — after a failed attempt — after an exponential backoff with jitter. Pure
//! functions of the clock, so they are tested without waiting for the night.
//!
//! Japan keeps one offset all year (UTC+9, no summer time), so minutes of the day are
//! computed without a time-zone database.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Timelike, Utc};

const JST_OFFSET_MINUTES: i64 = 9 * 60;
const MINUTES_PER_DAY: i64 = 24 * 60;
/// No retry waits longer than this, however many attempts failed.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);

/// A subscriber's wishes, in minutes of the day in Japan time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Preferences {
    /// (start, end): routine items wait while the clock is in [start, end); start > end spans
    /// midnight.
    pub quiet_hours: Option<(u16, u16)>,
    /// Routine items go in one digest a day at this minute.
    pub digest_minute: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Send at (or after) this instant.
    SendAt(DateTime<Utc>),
    /// Hold for the digest that goes out at this instant.
    Digest(DateTime<Utc>),
}

/// Where a new item goes. Urgent items are never held.
pub fn plan(now: DateTime<Utc>, preferences: Preferences, urgent: bool) -> Plan {
    if urgent {
        return Plan::SendAt(now);
    }
    if let Some(minute) = preferences.digest_minute {
        return Plan::Digest(next_minute_of_day(now, minute));
    }
    Plan::SendAt(outside_quiet_hours(now, preferences, urgent))
}

/// `at`, or the end of the quiet hours it falls in (routine items only).
pub fn outside_quiet_hours(at: DateTime<Utc>, preferences: Preferences, urgent: bool) -> DateTime<Utc> {
    match preferences.quiet_hours {
        Some((start, end)) if !urgent && in_window(minute_of_day(at), start, end) => {
            next_minute_of_day(at, end)
        }
        _ => at,
    }
}

/// When attempt `attempts + 1` may go, after `attempts` failed: base × 2^(attempts−1), capped
/// at an hour, with full jitter in [half, all] of it so that a crowd of failures to one
/// receiver does not come back at the same instant.
pub fn retry_delay(base: Duration, attempts: u32, jitter: f64) -> Duration {
    let exponent = attempts.saturating_sub(1).min(20);
    let cap = base.saturating_mul(1u32 << exponent).min(MAX_RETRY_DELAY);
    let half = cap / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

fn minute_of_day(at: DateTime<Utc>) -> u16 {
    let utc_minutes = i64::from(at.hour() * 60 + at.minute());
    ((utc_minutes + JST_OFFSET_MINUTES).rem_euclid(MINUTES_PER_DAY)) as u16
}

fn in_window(minute: u16, start: u16, end: u16) -> bool {
    match start.cmp(&end) {
        std::cmp::Ordering::Less => (start..end).contains(&minute),
        std::cmp::Ordering::Greater => minute >= start || minute < end,
        std::cmp::Ordering::Equal => false,
    }
}

/// The next instant after `now` at which Japan's clock shows `minute` (today if still
/// ahead, else tomorrow), at the start of that minute.
pub fn next_minute_of_day(now: DateTime<Utc>, minute: u16) -> DateTime<Utc> {
    let start_of_minute = now
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    let current = i64::from(minute_of_day(now));
    let mut ahead = i64::from(minute) - current;
    if ahead <= 0 {
        ahead += MINUTES_PER_DAY;
    }
    start_of_minute + TimeDelta::minutes(ahead)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-01 at hh:mm in Japan.
    fn jst(hour: u32, minute: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        let utc = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        utc + TimeDelta::minutes(i64::from(hour * 60 + minute) - JST_OFFSET_MINUTES)
    }

    const NIGHT: Preferences = Preferences {
        quiet_hours: Some((21 * 60, 8 * 60)),
        digest_minute: None,
    };

    #[test]
    fn routine_items_wait_for_the_morning_and_urgent_ones_do_not() {
        assert_eq!(
            plan(jst(23, 30), NIGHT, false),
            Plan::SendAt(jst(8, 0) + TimeDelta::days(1))
        );
        assert_eq!(plan(jst(6, 15), NIGHT, false), Plan::SendAt(jst(8, 0)));
        assert_eq!(plan(jst(23, 30), NIGHT, true), Plan::SendAt(jst(23, 30)));
        assert_eq!(plan(jst(12, 0), NIGHT, false), Plan::SendAt(jst(12, 0)));
        // The end minute itself is no longer quiet.
        assert_eq!(plan(jst(8, 0), NIGHT, false), Plan::SendAt(jst(8, 0)));
    }

    #[test]
    fn digests_collect_routine_items_until_their_minute() {
        let daily = Preferences {
            quiet_hours: None,
            digest_minute: Some(9 * 60),
        };
        assert_eq!(plan(jst(7, 10), daily, false), Plan::Digest(jst(9, 0)));
        assert_eq!(
            plan(jst(9, 0), daily, false),
            Plan::Digest(jst(9, 0) + TimeDelta::days(1))
        );
        assert_eq!(plan(jst(7, 10), daily, true), Plan::SendAt(jst(7, 10)));
    }

    #[test]
    fn retries_back_off_exponentially_within_their_jitter() {
        let base = Duration::from_secs(5);
        assert_eq!(retry_delay(base, 1, 1.0), Duration::from_secs(5));
        assert_eq!(retry_delay(base, 1, 0.0), Duration::from_millis(2500));
        assert_eq!(retry_delay(base, 4, 1.0), Duration::from_secs(40));
        assert_eq!(retry_delay(base, 40, 1.0), MAX_RETRY_DELAY);
    }
}
