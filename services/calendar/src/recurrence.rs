//! The iCalendar RRULE subset that community schedules need, as Open Referral HSDS 3.x stores it.
//!
//! Only the parts a weekly or monthly activity uses are accepted; everything else is refused
//! with a message rather than half-understood, because a wrongly read schedule sends a resident
//! to a closed door.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Weekday};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{ScheduleError, clip};

/// Japan has one time zone and no daylight saving time, so local time is always UTC+9. A UTC
/// `UNTIL` is compared with local opening times through this offset.
pub(crate) const JST_OFFSET: TimeDelta = TimeDelta::hours(9);

/// How often the rule repeats (`FREQ`). Yearly and sub-daily rules are not part of the subset:
/// community activities repeat by week or by month, and annual events are entered as dates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Frequency {
    /// `FREQ=DAILY`: every day (or every `INTERVAL` days); takes no `BYDAY`/`BYMONTHDAY`.
    #[default]
    Daily,
    /// `FREQ=WEEKLY`: on the `BYDAY` weekdays of every `INTERVAL`-th week.
    Weekly,
    /// `FREQ=MONTHLY`: on `BYDAY` with ordinals (`2WE`) or on `BYMONTHDAY` days.
    Monthly,
}

impl Frequency {
    fn rrule_name(self) -> &'static str {
        match self {
            Frequency::Daily => "DAILY",
            Frequency::Weekly => "WEEKLY",
            Frequency::Monthly => "MONTHLY",
        }
    }
}

/// One `BYDAY` item: a weekday, with an ordinal within the month for monthly rules
/// (`2WE` = second Wednesday, `-1FR` = last Friday).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ByDay {
    /// `1..=5` from the start of the month, `-1..=-5` from its end; `None` for weekly rules.
    pub ordinal: Option<i8>,
    /// The day of the week.
    pub weekday: Weekday,
}

/// The end of the repetition (`UNTIL`), inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Until {
    /// `UNTIL=20260331`: occurrences on or before this local date.
    Date(NaiveDate),
    /// `UNTIL=20260331T145959Z`: occurrences starting at or before this instant, in UTC.
    /// A floating `UNTIL` (no `Z`) is read as Japan time and stored converted to UTC.
    DateTimeUtc(NaiveDateTime),
}

/// The parts of a rule, open for building one in code; [`Recurrence::from_parts`] checks them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecurrenceParts {
    /// `FREQ`.
    pub freq: Frequency,
    /// `INTERVAL`, at least 1; counted from the entry's `valid_from`.
    pub interval: u32,
    /// `BYDAY`.
    pub by_day: Vec<ByDay>,
    /// `BYMONTHDAY`: `1..=31` from the start of the month, `-1..=-31` from its end.
    pub by_month_day: Vec<i8>,
    /// `UNTIL`; not together with `count`.
    pub until: Option<Until>,
    /// `COUNT`, at least 1; counted from the entry's `valid_from`.
    pub count: Option<u32>,
    /// `WKST`; it only changes anything for weekly rules with an interval, and is reset to
    /// Monday (the RFC default) everywhere else so that equal rules compare equal.
    pub week_start: Weekday,
}

impl Default for RecurrenceParts {
    fn default() -> Self {
        RecurrenceParts {
            freq: Frequency::Daily,
            interval: 1,
            by_day: Vec::new(),
            by_month_day: Vec::new(),
            until: None,
            count: None,
            week_start: Weekday::Mon,
        }
    }
}

/// A checked, canonical recurrence rule.
///
/// Its fields are private so that every value satisfies the subset's rules and is in canonical
/// form (sorted, de-duplicated `BYDAY`/`BYMONTHDAY`): two rules meaning the same thing compare
/// equal, and `Recurrence::parse(&r.to_string()) == Ok(r)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Recurrence {
    parts: RecurrenceParts,
}

fn rrule_error(message: String) -> ScheduleError {
    ScheduleError::new("rrule", message)
}

const WEEKDAY_CODES: [(&str, Weekday); 7] = [
    ("MO", Weekday::Mon),
    ("TU", Weekday::Tue),
    ("WE", Weekday::Wed),
    ("TH", Weekday::Thu),
    ("FR", Weekday::Fri),
    ("SA", Weekday::Sat),
    ("SU", Weekday::Sun),
];

