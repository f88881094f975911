//! How much of a resident's wanted time a resource's schedule covers, in minutes.
//!
//! Both sides are lists of entries; each side is first flattened into one sorted list of
//! (date, start minute, end minute) intervals and merged, so that two entries covering the same
//! hour count that hour once. The intersection is then one linear sweep over both lists. For a
//! few entries over eight weeks that is one small allocation per side and a few hundred integer
//! comparisons.

use chrono::{NaiveDate, NaiveTime, Timelike};

use crate::entry::{ScheduleEntry, end_of_day};

/// A half-open interval of minutes of the day on one date.
type DayInterval = (NaiveDate, u16, u16);

const MINUTES_PER_DAY: u16 = 24 * 60;

fn minute_of_day(time: NaiveTime) -> u16 {
    // At most 23 * 60 + 59, which fits.
    u16::try_from(time.hour() * 60 + time.minute()).unwrap_or(MINUTES_PER_DAY)
}

/// The merged, sorted opening intervals of `entries` between the two dates.
fn merged_intervals(entries: &[ScheduleEntry], from: NaiveDate, to_inclusive: NaiveDate) -> Vec<DayInterval> {
    let mut intervals: Vec<DayInterval> = Vec::new();
    for entry in entries {
        let start = minute_of_day(entry.opens_at);
        let end = if entry.closes_at >= end_of_day() {
            MINUTES_PER_DAY
        } else {
            minute_of_day(entry.closes_at)
        };
        if start >= end {
            continue;
        }
        intervals.extend(
            entry
                .occurrences(from, to_inclusive)
                .map(|o| (o.date, start, end)),
        );
    }
    intervals.sort_unstable();
    let mut merged: Vec<DayInterval> = Vec::with_capacity(intervals.len());
    for (date, start, end) in intervals {
        match merged.last_mut() {
            Some((last_date, _, last_end)) if *last_date == date && start <= *last_end => {
                *last_end = (*last_end).max(end);
            }
            _ => merged.push((date, start, end)),
        }
    }
    merged
}

fn sum_minutes(intervals: &[DayInterval]) -> u32 {
    let total: u64 = intervals
        .iter()
        .map(|&(_, start, end)| u64::from(end - start))
        .sum();
    u32::try_from(total).unwrap_or(u32::MAX)
}

/// Minutes, between `from` and `to_inclusive`, during which `offered` is open, each minute
/// counted once however many entries cover it. With [`overlap_minutes`] it gives the share of
/// a resource's time that suits a resident, or (with the wanted side) the share of the
/// resident's request that the resource covers.
///
/// `23:59` as a closing time counts as the end of the day (24:00). Saturates at `u32::MAX`.
/// Work and memory grow with the number of days and occurrences in the range.
pub fn total_minutes(entries: &[ScheduleEntry], from: NaiveDate, to_inclusive: NaiveDate) -> u32 {
    sum_minutes(&merged_intervals(entries, from, to_inclusive))
}

