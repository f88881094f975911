//! Days: weekday lists, weeks of the month, days of the month.

use chrono::Weekday;

use super::{EXCEPT_HOLIDAYS, LIST_SEPARATORS, Parser, UNTIL_WORDS};
use crate::error::ScheduleError;
use crate::japanese::{WEEKDAYS, WEEKEND, weekday_of};
use crate::recurrence::ByDay;

impl Parser {
    pub(super) fn eat_list_separator(&mut self) -> bool {
        self.cur.eat_any(&LIST_SEPARATORS)
    }

    pub(super) fn looking_at_except_phrase(&mut self) -> bool {
        EXCEPT_HOLIDAYS.iter().any(|phrase| self.cur.looking_at(phrase))
    }

    /// 月末, 末日, 最終日 (but not 最終日曜, the last Sunday).
    pub(super) fn looking_at_month_day_word(&mut self) -> bool {
        self.cur.looking_at("月末")
            || self.cur.looking_at("末日")
            || (self.cur.looking_at("最終日") && !self.cur.looking_at("最終日曜"))
    }

    pub(super) fn looking_at_ordinal_start(&mut self) -> bool {
        self.cur.looking_at("第")
            || self.cur.looking_at("最後")
            || (self.cur.looking_at("最終") && !self.looking_at_month_day_word())
    }

    pub(super) fn looking_at_weekday_item(&mut self) -> bool {
        if self.looking_at_except_phrase() || self.looking_at_month_day_word() {
            return false;
        }
        self.cur.looking_at("平日")
            || self.cur.looking_at("週末")
            || self.cur.looking_at("祝")
            || self.cur.peek().is_some_and(|c| weekday_of(c).is_some())
    }

    pub(super) fn weekday(&mut self) -> Option<Weekday> {
        self.weekday_with_suffix().map(|(weekday, _)| weekday)
    }

    /// A weekday kanji with its optional 曜/曜日, and whether that suffix was there.
    pub(super) fn weekday_with_suffix(&mut self) -> Option<(Weekday, bool)> {
        let weekday = self.cur.peek().and_then(weekday_of)?;
        self.cur.pos += 1;
        let suffix = self.cur.eat("曜日") || self.cur.eat("曜");
        Some((weekday, suffix))
    }

    /// 火・金曜, 月〜金, 土日祝, 平日: the weekdays, whether 祝 was listed, whether 平日 was.
    /// With `plain_only` (after 第N), only weekdays are list items, so 第2水曜・祝日 leaves the
    /// 祝日 to its own clause.
    pub(super) fn weekday_list(
        &mut self,
        plain_only: bool,
    ) -> Result<(Vec<Weekday>, bool, bool), ScheduleError> {
        let (mut days, mut holiday, mut heijitsu) = (Vec::new(), false, false);
        loop {
            let start = self.cur.pos;
            let mut suffix = false;
            if !plain_only && self.cur.eat("平日") {
                days.extend(WEEKDAYS);
                heijitsu = true;
            } else if !plain_only && self.cur.eat("週末") {
                days.extend(WEEKEND);
            } else if !plain_only && !self.looking_at_except_phrase() && self.cur.eat_any(&["祝日", "祝"])
            {
                holiday = true;
            } else if let Some((first, first_suffix)) = self.weekday_with_suffix() {
                suffix = first_suffix;
                if self.cur.eat("〜") || self.cur.eat("から") {
                    let Some(last) = self.weekday() else {
                        return Err(self.error(
                            "rrule",
                            "曜日の範囲が読み取れません",
                            "could not read the weekday range",
                            start,
                        ));
                    };
                    self.cur.eat_any(&UNTIL_WORDS);
                    let mut day = first;
                    days.push(day);
                    while day != last {
                        day = day.succ();
                        days.push(day);
                    }
                } else {
                    days.push(first);
                }
            } else {
                return Err(self.error(
                    "rrule",
                    "曜日が読み取れません",
                    "could not read the weekday",
                    start,
                ));
            }
            let before_separator = self.cur.pos;
            self.eat_list_separator();
            let more = if plain_only {
                !self.looking_at_month_day_word() && self.cur.peek().and_then(weekday_of).is_some()
            } else {
                self.looking_at_weekday_item()
            };
            if !more {
                self.cur.pos = before_separator;
                break;
            }
            if plain_only && suffix {
                // 第2水曜・金曜: the second Friday, or every Friday? Ask rather than guess.
                return Err(self.error(
                    "rrule",
                    "「第2水曜・第2金曜」か「第2水・金曜」のように書いてください",
                    "write the week of the month for each weekday (第2水曜・第2金曜 or 第2水・金曜)",
                    start,
                ));
            }
        }
        days.sort_by_key(|d| d.num_days_from_monday());
        days.dedup();
        Ok((days, holiday, heijitsu))
    }