fn weekday_code(w: Weekday) -> &'static str {
    WEEKDAY_CODES[w.num_days_from_monday() as usize].0
}

fn parse_weekday(code: &str) -> Option<Weekday> {
    WEEKDAY_CODES.iter().find(|(c, _)| *c == code).map(|(_, w)| *w)
}

/// Sort key putting ordinals in reading order: none, 1..5, then -5..-1 (the last comes last).
fn ordinal_key(ordinal: Option<i8>) -> i16 {
    match ordinal {
        None => 0,
        Some(n) if n > 0 => i16::from(n),
        Some(n) => 100 + i16::from(n),
    }
}

/// Same idea for month days: 1..31, then -31..-1.
fn month_day_key(day: i8) -> i16 {
    if day > 0 {
        i16::from(day)
    } else {
        100 + i16::from(day)
    }
}

impl Recurrence {
    /// Parses an RRULE (`FREQ=MONTHLY;BYDAY=2WE,4WE`), case-insensitively, with or without a
    /// leading `RRULE:`. Parts: `FREQ` (`DAILY`, `WEEKLY`, `MONTHLY`), `INTERVAL`, `BYDAY`,
    /// `BYMONTHDAY`, `UNTIL`, `COUNT`, `WKST`; anything else is refused by name.
    pub fn parse(input: &str) -> Result<Recurrence, ScheduleError> {
        let upper = input.trim().to_ascii_uppercase();
        let body = upper.strip_prefix("RRULE:").unwrap_or(&upper).trim();
        if body.is_empty() {
            return Err(rrule_error(
                "繰り返しの規則（RRULE）が空です / the RRULE is empty".into(),
            ));
        }
        let mut parts = RecurrenceParts::default();
        let mut freq = None;
        let mut seen: Vec<&str> = Vec::new();
        for segment in body.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((name, value)) = segment.split_once('=') else {
                return Err(rrule_error(format!(
                    "「{0}」に「=」がありません（例: FREQ=WEEKLY） / '{0}' is not NAME=VALUE",
                    clip(segment, 40)
                )));
            };
            let (name, value) = (name.trim(), value.trim());
            if seen.contains(&name) {
                return Err(rrule_error(format!(
                    "{0} が2回指定されています / {0} is given twice",
                    clip(name, 40)
                )));
            }
            seen.push(name);
            if value.is_empty() {
                return Err(rrule_error(format!(
                    "{0} の値が空です / {0} has no value",
                    clip(name, 40)
                )));
            }
            match name {
                "FREQ" => freq = Some(parse_freq(value)?),
                "INTERVAL" => parts.interval = parse_positive(name, value)?,
                "COUNT" => parts.count = Some(parse_positive(name, value)?),
                "BYDAY" => {
                    parts.by_day = value.split(',').map(|item| parse_by_day(item.trim())).collect::<Result<_, _>>()?
                }
                "BYMONTHDAY" => {
                    parts.by_month_day =
                        value.split(',').map(|item| parse_month_day(item.trim())).collect::<Result<_, _>>()?
                }
                "UNTIL" => parts.until = Some(parse_until(value)?),
                "WKST" => {
                    parts.week_start = parse_weekday(value).ok_or_else(|| {
                        rrule_error(format!(
                            "WKST の曜日が読めません（{0}）。MO〜SU で指定してください / WKST must be MO..SU, not '{0}'",
                            clip(value, 20)
                        ))
                    })?
                }
                "DTSTART" => {
                    return Err(rrule_error(
                        "DTSTART は RRULE の項目ではありません。開始日は valid_from に書いてください / \
                         DTSTART is not an RRULE part; put the start date in valid_from"
                            .into(),
                    ));
                }
                "BYMONTH" | "BYSETPOS" | "BYYEARDAY" | "BYWEEKNO" | "BYHOUR" | "BYMINUTE" | "BYSECOND" => {
                    return Err(rrule_error(format!(
                        "{0} には対応していません（対応: FREQ, INTERVAL, BYDAY, BYMONTHDAY, UNTIL, COUNT, WKST） / \
                         {0} is not supported (supported: FREQ, INTERVAL, BYDAY, BYMONTHDAY, UNTIL, COUNT, WKST)",
                        name
                    )));
                }
                _ => {
                    return Err(rrule_error(format!(
                        "不明な項目です: {0} / unknown RRULE part '{0}'",
                        clip(name, 40)
                    )));
                }
            }
        }
        parts.freq = freq.ok_or_else(|| {
            rrule_error("FREQ（頻度）がありません / FREQ is missing (DAILY, WEEKLY or MONTHLY)".into())
        })?;
        Recurrence::from_parts(parts)
    }

    /// Checks parts against the subset's rules and puts them in canonical form.
    ///
    /// Refused: `INTERVAL=0`, `COUNT=0`, `UNTIL` with `COUNT`; `BYDAY`/`BYMONTHDAY` on a daily
    /// rule; a weekly rule without `BYDAY`, with ordinals or with `BYMONTHDAY`; a monthly rule
    /// with neither or both of `BYDAY` and `BYMONTHDAY`, or with a `BYDAY` item lacking an
    /// ordinal (a plain weekday every week is a weekly rule); ordinals outside ±1..5, month days
    /// outside ±1..31. These combinations are legal iCalendar but either need a `DTSTART` we do
    /// not have or are, in community data, almost always a mistake.
    pub fn from_parts(mut parts: RecurrenceParts) -> Result<Recurrence, ScheduleError> {
        if parts.interval == 0 {
            return Err(rrule_error(
                "INTERVAL は1以上です / INTERVAL must be at least 1".into(),
            ));
        }
        if parts.count == Some(0) {
            return Err(rrule_error("COUNT は1以上です / COUNT must be at least 1".into()));
        }
        if parts.until.is_some() && parts.count.is_some() {
            return Err(rrule_error(
                "UNTIL と COUNT は同時に指定できません / UNTIL and COUNT cannot both be given".into(),
            ));
        }
        if let Some(bad) = parts
            .by_day
            .iter()
            .filter_map(|d| d.ordinal)
            .find(|n| !(1..=5).contains(&n.abs()))
        {
            return Err(rrule_error(format!(
                "第何週かは 1〜5 か -1〜-5 です（{bad}） / a BYDAY ordinal must be 1..5 or -1..-5, not {bad}"
            )));
        }
        if let Some(bad) = parts.by_month_day.iter().find(|n| !(1..=31).contains(&n.abs())) {
            return Err(rrule_error(format!(
                "日付は 1〜31 か -1〜-31 です（{bad}） / BYMONTHDAY must be 1..31 or -1..-31, not {bad}"
            )));
        }
        let has_ordinal = parts.by_day.iter().any(|d| d.ordinal.is_some());
        match parts.freq {
            Frequency::Daily => {
                if !parts.by_day.is_empty() || !parts.by_month_day.is_empty() {
                    return Err(rrule_error(
                        "DAILY には BYDAY・BYMONTHDAY を付けられません（曜日なら WEEKLY、日付なら MONTHLY） / \
                         DAILY takes no BYDAY or BYMONTHDAY (use WEEKLY for weekdays, MONTHLY for dates)"
                            .into(),
                    ));
                }
            }
            Frequency::Weekly => {
                if parts.by_day.is_empty() {
                    return Err(rrule_error(
                        "WEEKLY には BYDAY（曜日）が必要です / WEEKLY needs BYDAY (the weekdays)".into(),
                    ));
                }
                if has_ordinal {
                    return Err(rrule_error(
                        "第N曜日（2WE など）は MONTHLY でのみ使えます / ordinals such as 2WE are only for MONTHLY"
                            .into(),
                    ));
                }
                if !parts.by_month_day.is_empty() {
                    return Err(rrule_error(
                        "WEEKLY には BYMONTHDAY を付けられません / WEEKLY takes no BYMONTHDAY".into(),
                    ));
                }
            }
            Frequency::Monthly => match (parts.by_day.is_empty(), parts.by_month_day.is_empty()) {
                (true, true) => {
                    return Err(rrule_error(
                        "MONTHLY には BYDAY（2WE など）か BYMONTHDAY（15 など）が必要です / \
                         MONTHLY needs BYDAY (such as 2WE) or BYMONTHDAY (such as 15)"
                            .into(),
                    ));
                }
                (false, false) => {
                    return Err(rrule_error(
                        "BYDAY と BYMONTHDAY は同時に指定できません / BYDAY and BYMONTHDAY cannot be combined"
                            .into(),
                    ));
                }
                _ => {
                    if parts.by_day.iter().any(|d| d.ordinal.is_none()) {
                        return Err(rrule_error(
                            "MONTHLY の曜日には第N（2WE、-1FR など）が必要です。毎週なら WEEKLY を使ってください / \
                             MONTHLY weekdays need an ordinal (2WE, -1FR); use WEEKLY for every week"
                                .into(),
                        ));
                    }
                }
            },
        }
        parts
            .by_day
            .sort_by_key(|d| (d.weekday.num_days_from_monday(), ordinal_key(d.ordinal)));
        parts.by_day.dedup();
        parts.by_month_day.sort_by_key(|&d| month_day_key(d));
        parts.by_month_day.dedup();
        if let Some(Until::DateTimeUtc(dt)) = &mut parts.until {
            *dt = dt.with_nanosecond(0).unwrap_or(*dt);
        }
        if !(parts.freq == Frequency::Weekly && parts.interval > 1) {
            parts.week_start = Weekday::Mon;
        }
        Ok(Recurrence { parts })
    }

    /// The rule's parts, in canonical form.
    pub fn parts(&self) -> &RecurrenceParts {
        &self.parts
    }

    /// A rule for every day: the most common rule, handy for building entries in code.
    pub fn daily() -> Recurrence {
        Recurrence {
            parts: RecurrenceParts::default(),
        }
    }

    /// Whether `date` fits the day pattern (weekday, ordinal weekday or month day), ignoring
    /// `INTERVAL`, `UNTIL` and `COUNT`, which need the entry's anchor.
    pub(crate) fn matches_pattern(&self, date: NaiveDate) -> bool {
        let p = &self.parts;
        match p.freq {
            Frequency::Daily => true,
            Frequency::Weekly => p.by_day.iter().any(|d| d.weekday == date.weekday()),
            Frequency::Monthly if !p.by_day.is_empty() => {
                p.by_day.iter().any(|d| nth_weekday_matches(date, d))
            }
            Frequency::Monthly => p.by_month_day.iter().any(|&m| month_day_matches(date, m)),
        }
    }

    /// Whether `date` falls in a period (day, week or month) that is a multiple of `INTERVAL`
    /// periods after the anchor's period.
    pub(crate) fn in_interval(&self, date: NaiveDate, anchor: NaiveDate) -> bool {
        let interval = i64::from(self.parts.interval);
        interval <= 1 || (self.period_index(date) - self.period_index(anchor)).rem_euclid(interval) == 0
    }

    fn period_index(&self, date: NaiveDate) -> i64 {
        match self.parts.freq {
            Frequency::Daily => i64::from(date.num_days_from_ce()),
            Frequency::Weekly => {
                let into_week = date.weekday().days_since(self.parts.week_start);
                (i64::from(date.num_days_from_ce()) - i64::from(into_week)).div_euclid(7)
            }
            Frequency::Monthly => i64::from(date.year()) * 12 + i64::from(date.month0()),
        }
    }
}

