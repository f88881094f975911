//! One schedule entry: a rule, an opening time window, a validity period and holiday handling,
//! with its stored JSON form.

use chrono::{NaiveDate, NaiveTime, Timelike};
use serde::{Deserialize, Serialize};

use crate::error::ScheduleError;
use crate::recurrence::Recurrence;

/// One line of a resource's schedule, in the shape of an Open Referral HSDS 3.x `schedule`.
///
/// The registry stores a resource's schedule as a list of these, as JSON:
///
/// ```json
/// {"rrule":"FREQ=MONTHLY;BYDAY=2WE,4WE","opens_at":"10:00","closes_at":"12:00",
///  "valid_from":"2025-04-01","except_holidays":true,"description":"雨天中止"}
/// ```
///
/// `valid_from`/`valid_to` are left out when absent and `include_holidays` when false; unknown
/// fields are refused, so that a misspelt flag is an error rather than a silently open door.
/// Deserialising runs [`ScheduleEntry::validate`].
///
/// Fields are public because forms edit them one by one; call [`ScheduleEntry::validate`] after
/// changing them. Every computation in this crate also copes with an invalid entry without
/// panicking (an empty or inverted time window simply counts zero minutes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredEntry")]
pub struct ScheduleEntry {
    /// The days: a rule of the RRULE subset, stored as its canonical string.
    pub rrule: Recurrence,
    /// Opening time, whole minutes, Japan time; stored as `"HH:MM"`.
    #[serde(with = "hh_mm")]
    pub opens_at: NaiveTime,
    /// Closing time, after `opens_at` on the same day (overnight windows are not supported:
    /// community activities do not run past midnight, and a night service is two entries).
    /// `23:59` means "until the end of the day" and counts as 24:00 in minute totals, because
    /// `NaiveTime` cannot hold 24:00.
    #[serde(with = "hh_mm")]
    pub closes_at: NaiveTime,
    /// First day the entry applies, inclusive. It is also the anchor of `INTERVAL` (every other
    /// week counts from the week of this date) and of `COUNT`, which therefore require it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<NaiveDate>,
    /// Last day the entry applies, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<NaiveDate>,
    /// Closed on Japanese public holidays (including 振替休日 and 国民の休日): 祝日を除く.
    pub except_holidays: bool,
    /// Also open on every public holiday, whatever its weekday: the 祝 of 土日祝. Not together
    /// with `except_holidays`, nor with `COUNT`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_holidays: bool,
    /// Free note, kept exactly as given (雨天中止, 要予約…); never interpreted.
    pub description: String,
}

/// The stored JSON form, read first and then checked, so that an invalid stored entry is
/// refused at the boundary with a message saying which part is wrong.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredEntry {
    rrule: Recurrence,
    #[serde(with = "hh_mm")]
    opens_at: NaiveTime,
    #[serde(with = "hh_mm")]
    closes_at: NaiveTime,
    #[serde(default)]
    valid_from: Option<NaiveDate>,
    #[serde(default)]
    valid_to: Option<NaiveDate>,
    #[serde(default)]
    except_holidays: bool,
    #[serde(default)]
    include_holidays: bool,
    #[serde(default)]
    description: String,
}

impl TryFrom<StoredEntry> for ScheduleEntry {
    type Error = ScheduleError;

    fn try_from(stored: StoredEntry) -> Result<Self, Self::Error> {
        let entry = ScheduleEntry {
            rrule: stored.rrule,
            opens_at: stored.opens_at,
            closes_at: stored.closes_at,
            valid_from: stored.valid_from,
            valid_to: stored.valid_to,
            except_holidays: stored.except_holidays,
            include_holidays: stored.include_holidays,
            description: stored.description,
        };
        entry.validate()?;
        Ok(entry)
    }
}