    pub(super) fn weekday_clause(&mut self) -> Result<(), ScheduleError> {
        let start = self.cur.pos;
        let (days, holiday, heijitsu) = self.weekday_list(false)?;
        self.draft.include_holidays |= holiday;
        self.draft.except_holidays |= heijitsu;
        if !days.is_empty() {
            if self.draft.weekdays.is_some() {
                return Err(self.error(
                    "rrule",
                    "曜日の指定が2か所にあります。1か所にまとめてください（例: 火・金曜）",
                    "weekdays are given twice; list them once (火・金曜)",
                    start,
                ));
            }
            self.draft.weekdays = Some(days);
        }
        Ok(())
    }

    /// 1..5 as digits or kanji (第二).
    pub(super) fn ordinal_number(&mut self) -> Option<u64> {
        if let Some(n) = self.cur.number() {
            return Some(n);
        }
        let n = match self.cur.peek()? {
            '一' => 1,
            '二' => 2,
            '三' => 3,
            '四' => 4,
            '五' => 5,
            _ => return None,
        };
        self.cur.pos += 1;
        Some(n)
    }

    pub(super) fn ordinal(&mut self) -> Result<i8, ScheduleError> {
        let start = self.cur.pos;
        let out_of_range = |p: &Parser| {
            p.error(
                "rrule",
                "第何週かは 1〜5 で書いてください",
                "the week of the month must be 1 to 5",
                start,
            )
        };
        let from_end = if self.cur.eat_any(&["最後から", "最終から"]) {
            true
        } else if self.cur.eat_any(&["最終", "最後"]) {
            self.cur.eat("週");
            self.cur.eat("の");
            return Ok(-1);
        } else {
            self.cur.eat("第");
            false
        };
        let n = self.ordinal_number().ok_or_else(|| {
            self.error(
                "rrule",
                "第何週かが読み取れません",
                "could not read which week of the month",
                start,
            )
        })?;
        let n = i8::try_from(n)
            .ok()
            .filter(|n| (1..=5).contains(n))
            .ok_or_else(|| out_of_range(self))?;
        if from_end {
            self.cur.eat("番目");
            self.cur.eat("の");
            Ok(-n)
        } else {
            self.cur.eat("週");
            Ok(n)
        }
    }

    pub(super) fn looking_at_ordinal_continuation(&mut self) -> bool {
        if self.looking_at_ordinal_start() || self.cur.looking_at_digit() {
            return true;
        }
        matches!(self.cur.peek(), Some('一' | '二' | '三' | '四' | '五'))
    }

    /// 第2・第4水曜, 第1月曜・第3水曜, 最終金曜, 第2・最終金曜, 最後から2番目の金曜.
    pub(super) fn ordinal_clause(&mut self) -> Result<(), ScheduleError> {
        let start = self.cur.pos;
        if self.draft.ordinals.is_some() {
            return Err(self.error(
                "rrule",
                "第N曜日の指定が2か所にあります",
                "week-of-month weekdays are given twice",
                start,
            ));
        }
        let mut items = Vec::new();
        loop {
            let mut ordinals = vec![self.ordinal()?];
            loop {
                let before_separator = self.cur.pos;
                if self.eat_list_separator() && self.looking_at_ordinal_continuation() {
                    ordinals.push(self.ordinal()?);
                } else {
                    self.cur.pos = before_separator;
                    break;
                }
            }
            self.cur.eat("の");
            let parenthesised = self.cur.eat("(");
            let weekday_start = self.cur.pos;
            let days = if self.cur.peek().and_then(weekday_of).is_some() {
                self.weekday_list(true)?.0
            } else {
                Vec::new()
            };
            if days.is_empty() {
                return Err(self.error(
                    "rrule",
                    "第N の後には曜日を書いてください（例: 第2水曜）",
                    "a week of the month needs a weekday after it (第2水曜)",
                    weekday_start,
                ));
            }
            if parenthesised {
                self.cur.eat(")");
            }
            for weekday in days {
                items.extend(ordinals.iter().map(|&n| ByDay {
                    ordinal: Some(n),
                    weekday,
                }));
            }
            let before_separator = self.cur.pos;
            if !(self.eat_list_separator() && self.looking_at_ordinal_start()) {
                self.cur.pos = before_separator;
                break;
            }
        }
        self.draft.ordinals = Some(items);
        Ok(())
    }

