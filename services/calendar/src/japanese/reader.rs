//! The reader: clause dispatch, validity, count and until, and assembly into an entry. Days
//! are read in `days`, times in `times`.

mod days;
mod times;

use chrono::{NaiveDate, NaiveTime, Weekday};

use super::cursor::{Cursor, normalize};
use crate::entry::{ScheduleEntry, end_of_day};
use crate::error::ScheduleError;
use crate::recurrence::{ByDay, Frequency, JST_OFFSET, Recurrence, RecurrenceParts, Until};

/// Ways of saying "closed on public holidays". Tried in order, so a phrase that is a prefix of
/// another comes after it.
const EXCEPT_HOLIDAYS: [&str; 21] = [
    "祝日を除く",
    "祝日を除き",
    "祝日除く",
    "祝日は除く",
    "祝日は除外",
    "祝日の場合は休み",
    "祝日の場合はお休み",
    "祝日の場合は休業",
    "祝日はお休み",
    "祝日は休み",
    "祝日休み",
    "祝日は休業",
    "祝日休業",
    "祝日は休館",
    "祝日休館",
    "祝日は休止",
    "祝日は中止",
    "祝日はなし",
    "祝日なし",
    "祝休日",
    "祝休",
];

/// Separators inside a list (火・金, 1日、15日).
const LIST_SEPARATORS: [&str; 4] = ["・", "、", ",", "と"];

/// Characters ignored between clauses: spaces, brackets, punctuation and light particles
/// (水曜日の10時から, 15日に, 水曜は).
const CLAUSE_FILLERS: [char; 12] = [' ', '(', ')', '、', ',', '・', '。', '.', ';', 'の', 'は', 'に'];

/// まで, after a time range, a weekday range or a date.
const UNTIL_WORDS: [&str; 2] = ["まで", "迄"];

/// What the clauses found, before it is checked and assembled into an entry.
#[derive(Default)]
struct Draft {
    freq: Option<(Frequency, u32)>,
    weekdays: Option<Vec<Weekday>>,
    ordinals: Option<Vec<ByDay>>,
    month_days: Option<Vec<i8>>,
    include_holidays: bool,
    except_holidays: bool,
    time: Option<(NaiveTime, NaiveTime)>,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
    count: Option<u32>,
    until: Option<Until>,
    week_start: Option<Weekday>,
}

/// The cursor over the normalised text and what has been read so far.
struct Parser {
    cur: Cursor,
    draft: Draft,
}

fn rrule_error(message: String) -> ScheduleError {
    ScheduleError::new("rrule", message)
}

/// Reads `input` (see [`ScheduleEntry::parse_japanese`]).
pub(super) fn parse(input: &str) -> Result<ScheduleEntry, ScheduleError> {
    let (phrase, description) = match input.split_once('※') {
        Some((phrase, note)) => (phrase, note.trim().to_owned()),
        None => (input, String::new()),
    };
    let mut parser = Parser {
        cur: Cursor {
            chars: normalize(phrase),
            pos: 0,
        },
        draft: Draft::default(),
    };
    if parser.cur.chars.is_empty() {
        return Err(ScheduleError::new(
            "phrase",
            "予定が空です / the schedule text is empty",
        ));
    }
    parser.run()?;
    parser.into_entry(description)
}

impl Parser {
    fn error(&self, part: &'static str, japanese: &str, english: &str, start: usize) -> ScheduleError {
        ScheduleError::new(
            part,
            format!("{japanese}（入力: {}） / {english}", self.cur.quote(start)),
        )
    }

    fn run(&mut self) -> Result<(), ScheduleError> {
        loop {
            while self
                .cur
                .chars
                .get(self.cur.pos)
                .is_some_and(|c| CLAUSE_FILLERS.contains(c))
            {
                self.cur.pos += 1;
            }
            if self.cur.peek().is_none() {
                return Ok(());
            }
            self.clause()?;
        }
    }

