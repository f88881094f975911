//! Japanese public holidays (国民の祝日 and the 休日 the holiday law adds), computed, not
//! tabulated, for 1980..=2099.
//!
//! The range is the validity of the standard approximation of the equinoxes (春分の日/秋分の日
//! are fixed each February by the Cabinet Office from astronomical data; the formula agrees with
//! every announced year). The rules follow the law's history from 1980: the Happy Monday moves of
//! 2000 and 2003, the Emperor's birthday, 山の日 from 2016, the one-off days of 1989, 1990, 1993
//! and 2019, the Olympic moves of 2020 and 2021, 振替休日 (1973 rule, widened in 2007) and
//! 国民の休日 (from 1985-12-27). Everything is arithmetic on one date, with no table and no
//! allocation, because the occurrence iterator asks once per day.

use chrono::{Datelike, NaiveDate, Weekday};

/// First year [`holiday_name`] knows.
pub const FIRST_HOLIDAY_YEAR: i32 = 1980;
/// Last year [`holiday_name`] knows.
pub const LAST_HOLIDAY_YEAR: i32 = 2099;

const SUBSTITUTE: &str = "振替休日";
const CITIZENS: &str = "国民の休日";

/// The name of the Japanese public holiday on `date`, or `None` on an ordinary day and outside
/// 1980..=2099 (where holidays are unknown rather than absent; callers that care can check
/// [`FIRST_HOLIDAY_YEAR`]/[`LAST_HOLIDAY_YEAR`]).
///
/// 振替休日 and 国民の休日 count as holidays: offices and most activities close on them. Year-end
/// closures (年末年始) are not public holidays and are not included.
pub fn holiday_name(date: NaiveDate) -> Option<&'static str> {
    if !(FIRST_HOLIDAY_YEAR..=LAST_HOLIDAY_YEAR).contains(&date.year()) {
        return None;
    }
    national_holiday(date)
        .or_else(|| is_substitute_holiday(date).then_some(SUBSTITUTE))
        .or_else(|| is_citizens_holiday(date).then_some(CITIZENS))
}

/// Whether `date` is a Japanese public holiday (see [`holiday_name`]).
pub fn is_holiday(date: NaiveDate) -> bool {
    holiday_name(date).is_some()
}