fn nth_weekday_matches(date: NaiveDate, by_day: &ByDay) -> bool {
    if date.weekday() != by_day.weekday {
        return false;
    }
    let day = date.day();
    match by_day.ordinal {
        None => true,
        Some(n) if n > 0 => (day - 1) / 7 + 1 == n.unsigned_abs().into(),
        Some(n) => (u32::from(date.num_days_in_month()) - day) / 7 + 1 == n.unsigned_abs().into(),
    }
}

fn month_day_matches(date: NaiveDate, month_day: i8) -> bool {
    let day = i64::from(date.day());
    let wanted = if month_day > 0 {
        i64::from(month_day)
    } else {
        i64::from(date.num_days_in_month()) + 1 + i64::from(month_day)
    };
    day == wanted
}

fn parse_freq(value: &str) -> Result<Frequency, ScheduleError> {
    match value {
        "DAILY" => Ok(Frequency::Daily),
        "WEEKLY" => Ok(Frequency::Weekly),
        "MONTHLY" => Ok(Frequency::Monthly),
        "YEARLY" => Err(rrule_error(
            "FREQ=YEARLY（毎年）には対応していません。年に一度の行事は日付を指定した予定として登録してください / \
             FREQ=YEARLY is not supported; enter annual events with valid_from/valid_to"
                .into(),
        )),
        "HOURLY" | "MINUTELY" | "SECONDLY" => Err(rrule_error(format!(
            "FREQ={value} には対応していません。時間帯は opens_at/closes_at で表します / \
             FREQ={value} is not supported; opening hours are opens_at/closes_at"
        ))),
        _ => Err(rrule_error(format!(
            "FREQ が読めません（{0}）。DAILY, WEEKLY, MONTHLY のいずれかです / FREQ must be DAILY, WEEKLY or MONTHLY, not '{0}'",
            clip(value, 20)
        ))),
    }
}