    fn clause(&mut self) -> Result<(), ScheduleError> {
        self.cur.skip_spaces();
        let start = self.cur.pos;
        let c = &mut self.cur;
        if c.eat_any(&EXCEPT_HOLIDAYS) {
            self.draft.except_holidays = true;
            Ok(())
        } else if c.eat("終日") {
            self.set_time(NaiveTime::MIN, end_of_day(), start)
        } else if c.eat("毎日") {
            self.set_freq(Frequency::Daily, 1, start)
        } else if c.eat("隔日") {
            self.set_freq(Frequency::Daily, 2, start)
        } else if c.eat("毎週") {
            self.set_freq(Frequency::Weekly, 1, start)
        } else if c.eat("隔週") {
            self.set_freq(Frequency::Weekly, 2, start)
        } else if c.eat("毎月") {
            self.set_freq(Frequency::Monthly, 1, start)?;
            self.after_monthly()
        } else if c.eat("隔月") {
            self.set_freq(Frequency::Monthly, 2, start)?;
            self.after_monthly()
        } else if c.eat("全") {
            self.count_clause(start)
        } else if c.eat_any(&["繰り返しは", "繰返しは", "繰り返し", "繰返し"]) {
            self.until_clause(start)
        } else if c.eat_any(&["週の始まりは", "週の始まり"]) {
            self.week_start_clause(start)
        } else if self.looking_at_month_day_word() {
            self.month_day_clause()
        } else if self.looking_at_ordinal_start() {
            self.ordinal_clause()
        } else if self.looking_at_weekday_item() {
            self.weekday_clause()
        } else if self.looking_at_meridiem() {
            self.time_clause(start)
        } else if self.cur.looking_at_digit() {
            self.number_clause(start)
        } else {
            Err(self.error(
                "phrase",
                "読み取れない部分があります。補足は「※」の後に書いてください",
                "could not understand this part; put free notes after ※",
                start,
            ))
        }
    }

    fn set_freq(&mut self, freq: Frequency, interval: u64, start: usize) -> Result<(), ScheduleError> {
        if self.draft.freq.is_some() {
            return Err(self.error(
                "rrule",
                "頻度の指定が2つあります",
                "the frequency is given twice",
                start,
            ));
        }
        let interval = u32::try_from(interval).ok().filter(|&n| n >= 1).ok_or_else(|| {
            self.error(
                "rrule",
                "間隔は1以上の数で書いてください",
                "the interval must be at least 1",
                start,
            )
        })?;
        self.draft.freq = Some((freq, interval));
        Ok(())
    }

    fn set_time(&mut self, opens: NaiveTime, closes: NaiveTime, start: usize) -> Result<(), ScheduleError> {
        if self.draft.time.is_some() {
            return Err(self.error(
                "opens_at",
                "時間帯が2つあります。時間帯ごとに分けて登録してください",
                "only one time range per entry; enter each range separately",
                start,
            ));
        }
        self.draft.time = Some((opens, closes));
        Ok(())
    }

    /// A clause starting with a number: an interval (3週ごと), a date (2025年4月1日から),
    /// a day of the month after 毎月, or a time.
    fn number_clause(&mut self, start: usize) -> Result<(), ScheduleError> {
        let n = self.cur.number().unwrap_or(0);
        let c = &mut self.cur;
        if c.eat_any(&["日ごと", "日毎"]) {
            return self.set_freq(Frequency::Daily, n, start);
        }
        if c.eat_any(&["週間ごと", "週ごと", "週間毎", "週毎"]) {
            return self.set_freq(Frequency::Weekly, n, start);
        }
        let after_number = c.pos;
        if c.eat_any(&["か", "ヶ", "カ", "ケ", "ヵ", "箇"]) && c.eat("月") && c.eat_any(&["ごと", "毎"])
        {
            self.set_freq(Frequency::Monthly, n, start)?;
            return self.after_monthly();
        }
        c.pos = after_number;
        if c.looking_at("年") || c.looking_at("/") {
            c.pos = start;
            return self.validity_clause();
        }
        if c.eat("月") && c.number().is_some() && c.looking_at("日") {
            return Err(self.error(
                "valid_from",
                "日付には年も書いてください（例: 2025年4月1日から）",
                "dates need a year (2025年4月1日から)",
                start,
            ));
        }
        c.pos = after_number;
        if c.looking_at("月") {
            // 8月は休み and the like: a condition this reader does not understand.
            return Err(self.error(
                "phrase",
                "読み取れない部分があります。補足は「※」の後に書いてください",
                "could not understand this part; put free notes after ※",
                start,
            ));
        }
        let monthly_without_days = matches!(self.draft.freq, Some((Frequency::Monthly, _)))
            && self.draft.month_days.is_none()
            && self.draft.ordinals.is_none();
        let time_like = [":", "時", "〜", "から"].iter().any(|s| c.looking_at(s));
        if monthly_without_days && !time_like {
            // 毎月15 10:00: a day of the month without 日, which the day reader explains.
            c.pos = start;
            return self.month_day_clause();
        }
        if c.looking_at("日") || LIST_SEPARATORS.iter().any(|s| c.looking_at(s)) {
            if matches!(self.draft.freq, Some((Frequency::Monthly, _))) {
                self.cur.pos = start;
                return self.month_day_clause();
            }
            if self.cur.looking_at("日") {
                return Err(self.error(
                    "rrule",
                    "毎月の日付は「毎月15日」のように「毎月」を付けて書いてください",
                    "write a day of the month with 毎月 (毎月15日)",
                    start,
                ));
            }
        }
        self.cur.pos = start;
        self.time_clause(start)
    }

