//! What helpers, coordinators and councils parse alike: names, ids, dates, weekly time
//! windows, contact points, the three layers (3層), and who made a change. Each parser records
//! its violations under the field's path and returns a placeholder on error; the caller turns
//! the violations into `INVALID_ARGUMENT` before the value is used.

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tsunagu_runtime::error::Violations;
use tsunagu_runtime::text;
use uuid::Uuid;

use crate::contact::{ContactKind, ContactPoint};
use crate::domain::AreaKind;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_NOTE_CHARS: usize = 4000;
/// At most this many characters in a list's text filter.
pub const MAX_QUERY_CHARS: usize = 100;

/// Implements `as_str` and `parse` for an enum stored as text; serde uses the same names.
macro_rules! stored_enum {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(stored: &str) -> Option<$name> {
                match stored {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use stored_enum;

/// "Today" as the municipalities count days (Asia/Tokyo, UTC+9 all year).
pub fn today_in_japan() -> NaiveDate {
    (Utc::now() + chrono::Duration::hours(9)).date_naive()
}

/// A required name: NFKC, trimmed, at most [`MAX_NAME_CHARS`].
pub fn required_name(violations: &mut Violations, field: &str, raw: &str, what: &str) -> String {
    match text::normalised_non_empty(raw) {
        None => {
            violations.add(field, format!("{what}を入力してください / {field} is required"));
            String::new()
        }
        Some(name) => limited(violations, field, name, MAX_NAME_CHARS),
    }
}

/// Optional text: NFKC, trimmed, at most `max` characters.
pub fn optional_text(violations: &mut Violations, field: &str, raw: &str, max: usize) -> String {
    limited(violations, field, text::nfkc(raw).trim().to_string(), max)
}

fn limited(violations: &mut Violations, field: &str, value: String, max: usize) -> String {
    if value.chars().count() > max {
        violations.add(
            field,
            format!("{max}文字以内で入力してください / at most {max} characters"),
        );
    }
    value
}

/// A list of short texts (agenda items, decisions): each NFKC-trimmed, blank ones refused.
pub fn text_items(violations: &mut Violations, field: &str, raw: &[String], max: usize) -> Vec<String> {
    raw.iter()
        .enumerate()
        .map(|(index, item)| {
            let field = format!("{field}[{index}]");
            match text::normalised_non_empty(item) {
                Some(item) => limited(violations, &field, item, max),
                None => {
                    violations.add(&field, "空の項目があります / empty item");
                    String::new()
                }
            }
        })
        .collect()
}

pub fn required_id(violations: &mut Violations, field: &str, raw: &str, what: &str) -> Uuid {
    match raw.trim() {
        "" => {
            violations.add(
                field,
                format!("{what}のIDを指定してください / {field} is required"),
            );
            Uuid::nil()
        }
        value => parse_uuid(violations, field, value).unwrap_or_default(),
    }
}

/// An optional id: empty means none.
pub fn optional_id(violations: &mut Violations, field: &str, raw: &str) -> Option<Uuid> {
    match raw.trim() {
        "" => None,
        value => parse_uuid(violations, field, value),
    }
}

fn parse_uuid(violations: &mut Violations, field: &str, value: &str) -> Option<Uuid> {
    match value.parse::<Uuid>() {
        Ok(id) => Some(id),
        Err(_) => {
            violations.add(
                field,
                format!("IDの形式が不正です（入力: {value:?}） / not a UUID"),
            );
            None
        }
    }
}

/// Ids, each bad one named by its index; duplicates are dropped, the order kept.
pub fn id_list(violations: &mut Violations, field: &str, raw: &[String]) -> Vec<Uuid> {
    let mut ids = Vec::with_capacity(raw.len());
    for (index, value) in raw.iter().enumerate() {
        if let Some(id) = parse_uuid(violations, &format!("{field}[{index}]"), value.trim())
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
}

/// An ISO 8601 calendar date ("2025-06-14"; full-width digits accepted).
pub fn parse_date(raw: &str) -> Result<NaiveDate, String> {
    let value = text::nfkc(raw).trim().to_string();
    let well_formed = value.len() == 10
        && value.char_indices().all(|(at, c)| {
            if at == 4 || at == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !well_formed {
        return Err(format!(
            "日付は YYYY-MM-DD の形式で入力してください（入力: {raw:?}） / not a date (YYYY-MM-DD)"
        ));
    }
    NaiveDate::parse_from_str(&value, "%Y-%m-%d")
        .map_err(|_| format!("存在しない日付です（入力: {raw:?}） / no such date"))
}

/// A required date of something that already happened: not after `today`, not before 1950.
pub fn past_date(violations: &mut Violations, field: &str, raw: &str, today: NaiveDate) -> NaiveDate {
    if raw.trim().is_empty() {
        violations.add(field, format!("日付を入力してください / {field} is required"));
        return NaiveDate::MIN;
    }
    match parse_date(raw) {
        Err(reason) => {
            violations.add(field, reason);
            NaiveDate::MIN
        }
        Ok(date) if date > today => {
            violations.add(
                field,
                format!("{date} は未来の日付です（今日は {today}） / the date is in the future"),
            );
            date
        }
        Ok(date) if date < earliest_date() => {
            violations.add(
                field,
                format!("{date} は古すぎます（1950年以降） / the date is before 1950"),
            );
            date
        }
        Ok(date) => date,
    }
}

/// An optional date: empty means none.
pub fn optional_date(violations: &mut Violations, field: &str, raw: &str) -> Option<NaiveDate> {
    if raw.trim().is_empty() {
        return None;
    }
    violations.check(field, parse_date(raw))
}

fn earliest_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1950, 1, 1).expect("a valid date")
}

pub type ContactInput<'a> = (Option<ContactKind>, &'a str, &'a str);

/// Contact points checked by kind, each bad part named (`contact_points[1].value`).
pub fn contact_points(
    violations: &mut Violations,
    field: &str,
    raw: &[ContactInput<'_>],
) -> Vec<ContactPoint> {
    let mut points = Vec::with_capacity(raw.len());
    for (index, (kind, value, label)) in raw.iter().enumerate() {
        let Some(kind) = kind else {
            violations.add(
                format!("{field}[{index}].kind"),
                "連絡先の種類を指定してください / kind is required",
            );
            continue;
        };
        match ContactPoint::parse(*kind, value, label) {
            Ok(point) => points.push(point),
            Err((part, reason)) => violations.add(format!("{field}[{index}].{part}"), reason),
        }
    }
    points
}

/// Who made a change: required, so the history can say who did what.
pub fn author(violations: &mut Violations, field: &str, raw: &str) -> String {
    match text::normalised_non_empty(raw) {
        Some(author) => limited(violations, field, author, MAX_NAME_CHARS),
        None => {
            violations.add(
                field,
                format!("操作した人（氏名またはID）を入力してください / {field} is required"),
            );
            String::new()
        }
    }
}

/// A deletion's reason: required.
pub fn reason(violations: &mut Violations, field: &str, raw: &str) -> String {
    match text::normalised_non_empty(raw) {
        Some(reason) => limited(violations, field, reason, MAX_NOTE_CHARS),
        None => {
            violations.add(field, "削除の理由を入力してください / reason is required");
            String::new()
        }
    }
}

pub fn expected_version(violations: &mut Violations, field: &str, version: i64) -> i64 {
    if version < 0 {
        violations.add(
            field,
            "版は0（確認しない）または読み込んだ版の番号です / must be 0 or a version",
        );
    }
    version
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    fn label(self) -> &'static str {
        match self {
            Weekday::Monday => "月曜",
            Weekday::Tuesday => "火曜",
            Weekday::Wednesday => "水曜",
            Weekday::Thursday => "木曜",
            Weekday::Friday => "金曜",
            Weekday::Saturday => "土曜",
            Weekday::Sunday => "日曜",
        }
    }

    const IN_ORDER: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    pub fn from_chrono(weekday: chrono::Weekday) -> Weekday {
        Weekday::IN_ORDER[weekday.num_days_from_monday() as usize]
    }

    pub fn to_chrono(self) -> chrono::Weekday {
        chrono::Weekday::try_from(self as u8).expect("seven weekdays from Monday")
    }
}

/// A weekly window in local time, e.g. Tuesday 09:00–12:00 (minutes after midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    pub weekday: Weekday,
    pub start_minute: u32,
    pub end_minute: u32,
}

impl std::fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hm = |minute: u32| format!("{:02}:{:02}", minute / 60, minute % 60);
        write!(
            f,
            "{} {}–{}",
            self.weekday.label(),
            hm(self.start_minute),
            hm(self.end_minute)
        )
    }
}

/// A window as received; `weekday` is None when unspecified or unknown.
#[derive(Debug, Clone, Copy)]
pub struct WindowInput {
    pub weekday: Option<Weekday>,
    pub start_minute: u32,
    pub end_minute: u32,
}

const MINUTES_PER_DAY: u32 = 24 * 60;

/// Weekly windows: weekday set, start before end, within one day, no two overlapping on the
/// same day. Stored in weekday and time order.
pub fn availability(violations: &mut Violations, field: &str, raw: &[WindowInput]) -> Vec<TimeWindow> {
    let mut windows: Vec<(usize, TimeWindow)> = Vec::with_capacity(raw.len());
    for (index, input) in raw.iter().enumerate() {
        let at = format!("{field}[{index}]");
        let before = violations.len();
        if input.weekday.is_none() {
            violations.add(
                format!("{at}.weekday"),
                "曜日を指定してください / weekday is required",
            );
        }
        if input.start_minute >= MINUTES_PER_DAY {
            violations.add(
                format!("{at}.start_minute"),
                "開始は0〜1439分（0:00〜23:59）です / start_minute must be 0–1439",
            );
        }
        if input.end_minute > MINUTES_PER_DAY {
            violations.add(
                format!("{at}.end_minute"),
                "終了は1440分（24:00）までです / end_minute must be at most 1440",
            );
        } else if input.end_minute <= input.start_minute {
            violations.add(
                format!("{at}.end_minute"),
                "終了は開始より後にしてください（日をまたぐ時間帯は2つに分けてください） / end_minute must be after start_minute",
            );
        }
        if let (true, Some(weekday)) = (violations.len() == before, input.weekday) {
            windows.push((
                index,
                TimeWindow {
                    weekday,
                    start_minute: input.start_minute,
                    end_minute: input.end_minute,
                },
            ));
        }
    }
    windows.sort_by_key(|(_, w)| (w.weekday as u8, w.start_minute, w.end_minute));
    for pair in windows.windows(2) {
        let ((_, earlier), (index, later)) = (pair[0], pair[1]);
        if earlier.weekday == later.weekday && later.start_minute < earlier.end_minute {
            violations.add(
                format!("{field}[{index}]"),
                format!("{later} は {earlier} と重なっています / overlaps another window of the same day"),
            );
        }
    }
    windows.into_iter().map(|(_, window)| window).collect()
}

/// The three layers (3層) of the 生活支援体制整備事業; stored and snapshotted as 1, 2, 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// 第1層: the whole municipality.
    First,
    /// 第2層: a daily-life area.
    Second,
    /// 第3層: one provider.
    Third,
}