/// Times as `"HH:MM"`, the way people and HSDS write opening hours; `"HH:MM:SS"` is read too.
mod hh_mm {
    use chrono::{NaiveTime, Timelike};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(time: &NaiveTime, serializer: S) -> Result<S::Ok, S::Error> {
        if time.second() == 0 && time.nanosecond() == 0 {
            serializer.collect_str(&time.format("%H:%M"))
        } else {
            serializer.collect_str(&time.format("%H:%M:%S"))
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        NaiveTime::parse_from_str(&text, "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(&text, "%H:%M:%S"))
            .map_err(|_| serde::de::Error::custom(format!("time must be HH:MM, not '{text}'")))
    }
}

impl ScheduleEntry {
    /// An entry on `rrule`'s days from `opens_at` to `closes_at`, with no validity limits, open
    /// on holidays and without a note; checked with [`ScheduleEntry::validate`].
    pub fn new(rrule: Recurrence, opens_at: NaiveTime, closes_at: NaiveTime) -> Result<Self, ScheduleError> {
        let entry = ScheduleEntry {
            rrule,
            opens_at,
            closes_at,
            valid_from: None,
            valid_to: None,
            except_holidays: false,
            include_holidays: false,
            description: String::new(),
        };
        entry.validate()?;
        Ok(entry)
    }

    /// Checks what the types cannot: whole-minute times with `opens_at < closes_at`,
    /// `valid_from <= valid_to`, an anchor (`valid_from`) for `INTERVAL > 1` and `COUNT`, and
    /// compatible holiday flags. The rule itself is checked when the [`Recurrence`] is built.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        for (part, time) in [("opens_at", self.opens_at), ("closes_at", self.closes_at)] {
            if time.second() != 0 || time.nanosecond() != 0 {
                return Err(ScheduleError::new(
                    part,
                    format!(
                        "時刻は分単位で指定してください（{0}） / times are whole minutes, not {0}",
                        time.format("%H:%M:%S%.f")
                    ),
                ));
            }
        }
        if self.opens_at >= self.closes_at {
            return Err(ScheduleError::new(
                "closes_at",
                format!(
                    "終了時刻（{1}）は開始時刻（{0}）より後にしてください。日をまたぐ時間帯には対応していません / \
                     closing time {1} must be after opening time {0}; overnight windows are not supported",
                    self.opens_at.format("%H:%M"),
                    self.closes_at.format("%H:%M")
                ),
            ));
        }
        if let (Some(from), Some(to)) = (self.valid_from, self.valid_to)
            && from > to
        {
            return Err(ScheduleError::new(
                "valid_to",
                format!(
                    "終了日（{to}）が開始日（{from}）より前です / valid_to {to} is before valid_from {from}"
                ),
            ));
        }
        let parts = self.rrule.parts();
        if self.valid_from.is_none() && parts.interval > 1 {
            return Err(ScheduleError::new(
                "valid_from",
                "隔週・隔月など（INTERVAL が2以上）は、数え始める開始日が必要です（例: 2025年4月2日から） / \
                 INTERVAL above 1 needs valid_from as the anchor it counts from",
            ));
        }
        if self.valid_from.is_none() && parts.count.is_some() {
            return Err(ScheduleError::new(
                "valid_from",
                "回数（COUNT）を数える開始日が必要です（例: 2025年4月2日から） / \
                 COUNT needs valid_from as the day it counts from",
            ));
        }
        if self.except_holidays && self.include_holidays {
            return Err(ScheduleError::new(
                "except_holidays",
                "「祝日を除く」と「祝日も開く」は同時に指定できません / \
                 except_holidays and include_holidays cannot both be set",
            ));
        }
        if self.include_holidays && parts.count.is_some() {
            return Err(ScheduleError::new(
                "include_holidays",
                "祝日を加える予定には回数（COUNT）を指定できません / include_holidays cannot be combined with COUNT",
            ));
        }
        Ok(())
    }

    /// Whether the entry is open all day (`00:00`–`23:59`), which the Japanese form writes by
    /// leaving the time out.
    pub fn is_all_day(&self) -> bool {
        self.opens_at == NaiveTime::MIN && self.closes_at == end_of_day()
    }
}