    // ---- validity, count, until, week start -------------------------------------------------

    fn looking_at_date(&mut self) -> bool {
        let save = self.cur.pos;
        let found = self.cur.number().is_some() && (self.cur.looking_at("年") || self.cur.looking_at("/"));
        self.cur.pos = save;
        found
    }

    /// 2025年4月1日 or 2025/4/1.
    fn date(&mut self, part: &'static str) -> Result<NaiveDate, ScheduleError> {
        let start = self.cur.pos;
        let unreadable = |p: &Parser| p.error(part, "日付が読み取れません", "could not read the date", start);
        let year = self.cur.number();
        let (month, day) = if self.cur.eat("年") {
            let month = self.cur.number().filter(|_| self.cur.eat("月"));
            let day = self.cur.number().filter(|_| self.cur.eat("日"));
            (month, day)
        } else if self.cur.eat("/") {
            let month = self.cur.number().filter(|_| self.cur.eat("/"));
            (month, self.cur.number())
        } else {
            (None, None)
        };
        let (Some(year), Some(month), Some(day)) = (year, month, day) else {
            return Err(unreadable(self));
        };
        i32::try_from(year)
            .ok()
            .zip(u32::try_from(month).ok())
            .zip(u32::try_from(day).ok())
            .and_then(|((y, m), d)| NaiveDate::from_ymd_opt(y, m, d))
            .ok_or_else(|| unreadable(self))
    }

    /// 2025年4月1日から, 2026年3月31日まで, 2025年4月1日から2026年3月31日まで, 2025/4/1〜2026/3/31.
    fn validity_clause(&mut self) -> Result<(), ScheduleError> {
        let start = self.cur.pos;
        let first = self.date("valid_from")?;
        let (from, to) = if self.cur.eat_any(&["から", "より", "以降", "〜"]) {
            if self.looking_at_date() {
                let second = self.date("valid_to")?;
                self.cur.eat_any(&UNTIL_WORDS);
                (Some(first), Some(second))
            } else {
                (Some(first), None)
            }
        } else if self.cur.eat_any(&UNTIL_WORDS) {
            (None, Some(first))
        } else {
            return Err(self.error(
                "valid_from",
                "日付の後に「から」か「まで」を付けてください",
                "a date needs から (from) or まで (until) after it",
                start,
            ));
        };
        if (from.is_some() && self.draft.valid_from.is_some())
            || (to.is_some() && self.draft.valid_to.is_some())
        {
            return Err(self.error(
                if from.is_some() { "valid_from" } else { "valid_to" },
                "期間の指定が重なっています",
                "the validity period is given twice",
                start,
            ));
        }
        self.draft.valid_from = self.draft.valid_from.or(from);
        self.draft.valid_to = self.draft.valid_to.or(to);
        Ok(())
    }

