//! Parses a resource as a caller sends it (`RawResource`, plain strings and numbers filled by
//! the gRPC edge or by an import row) into validated `ResourceFields`, reporting every bad
//! field at once by the name the caller used.

use chrono::{NaiveDate, NaiveTime};
use tsunagu_calendar::{Recurrence, ScheduleEntry};
use tsunagu_runtime::error::{ServiceResult, Violations};
use tsunagu_runtime::text;
use uuid::Uuid;

use super::model::{
    Capabilities, Capacity, Eligibility, Fee, Gender, Location, ResourceFields, ResourceKind, ResourceStatus,
};
use crate::categories::CategoryIndex;
use crate::geo::GeoPoint;

const MAX_NAME_CHARS: usize = 200;
const MAX_TEXT_CHARS: usize = 4000;
const MAX_EXTERNAL_ID_CHARS: usize = 100;
const MAX_AGE: u32 = 130;

/// A resource as sent, before validation. `None` in an enum field means the caller left it
/// unspecified; an unknown enum number arrives as `Err(number)` so it can be named.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawResource {
    pub organization_id: String,
    pub name: String,
    pub name_kana: String,
    pub description: String,
    pub category: String,
    pub kind: Option<ResourceKind>,
    pub coverage_area_ids: Vec<String>,
    pub capacity: RawCapacity,
    pub fee: Option<RawFee>,
    pub eligibility: Vec<Option<Eligibility>>,
    pub min_age: u32,
    pub max_age: u32,
    pub capabilities: RawCapabilities,
    pub schedules: Vec<RawSchedule>,
    pub status: Option<ResourceStatus>,
    pub status_note: String,
    pub location: RawLocation,
    pub external_id: String,
    pub url: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawCapacity {
    pub available: u32,
    pub maximum: u32,
    pub unit: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawFee {
    pub free: bool,
    pub amount_yen: u32,
    pub unit: String,
    pub description: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawCapabilities {
    pub wheelchair_vehicle: bool,
    pub languages: Vec<String>,
    pub helper_genders: Vec<Option<Gender>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawSchedule {
    pub rrule: String,
    pub opens_at: String,
    pub closes_at: String,
    pub valid_from: String,
    pub valid_to: String,
    pub except_holidays: bool,
    pub include_holidays: bool,
    pub description: String,
    /// A Japanese phrase, e.g. 第2・第4水曜 10:00〜12:00; used when `rrule` is empty.
    pub text: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawLocation {
    pub address: String,
    pub point: Option<(f64, f64)>,
    pub confidential: bool,
}

impl RawResource {
    /// The raw form of stored fields, so an update can overlay the masked fields on it and
    /// validate the result as a whole.
    pub fn from_fields(fields: &ResourceFields) -> RawResource {
        RawResource {
            organization_id: fields.organization_id.to_string(),
            name: fields.name.clone(),
            name_kana: fields.name_kana.clone(),
            description: fields.description.clone(),
            category: fields.category.clone(),
            kind: Some(fields.kind),
            coverage_area_ids: fields.coverage_area_ids.iter().map(Uuid::to_string).collect(),
            capacity: RawCapacity {
                available: fields.capacity.available,
                maximum: fields.capacity.maximum,
                unit: fields.capacity.unit.clone(),
            },
            fee: match &fields.fee {
                Fee::Unknown => None,
                Fee::Free { description } => Some(RawFee {
                    free: true,
                    description: description.clone(),
                    ..RawFee::default()
                }),
                Fee::Paid {
                    amount_yen,
                    unit,
                    description,
                } => Some(RawFee {
                    free: false,
                    amount_yen: *amount_yen,
                    unit: unit.clone(),
                    description: description.clone(),
                }),
            },
            eligibility: fields.eligibility.iter().copied().map(Some).collect(),
            min_age: fields.min_age.unwrap_or(0),
            max_age: fields.max_age.unwrap_or(0),
            capabilities: RawCapabilities {
                wheelchair_vehicle: fields.capabilities.wheelchair_vehicle,
                languages: fields.capabilities.languages.clone(),
                helper_genders: fields
                    .capabilities
                    .helper_genders
                    .iter()
                    .copied()
                    .map(Some)
                    .collect(),
            },
            schedules: fields.schedules.iter().map(raw_schedule).collect(),
            status: Some(fields.status),
            status_note: fields.status_note.clone(),
            location: RawLocation {
                address: fields.location.address.clone(),
                point: fields.location.point.map(|p| (p.latitude, p.longitude)),
                confidential: fields.location.confidential,
            },
            external_id: fields.external_id.clone().unwrap_or_default(),
            url: fields.url.clone(),
        }
    }

    /// Validates everything; the category is resolved against `categories` (a Japanese name
    /// becomes its code). Whether the organisation and areas exist is the store's to check.
    pub fn parse(&self, categories: &CategoryIndex) -> ServiceResult<ResourceFields> {
        let mut violations = Violations::new();
        let organization_id = violations.check(
            "organization_id",
            self.organization_id
                .trim()
                .parse::<Uuid>()
                .map_err(|_| "事業主体のIDを指定してください / not a UUID"),
        );
        let name = bounded_text(&mut violations, "name", &self.name, MAX_NAME_CHARS);
        if name.is_empty() {
            violations.add("name", "資源名を入力してください / name is required");
        }
        let name_kana = bounded_text(&mut violations, "name_kana", &self.name_kana, MAX_NAME_CHARS);
        if !name_kana.chars().all(is_reading_char) {
            violations.add(
                "name_kana",
                format!(
                    "読みはひらがなかカタカナで入力してください（入力: {name_kana:?}） / reading must be kana"
                ),
            );
        }
        let description = bounded_text(&mut violations, "description", &self.description, MAX_TEXT_CHARS);
        let category = violations.check(
            "category",
            categories.resolve(&self.category).map(|c| c.code.clone()),
        );
        let kind = self
            .kind
            .or_else(|| category.as_deref().map(ResourceKind::implied_by_category))
            .unwrap_or(ResourceKind::Use);
        let coverage_area_ids = parse_ids(&mut violations, "coverage_area_ids", &self.coverage_area_ids);
        if self.coverage_area_ids.is_empty() && kind != ResourceKind::Place {
            violations.add(
                "coverage_area_ids",
                "対象区域を1つ以上指定してください / at least one coverage area is required",
            );
        }
        let capacity = parse_capacity(&mut violations, &self.capacity);
        let fee = parse_fee(&mut violations, self.fee.as_ref());
        let mut eligibility = Vec::new();
        for (index, value) in self.eligibility.iter().enumerate() {
            match value {
                Some(value) if !eligibility.contains(value) => eligibility.push(*value),
                Some(_) => {}
                None => violations.add(
                    format!("eligibility[{index}]"),
                    "対象者の区分が指定されていません / eligibility is unspecified",
                ),
            }
        }
        eligibility.sort();
        let min_age = (self.min_age > 0).then_some(self.min_age);
        let max_age = (self.max_age > 0).then_some(self.max_age);
        for (field, age) in [("min_age", min_age), ("max_age", max_age)] {
            if age.is_some_and(|age| age > MAX_AGE) {
                violations.add(field, format!("年齢は{MAX_AGE}歳以下です / age is out of range"));
            }
        }
        if let (Some(min), Some(max)) = (min_age, max_age)
            && min > max
        {
            violations.add(
                "max_age",
                format!("上限年齢（{max}歳）が下限年齢（{min}歳）より小さくなっています / max_age is below min_age"),
            );
        }
        let capabilities = parse_capabilities(&mut violations, &self.capabilities);
        let schedules = self
            .schedules
            .iter()
            .enumerate()
            .filter_map(|(index, raw)| parse_schedule(&mut violations, index, raw))
            .collect();
        let location = parse_location(&mut violations, &self.location);
        let status = self.status.unwrap_or(ResourceStatus::Active);
        let status_note = bounded_text(&mut violations, "status_note", &self.status_note, MAX_TEXT_CHARS);
        let external_id = text::nfkc(&self.external_id).trim().to_string();
        if external_id.chars().count() > MAX_EXTERNAL_ID_CHARS {
            violations.add(
                "external_id",
                format!("外部IDは{MAX_EXTERNAL_ID_CHARS}文字以内です / external_id is too long"),
            );
        }
        let url = text::nfkc(&self.url).trim().to_string();
        let web_address = url.starts_with("https://") || url.starts_with("http://");
        if (!url.is_empty() && !web_address) || url.contains(' ') {
            violations.add(
                "url",
                format!("URLは http:// か https:// で始めてください（入力: {url:?}） / not a web address"),
            );
        }
        violations.into_result()?;
        Ok(ResourceFields {
            organization_id: organization_id.expect("checked"),
            name,
            name_kana,
            description,
            category: category.expect("checked"),
            kind,
            coverage_area_ids,
            capacity,
            fee,
            eligibility,
            min_age,
            max_age,
            capabilities,
            schedules,
            status,
            status_note,
            location,
            external_id: (!external_id.is_empty()).then_some(external_id),
            url,
        })
    }
}

fn bounded_text(violations: &mut Violations, field: &str, raw: &str, max_chars: usize) -> String {
    let normalised = text::nfkc(raw).trim().to_string();
    if normalised.chars().count() > max_chars {
        violations.add(field, format!("{max_chars}文字以内で入力してください / too long"));
    }
    normalised
}

fn is_reading_char(c: char) -> bool {
    matches!(c, '\u{3041}'..='\u{3096}' | '\u{30A1}'..='\u{30FA}' | 'ー' | '・' | ' ' | '\u{3000}' | '（' | '）' | '(' | ')')
}

/// Parses ids, naming each bad one by its index; duplicates are dropped.
pub fn parse_ids(violations: &mut Violations, field: &str, raw: &[String]) -> Vec<Uuid> {
    let mut ids = Vec::with_capacity(raw.len());
    for (index, value) in raw.iter().enumerate() {
        match value.trim().parse::<Uuid>() {
            Ok(id) if !ids.contains(&id) => ids.push(id),
            Ok(_) => {}
            Err(_) => violations.add(
                format!("{field}[{index}]"),
                format!("IDの形式が不正です（入力: {value:?}） / not a UUID"),
            ),
        }
    }
    ids
}

fn parse_capacity(violations: &mut Violations, raw: &RawCapacity) -> Capacity {
    const MAX_CAPACITY: u32 = 1_000_000;
    if raw.maximum > MAX_CAPACITY {
        violations.add(
            "capacity.maximum",
            "受け入れ可能数が大きすぎます / maximum is too large",
        );
    }
    if raw.maximum > 0 && raw.available > raw.maximum {
        violations.add(
            "capacity.available",
            format!(
                "空き（{}）が受け入れ可能数（{}）を超えています / available exceeds maximum",
                raw.available, raw.maximum
            ),
        );
    }
    let unit = bounded_text(violations, "capacity.unit", &raw.unit, 20);
    Capacity {
        available: raw.available,
        maximum: raw.maximum,
        unit,
    }
}

fn parse_fee(violations: &mut Violations, raw: Option<&RawFee>) -> Fee {
    let Some(raw) = raw else { return Fee::Unknown };
    let description = bounded_text(violations, "fee.description", &raw.description, 500);
    let unit = bounded_text(violations, "fee.unit", &raw.unit, 20);
    if raw.free {
        if raw.amount_yen > 0 {
            violations.add(
                "fee.amount_yen",
                "無料の場合は金額を入れないでください / a free resource has no amount",
            );
        }
        return Fee::Free { description };
    }
    if raw.amount_yen == 0 {
        if description.is_empty() {
            violations.add(
                "fee.amount_yen",
                "有料の場合は金額を入力してください（無料なら free） / amount is required unless free",
            );
        }
        // "実費" and the like: a fee described but not priced.
        return Fee::Paid {
            amount_yen: 0,
            unit,
            description,
        };
    }
    if unit.is_empty() {
        violations.add(
            "fee.unit",
            "料金の単位を入力してください（例: 1回） / unit is required",
        );
    }
    Fee::Paid {
        amount_yen: raw.amount_yen,
        unit,
        description,
    }
}

fn parse_capabilities(violations: &mut Violations, raw: &RawCapabilities) -> Capabilities {
    let mut languages = Vec::new();
    for (index, tag) in raw.languages.iter().enumerate() {
        match normalise_language_tag(tag) {
            Some(tag) if !languages.contains(&tag) => languages.push(tag),
            Some(_) => {}
            None => violations.add(
                format!("capabilities.languages[{index}]"),
                format!("言語は BCP 47 のタグで入力してください（例: ja, en, vi）（入力: {tag:?}） / not a language tag"),
            ),
        }
    }
    let mut helper_genders = Vec::new();
    for (index, gender) in raw.helper_genders.iter().enumerate() {
        match gender {
            Some(gender) if !helper_genders.contains(gender) => helper_genders.push(*gender),
            Some(_) => {}
            None => violations.add(
                format!("capabilities.helper_genders[{index}]"),
                "性別が指定されていません / gender is unspecified",
            ),
        }
    }
    helper_genders.sort();
    Capabilities {
        wheelchair_vehicle: raw.wheelchair_vehicle,
        languages,
        helper_genders,
    }
}

/// "JA" → "ja", "pt-br" → "pt-BR"; `None` unless it looks like a BCP 47 tag.
pub fn normalise_language_tag(raw: &str) -> Option<String> {
    let raw = text::nfkc(raw).trim().replace('_', "-");
    let mut parts = raw.split('-');
    let language = parts.next()?;
    if !(2..=3).contains(&language.len()) || !language.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let mut tag = language.to_ascii_lowercase();
    for part in parts {
        if !(2..=8).contains(&part.len()) || !part.chars().all(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        tag.push('-');
        match part.len() {
            2 => tag.push_str(&part.to_ascii_uppercase()),
            4 => {
                let mut chars = part.chars();
                tag.extend(chars.next().map(|c| c.to_ascii_uppercase()));
                tag.push_str(&chars.as_str().to_ascii_lowercase());
            }
            _ => tag.push_str(&part.to_ascii_lowercase()),
        }
    }
    Some(tag)
}

fn parse_schedule(violations: &mut Violations, index: usize, raw: &RawSchedule) -> Option<ScheduleEntry> {
    let field = |part: &str| format!("schedules[{index}].{part}");
    if raw.rrule.trim().is_empty() {
        if raw.text.trim().is_empty() {
            violations.add(
                field("rrule"),
                "rrule か text（例: 第2・第4水曜 10:00〜12:00）を入力してください / give rrule or text",
            );
            return None;
        }
        return match ScheduleEntry::parse_japanese(&raw.text) {
            Ok(mut entry) => {
                // A note given apart from the phrase wins over one written after 「※」.
                let description = text::nfkc(&raw.description).trim().to_string();
                if !description.is_empty() {
                    entry.description = description;
                }
                Some(entry)
            }
            Err(error) => {
                violations.add(field("text"), error.message);
                None
            }
        };
    }
    let before = violations.len();
    let rrule = violations.check(
        &field("rrule"),
        Recurrence::parse(&raw.rrule).map_err(|e| e.message),
    );
    let opens_at = violations.check(&field("opens_at"), parse_time(&raw.opens_at));
    let closes_at = violations.check(&field("closes_at"), parse_time(&raw.closes_at));
    let valid_from = violations.check(&field("valid_from"), parse_optional_date(&raw.valid_from));
    let valid_to = violations.check(&field("valid_to"), parse_optional_date(&raw.valid_to));
    if violations.len() > before {
        return None;
    }
    let entry = ScheduleEntry {
        rrule: rrule.expect("checked"),
        opens_at: opens_at.expect("checked"),
        closes_at: closes_at.expect("checked"),
        valid_from: valid_from.expect("checked"),
        valid_to: valid_to.expect("checked"),
        except_holidays: raw.except_holidays,
        include_holidays: raw.include_holidays,
        description: text::nfkc(&raw.description).trim().to_string(),
    };
    if let Err(error) = entry.validate() {
        violations.add(field(error.part), error.message);
        return None;
    }
    if let Some(problem) = text_disagrees(&entry, &raw.text) {
        violations.add(field("text"), problem);
        return None;
    }
    Some(entry)
}

/// A schedule given both as a rule and as Japanese text must say the same thing: with a rule
/// of Monday and a text of 火曜, one of the two is a mistake, and keeping the rule silently
/// would drop the Tuesday the person typed. A text the rule's own Japanese form reads back to
/// (what `GetResource` returns in `text`) agrees.
fn text_disagrees(entry: &ScheduleEntry, text: &str) -> Option<String> {
    if text.trim().is_empty() {
        return None;
    }
    let from_text = match ScheduleEntry::parse_japanese(text) {
        Ok(from_text) => from_text,
        Err(error) => return Some(error.message),
    };
    let same = from_text.rrule == entry.rrule
        && from_text.opens_at == entry.opens_at
        && from_text.closes_at == entry.closes_at
        && from_text.except_holidays == entry.except_holidays
        && from_text.include_holidays == entry.include_holidays;
    (!same).then(|| {
        format!(
            "text（{}）と rrule（{}）の予定が一致しません。どちらか一方だけを入力するか、同じ予定にしてください / text and rrule describe different schedules",
            from_text.to_japanese(),
            entry.to_japanese()
        )
    })
}

fn parse_time(raw: &str) -> Result<NaiveTime, String> {
    let raw = text::nfkc(raw).trim().to_string();
    NaiveTime::parse_from_str(&raw, "%H:%M").map_err(|_| {
        format!("時刻は HH:MM で入力してください（例: 10:00）（入力: {raw:?}） / time must be HH:MM")
    })
}

fn parse_optional_date(raw: &str) -> Result<Option<NaiveDate>, String> {
    let raw = text::nfkc(raw).trim().to_string();
    if raw.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(&raw, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| {
            format!("日付は YYYY-MM-DD で入力してください（入力: {raw:?}） / date must be YYYY-MM-DD")
        })
}

fn parse_location(violations: &mut Violations, raw: &RawLocation) -> Location {
    let address = bounded_text(violations, "location.address", &raw.address, 200);
    let point = raw.point.and_then(|(latitude, longitude)| {
        violations.check("location.point", GeoPoint::parse(latitude, longitude))
    });
    if raw.confidential && address.is_empty() && point.is_none() {
        violations.add(
            "location.confidential",
            "非公開にする住所または位置がありません / nothing to keep confidential",
        );
    }
    Location {
        address,
        point,
        confidential: raw.confidential,
    }
}

/// The raw form of a stored schedule (for updates that overlay other fields).
fn raw_schedule(entry: &ScheduleEntry) -> RawSchedule {
    RawSchedule {
        rrule: entry.rrule.to_string(),
        opens_at: entry.opens_at.format("%H:%M").to_string(),
        closes_at: entry.closes_at.format("%H:%M").to_string(),
        valid_from: entry.valid_from.map(|d| d.to_string()).unwrap_or_default(),
        valid_to: entry.valid_to.map(|d| d.to_string()).unwrap_or_default(),
        except_holidays: entry.except_holidays,
        include_holidays: entry.include_holidays,
        description: entry.description.clone(),
        text: String::new(),
    }
}