impl Layer {
    pub fn number(self) -> i16 {
        match self {
            Layer::First => 1,
            Layer::Second => 2,
            Layer::Third => 3,
        }
    }

    pub fn from_number(number: i16) -> Option<Layer> {
        match number {
            1 => Some(Layer::First),
            2 => Some(Layer::Second),
            3 => Some(Layer::Third),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Layer::First => "第1層",
            Layer::Second => "第2層",
            Layer::Third => "第3層",
        }
    }

    /// Which kinds of area a layer works in. Layer 1 is the municipality (or, in a designated
    /// city, a ward); layer 2 the daily-life area, or the 小学校区 / 地区社協区域 some towns use
    /// as their layer-2 unit. Layer 3 is a provider, not an area: every kind below the
    /// prefecture is accepted where an area is given at all.
    pub fn area_kinds(self) -> &'static [AreaKind] {
        use AreaKind::*;
        match self {
            Layer::First => &[Municipality, Ward],
            Layer::Second => &[DailyLifeArea, SchoolDistrict, DistrictCouncilArea],
            Layer::Third => &[
                Municipality,
                Ward,
                DailyLifeArea,
                SchoolDistrict,
                DistrictCouncilArea,
                NeighborhoodAssociation,
            ],
        }
    }

    /// Whether an area of `kind` fits the layer; the reason in words when it does not.
    pub fn check_area_kind(self, kind: Option<AreaKind>) -> Result<(), String> {
        if kind.is_some_and(|kind| self.area_kinds().contains(&kind)) {
            return Ok(());
        }
        let allowed: Vec<&str> = self.area_kinds().iter().map(|kind| kind.label()).collect();
        let actual = kind.map_or("不明な種類 / an unknown kind", AreaKind::label);
        Err(format!(
            "{}の区域は{}です（指定された区域は{}） / the area's kind does not fit the layer",
            self.label(),
            allowed.join("・"),
            actual
        ))
    }
}