    /// After 毎月/隔月: a list of days of the month may follow at once (毎月15日, 毎月末).
    pub(super) fn after_monthly(&mut self) -> Result<(), ScheduleError> {
        if self.cur.looking_at("末") || self.looking_at_month_day_word() || self.looking_at_month_day_number()
        {
            self.month_day_clause()
        } else {
            Ok(())
        }
    }

    /// A number followed by 日 (not 日ごと) or by a list separator: a day of the month.
    pub(super) fn looking_at_month_day_number(&mut self) -> bool {
        let save = self.cur.pos;
        let found = self.cur.number().is_some()
            && ((self.cur.looking_at("日")
                && !self.cur.looking_at("日ごと")
                && !self.cur.looking_at("日毎"))
                || LIST_SEPARATORS.iter().any(|s| self.cur.looking_at(s)));
        self.cur.pos = save;
        found
    }

    /// 15日, 1日・15日, 1・15日, 末日, 月末, 最終日, 末日の1日前.
    pub(super) fn month_day_clause(&mut self) -> Result<(), ScheduleError> {
        let start = self.cur.pos;
        if self.draft.month_days.is_some() {
            return Err(self.error(
                "rrule",
                "日付の指定が2か所にあります",
                "days of the month are given twice",
                start,
            ));
        }
        let mut days = Vec::new();
        loop {
            let item_start = self.cur.pos;
            let day: i64 = if self.looking_at_month_day_word() || self.cur.looking_at("末") {
                self.cur.eat_any(&["月末", "末日", "最終日", "末"]);
                self.cur.eat("日");
                let save = self.cur.pos;
                let mut day = -1;
                if self.cur.eat("の") {
                    match self.cur.number() {
                        Some(n) if self.cur.eat("日前") => {
                            day = -1 - i64::try_from(n).unwrap_or(i64::MAX - 1)
                        }
                        _ => self.cur.pos = save,
                    }
                }
                day
            } else if let Some(n) = self.cur.number() {
                if !self.cur.eat("日") && !LIST_SEPARATORS.iter().any(|s| self.cur.looking_at(s)) {
                    return Err(self.error(
                        "rrule",
                        "日付には「日」を付けてください（例: 毎月15日）",
                        "write the day of the month with 日 (毎月15日)",
                        item_start,
                    ));
                }
                i64::try_from(n).unwrap_or(i64::MAX)
            } else {
                return Err(self.error(
                    "rrule",
                    "日付が読み取れません",
                    "could not read the day of the month",
                    item_start,
                ));
            };
            let day = i8::try_from(day)
                .ok()
                .filter(|d| (1..=31).contains(&d.abs()))
                .ok_or_else(|| {
                    self.error(
                        "rrule",
                        "日付は1日〜31日（月末からは31日前まで）です",
                        "the day of the month must be 1 to 31",
                        item_start,
                    )
                })?;
            days.push(day);
            let before_separator = self.cur.pos;
            let continues = self.eat_list_separator()
                && (self.cur.looking_at_digit()
                    || self.cur.looking_at("末")
                    || self.looking_at_month_day_word());
            if !continues {
                self.cur.pos = before_separator;
                break;
            }
        }
        self.draft.month_days = Some(days);
        Ok(())
    }
}