/// Every holiday of `year`, in date order (empty outside 1980..=2099); for calendars and tests.
pub fn holidays_in_year(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let Some(mut day) = NaiveDate::from_ymd_opt(year, 1, 1) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while day.year() == year {
        if let Some(name) = holiday_name(day) {
            out.push((day, name));
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    out
}

/// Day of the month of the `n`-th Monday of a month (Happy Monday holidays).
fn nth_monday(year: i32, month: u32, n: u32) -> u32 {
    NaiveDate::from_ymd_opt(year, month, 1).map_or(0, |first| {
        1 + Weekday::Mon.days_since(first.weekday()) + 7 * (n - 1)
    })
}

/// 春分の日 and 秋分の日 by the usual approximation, valid 1980..=2099, in integer arithmetic
/// (millionths of a day) so that no rounding can move a day: `base + 0.242194 (y - 1980) -
/// floor((y - 1980) / 4)`.
fn equinox_day(year: i32, base_millionths: i64) -> u32 {
    let n = i64::from(year - 1980);
    let day = (base_millionths + 242_194 * n - 1_000_000 * n.div_euclid(4)).div_euclid(1_000_000);
    u32::try_from(day).unwrap_or(0)
}

fn vernal_equinox_day(year: i32) -> u32 {
    equinox_day(year, 20_843_100)
}

fn autumnal_equinox_day(year: i32) -> u32 {
    equinox_day(year, 23_248_800)
}

/// 国民の祝日 proper, plus the one-off days the special laws made holidays; these are the days
/// that count as neighbours for 国民の休日 and that move to a 振替休日 when on a Sunday.
fn national_holiday(date: NaiveDate) -> Option<&'static str> {
    let (y, m, d) = (date.year(), date.month(), date.day());
    match (m, d) {
        (1, 1) => Some("元日"),
        (1, _) if (y < 2000 && d == 15) || (y >= 2000 && d == nth_monday(y, 1, 2)) => Some("成人の日"),
        (2, 11) => Some("建国記念の日"),
        (2, 23) if y >= 2020 => Some("天皇誕生日"),
        (2, 24) if y == 1989 => Some("昭和天皇の大喪の礼"),
        (3, _) if d == vernal_equinox_day(y) => Some("春分の日"),
        (4, 29) if y <= 1988 => Some("天皇誕生日"),
        (4, 29) if y <= 2006 => Some("みどりの日"),
        (4, 29) => Some("昭和の日"),
        (5, 1) if y == 2019 => Some("天皇の即位の日"),
        (5, 3) => Some("憲法記念日"),
        (5, 4) if y >= 2007 => Some("みどりの日"),
        (5, 5) => Some("こどもの日"),
        (6, 9) if y == 1993 => Some("皇太子徳仁親王の結婚の儀"),
        (7, _) => match y {
            2020 => match d {
                23 => Some("海の日"),
                24 => Some("スポーツの日"),
                _ => None,
            },
            2021 => match d {
                22 => Some("海の日"),
                23 => Some("スポーツの日"),
                _ => None,
            },
            1996..=2002 if d == 20 => Some("海の日"),
            2003.. if d == nth_monday(y, 7, 3) => Some("海の日"),
            _ => None,
        },
        (8, _) => {
            let mountain_day = match y {
                2020 => 10,
                2021 => 8,
                2016.. => 11,
                _ => 0,
            };
            (d == mountain_day).then_some("山の日")
        }
        (9, _) if (y <= 2002 && d == 15) || (y >= 2003 && d == nth_monday(y, 9, 3)) => Some("敬老の日"),
        (9, _) if d == autumnal_equinox_day(y) => Some("秋分の日"),
        (10, 22) if y == 2019 => Some("即位礼正殿の儀"),
        (10, _) => match y {
            ..=1999 if d == 10 => Some("体育の日"),
            2000..=2019 if d == nth_monday(y, 10, 2) => Some("体育の日"),
            2022.. if d == nth_monday(y, 10, 2) => Some("スポーツの日"),
            _ => None,
        },
        (11, 3) => Some("文化の日"),
        (11, 12) if y == 1990 => Some("即位礼正殿の儀"),
        (11, 23) => Some("勤労感謝の日"),
        (12, 23) if (1989..=2018).contains(&y) => Some("天皇誕生日"),
        _ => None,
    }
}

/// 振替休日: before 2007, the Monday after a holiday on Sunday; from 2007, the first day after
/// a Sunday holiday that is not itself a holiday (so 5/3 on a Sunday gives 5/6).
fn is_substitute_holiday(date: NaiveDate) -> bool {
    if national_holiday(date).is_some() {
        return false;
    }
    let Some(mut previous) = date.pred_opt() else {
        return false;
    };
    if date.year() < 2007 {
        return previous.weekday() == Weekday::Sun && national_holiday(previous).is_some();
    }
    // Holidays run at most three days in a row, so this walks back a few days at most.
    loop {
        if national_holiday(previous).is_none() {
            return false;
        }
        if previous.weekday() == Weekday::Sun {
            return true;
        }
        match previous.pred_opt() {
            Some(p) => previous = p,
            None => return false,
        }
    }
}

/// 国民の休日 (from 1985-12-27): a day that is not itself a holiday, and not a Sunday, with a
/// 国民の祝日 on both sides (5/4 before 2007, the September days between 敬老の日 and 秋分の日,
/// 2019-04-30 and 2019-05-02).
fn is_citizens_holiday(date: NaiveDate) -> bool {
    let law_start = NaiveDate::from_ymd_opt(1985, 12, 27);
    if Some(date) < law_start || date.weekday() == Weekday::Sun {
        return false;
    }
    if national_holiday(date).is_some() || is_substitute_holiday(date) {
        return false;
    }
    let before = date.pred_opt().and_then(national_holiday);
    let after = date.succ_opt().and_then(national_holiday);
    before.is_some() && after.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn year_list(year: i32) -> Vec<String> {
        holidays_in_year(year)
            .into_iter()
            .map(|(d, n)| format!("{} {n}", d.format("%m-%d")))
            .collect()
    }

    #[test]
    fn year_2024_has_21_holidays() {
        let expected = [
            "01-01 元日",
            "01-08 成人の日",
            "02-11 建国記念の日",
            "02-12 振替休日",
            "02-23 天皇誕生日",
            "03-20 春分の日",
            "04-29 昭和の日",
            "05-03 憲法記念日",
            "05-04 みどりの日",
            "05-05 こどもの日",
            "05-06 振替休日",
            "07-15 海の日",
            "08-11 山の日",
            "08-12 振替休日",
            "09-16 敬老の日",
            "09-22 秋分の日",
            "09-23 振替休日",
            "10-14 スポーツの日",
            "11-03 文化の日",
            "11-04 振替休日",
            "11-23 勤労感謝の日",
        ];
        assert_eq!(year_list(2024), expected);
        assert_eq!(expected.len(), 21);
    }

    #[test]
    fn year_2025() {
        assert_eq!(
            year_list(2025),
            [
                "01-01 元日",
                "01-13 成人の日",
                "02-11 建国記念の日",
                "02-23 天皇誕生日",
                "02-24 振替休日",
                "03-20 春分の日",
                "04-29 昭和の日",
                "05-03 憲法記念日",
                "05-04 みどりの日",
                "05-05 こどもの日",
                "05-06 振替休日",
                "07-21 海の日",
                "08-11 山の日",
                "09-15 敬老の日",
                "09-23 秋分の日",
                "10-13 スポーツの日",
                "11-03 文化の日",
                "11-23 勤労感謝の日",
                "11-24 振替休日",
            ]
        );
    }

    #[test]
    fn year_2026_has_a_citizens_holiday_in_september() {
        assert_eq!(
            year_list(2026),
            [
                "01-01 元日",
                "01-12 成人の日",
                "02-11 建国記念の日",
                "02-23 天皇誕生日",
                "03-20 春分の日",
                "04-29 昭和の日",
                "05-03 憲法記念日",
                "05-04 みどりの日",
                "05-05 こどもの日",
                "05-06 振替休日",
                "07-20 海の日",
                "08-11 山の日",
                "09-21 敬老の日",
                "09-22 国民の休日",
                "09-23 秋分の日",
                "10-12 スポーツの日",
                "11-03 文化の日",
                "11-23 勤労感謝の日",
            ]
        );
    }

    #[test]
    fn year_2019_the_enthronement() {
        assert_eq!(
            year_list(2019),
            [
                "01-01 元日",
                "01-14 成人の日",
                "02-11 建国記念の日",
                "03-21 春分の日",
                "04-29 昭和の日",
                "04-30 国民の休日",
                "05-01 天皇の即位の日",
                "05-02 国民の休日",
                "05-03 憲法記念日",
                "05-04 みどりの日",
                "05-05 こどもの日",
                "05-06 振替休日",
                "07-15 海の日",
                "08-11 山の日",
                "08-12 振替休日",
                "09-16 敬老の日",
                "09-23 秋分の日",
                "10-14 体育の日",
                "10-22 即位礼正殿の儀",
                "11-03 文化の日",
                "11-04 振替休日",
                "11-23 勤労感謝の日",
            ]
        );
        // No Emperor's birthday in 2019: 12/23 had passed to the former Emperor, 2/23 not yet.
        assert_eq!(holiday_name(date("2019-12-23")), None);
        assert_eq!(holiday_name(date("2019-02-23")), None);
    }

    #[test]
    fn years_2020_and_2021_the_olympic_moves() {
        assert_eq!(
            year_list(2020),
            [
                "01-01 元日",
                "01-13 成人の日",
                "02-11 建国記念の日",
                "02-23 天皇誕生日",
                "02-24 振替休日",
                "03-20 春分の日",
                "04-29 昭和の日",
                "05-03 憲法記念日",
                "05-04 みどりの日",
                "05-05 こどもの日",
                "05-06 振替休日",
                "07-23 海の日",
                "07-24 スポーツの日",
                "08-10 山の日",
                "09-21 敬老の日",
                "09-22 秋分の日",
                "11-03 文化の日",
                "11-23 勤労感謝の日",
            ]
        );
        assert_eq!(
            year_list(2021),
            [
                "01-01 元日",
                "01-11 成人の日",
                "02-11 建国記念の日",
                "02-23 天皇誕生日",
                "03-20 春分の日",
                "04-29 昭和の日",
                "05-03 憲法記念日",
                "05-04 みどりの日",
                "05-05 こどもの日",
                "07-22 海の日",
                "07-23 スポーツの日",
                "08-08 山の日",
                "08-09 振替休日",
                "09-20 敬老の日",
                "09-23 秋分の日",
                "11-03 文化の日",
                "11-23 勤労感謝の日",
            ]
        );
    }

    #[test]
    fn historical_rules() {
        let cases = [
            ("1980-03-20", Some("春分の日")),
            ("1980-09-23", Some("秋分の日")),
            ("1985-05-04", None), // before the 国民の休日 rule
            ("1988-05-04", Some("国民の休日")),
            ("1988-04-29", Some("天皇誕生日")),
            ("1989-04-29", Some("みどりの日")),
            ("1989-02-24", Some("昭和天皇の大喪の礼")),
            ("1989-12-23", Some("天皇誕生日")),
            ("1990-11-12", Some("即位礼正殿の儀")),
            ("1993-06-09", Some("皇太子徳仁親王の結婚の儀")),
            ("1992-05-04", Some("振替休日")), // 5/3 Sunday, before 2007: the next day
            ("1997-05-04", None),             // a Sunday between two holidays is not 国民の休日
            ("1995-07-20", None),             // 海の日 began in 1996
            ("1996-07-20", Some("海の日")),
            ("1999-01-15", Some("成人の日")),
            ("2000-01-10", Some("成人の日")),
            ("2000-01-15", None),
            ("1999-10-11", Some("振替休日")),
            ("1999-10-10", Some("体育の日")),
            ("2000-10-09", Some("体育の日")),
            ("2002-09-15", Some("敬老の日")),
            ("2003-09-15", Some("敬老の日")), // third Monday of 2003
            ("2003-07-21", Some("海の日")),
            ("2006-04-29", Some("みどりの日")),
            ("2007-04-29", Some("昭和の日")),
            ("2008-05-06", Some("振替休日")), // 5/4 Sunday: 2007 rule skips to 5/6
            ("2009-09-22", Some("国民の休日")),
            ("2015-08-11", None),
            ("2016-08-11", Some("山の日")),
            ("2018-12-23", Some("天皇誕生日")),
            ("2018-12-24", Some("振替休日")),
            ("2020-10-12", None),
            ("2021-10-11", None),
            ("2022-10-10", Some("スポーツの日")),
            ("2032-09-21", Some("国民の休日")),
            ("2099-12-31", None),
            ("1979-01-01", None), // outside the known range
            ("2100-01-01", None),
            ("2025-12-31", None), // 年末年始 is not a public holiday
        ];
        for (day, expected) in cases {
            assert_eq!(holiday_name(date(day)), expected, "{day}");
        }
    }

    #[test]
    fn counts_stay_plausible_over_the_whole_range() {
        for year in FIRST_HOLIDAY_YEAR..=LAST_HOLIDAY_YEAR {
            let n = holidays_in_year(year).len();
            assert!((12..=24).contains(&n), "{year}: {n}");
        }
        assert!(holidays_in_year(1979).is_empty());
        assert!(holidays_in_year(i32::MAX).is_empty());
        assert!(is_holiday(date("2019-05-01")));
        assert!(!is_holiday(date("2019-05-07")));
    }
}