impl Serialize for Layer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i16(self.number())
    }
}

/// The editable state of an entity as a JSON object: field name → value, the names being the
/// API's (and the update mask's) field names. History diffs two of these.
pub fn snapshot<T: Serialize>(state: &T) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(state) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => unreachable!("entity states serialise to JSON objects"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(violations: Violations) -> Vec<String> {
        match violations.into_result() {
            Ok(()) => vec![],
            Err(tsunagu_runtime::ServiceError::InvalidArgument(all)) => {
                all.into_iter().map(|v| v.field).collect()
            }
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn dates_are_strict_calendar_dates() {
        assert_eq!(
            parse_date("２０２５－０６－１４").unwrap(),
            NaiveDate::from_ymd_opt(2025, 6, 14).unwrap()
        );
        assert!(parse_date("2025-6-14").is_err());
        assert!(parse_date("2025-02-30").unwrap_err().contains("存在しない"));
        assert!(parse_date("14/06/2025").is_err());
    }

    #[test]
    fn past_dates_refuse_the_future_and_the_blank() {
        let today = NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
        let mut violations = Violations::new();
        past_date(&mut violations, "a", "2026-04-01", today);
        past_date(&mut violations, "b", "2026-04-02", today);
        past_date(&mut violations, "c", "", today);
        past_date(&mut violations, "d", "1949-12-31", today);
        assert_eq!(fields(violations), ["b", "c", "d"]);
    }

    #[test]
    fn windows_are_checked_sorted_and_may_not_overlap() {
        let window = |weekday, start_minute, end_minute| WindowInput {
            weekday,
            start_minute,
            end_minute,
        };
        let mut violations = Violations::new();
        let windows = availability(
            &mut violations,
            "availability",
            &[
                window(Some(Weekday::Thursday), 13 * 60, 15 * 60),
                window(Some(Weekday::Tuesday), 9 * 60, 12 * 60),
                window(Some(Weekday::Tuesday), 12 * 60, 1440),
            ],
        );
        assert!(violations.is_empty());
        assert_eq!(windows[0].weekday, Weekday::Tuesday);
        assert_eq!(windows[0].to_string(), "火曜 09:00–12:00");
        assert_eq!(windows[2].weekday, Weekday::Thursday);

        let mut violations = Violations::new();
        availability(
            &mut violations,
            "availability",
            &[
                window(None, 0, 60),
                window(Some(Weekday::Monday), 600, 600),
                window(Some(Weekday::Monday), 1440, 1500),
                window(Some(Weekday::Friday), 540, 720),
                window(Some(Weekday::Friday), 600, 660),
            ],
        );
        assert_eq!(
            fields(violations),
            [
                "availability[0].weekday",
                "availability[1].end_minute",
                "availability[2].start_minute",
                "availability[2].end_minute",
                "availability[4]"
            ]
        );
    }

    #[test]
    fn layers_accept_their_area_kinds_only() {
        assert!(Layer::First.check_area_kind(Some(AreaKind::Municipality)).is_ok());
        assert!(Layer::First.check_area_kind(Some(AreaKind::Ward)).is_ok());
        assert!(
            Layer::First
                .check_area_kind(Some(AreaKind::DailyLifeArea))
                .is_err()
        );
        assert!(
            Layer::Second
                .check_area_kind(Some(AreaKind::DailyLifeArea))
                .is_ok()
        );
        assert!(
            Layer::Second
                .check_area_kind(Some(AreaKind::SchoolDistrict))
                .is_ok()
        );
        let error = Layer::Second
            .check_area_kind(Some(AreaKind::Municipality))
            .unwrap_err();
        assert!(error.contains("第2層"), "{error}");
        assert!(Layer::Third.check_area_kind(Some(AreaKind::Prefecture)).is_err());
        assert!(Layer::Second.check_area_kind(None).is_err());
    }

    #[test]
    fn ids_name_the_bad_index_and_drop_duplicates() {
        let id = Uuid::now_v7().to_string();
        let mut violations = Violations::new();
        let ids = id_list(&mut violations, "area_ids", &[id.clone(), "x".into(), id]);
        assert_eq!(ids.len(), 1);
        assert_eq!(fields(violations), ["area_ids[1]"]);
    }
}
