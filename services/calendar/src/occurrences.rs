//! Expanding an entry into dated occurrences.
//!
//! The expansion walks day by day and tests each day against the rule with a little integer
//! arithmetic. A period of a few weeks is a few dozen cheap tests, which is simpler and, at that
//! size, as fast as jumping from occurrence to occurrence, and it needs no allocation.

use std::iter::FusedIterator;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use crate::entry::ScheduleEntry;
use crate::holidays::is_holiday;
use crate::recurrence::{JST_OFFSET, Until};

/// One opening of a resource: a date and its time window (Japan time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Occurrence {
    /// The day.
    pub date: NaiveDate,
    /// Opening time that day.
    pub opens_at: NaiveTime,
    /// Closing time that day (`23:59` stands for the end of the day).
    pub closes_at: NaiveTime,
}

/// The occurrences of one entry in a date range, in date order; see
/// [`ScheduleEntry::occurrences`].
#[derive(Clone, Debug)]
pub struct Occurrences<'a> {
    entry: &'a ScheduleEntry,
    /// Next day to test; `None` once finished.
    next: Option<NaiveDate>,
    /// Days before this are walked (for `COUNT`) but not yielded.
    first_yielded: NaiveDate,
    /// Last day to test, inclusive.
    last: NaiveDate,
    /// Occurrences of the rule still allowed by `COUNT`.
    remaining: Option<u32>,
    /// `UNTIL` as a Japan-time instant, when it was given with a time.
    until_local: Option<NaiveDateTime>,
    /// `INTERVAL` counts from here.
    anchor: NaiveDate,
}

impl ScheduleEntry {
    /// The entry's occurrences from `from` to `to_inclusive`, in date order.
    ///
    /// - Only days within `valid_from..=valid_to` are considered.
    /// - `INTERVAL` counts days, weeks (starting on `WKST`, Monday by default) or months from
    ///   the period containing `valid_from`: every other week means the week of `valid_from`,
    ///   then two weeks later, and so on. `validate` requires `valid_from` for `INTERVAL > 1`;
    ///   an unvalidated entry without it counts from `from`.
    /// - `COUNT` counts the rule's days from `valid_from` (again `from` if absent), including
    ///   the ones before `from` and the holidays skipped by `except_holidays`, as iCalendar
    ///   counts days removed by `EXDATE`.
    /// - `UNTIL` is inclusive; a UTC `UNTIL` keeps days whose opening time in Japan is at or
    ///   before it.
    /// - `except_holidays` skips public holidays; `include_holidays` adds every public holiday
    ///   in the validity period (and before `UNTIL`) to the rule's days.
    ///
    /// Unlike an iCalendar `DTSTART`, `valid_from` is not itself an occurrence unless the rule
    /// says so. An empty range (`from > to_inclusive`) yields nothing.
    pub fn occurrences(&self, from: NaiveDate, to_inclusive: NaiveDate) -> Occurrences<'_> {
        let parts = self.rrule.parts();
        let mut last = to_inclusive;
        if let Some(valid_to) = self.valid_to {
            last = last.min(valid_to);
        }
        let until_local = match parts.until {
            Some(Until::Date(date)) => {
                last = last.min(date);
                None
            }
            Some(Until::DateTimeUtc(utc)) => {
                let local = utc.checked_add_signed(JST_OFFSET).unwrap_or(utc);
                last = last.min(local.date());
                Some(local)
            }
            None => None,
        };
        let anchor = self.valid_from.unwrap_or(from);
        let start = if parts.count.is_some() {
            anchor
        } else {
            from.max(anchor)
        };
        Occurrences {
            entry: self,
            next: Some(start),
            first_yielded: from,
            last,
            remaining: parts.count,
            until_local,
            anchor,
        }
    }
}

impl Occurrences<'_> {
    fn occurrence(&self, date: NaiveDate) -> Occurrence {
        Occurrence {
            date,
            opens_at: self.entry.opens_at,
            closes_at: self.entry.closes_at,
        }
    }

    fn before_until(&self, date: NaiveDate) -> bool {
        self.until_local
            .is_none_or(|until| date.and_time(self.entry.opens_at) <= until)
    }
}

impl Iterator for Occurrences<'_> {
    type Item = Occurrence;

    fn next(&mut self) -> Option<Occurrence> {
        while let Some(date) = self.next {
            if date > self.last {
                break;
            }
            self.next = date.succ_opt();
            let entry = self.entry;
            if entry.rrule.matches_pattern(date) && entry.rrule.in_interval(date, self.anchor) {
                if let Some(remaining) = &mut self.remaining {
                    if *remaining == 0 {
                        break;
                    }
                    *remaining -= 1;
                }
                if !self.before_until(date) {
                    break;
                }
                if date < self.first_yielded || (entry.except_holidays && is_holiday(date)) {
                    continue;
                }
                return Some(self.occurrence(date));
            }
            if entry.include_holidays
                && date >= self.first_yielded
                && self.before_until(date)
                && is_holiday(date)
            {
                return Some(self.occurrence(date));
            }
        }
        self.next = None;
        None
    }
}

