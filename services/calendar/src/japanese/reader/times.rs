//! Times of day: 10:00〜12:00, 10時半〜正午, 午前10時〜午後3時.

use chrono::NaiveTime;

use super::{Parser, UNTIL_WORDS};
use crate::entry::end_of_day;
use crate::error::ScheduleError;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Meridiem {
    Am,
    Pm,
}

/// A time as written, before 午前/午後 are resolved against the other end of the range.
pub(super) struct TimePoint {
    pub(super) hour: u64,
    pub(super) minute: u64,
    pub(super) second: u64,
    pub(super) meridiem: Option<Meridiem>,
    /// A number with no unit (the 10 of 10〜12時).
    pub(super) bare: bool,
}

impl Parser {
    pub(super) fn looking_at_meridiem(&mut self) -> bool {
        ["午前", "午後", "正午", "am", "pm"]
            .iter()
            .any(|m| self.cur.looking_at(m))
    }

    pub(super) fn time_point(
        &mut self,
        part: &'static str,
        start: usize,
    ) -> Result<TimePoint, ScheduleError> {
        let unreadable = |p: &Parser| p.error(part, "時刻が読み取れません", "could not read the time", start);
        let meridiem = if self.cur.eat_any(&["午前", "am"]) {
            Some(Meridiem::Am)
        } else if self.cur.eat_any(&["午後", "pm"]) {
            Some(Meridiem::Pm)
        } else {
            None
        };
        if self.cur.eat("正午") {
            return Ok(TimePoint {
                hour: 12,
                minute: 0,
                second: 0,
                meridiem: None,
                bare: false,
            });
        }
        let hour = self.cur.number().ok_or_else(|| unreadable(self))?;
        let (mut minute, mut second, mut bare) = (0, 0, false);
        if self.cur.eat(":") {
            minute = self.cur.number().ok_or_else(|| unreadable(self))?;
            if self.cur.eat(":") {
                second = self.cur.number().ok_or_else(|| unreadable(self))?;
            }
        } else if self.cur.eat("時") {
            if self.cur.eat("半") {
                minute = 30;
            } else {
                let save = self.cur.pos;
                match self.cur.number() {
                    Some(m) if self.cur.eat("分") => minute = m,
                    _ => self.cur.pos = save,
                }
            }
        } else {
            bare = true;
        }
        Ok(TimePoint {
            hour,
            minute,
            second,
            meridiem,
            bare,
        })
    }

    pub(super) fn resolve_time(
        &self,
        point: &TimePoint,
        meridiem: Option<Meridiem>,
        part: &'static str,
        start: usize,
    ) -> Result<NaiveTime, ScheduleError> {
        let out_of_range = || self.error(part, "時刻が範囲外です", "the time is out of range", start);
        let mut hour = point.hour;
        match meridiem {
            // 午前12時 is noon and 午後12時 midnight, as the 1872 decree that still defines them.
            Some(_) if hour > 12 => return Err(out_of_range()),
            Some(Meridiem::Pm) if hour == 12 => hour = 24,
            Some(Meridiem::Pm) => hour += 12,
            _ => {}
        }
        if point.minute > 59 || point.second > 59 {
            return Err(out_of_range());
        }
        if hour == 24 && point.minute == 0 && point.second == 0 {
            return if part == "closes_at" {
                Ok(end_of_day())
            } else {
                Err(out_of_range())
            };
        }
        let to_u32 = |v: u64| u32::try_from(v).ok();
        to_u32(hour)
            .zip(to_u32(point.minute))
            .zip(to_u32(point.second))
            .and_then(|((h, m), s)| NaiveTime::from_hms_opt(h, m, s))
            .ok_or_else(out_of_range)
    }

    /// 10:00〜12:00, 10時〜12時, 10時30分〜12時, 午前10時〜午後3時, 10時から12時まで, 10〜12時.
    pub(super) fn time_clause(&mut self, start: usize) -> Result<(), ScheduleError> {
        let open = self.time_point("opens_at", start)?;
        if !self.cur.eat("〜") && !self.cur.eat("から") {
            if open.bare {
                return Err(self.error(
                    "opens_at",
                    "時刻が読み取れません",
                    "could not read the time",
                    start,
                ));
            }
            return Err(self.error(
                "closes_at",
                "終了時刻がありません（例: 10:00〜12:00）",
                "the closing time is missing (10:00〜12:00)",
                start,
            ));
        }
        let close = self.time_point("closes_at", start)?;
        self.cur.eat_any(&UNTIL_WORDS);
        if open.bare && close.bare {
            return Err(self.error(
                "opens_at",
                "時刻が読み取れません",
                "could not read the time",
                start,
            ));
        }
        let opens_at = self.resolve_time(&open, open.meridiem, "opens_at", start)?;
        // 午後1時〜3時: the closing time takes the opening's 午前/午後 when it has none.
        let inherited = close.meridiem.or(open.meridiem.filter(|_| close.hour <= 12));
        let mut closes_at = self.resolve_time(&close, inherited, "closes_at", start)?;
        if close.meridiem.is_none() && inherited == Some(Meridiem::Am) && closes_at <= opens_at {
            // 午前10時〜3時 means until 15:00.
            closes_at = self.resolve_time(&close, Some(Meridiem::Pm), "closes_at", start)?;
        }
        self.set_time(opens_at, closes_at, start)
    }
}