fn parse_positive(name: &str, value: &str) -> Result<u32, ScheduleError> {
    match value.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(rrule_error(format!(
            "{name} は1以上の整数です（{0}） / {name} must be a whole number of at least 1, not '{0}'",
            clip(value, 20)
        ))),
    }
}

fn parse_by_day(item: &str) -> Result<ByDay, ScheduleError> {
    let bad = || {
        rrule_error(format!(
            "BYDAY の項目が読めません（{0}）。MO〜SU、月単位なら 2WE や -1FR の形です / \
             BYDAY item '{0}' must be MO..SU, optionally with an ordinal such as 2WE or -1FR",
            clip(item, 20)
        ))
    };
    let split = item
        .len()
        .checked_sub(2)
        .filter(|&i| item.is_char_boundary(i))
        .ok_or_else(bad)?;
    let (ordinal, code) = item.split_at(split);
    let weekday = parse_weekday(code).ok_or_else(bad)?;
    let ordinal = if ordinal.is_empty() {
        None
    } else {
        let n = ordinal.parse::<i32>().map_err(|_| bad())?;
        if n == 0 || !(-5..=5).contains(&n) {
            return Err(rrule_error(format!(
                "第何週かは 1〜5 か -1〜-5 です（{0}） / a BYDAY ordinal must be 1..5 or -1..-5, not '{0}'",
                clip(ordinal, 20)
            )));
        }
        i8::try_from(n).ok()
    };
    Ok(ByDay { ordinal, weekday })
}