/// Minutes, between `from` and `to_inclusive`, during which some `offered` occurrence and some
/// `wanted` occurrence are both open on the same date. Each side is merged first, so
/// overlapping entries on either side are not counted twice.
///
/// `23:59` as a closing time counts as the end of the day (24:00). Saturates at `u32::MAX`.
pub fn overlap_minutes(
    offered: &[ScheduleEntry],
    wanted: &[ScheduleEntry],
    from: NaiveDate,
    to_inclusive: NaiveDate,
) -> u32 {
    let offered = merged_intervals(offered, from, to_inclusive);
    if offered.is_empty() {
        return 0;
    }
    let wanted = merged_intervals(wanted, from, to_inclusive);
    let (mut i, mut j) = (0, 0);
    let mut total: u64 = 0;
    while let (Some(&(date_a, start_a, end_a)), Some(&(date_b, start_b, end_b))) =
        (offered.get(i), wanted.get(j))
    {
        if date_a == date_b {
            let (start, end) = (start_a.max(start_b), end_a.min(end_b));
            if start < end {
                total += u64::from(end - start);
            }
        }
        // Advance whichever interval ends first; within a date the lists are disjoint and
        // sorted, so nothing it could still overlap is skipped.
        if (date_a, end_a) <= (date_b, end_b) {
            i += 1;
        } else {
            j += 1;
        }
    }
    u32::try_from(total).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::recurrence::Recurrence;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn entry(rrule: &str, opens: (u32, u32), closes: (u32, u32)) -> ScheduleEntry {
        ScheduleEntry::new(
            Recurrence::parse(rrule).unwrap(),
            NaiveTime::from_hms_opt(opens.0, opens.1, 0).unwrap(),
            NaiveTime::from_hms_opt(closes.0, closes.1, 0).unwrap(),
        )
        .unwrap()
    }

    // April 2025: Wednesdays 2, 9, 16, 23, 30; Tuesdays 1, 8, 15, 22, 29 (29 is 昭和の日).
    const FROM: (i32, u32, u32) = (2025, 4, 1);
    const TO: (i32, u32, u32) = (2025, 4, 30);

    fn range() -> (NaiveDate, NaiveDate) {
        (d(FROM.0, FROM.1, FROM.2), d(TO.0, TO.1, TO.2))
    }

    #[test]
    fn overlap_on_the_same_dates_only() {
        let (from, to) = range();
        let salon = [entry("FREQ=MONTHLY;BYDAY=2WE,4WE", (10, 0), (12, 0))];
        let wanted = [entry("FREQ=WEEKLY;BYDAY=WE", (11, 0), (15, 0))];
        assert_eq!(total_minutes(&salon, from, to), 2 * 120);
        assert_eq!(total_minutes(&wanted, from, to), 5 * 240);
        assert_eq!(overlap_minutes(&salon, &wanted, from, to), 2 * 60);
        assert_eq!(overlap_minutes(&wanted, &salon, from, to), 2 * 60);
        let tuesdays = [entry("FREQ=WEEKLY;BYDAY=TU", (9, 0), (17, 0))];
        assert_eq!(overlap_minutes(&salon, &tuesdays, from, to), 0);
        assert_eq!(overlap_minutes(&[], &tuesdays, from, to), 0);
        assert_eq!(overlap_minutes(&salon, &[], from, to), 0);
    }

    #[test]
    fn overlapping_entries_are_not_double_counted() {
        let (from, to) = range();
        let offered = [
            entry("FREQ=WEEKLY;BYDAY=WE", (9, 0), (12, 0)),
            entry("FREQ=WEEKLY;BYDAY=WE", (11, 0), (13, 0)),
            entry("FREQ=MONTHLY;BYDAY=2WE", (9, 30), (10, 30)),
        ];
        assert_eq!(total_minutes(&offered, from, to), 5 * 240);
        let wanted = [
            entry("FREQ=WEEKLY;BYDAY=WE", (8, 0), (10, 0)),
            entry("FREQ=WEEKLY;BYDAY=WE", (9, 30), (9, 45)),
            entry("FREQ=WEEKLY;BYDAY=WE", (12, 30), (14, 0)),
        ];
        // Per Wednesday: 9:00–10:00 and 12:30–13:00.
        assert_eq!(overlap_minutes(&offered, &wanted, from, to), 5 * 90);
    }

    #[test]
    fn adjacent_intervals_merge_and_end_of_day_counts_to_midnight() {
        let (from, to) = range();
        let offered = [
            entry("FREQ=DAILY", (9, 0), (12, 0)),
            entry("FREQ=DAILY", (12, 0), (23, 59)),
        ];
        assert_eq!(total_minutes(&offered, from, from), 15 * 60);
        let all_day = [entry("FREQ=DAILY", (0, 0), (23, 59))];
        assert_eq!(total_minutes(&all_day, from, to), 30 * 1440);
        assert_eq!(overlap_minutes(&all_day, &offered, from, to), 30 * 15 * 60);
    }

    #[test]
    fn holidays_and_invalid_entries() {
        let (from, to) = range();
        let mut tuesdays = entry("FREQ=WEEKLY;BYDAY=TU", (9, 0), (10, 0));
        assert_eq!(total_minutes(std::slice::from_ref(&tuesdays), from, to), 5 * 60);
        tuesdays.except_holidays = true;
        assert_eq!(total_minutes(std::slice::from_ref(&tuesdays), from, to), 4 * 60);
        tuesdays.closes_at = tuesdays.opens_at; // invalid, but must not panic or count
        assert_eq!(total_minutes(&[tuesdays], from, to), 0);
        assert_eq!(
            total_minutes(&[entry("FREQ=DAILY", (9, 0), (10, 0))], to, from),
            0
        );
    }

    #[test]
    fn eight_weeks_is_fast() {
        let offered = [
            entry("FREQ=MONTHLY;BYDAY=2WE,4WE", (10, 0), (12, 0)),
            entry("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", (9, 0), (17, 0)),
            entry("FREQ=MONTHLY;BYMONTHDAY=15", (13, 30), (15, 0)),
        ];
        let wanted = [
            entry("FREQ=WEEKLY;BYDAY=TU,FR", (9, 0), (11, 0)),
            entry("FREQ=WEEKLY;BYDAY=WE", (10, 30), (16, 0)),
        ];
        let from = d(2025, 4, 1);
        let to = d(2025, 5, 26);
        let started = Instant::now();
        let mut sum = 0u64;
        for _ in 0..1000 {
            sum += u64::from(overlap_minutes(&offered, &wanted, from, to));
        }
        // Generous even for an unoptimised build on a busy machine; a release build takes a
        // few microseconds per call.
        assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
        assert!(sum > 0);
    }
}
