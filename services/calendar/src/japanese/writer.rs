//! The canonical Japanese form.

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike, Weekday};

use crate::entry::ScheduleEntry;
use crate::japanese::{WEEKDAYS, WEEKEND, kanji_of};
use crate::recurrence::{ByDay, Frequency, JST_OFFSET, Until};

fn japanese_date(date: NaiveDate) -> String {
    format!("{}年{}月{}日", date.year(), date.month(), date.day())
}

fn japanese_time(time: NaiveTime) -> String {
    if time.second() == 0 {
        format!("{}:{:02}", time.hour(), time.minute())
    } else {
        format!("{}:{:02}:{:02}", time.hour(), time.minute(), time.second())
    }
}

/// 月・水・金, with runs of three or more as ranges (月〜木).
fn weekday_list_text(days: &[Weekday]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while let Some(&first) = days.get(i) {
        let mut j = i;
        while days
            .get(j + 1)
            .is_some_and(|next| next.num_days_from_monday() == days[j].num_days_from_monday() + 1)
        {
            j += 1;
        }
        if !out.is_empty() {
            out.push('・');
        }
        out.push(kanji_of(first));
        if j >= i + 2 {
            out.push('〜');
            out.push(kanji_of(days[j]));
            i = j + 1;
        } else {
            i += 1;
        }
    }
    out
}

/// 第2・第4水曜・最終金曜: ordinals grouped by weekday (the rule keeps them sorted that way).
fn ordinal_text(by_day: &[ByDay]) -> String {
    let mut out = String::new();
    for (i, item) in by_day.iter().enumerate() {
        if i > 0 {
            out.push('・');
        }
        match item.ordinal {
            Some(-1) => out.push_str("最終"),
            Some(n) if n < 0 => out.push_str(&format!("最後から{}番目の", -n)),
            Some(n) => out.push_str(&format!("第{n}")),
            None => {}
        }
        let last_of_group = by_day.get(i + 1).is_none_or(|next| next.weekday != item.weekday);
        if last_of_group {
            out.push(kanji_of(item.weekday));
            out.push('曜');
        }
    }
    out
}

/// 1日・15日・末日, 末日の1日前.
fn month_day_text(days: &[i8]) -> String {
    let items: Vec<String> = days
        .iter()
        .map(|&d| match d {
            -1 => "末日".to_owned(),
            d if d < 0 => format!("末日の{}日前", -1 - i16::from(d)),
            d => format!("{d}日"),
        })
        .collect();
    items.join("・")
}

/// Writes `entry` (see [`ScheduleEntry::to_japanese`]).
pub(super) fn write(entry: &ScheduleEntry) -> String {
    let p = entry.rrule.parts();
    let weekdays: Vec<Weekday> = p.by_day.iter().map(|d| d.weekday).collect();
    let is_weekly = p.freq == Frequency::Weekly;
    let heijitsu = is_weekly && weekdays == WEEKDAYS && entry.except_holidays && !entry.include_holidays;
    let weekend = is_weekly && weekdays == WEEKEND;
    let mut out = String::new();
    match p.freq {
        Frequency::Daily => match p.interval {
            1 => out.push_str("毎日"),
            2 => out.push_str("隔日"),
            n => out.push_str(&format!("{n}日ごと")),
        },
        Frequency::Weekly => {
            let days = if heijitsu {
                "平日".to_owned()
            } else if weekend {
                if entry.include_holidays {
                    "土日祝"
                } else {
                    "土日"
                }
                .to_owned()
            } else {
                format!("{}曜", weekday_list_text(&weekdays))
            };
            match p.interval {
                1 if heijitsu || weekend => {}
                1 => out.push_str("毎週 "),
                2 => out.push_str("隔週 "),
                n => out.push_str(&format!("{n}週ごと ")),
            }
            out.push_str(&days);
        }
        Frequency::Monthly => {
            match p.interval {
                1 => out.push_str("毎月"),
                2 => out.push_str("隔月"),
                n => out.push_str(&format!("{n}か月ごと")),
            }
            if p.by_day.is_empty() {
                if p.interval > 2 {
                    out.push(' ');
                }
                out.push_str(&month_day_text(&p.by_month_day));
            } else {
                out.push(' ');
                out.push_str(&ordinal_text(&p.by_day));
            }
        }
    }
    if entry.include_holidays && !weekend {
        out.push_str("・祝日");
    }
    if !entry.is_all_day() {
        out.push_str(&format!(
            " {}〜{}",
            japanese_time(entry.opens_at),
            japanese_time(entry.closes_at)
        ));
    }
    if entry.except_holidays && !heijitsu {
        out.push_str("（祝日を除く）");
    }
    match (entry.valid_from, entry.valid_to) {
        (Some(from), Some(to)) => out.push_str(&format!(
            "（{}から{}まで）",
            japanese_date(from),
            japanese_date(to)
        )),
        (Some(from), None) => out.push_str(&format!("（{}から）", japanese_date(from))),
        (None, Some(to)) => out.push_str(&format!("（{}まで）", japanese_date(to))),
        (None, None) => {}
    }
    if let Some(count) = p.count {
        out.push_str(&format!("（全{count}回）"));
    }
    match p.until {
        Some(Until::Date(date)) => out.push_str(&format!("（繰り返しは{}まで）", japanese_date(date))),
        Some(Until::DateTimeUtc(utc)) => {
            let local = utc.checked_add_signed(JST_OFFSET).unwrap_or(utc);
            out.push_str(&format!(
                "（繰り返しは{} {}:{:02}:{:02}まで）",
                japanese_date(local.date()),
                local.hour(),
                local.minute(),
                local.second()
            ));
        }
        None => {}
    }
    if p.week_start != Weekday::Mon {
        out.push_str(&format!("（週の始まり: {}曜）", kanji_of(p.week_start)));
    }
    if !entry.description.is_empty() {
        out.push_str(" ※");
        out.push_str(&entry.description);
    }
    out
}