    /// 全10回.
    fn count_clause(&mut self, start: usize) -> Result<(), ScheduleError> {
        let count = self.cur.number().filter(|_| self.cur.eat("回"));
        let count = count
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n >= 1)
            .ok_or_else(|| {
                self.error(
                    "rrule",
                    "回数は「全10回」のように書いてください",
                    "write the count as 全10回",
                    start,
                )
            })?;
        if self.draft.count.replace(count).is_some() {
            return Err(self.error("rrule", "回数が2つあります", "the count is given twice", start));
        }
        Ok(())
    }

    /// 繰り返しは2026年3月31日まで; with a Japan time (2026年3月31日 23:59:59まで) for a UTC UNTIL.
    fn until_clause(&mut self, start: usize) -> Result<(), ScheduleError> {
        let date = self.date("rrule")?;
        let until = if self.cur.looking_at_digit() {
            let point = self.time_point("rrule", start)?;
            if point.bare {
                return Err(self.error("rrule", "時刻が読み取れません", "could not read the time", start));
            }
            let time = self.resolve_time(&point, None, "rrule", start)?;
            let utc = date
                .and_time(time)
                .checked_sub_signed(JST_OFFSET)
                .ok_or_else(|| self.error("rrule", "日付が範囲外です", "the date is out of range", start))?;
            Until::DateTimeUtc(utc)
        } else {
            Until::Date(date)
        };
        if !self.cur.eat_any(&UNTIL_WORDS) {
            return Err(self.error(
                "rrule",
                "「繰り返しは2026年3月31日まで」のように書いてください",
                "write the end of the repetition as 繰り返しは2026年3月31日まで",
                start,
            ));
        }
        if self.draft.until.replace(until).is_some() {
            return Err(self.error(
                "rrule",
                "繰り返しの終わりが2つあります",
                "UNTIL is given twice",
                start,
            ));
        }
        Ok(())
    }

    /// 週の始まり: 日曜 (WKST, for every-other-week rules).
    fn week_start_clause(&mut self, start: usize) -> Result<(), ScheduleError> {
        self.cur.eat(":");
        let weekday = self.weekday().ok_or_else(|| {
            self.error(
                "rrule",
                "週の始まりの曜日が読み取れません",
                "could not read the first day of the week",
                start,
            )
        })?;
        if self.draft.week_start.replace(weekday).is_some() {
            return Err(self.error(
                "rrule",
                "週の始まりが2つあります",
                "the week start is given twice",
                start,
            ));
        }
        Ok(())
    }
    // ---- assembly ---------------------------------------------------------------------------

    fn into_entry(self, description: String) -> Result<ScheduleEntry, ScheduleError> {
        let d = self.draft;
        let mixed = |japanese: &str, english: &str| rrule_error(format!("{japanese} / {english}"));
        let (freq, interval) = match d.freq {
            Some(freq) => freq,
            None if d.weekdays.is_some() => (Frequency::Weekly, 1),
            None if d.ordinals.is_some() || d.month_days.is_some() => (Frequency::Monthly, 1),
            None if d.include_holidays => {
                return Err(mixed(
                    "祝日だけの予定には対応していません。曜日も書いてください（例: 土日祝）",
                    "holiday-only schedules are not supported; add weekdays (土日祝)",
                ));
            }
            None => {
                return Err(mixed(
                    "曜日や頻度（毎日・毎週火曜・第2水曜・毎月15日など）が見つかりません",
                    "no days found (毎日, 毎週火曜, 第2水曜, 毎月15日…)",
                ));
            }
        };
        let mut parts = RecurrenceParts {
            freq,
            interval,
            until: d.until,
            count: d.count,
            week_start: d.week_start.unwrap_or(Weekday::Mon),
            ..RecurrenceParts::default()
        };
        match freq {
            Frequency::Daily => {
                if d.weekdays.is_some() || d.ordinals.is_some() || d.month_days.is_some() {
                    return Err(mixed(
                        "毎日・隔日に曜日や日付は付けられません",
                        "every day / every other day cannot have weekdays or dates",
                    ));
                }
            }
            Frequency::Weekly => {
                if d.ordinals.is_some() || d.month_days.is_some() {
                    return Err(mixed(
                        "毎週の曜日と第N曜日・毎月の日付は一緒に指定できません。別の予定に分けてください",
                        "weekly days cannot be mixed with monthly ones; enter them as separate entries",
                    ));
                }
                let Some(days) = d.weekdays else {
                    return Err(mixed(
                        "曜日がありません（例: 毎週水曜）",
                        "no weekday given (毎週水曜)",
                    ));
                };
                parts.by_day = days
                    .into_iter()
                    .map(|weekday| ByDay {
                        ordinal: None,
                        weekday,
                    })
                    .collect();
            }
            Frequency::Monthly => {
                if d.weekdays.is_some() {
                    return Err(mixed(
                        "毎月の曜日には第N を付けてください（例: 第2水曜）。毎週なら「毎週水曜」です",
                        "monthly weekdays need a week of the month (第2水曜); every week is 毎週水曜",
                    ));
                }
                match (d.ordinals, d.month_days) {
                    (Some(_), Some(_)) => {
                        return Err(mixed(
                            "第N曜日と日付は一緒に指定できません。別の予定に分けてください",
                            "week-of-month weekdays and days of the month cannot be combined; use two entries",
                        ));
                    }
                    (Some(ordinals), None) => parts.by_day = ordinals,
                    (None, Some(days)) => parts.by_month_day = days,
                    (None, None) => {
                        return Err(mixed(
                            "毎月の後に日付か第N曜日を書いてください（例: 毎月15日、毎月第2水曜）",
                            "monthly needs a day (毎月15日) or a week-of-month weekday (毎月第2水曜)",
                        ));
                    }
                }
            }
        }
        let (opens_at, closes_at) = d.time.unwrap_or((NaiveTime::MIN, end_of_day()));
        let entry = ScheduleEntry {
            rrule: Recurrence::from_parts(parts)?,
            opens_at,
            closes_at,
            valid_from: d.valid_from,
            valid_to: d.valid_to,
            except_holidays: d.except_holidays,
            include_holidays: d.include_holidays,
            description,
        };
        entry.validate()?;
        Ok(entry)
    }
}