impl FusedIterator for Occurrences<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recurrence::Recurrence;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn entry(rrule: &str) -> ScheduleEntry {
        ScheduleEntry {
            rrule: Recurrence::parse(rrule).unwrap(),
            opens_at: NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
            closes_at: NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
            valid_from: None,
            valid_to: None,
            except_holidays: false,
            include_holidays: false,
            description: String::new(),
        }
    }

    fn dates(e: &ScheduleEntry, from: NaiveDate, to: NaiveDate) -> Vec<String> {
        e.occurrences(from, to)
            .map(|o| o.date.format("%m-%d").to_string())
            .collect()
    }

    #[test]
    fn weekly_days() {
        let e = entry("FREQ=WEEKLY;BYDAY=TU,FR");
        assert_eq!(
            dates(&e, d(2025, 4, 1), d(2025, 4, 14)),
            ["04-01", "04-04", "04-08", "04-11"]
        );
        let o = e.occurrences(d(2025, 4, 1), d(2025, 4, 1)).next().unwrap();
        assert_eq!(o.opens_at, NaiveTime::from_hms_opt(10, 0, 0).unwrap());
        assert_eq!(o.closes_at, NaiveTime::from_hms_opt(12, 0, 0).unwrap());
    }

    #[test]
    fn monthly_nth_and_last_weekdays() {
        let e = entry("FREQ=MONTHLY;BYDAY=2WE,4WE");
        assert_eq!(
            dates(&e, d(2025, 4, 1), d(2025, 5, 31)),
            ["04-09", "04-23", "05-14", "05-28"]
        );
        let e = entry("FREQ=MONTHLY;BYDAY=-1FR");
        assert_eq!(
            dates(&e, d(2025, 1, 1), d(2025, 3, 31)),
            ["01-31", "02-28", "03-28"]
        );
        let e = entry("FREQ=MONTHLY;BYDAY=5SA");
        assert_eq!(dates(&e, d(2025, 1, 1), d(2025, 6, 30)), ["03-29", "05-31"]);
    }

    #[test]
    fn month_days_skip_short_months() {
        let e = entry("FREQ=MONTHLY;BYMONTHDAY=31");
        assert_eq!(
            dates(&e, d(2025, 1, 1), d(2025, 5, 31)),
            ["01-31", "03-31", "05-31"]
        );
        let e = entry("FREQ=MONTHLY;BYMONTHDAY=1,15,-1");
        assert_eq!(
            dates(&e, d(2024, 2, 1), d(2024, 2, 29)),
            ["02-01", "02-15", "02-29"]
        );
    }

    #[test]
    fn validity_and_until_limit_the_range() {
        let mut e = entry("FREQ=DAILY");
        e.valid_from = Some(d(2025, 4, 3));
        e.valid_to = Some(d(2025, 4, 5));
        assert_eq!(
            dates(&e, d(2025, 4, 1), d(2025, 4, 30)),
            ["04-03", "04-04", "04-05"]
        );
        assert!(dates(&e, d(2025, 4, 6), d(2025, 4, 30)).is_empty());
        assert!(dates(&e, d(2025, 4, 5), d(2025, 4, 4)).is_empty());

        let e = entry("FREQ=DAILY;UNTIL=20250403");
        assert_eq!(
            dates(&e, d(2025, 4, 1), d(2025, 4, 30)),
            ["04-01", "04-02", "04-03"]
        );
        // 01:00 UTC on 4/3 is 10:00 in Japan: the 10:00 opening of 4/3 is still in.
        let e = entry("FREQ=DAILY;UNTIL=20250403T010000Z");
        assert_eq!(
            dates(&e, d(2025, 4, 1), d(2025, 4, 30)),
            ["04-01", "04-02", "04-03"]
        );
        let e = entry("FREQ=DAILY;UNTIL=20250403T005959Z");
        assert_eq!(dates(&e, d(2025, 4, 1), d(2025, 4, 30)), ["04-01", "04-02"]);
    }

    #[test]
    fn count_counts_from_valid_from() {
        let mut e = entry("FREQ=WEEKLY;BYDAY=MO;COUNT=3");
        e.valid_from = Some(d(2025, 4, 1));
        assert_eq!(
            dates(&e, d(2025, 1, 1), d(2025, 12, 31)),
            ["04-07", "04-14", "04-21"]
        );
        // Asking from the middle still stops after the third.
        assert_eq!(dates(&e, d(2025, 4, 10), d(2025, 12, 31)), ["04-14", "04-21"]);
        // Holidays skipped still count, as iCalendar EXDATE: 2025-04-28 is not a holiday,
        // but 2025-05-05 (こどもの日) is.
        let mut e = entry("FREQ=WEEKLY;BYDAY=MO;COUNT=3");
        e.valid_from = Some(d(2025, 4, 28));
        e.except_holidays = true;
        assert_eq!(dates(&e, d(2025, 4, 1), d(2025, 12, 31)), ["04-28", "05-12"]);
    }

    #[test]
    fn interval_counts_from_valid_from() {
        let mut e = entry("FREQ=WEEKLY;INTERVAL=2;BYDAY=WE");
        e.valid_from = Some(d(2025, 4, 2));
        assert_eq!(
            dates(&e, d(2025, 4, 1), d(2025, 5, 10)),
            ["04-02", "04-16", "04-30"]
        );
        // The week of valid_from is week 0 even when valid_from is later in that week.
        e.valid_from = Some(d(2025, 4, 4));
        assert_eq!(dates(&e, d(2025, 4, 1), d(2025, 5, 10)), ["04-16", "04-30"]);
        // Starting the query later keeps the same phase.
        e.valid_from = Some(d(2025, 4, 2));
        assert_eq!(dates(&e, d(2025, 4, 20), d(2025, 5, 20)), ["04-30", "05-14"]);

        let mut e = entry("FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=15");
        e.valid_from = Some(d(2025, 1, 20));
        assert_eq!(dates(&e, d(2025, 1, 1), d(2025, 6, 30)), ["03-15", "05-15"]);
        let mut e = entry("FREQ=DAILY;INTERVAL=3");
        e.valid_from = Some(d(2025, 4, 1));
        assert_eq!(
            dates(&e, d(2025, 4, 2), d(2025, 4, 10)),
            ["04-04", "04-07", "04-10"]
        );
    }

    #[test]
    fn week_start_changes_biweekly_pairs() {
        // Every other week on Saturday and Sunday: with weeks starting Monday, Sat 4/5 and
        // Sun 4/6 are one week; with weeks starting Sunday, Sun 4/6 opens the next one.
        let mut e = entry("FREQ=WEEKLY;INTERVAL=2;BYDAY=SA,SU");
        e.valid_from = Some(d(2025, 3, 31));
        assert_eq!(
            dates(&e, d(2025, 3, 31), d(2025, 4, 20)),
            ["04-05", "04-06", "04-19", "04-20"]
        );
        e.rrule = Recurrence::parse("FREQ=WEEKLY;INTERVAL=2;BYDAY=SA,SU;WKST=SU").unwrap();
        assert_eq!(
            dates(&e, d(2025, 3, 31), d(2025, 4, 20)),
            ["04-05", "04-13", "04-19"]
        );
    }

    #[test]
    fn holidays_excluded_or_added() {
        // 2024: 2/12 振替休日 and 2/23 天皇誕生日 (Friday).
        let mut e = entry("FREQ=WEEKLY;BYDAY=MO,FR");
        e.except_holidays = true;
        assert_eq!(
            dates(&e, d(2024, 2, 9), d(2024, 2, 26)),
            ["02-09", "02-16", "02-19", "02-26"]
        );
        let mut e = entry("FREQ=WEEKLY;BYDAY=SA,SU");
        e.include_holidays = true;
        assert_eq!(
            dates(&e, d(2024, 2, 9), d(2024, 2, 13)),
            ["02-10", "02-11", "02-12"]
        );
        e.valid_from = Some(d(2024, 2, 12));
        assert_eq!(dates(&e, d(2024, 2, 9), d(2024, 2, 13)), ["02-12"]);
    }

    #[test]
    fn extreme_ranges_do_not_panic() {
        let e = entry("FREQ=MONTHLY;BYMONTHDAY=-1");
        assert_eq!(e.occurrences(NaiveDate::MAX, NaiveDate::MAX).count(), 1);
        let early = NaiveDate::MIN
            .checked_add_signed(chrono::TimeDelta::days(40))
            .unwrap();
        assert_eq!(e.occurrences(NaiveDate::MIN, early).count(), 1);
        let mut e = entry("FREQ=DAILY;COUNT=4294967295");
        e.valid_from = Some(d(2025, 1, 1));
        assert_eq!(e.occurrences(d(2025, 1, 1), d(2025, 1, 31)).count(), 31);
        let e = entry("FREQ=DAILY;UNTIL=99991231T235959Z");
        assert_eq!(e.occurrences(d(9999, 12, 31), d(9999, 12, 31)).count(), 1);
    }
}
