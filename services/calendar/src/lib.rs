//! Schedules of community resources (地域資源): when a salon, a volunteer group or a shopping
//! bus is open, how coordinators write it in Japanese, and how much it overlaps the time a
//! resident asked for. Pure logic, no I/O.
//!
//! # Model
//!
//! A resource's schedule is a list of [`ScheduleEntry`]: one recurrence rule, one time window
//! (`opens_at`–`closes_at`, Japan time, same day), an optional validity period, holiday handling
//! and a free note. This is the shape of an Open Referral HSDS 3.x `schedule`, whose recurrence
//! fields are iCalendar RRULE parts, and the registry stores it as JSON with the rule as its
//! canonical RRULE string (`"FREQ=MONTHLY;BYDAY=2WE,4WE"`), readable by people and by HSDS tools.
//!
//! # The RRULE subset, and why
//!
//! [`Recurrence`] accepts `FREQ=DAILY|WEEKLY|MONTHLY`, `INTERVAL`, `BYDAY` (ordinals ±1..5 for
//! monthly rules only), `BYMONTHDAY` (±1..31), `UNTIL` (date or UTC date-time), `COUNT` and
//! `WKST`. That covers what community activities do (every Tuesday, the 2nd and 4th Wednesday,
//! the 15th, every other week) and nothing whose meaning would depend on a `DTSTART` we do not
//! keep or that is, in community data, almost always a mistake: `YEARLY`, `BYMONTH`,
//! `BYSETPOS`, sub-daily rules, weekly rules without weekdays, monthly rules mixing weekdays and
//! dates. Those are refused with a bilingual message naming the part, never half-read.
//! `valid_from` plays the part of `DTSTART` as the anchor of `INTERVAL` and `COUNT`.
//!
//! # Japanese
//!
//! [`ScheduleEntry::parse_japanese`] reads what coordinators write (第2・第4水曜 10:00〜12:00,
//! 平日 9:00-17:00, 毎月15日 13:30〜15:00（祝日を除く）) after normalising full-width characters
//! and dashes itself, and refuses any text it does not understand; free notes go after `※`.
//! [`ScheduleEntry::to_japanese`] writes a canonical form that reads back to the same entry.
//!
//! # Holidays and matching
//!
//! [`holiday_name`] computes Japanese public holidays (with 振替休日 and 国民の休日) for
//! 1980..=2099. [`ScheduleEntry::occurrences`] expands an entry over a date range, and
//! [`overlap_minutes`] / [`total_minutes`] give the matching engine the minutes an offer and a
//! request share, each side merged so overlapping entries are not counted twice.

mod entry;
mod error;
mod holidays;
mod japanese;
mod occurrences;
mod overlap;
mod recurrence;
#[cfg(test)]
mod test_json;

pub use entry::ScheduleEntry;
pub use error::ScheduleError;
pub use holidays::{FIRST_HOLIDAY_YEAR, LAST_HOLIDAY_YEAR, holiday_name, holidays_in_year, is_holiday};
pub use occurrences::{Occurrence, Occurrences};
pub use overlap::{overlap_minutes, total_minutes};
pub use recurrence::{ByDay, Frequency, Recurrence, RecurrenceParts, Until};