fn parse_month_day(item: &str) -> Result<i8, ScheduleError> {
    item.parse::<i32>()
        .ok()
        .filter(|n| (1..=31).contains(&n.abs()))
        .and_then(|n| i8::try_from(n).ok())
        .ok_or_else(|| {
            rrule_error(format!(
                "BYMONTHDAY は 1〜31 か -1〜-31 です（{0}） / BYMONTHDAY must be 1..31 or -1..-31, not '{0}'",
                clip(item, 20)
            ))
        })
}

fn parse_digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_until(value: &str) -> Result<Until, ScheduleError> {
    let bad = || {
        rrule_error(format!(
            "UNTIL が読めません（{0}）。20260331 か 20260331T145959Z の形です / \
             UNTIL must be YYYYMMDD or YYYYMMDDTHHMMSSZ, not '{0}'",
            clip(value, 30)
        ))
    };
    let date_of = |s: &str| -> Option<NaiveDate> {
        if s.len() != 8 {
            return None;
        }
        let year = i32::try_from(parse_digits(s.get(0..4)?)?).ok()?;
        NaiveDate::from_ymd_opt(year, parse_digits(s.get(4..6)?)?, parse_digits(s.get(6..8)?)?)
    };
    if let Some(date) = date_of(value) {
        return Ok(Until::Date(date));
    }
    let (date_part, time_part) = value.split_once('T').ok_or_else(bad)?;
    let (time_part, utc) = match time_part.strip_suffix('Z') {
        Some(t) => (t, true),
        None => (time_part, false),
    };
    let date = date_of(date_part).ok_or_else(bad)?;
    if time_part.len() != 6 {
        return Err(bad());
    }
    let time = (|| {
        NaiveTime::from_hms_opt(
            parse_digits(time_part.get(0..2)?)?,
            parse_digits(time_part.get(2..4)?)?,
            parse_digits(time_part.get(4..6)?)?,
        )
    })()
    .ok_or_else(bad)?;
    let local_or_utc = date.and_time(time);
    let utc_time = if utc {
        Some(local_or_utc)
    } else {
        local_or_utc.checked_sub_signed(JST_OFFSET)
    };
    utc_time.map(Until::DateTimeUtc).ok_or_else(bad)
}