/// `23:59`, the closing time that stands for the end of the day.
pub(crate) fn end_of_day() -> NaiveTime {
    NaiveTime::from_hms_opt(23, 59, 0).unwrap_or(NaiveTime::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_json;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn sample() -> ScheduleEntry {
        let mut e = ScheduleEntry::new(
            Recurrence::parse("FREQ=MONTHLY;BYDAY=4WE,2WE").unwrap(),
            t(10, 0),
            t(12, 0),
        )
        .unwrap();
        e.except_holidays = true;
        e.valid_from = Some(d(2025, 4, 1));
        e.description = "雨天中止 \"屋内\"".into();
        e
    }

    #[test]
    fn json_form_is_stable_and_readable() {
        let json = test_json::to_string(&sample()).unwrap();
        assert_eq!(
            json,
            r#"{"rrule":"FREQ=MONTHLY;BYDAY=2WE,4WE","opens_at":"10:00","closes_at":"12:00","valid_from":"2025-04-01","except_holidays":true,"description":"雨天中止 \"屋内\""}"#
        );
        let back: ScheduleEntry = test_json::from_str(&json).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn json_reads_minimal_and_full_forms() {
        let e: ScheduleEntry = test_json::from_str(
            r#"{"rrule":"freq=weekly;byday=fr,tu","opens_at":"09:00:00","closes_at":"11:00"}"#,
        )
        .unwrap();
        assert_eq!(e.rrule.to_string(), "FREQ=WEEKLY;BYDAY=TU,FR");
        assert_eq!((e.opens_at, e.closes_at), (t(9, 0), t(11, 0)));
        assert!(!e.except_holidays && !e.include_holidays && e.description.is_empty());

        let mut full = sample();
        full.except_holidays = false;
        full.include_holidays = true;
        full.valid_to = Some(d(2026, 3, 31));
        let json = test_json::to_string(&full).unwrap();
        assert!(json.contains(r#""valid_to":"2026-03-31","except_holidays":false,"include_holidays":true"#));
        assert_eq!(test_json::from_str::<ScheduleEntry>(&json).unwrap(), full);
    }

    #[test]
    fn json_refuses_invalid_entries() {
        let cases = [
            r#"{"rrule":"FREQ=YEARLY","opens_at":"10:00","closes_at":"12:00"}"#,
            r#"{"rrule":"FREQ=DAILY","opens_at":"12:00","closes_at":"10:00"}"#,
            r#"{"rrule":"FREQ=DAILY","opens_at":"10時","closes_at":"12:00"}"#,
            r#"{"rrule":"FREQ=DAILY","opens_at":"10:00","closes_at":"12:00","except_holiday":true}"#,
            r#"{"rrule":"FREQ=DAILY","opens_at":"10:00"}"#,
            r#"{"rrule":"FREQ=DAILY;INTERVAL=2","opens_at":"10:00","closes_at":"12:00"}"#,
            r#"{"rrule":"FREQ=DAILY","opens_at":"10:00","closes_at":"12:00","valid_from":"2025-13-01"}"#,
        ];
        for json in cases {
            assert!(test_json::from_str::<ScheduleEntry>(json).is_err(), "{json}");
        }
    }

    #[test]
    fn validate_names_the_wrong_part() {
        let base = ScheduleEntry::new(Recurrence::daily(), t(9, 0), t(17, 0)).unwrap();
        let check = |change: &dyn Fn(&mut ScheduleEntry), part: &str| {
            let mut e = base.clone();
            change(&mut e);
            assert_eq!(e.validate().unwrap_err().part, part);
        };
        check(&|e| e.closes_at = t(9, 0), "closes_at");
        check(&|e| e.closes_at = t(8, 0), "closes_at");
        check(
            &|e| e.opens_at = NaiveTime::from_hms_opt(9, 0, 30).unwrap(),
            "opens_at",
        );
        check(
            &|e| e.closes_at = NaiveTime::from_hms_opt(17, 0, 1).unwrap(),
            "closes_at",
        );
        check(
            &|e| {
                e.valid_from = Some(d(2025, 5, 1));
                e.valid_to = Some(d(2025, 4, 30));
            },
            "valid_to",
        );
        check(
            &|e| e.rrule = Recurrence::parse("FREQ=WEEKLY;INTERVAL=2;BYDAY=WE").unwrap(),
            "valid_from",
        );
        check(
            &|e| e.rrule = Recurrence::parse("FREQ=DAILY;COUNT=3").unwrap(),
            "valid_from",
        );
        check(
            &|e| {
                e.except_holidays = true;
                e.include_holidays = true;
            },
            "except_holidays",
        );
        check(
            &|e| {
                e.valid_from = Some(d(2025, 4, 1));
                e.rrule = Recurrence::parse("FREQ=DAILY;COUNT=3").unwrap();
                e.include_holidays = true;
            },
            "include_holidays",
        );
        assert!(
            ScheduleEntry::new(Recurrence::daily(), t(0, 0), end_of_day())
                .unwrap()
                .is_all_day()
        );
        let e = ScheduleEntry::new(Recurrence::daily(), t(10, 0), t(10, 0)).unwrap_err();
        assert!(e.to_string().starts_with("closes_at: "));
    }
}
