//! Weekly time windows as people write them in sheets — 「火 9:00〜12:00、金 13:00〜15:00」,
//! 「月〜金 9時〜12時」 — read into windows and written back in a form that reads the same.
//! Shared by the registry's helper sheet (availability) and intake's need sheet (wanted times).

use chrono::Weekday;

use crate::text;

/// One weekday's window, in minutes after local midnight (end at most 1440).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeeklyWindow {
    pub weekday: Weekday,
    pub start_minute: u32,
    pub end_minute: u32,
}

const WEEKDAYS: [(Weekday, char); 7] = [
    (Weekday::Mon, '月'),
    (Weekday::Tue, '火'),
    (Weekday::Wed, '水'),
    (Weekday::Thu, '木'),
    (Weekday::Fri, '金'),
    (Weekday::Sat, '土'),
    (Weekday::Sun, '日'),
];

const AVAILABILITY_FORMAT: &str = "「火 9:00〜12:00、金 13:00〜15:00」のように曜日と時間帯を書いてください / write weekday and hours, e.g. 火 9:00〜12:00";

fn is_range_mark(c: char) -> bool {
    matches!(c, '〜' | '~' | '-' | '–' | '—' | '−')
}

/// Weekdays as people write them: 「火」「火曜」「火曜日」「火・金」「月〜金」.
fn parse_weekdays(part: &str) -> Result<Vec<Weekday>, String> {
    let mut days: Vec<Weekday> = Vec::new();
    let mut range_from: Option<usize> = None;
    let mut chars = part.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '・' | '/' | ' ' => {}
            '曜' => {
                if chars.peek() == Some(&'日') {
                    chars.next();
                }
            }
            c if is_range_mark(c) => {
                range_from = days.last().map(|last| last.num_days_from_monday() as usize);
                if range_from.is_none() {
                    return Err(AVAILABILITY_FORMAT.into());
                }
            }
            c => {
                let Some(index) = WEEKDAYS.iter().position(|(_, label)| *label == c) else {
                    return Err(format!("「{c}」は曜日ではありません。{AVAILABILITY_FORMAT}"));
                };
                if let Some(from) = range_from.take() {
                    let mut at = from;
                    while at != index {
                        at = (at + 1) % 7;
                        days.push(WEEKDAYS[at].0);
                    }
                } else {
                    days.push(WEEKDAYS[index].0);
                }
            }
        }
    }
    if days.is_empty() || range_from.is_some() {
        return Err(AVAILABILITY_FORMAT.into());
    }
    Ok(days)
}

/// 「9:00」「09:30」「24:00」「9時」「9時30分」 as minutes after midnight.
fn parse_time(raw: &str) -> Result<u32, String> {
    let raw = raw.trim();
    let (hours, minutes) = match raw.split_once(':') {
        Some((hours, minutes)) => (hours, minutes),
        None => match raw.strip_suffix('分').and_then(|rest| rest.split_once('時')) {
            Some((hours, minutes)) => (hours, minutes),
            None => (raw.strip_suffix('時').unwrap_or("?"), "0"),
        },
    };
    let number = |part: &str| {
        (!part.is_empty() && part.len() <= 2 && part.chars().all(|c| c.is_ascii_digit()))
            .then(|| part.parse::<u32>().ok())
            .flatten()
    };
    match (number(hours), number(minutes)) {
        (Some(hours), Some(minutes)) if minutes < 60 && hours * 60 + minutes <= 24 * 60 => {
            Ok(hours * 60 + minutes)
        }
        _ => Err(format!(
            "「{raw}」は時刻ではありません（例: 9:00） / not a time of day"
        )),
    }
}

/// 「火 9:00〜12:00、金 13:00〜15:00」: each item weekdays then a time range; 「火・金 9:00〜
/// 12:00」 is one window per weekday.
pub fn parse_windows(cell: &str) -> Result<Vec<WeeklyWindow>, String> {
    let cell = text::nfkc(cell);
    let mut windows = Vec::new();
    for item in cell.split(['、', ',', ';', '\n']) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some(digit) = item.find(|c: char| c.is_ascii_digit()) else {
            return Err(AVAILABILITY_FORMAT.into());
        };
        let (days, times) = item.split_at(digit);
        let days = parse_weekdays(days)?;
        let Some((start, end)) = times.split_once(is_range_mark) else {
            return Err(format!(
                "「{item}」に終わりの時刻がありません。{AVAILABILITY_FORMAT}"
            ));
        };
        let (start, end) = (parse_time(start)?, parse_time(end)?);
        windows.extend(days.into_iter().map(|weekday| WeeklyWindow {
            weekday,
            start_minute: start,
            end_minute: end,
        }));
    }
    Ok(windows)
}

/// The cell [`parse_windows`] reads back: 「火 9:00〜12:00、金 13:00〜15:00」.
pub fn windows_text(windows: &[WeeklyWindow]) -> String {
    let time = |minute: u32| format!("{}:{:02}", minute / 60, minute % 60);
    windows
        .iter()
        .map(|window| {
            let day = WEEKDAYS
                .iter()
                .find(|(weekday, _)| *weekday == window.weekday)
                .map_or('?', |(_, label)| *label);
            format!("{day} {}〜{}", time(window.start_minute), time(window.end_minute))
        })
        .collect::<Vec<_>>()
        .join("、")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(weekday: Weekday, start_minute: u32, end_minute: u32) -> WeeklyWindow {
        WeeklyWindow {
            weekday,
            start_minute,
            end_minute,
        }
    }

    #[test]
    fn windows_read_as_typed() {
        assert_eq!(
            parse_windows("火・金 9:00〜12:00").unwrap(),
            [window(Weekday::Tue, 540, 720), window(Weekday::Fri, 540, 720)]
        );
        assert_eq!(parse_windows("金〜月 18:00〜24:00").unwrap().len(), 4);
        assert!(parse_windows("午前中").is_err());
    }

    #[test]
    fn windows_round_trip() {
        let windows = [window(Weekday::Mon, 0, 30), window(Weekday::Sun, 605, 1440)];
        let cell = windows_text(&windows);
        assert_eq!(cell, "月 0:00〜0:30、日 10:05〜24:00");
        assert_eq!(parse_windows(&cell).unwrap(), windows);
    }
}