impl fmt::Display for Recurrence {
    /// The canonical RRULE: `FREQ;INTERVAL (if not 1);BYDAY;BYMONTHDAY;UNTIL;COUNT;WKST (if not MO)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.parts;
        write!(f, "FREQ={}", p.freq.rrule_name())?;
        if p.interval != 1 {
            write!(f, ";INTERVAL={}", p.interval)?;
        }
        for (i, d) in p.by_day.iter().enumerate() {
            f.write_str(if i == 0 { ";BYDAY=" } else { "," })?;
            if let Some(n) = d.ordinal {
                write!(f, "{n}")?;
            }
            f.write_str(weekday_code(d.weekday))?;
        }
        for (i, d) in p.by_month_day.iter().enumerate() {
            f.write_str(if i == 0 { ";BYMONTHDAY=" } else { "," })?;
            write!(f, "{d}")?;
        }
        match p.until {
            Some(Until::Date(d)) => write!(f, ";UNTIL={:04}{:02}{:02}", d.year(), d.month(), d.day())?,
            Some(Until::DateTimeUtc(dt)) => write!(
                f,
                ";UNTIL={:04}{:02}{:02}T{:02}{:02}{:02}Z",
                dt.year(),
                dt.month(),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second()
            )?,
            None => {}
        }
        if let Some(count) = p.count {
            write!(f, ";COUNT={count}")?;
        }
        if p.week_start != Weekday::Mon {
            write!(f, ";WKST={}", weekday_code(p.week_start))?;
        }
        Ok(())
    }
}

impl FromStr for Recurrence {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Recurrence::parse(s)
    }
}

/// Stored as its canonical RRULE string, which is what HSDS tools and people can read.
impl Serialize for Recurrence {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Recurrence {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Recurrence::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_of(input: &str) -> ScheduleError {
        match Recurrence::parse(input) {
            Ok(r) => panic!("{input} should be refused, got {r}"),
            Err(e) => e,
        }
    }

    #[test]
    fn parses_the_common_rules() {
        let r = Recurrence::parse("FREQ=MONTHLY;BYDAY=2WE,4WE").unwrap();
        assert_eq!(r.parts().freq, Frequency::Monthly);
        assert_eq!(
            r.parts().by_day,
            vec![
                ByDay {
                    ordinal: Some(2),
                    weekday: Weekday::Wed
                },
                ByDay {
                    ordinal: Some(4),
                    weekday: Weekday::Wed
                }
            ]
        );
        let r = Recurrence::parse("FREQ=WEEKLY;BYDAY=TU,FR").unwrap();
        assert_eq!(r.parts().by_day.len(), 2);
        let r = Recurrence::parse("FREQ=MONTHLY;BYMONTHDAY=15,-1").unwrap();
        assert_eq!(r.parts().by_month_day, vec![15, -1]);
        assert_eq!(Recurrence::parse("FREQ=DAILY").unwrap(), Recurrence::daily());
    }

    #[test]
    fn accepts_prefix_case_spaces_and_trailing_semicolon() {
        let canonical = Recurrence::parse("FREQ=WEEKLY;BYDAY=MO,WE").unwrap();
        for input in [
            "RRULE:FREQ=WEEKLY;BYDAY=MO,WE",
            "rrule:freq=weekly;byday=we,mo",
            "  FREQ = WEEKLY ; BYDAY = MO , WE ;",
            "BYDAY=WE,MO,MO;FREQ=WEEKLY",
            "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE",
        ] {
            assert_eq!(Recurrence::parse(input).unwrap(), canonical, "{input}");
        }
    }

    #[test]
    fn canonical_display_orders_parts() {
        let cases = [
            ("BYDAY=4WE,2WE;FREQ=MONTHLY", "FREQ=MONTHLY;BYDAY=2WE,4WE"),
            (
                "FREQ=MONTHLY;BYDAY=-1FR,1FR,+3MO",
                "FREQ=MONTHLY;BYDAY=3MO,1FR,-1FR",
            ),
            (
                "COUNT=5;BYDAY=SU,MO;INTERVAL=2;FREQ=WEEKLY",
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,SU;COUNT=5",
            ),
            (
                "FREQ=MONTHLY;BYMONTHDAY=-1,1,15",
                "FREQ=MONTHLY;BYMONTHDAY=1,15,-1",
            ),
            ("UNTIL=20260331;FREQ=DAILY", "FREQ=DAILY;UNTIL=20260331"),
            (
                "FREQ=DAILY;UNTIL=20260331T145959Z",
                "FREQ=DAILY;UNTIL=20260331T145959Z",
            ),
            // Floating UNTIL is Japan time, stored as UTC.
            (
                "FREQ=DAILY;UNTIL=20260401T085959",
                "FREQ=DAILY;UNTIL=20260331T235959Z",
            ),
            // WKST only matters for weekly rules with an interval.
            ("FREQ=WEEKLY;BYDAY=MO;WKST=SU", "FREQ=WEEKLY;BYDAY=MO"),
            (
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;WKST=SU",
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;WKST=SU",
            ),
            (
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;WKST=MO",
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
            ),
        ];
        for (input, canonical) in cases {
            assert_eq!(
                Recurrence::parse(input).unwrap().to_string(),
                canonical,
                "{input}"
            );
        }
    }

    #[test]
    fn round_trips_through_display() {
        for input in [
            "FREQ=DAILY",
            "FREQ=DAILY;INTERVAL=3",
            "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE",
            "FREQ=WEEKLY;INTERVAL=3;BYDAY=SA,SU;WKST=SU",
            "FREQ=MONTHLY;BYDAY=2WE,4WE",
            "FREQ=MONTHLY;BYDAY=1MO,3WE,-1FR,-2FR",
            "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=1,15,-1,-31",
            "FREQ=WEEKLY;BYDAY=TU;UNTIL=20251231",
            "FREQ=WEEKLY;BYDAY=TU;UNTIL=20251231T150000Z",
            "FREQ=MONTHLY;BYMONTHDAY=31;COUNT=12",
        ] {
            let r = Recurrence::parse(input).unwrap();
            assert_eq!(Recurrence::parse(&r.to_string()).unwrap(), r, "{input}");
            assert_eq!(r.to_string().parse::<Recurrence>().unwrap(), r);
        }
    }

    #[test]
    fn refuses_what_is_outside_the_subset() {
        let cases = [
            ("", "空"),
            ("   ", "空"),
            ("RRULE:", "空"),
            ("FREQ=YEARLY;BYMONTH=1", "YEARLY"),
            ("FREQ=HOURLY", "HOURLY"),
            ("FREQ=FORTNIGHTLY", "FREQ"),
            ("BYDAY=MO", "FREQ"),
            ("FREQ=WEEKLY;BYDAY=MO;BYSETPOS=1", "BYSETPOS"),
            ("FREQ=WEEKLY;BYDAY=MO;FOO=1", "FOO"),
            ("FREQ=WEEKLY;BYDAY=MO;DTSTART=20250101", "DTSTART"),
            ("FREQ=WEEKLY;FREQ=DAILY", "2回"),
            ("FREQ", "="),
            ("FREQ=", "空"),
            ("FREQ=WEEKLY;BYDAY=2WE", "MONTHLY"),
            ("FREQ=WEEKLY", "BYDAY"),
            ("FREQ=WEEKLY;BYDAY=MO;BYMONTHDAY=1", "BYMONTHDAY"),
            ("FREQ=DAILY;BYDAY=MO", "DAILY"),
            ("FREQ=DAILY;BYMONTHDAY=1", "DAILY"),
            ("FREQ=MONTHLY", "MONTHLY"),
            ("FREQ=MONTHLY;BYDAY=WE", "第N"),
            ("FREQ=MONTHLY;BYDAY=2WE;BYMONTHDAY=1", "同時"),
            ("FREQ=MONTHLY;BYDAY=6WE", "1〜5"),
            ("FREQ=MONTHLY;BYDAY=0WE", "1〜5"),
            ("FREQ=MONTHLY;BYDAY=-6WE", "1〜5"),
            ("FREQ=MONTHLY;BYDAY=2XX", "BYDAY"),
            ("FREQ=MONTHLY;BYDAY=W", "BYDAY"),
            ("FREQ=MONTHLY;BYDAY=あWE", "BYDAY"),
            ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY"),
            ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY"),
            ("FREQ=MONTHLY;BYMONTHDAY=-32", "BYMONTHDAY"),
            ("FREQ=MONTHLY;BYMONTHDAY=99999999999999999999", "BYMONTHDAY"),
            ("FREQ=DAILY;INTERVAL=0", "INTERVAL"),
            ("FREQ=DAILY;INTERVAL=-1", "INTERVAL"),
            ("FREQ=DAILY;INTERVAL=99999999999999999999", "INTERVAL"),
            ("FREQ=DAILY;COUNT=0", "COUNT"),
            ("FREQ=DAILY;COUNT=3;UNTIL=20250101", "UNTIL と COUNT"),
            ("FREQ=DAILY;UNTIL=20250230", "UNTIL"),
            ("FREQ=DAILY;UNTIL=2025-01-01", "UNTIL"),
            ("FREQ=DAILY;UNTIL=20250101T2500Z", "UNTIL"),
            ("FREQ=DAILY;UNTIL=20250101T250000Z", "UNTIL"),
            ("FREQ=DAILY;UNTIL=+2025010", "UNTIL"),
            ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;WKST=XX", "WKST"),
        ];
        for (input, needle) in cases {
            let e = err_of(input);
            assert_eq!(e.part, "rrule", "{input}");
            assert!(e.message.contains(needle), "{input}: {}", e.message);
            assert!(e.message.contains(" / "), "bilingual: {}", e.message);
        }
    }

    #[test]
    fn from_parts_checks_like_parse() {
        let parts = RecurrenceParts {
            freq: Frequency::Monthly,
            by_day: vec![ByDay {
                ordinal: Some(9),
                weekday: Weekday::Mon,
            }],
            ..RecurrenceParts::default()
        };
        assert_eq!(Recurrence::from_parts(parts).unwrap_err().part, "rrule");
        let parts = RecurrenceParts {
            freq: Frequency::Weekly,
            by_day: vec![ByDay {
                ordinal: None,
                weekday: Weekday::Fri,
            }],
            until: Some(Until::DateTimeUtc(
                NaiveDate::from_ymd_opt(2025, 1, 1)
                    .unwrap()
                    .and_hms_nano_opt(1, 2, 3, 500)
                    .unwrap(),
            )),
            ..RecurrenceParts::default()
        };
        let r = Recurrence::from_parts(parts).unwrap();
        assert_eq!(r.to_string(), "FREQ=WEEKLY;BYDAY=FR;UNTIL=20250101T010203Z");
        assert_eq!(Recurrence::parse(&r.to_string()).unwrap(), r);
    }

    #[test]
    fn matches_nth_and_last_weekdays_and_month_days() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let r = Recurrence::parse("FREQ=MONTHLY;BYDAY=2WE,-1FR").unwrap();
        assert!(r.matches_pattern(d(2025, 4, 9))); // second Wednesday
        assert!(!r.matches_pattern(d(2025, 4, 2)));
        assert!(r.matches_pattern(d(2025, 4, 25))); // last Friday
        assert!(!r.matches_pattern(d(2025, 4, 18)));
        let r = Recurrence::parse("FREQ=MONTHLY;BYDAY=5TH").unwrap();
        assert!(r.matches_pattern(d(2025, 5, 29)));
        assert!(!r.matches_pattern(d(2025, 4, 24)));
        let r = Recurrence::parse("FREQ=MONTHLY;BYMONTHDAY=31,-1").unwrap();
        assert!(r.matches_pattern(d(2024, 2, 29)));
        assert!(!r.matches_pattern(d(2024, 2, 28)));
        assert!(r.matches_pattern(d(2024, 3, 31)));
        let r = Recurrence::parse("FREQ=MONTHLY;BYMONTHDAY=-2").unwrap();
        assert!(r.matches_pattern(d(2025, 2, 27)));
    }
}
