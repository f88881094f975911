//! A need as intake accepts it: parsed from what a caller sent (a gRPC request, a sheet row),
//! every problem named by its field, for submission and for masked edits alike.

use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use tsunagu_runtime::MunicipalityCode;
use tsunagu_runtime::error::{ServiceResult, Violations};
use tsunagu_runtime::field_mask::FieldMask;
use tsunagu_runtime::{taxonomy, text};
use uuid::Uuid;

use crate::consent::{ConsentInput, RawConsent};
use crate::need_fields::{
    Channel, CoarseLocation, Eligibility, Frequency, FrequencyUnit, Gender, NeedDetails, Referrer,
    Requirements, language_tag, wanted_windows,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    Routine,
    Urgent,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Routine => "routine",
            Urgency::Urgent => "urgent",
        }
    }

    pub fn parse(stored: &str) -> Urgency {
        if stored == "urgent" {
            Urgency::Urgent
        } else {
            Urgency::Routine
        }
    }
}

pub const MAX_REQUEST_ID_CHARS: usize = 128;
const MAX_NOTES_CHARS: usize = 4000;
const MAX_REFERRER_CHARS: usize = 200;

/// The details as received, before validation. Enums the caller left unspecified (or sent
/// with an unknown value) are `None`.
#[derive(Debug, Clone, Default)]
pub struct RawDetails {
    pub location: Option<(f64, f64)>,
    /// (weekday 1–7 or 0 when unspecified, start minute, end minute)
    pub time_windows: Vec<(u8, u32, u32)>,
    /// (times, unit); `None` when not given.
    pub frequency: Option<(u32, Option<FrequencyUnit>)>,
    pub start_date: String,
    pub deadline: String,
    pub eligibility: Option<Eligibility>,
    pub max_fee_yen: Option<u32>,
    pub wheelchair_vehicle: bool,
    pub helper_gender: Option<Gender>,
    pub helper_gender_required: bool,
    pub languages: Vec<String>,
    pub preferred_helper_id: String,
}

/// The editable fields of a need as received.
#[derive(Debug, Clone, Default)]
pub struct RawNeed {
    pub area_id: String,
    pub category: String,
    pub urgency: Option<Urgency>,
    pub resident_id: String,
    pub details: RawDetails,
    pub channel: Option<Channel>,
    pub referrer_name: String,
    pub referrer_organization_id: String,
    pub referrer_contact: String,
    pub notes: String,
}

/// What a need says, validated: everything but its identity, status and consent.
#[derive(Debug, Clone, PartialEq)]
pub struct NeedContent {
    pub area_id: Uuid,
    pub category: String,
    pub urgency: Urgency,
    /// The resident the need is for (pseudonymous id), if known.
    pub resident_id: Option<Uuid>,
    pub details: NeedDetails,
    pub channel: Option<Channel>,
    pub referrer: Referrer,
    /// Private: sealed when stored, never in an event.
    pub notes: String,
}

/// The update_mask paths UpdateNeed accepts.
pub const UPDATABLE: &[&str] = &[
    "area_id",
    "category",
    "urgency",
    "resident_id",
    "details",
    "details.location",
    "details.time_windows",
    "details.frequency",
    "details.start_date",
    "details.deadline",
    "details.eligibility",
    "details.max_fee_yen",
    "details.requirements",
    "channel",
    "referrer",
    "notes",
];

/// Which fields to take from the request: all (a submission) or those a mask names (an edit,
/// the others kept from `current`).
enum Take<'a> {
    All,
    Masked(&'a FieldMask, &'a NeedContent),
}

impl Take<'_> {
    fn wants(&self, field: &str) -> bool {
        match self {
            Take::All => true,
            Take::Masked(mask, _) => {
                mask.contains(field)
                    || field
                        .split_once('.')
                        .is_some_and(|(parent, _)| mask.contains(parent))
            }
        }
    }
}

impl NeedContent {
    /// Parses a submission's fields; violations are named `{prefix}{field}`.
    pub fn parse(raw: &RawNeed, violations: &mut Violations) -> Option<NeedContent> {
        NeedContent::parse_taking(raw, Take::All, violations)
    }

    /// The content after an edit: the fields `mask` names from `raw`, the rest from `self`.
    pub fn edited(&self, raw: &RawNeed, mask: &FieldMask) -> ServiceResult<NeedContent> {
        let mut violations = Violations::new();
        let content = NeedContent::parse_taking(raw, Take::Masked(mask, self), &mut violations);
        violations.into_result()?;
        Ok(content.expect("no violations"))
    }

    fn parse_taking(raw: &RawNeed, take: Take<'_>, violations: &mut Violations) -> Option<NeedContent> {
        let before = violations.len();
        let current = match &take {
            Take::All => None,
            Take::Masked(_, current) => Some(*current),
        };
        let area_id = if take.wants("area_id") {
            violations.check(
                "area_id",
                raw.area_id.trim().parse::<Uuid>().map_err(|_| {
                    "区域IDを指定してください（レジストリの区域ID） / area_id must be an area id from the registry"
                }),
            )
        } else {
            current.map(|c| c.area_id)
        };
        let category = if take.wants("category") {
            // A bundled category given by its Japanese name (ゴミ出し) is stored as its code
            // (life.garbage), the form resources are registered under; anything else is kept
            // as given (a municipality's own category code).
            let category = text::normalised_non_empty(&raw.category).map(|category| {
                taxonomy::resolve_bundled(&category).map_or(category, |entry| entry.code.clone())
            });
            if category.is_none() {
                violations.add(
                    "category",
                    "カテゴリを入力してください（例: ゴミ出し） / category is required",
                );
            }
            category
        } else {
            current.map(|c| c.category.clone())
        };
        let urgency = match (take.wants("urgency"), current) {
            (false, Some(current)) => current.urgency,
            _ => raw.urgency.unwrap_or(Urgency::Routine),
        };
        let resident_id = match (take.wants("resident_id"), current) {
            (false, Some(current)) => current.resident_id,
            _ => optional_id(violations, "resident_id", &raw.resident_id, "利用者ID"),
        };
        let details = parse_details(&raw.details, &take, current.map(|c| &c.details), violations);
        let channel = match (take.wants("channel"), current) {
            (false, Some(current)) => current.channel,
            _ => raw.channel,
        };
        let referrer = match (take.wants("referrer"), current) {
            (false, Some(current)) => current.referrer.clone(),
            _ => Referrer {
                name: bounded_text(
                    violations,
                    "referrer.name",
                    &raw.referrer_name,
                    MAX_REFERRER_CHARS,
                ),
                organization_id: optional_id(
                    violations,
                    "referrer.organization_id",
                    &raw.referrer_organization_id,
                    "紹介者の団体ID",
                ),
                contact: bounded_text(
                    violations,
                    "referrer.contact",
                    &raw.referrer_contact,
                    MAX_REFERRER_CHARS,
                ),
            },
        };
        let notes = match (take.wants("notes"), current) {
            (false, Some(current)) => current.notes.clone(),
            _ => bounded_text(violations, "notes", &raw.notes, MAX_NOTES_CHARS),
        };
        if violations.len() > before {
            return None;
        }
        Some(NeedContent {
            area_id: area_id.expect("checked"),
            category: category.expect("checked"),
            urgency,
            resident_id,
            details,
            channel,
            referrer,
            notes,
        })
    }
}

fn optional_id(violations: &mut Violations, field: &str, raw: &str, what: &str) -> Option<Uuid> {
    match raw.trim() {
        "" => None,
        raw => violations.check(
            field,
            raw.parse::<Uuid>()
                .map_err(|_| format!("{what}の形式が不正です（入力: {raw:?}） / {field} must be an id")),
        ),
    }
}

fn bounded_text(violations: &mut Violations, field: &str, raw: &str, max: usize) -> String {
    let value = text::nfkc(raw).trim().to_string();
    if value.chars().count() > max {
        violations.add(
            field,
            format!("{max}文字以内で入力してください / at most {max} characters"),
        );
    }
    value
}

/// "YYYY-MM-DD", also as typed in Japan ("2026/4/1").
pub fn parse_date(raw: &str) -> Result<Option<NaiveDate>, String> {
    let raw = text::nfkc(raw);
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%Y/%m/%d"))
        .map(Some)
        .map_err(|_| {
            format!("日付は YYYY-MM-DD で入力してください（入力: {raw:?}） / date must be YYYY-MM-DD")
        })
}

fn parse_details(
    raw: &RawDetails,
    take: &Take<'_>,
    current: Option<&NeedDetails>,
    violations: &mut Violations,
) -> NeedDetails {
    let keep = |field: &str| !take.wants(field) && current.is_some();
    let current = current.cloned().unwrap_or_default();
    let location = if keep("details.location") {
        current.location
    } else {
        raw.location.and_then(|(latitude, longitude)| {
            violations.check("details.location", CoarseLocation::coarsen(latitude, longitude))
        })
    };
    let time_windows = if keep("details.time_windows") {
        current.time_windows
    } else {
        wanted_windows(violations, "details.time_windows", &raw.time_windows)
    };
    let frequency = if keep("details.frequency") {
        current.frequency
    } else {
        match raw.frequency {
            None => None,
            Some((_, None)) => {
                violations.add(
                    "details.frequency.per",
                    "頻度の単位（1回のみ・週・月）を指定してください / frequency.per is required",
                );
                None
            }
            Some((times, Some(per))) => {
                violations.check("details.frequency.times", Frequency::new(times, per))
            }
        }
    };
    let mut date = |field: &str, raw: &str, current: Option<NaiveDate>| {
        if keep(field) {
            current
        } else {
            violations.check(field, parse_date(raw)).flatten()
        }
    };
    let start_date = date("details.start_date", &raw.start_date, current.start_date);
    let deadline = date("details.deadline", &raw.deadline, current.deadline);
    let eligibility = if keep("details.eligibility") {
        current.eligibility
    } else {
        raw.eligibility
    };
    let max_fee_yen = if keep("details.max_fee_yen") {
        current.max_fee_yen
    } else {
        if raw.max_fee_yen.is_some_and(|fee| fee > 1_000_000) {
            violations.add(
                "details.max_fee_yen",
                "負担できる料金は100万円までで入力してください / at most 1,000,000 yen",
            );
        }
        raw.max_fee_yen
    };
    let requirements = if keep("details.requirements") {
        current.requirements
    } else {
        if raw.helper_gender_required && raw.helper_gender.is_none() {
            violations.add(
                "details.requirements.helper_gender",
                "性別を必須にするなら担い手の性別を指定してください / helper_gender is required when it is required",
            );
        }
        let mut languages = Vec::new();
        for (index, raw) in raw.languages.iter().enumerate() {
            if let Some(tag) = violations.check(
                &format!("details.requirements.languages[{index}]"),
                language_tag(raw),
            ) && !languages.contains(&tag)
            {
                languages.push(tag);
            }
        }
        Requirements {
            wheelchair_vehicle: raw.wheelchair_vehicle,
            helper_gender: raw.helper_gender,
            helper_gender_required: raw.helper_gender_required && raw.helper_gender.is_some(),
            languages,
            preferred_helper_id: optional_id(
                violations,
                "details.requirements.preferred_helper_id",
                &raw.preferred_helper_id,
                "担い手ID",
            ),
        }
    };
    let details = NeedDetails {
        location,
        time_windows,
        frequency,
        start_date,
        deadline,
        eligibility,
        max_fee_yen,
        requirements,
    };
    details.check_dates(violations, "details.");
    details
}

/// A submission: the content, who it is for and from, and its idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNeed {
    pub request_id: String,
    pub municipality_code: MunicipalityCode,
    pub content: NeedContent,
    pub consent: Option<ConsentInput>,
    pub submitted_by: String,
    /// Recorded as a draft (下書き): not matched until submitted.
    pub draft: bool,
}

pub struct NeedInput<'a> {
    pub request_id: &'a str,
    pub municipality_code: &'a str,
    pub need: RawNeed,
    pub consent: Option<RawConsent>,
    pub submitted_by: &'a str,
    pub draft: bool,
}

impl NewNeed {
    pub fn parse(input: NeedInput<'_>) -> ServiceResult<NewNeed> {
        let mut violations = Violations::new();
        let request_id = input.request_id.trim();
        if request_id.is_empty() || request_id.chars().count() > MAX_REQUEST_ID_CHARS {
            violations.add(
                "request_id",
                format!("リクエストIDは1〜{MAX_REQUEST_ID_CHARS}文字です（再送時も同じ値を使います） / request_id must be 1–{MAX_REQUEST_ID_CHARS} characters"),
            );
        }
        let municipality_code = violations.check(
            "municipality_code",
            MunicipalityCode::parse_known(input.municipality_code),
        );
        let content = NeedContent::parse(&input.need, &mut violations);
        let consent = input
            .consent
            .and_then(|raw| ConsentInput::parse(&raw, "consent.", &mut violations));
        violations.into_result()?;
        let content = content.expect("checked");
        // Who submitted: as given, else the referrer, else unknown.
        let submitted_by = text::normalised_non_empty(input.submitted_by)
            .or_else(|| (!content.referrer.name.is_empty()).then(|| content.referrer.name.clone()))
            .unwrap_or_else(|| "(不明)".into());
        Ok(NewNeed {
            request_id: request_id.to_string(),
            municipality_code: municipality_code.expect("checked"),
            content,
            consent,
            submitted_by,
            draft: input.draft,
        })
    }

    /// Identifies the content of the request, so a retry can be told from a reuse of its id.
    /// The private notes are left out (an unkeyed hash of free text would leak it); so are
    /// who submitted and when the consent was given, which a retry may not repeat exactly.
    pub fn fingerprint(&self) -> String {
        use std::fmt::Write;
        let content = &self.content;
        let mut canonical = format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}",
            self.municipality_code,
            content.area_id,
            content.category,
            content.urgency.as_str()
        );
        // Each part is appended only when present, so needs submitted before the part existed
        // keep their fingerprints (and their retries stay retries).
        if let Some(resident_id) = content.resident_id {
            let _ = write!(canonical, "\u{1f}resident:{resident_id}");
        }
        if !content.details.is_empty() {
            let details = serde_json::to_string(&content.details).expect("plain data serialises");
            let _ = write!(canonical, "\u{1f}details:{details}");
        }
        if let Some(channel) = content.channel {
            let _ = write!(canonical, "\u{1f}channel:{}", channel.as_str());
        }
        let referrer = &content.referrer;
        if *referrer != Referrer::default() {
            let organization = referrer
                .organization_id
                .map(|id| id.to_string())
                .unwrap_or_default();
            let _ = write!(
                canonical,
                "\u{1f}referrer:{}\u{1e}{organization}\u{1e}{}",
                referrer.name, referrer.contact
            );
        }
        if let Some(consent) = &self.consent {
            let _ = write!(canonical, "\u{1f}consent:{}", consent.fingerprint_part());
        }
        if self.draft {
            canonical.push_str("\u{1f}draft");
        }
        let digest = Sha256::digest(canonical.as_bytes());
        digest.iter().fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tsunagu_runtime::ServiceError;

    fn raw(category: &str) -> RawNeed {
        RawNeed {
            area_id: "0192f0c4-0000-7000-8000-000000000001".into(),
            category: category.into(),
            ..RawNeed::default()
        }
    }

    fn input(code: &str, need: RawNeed) -> NeedInput<'_> {
        NeedInput {
            request_id: "r-1",
            municipality_code: code,
            need,
            consent: None,
            submitted_by: "",
            draft: false,
        }
    }

    #[test]
    fn the_same_content_has_the_same_fingerprint() {
        let a = NewNeed::parse(input("212024", raw("ゴミ出し"))).unwrap();
        let b = NewNeed::parse(input("212024", raw("ｺﾞﾐ出し"))).unwrap();
        let c = NewNeed::parse(input("212024", raw("買い物支援"))).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_eq!(a.content.urgency, Urgency::Routine);
        let mut with_details = raw("ゴミ出し");
        with_details.details.time_windows = vec![(2, 540, 720)];
        let d = NewNeed::parse(input("212024", with_details)).unwrap();
        assert_ne!(a.fingerprint(), d.fingerprint());
    }

    #[test]
    fn a_need_without_details_keeps_the_fingerprint_it_had_before_details_existed() {
        // The SHA-256 of "212024␟<area>␟life.garbage␟routine", as the first version stored it.
        let need = NewNeed::parse(input("212024", raw("ゴミ出し"))).unwrap();
        let canonical = "212024\u{1f}0192f0c4-0000-7000-8000-000000000001\u{1f}life.garbage\u{1f}routine";
        let expected: String = Sha256::digest(canonical.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(need.fingerprint(), expected);
    }

    #[test]
    fn unknown_municipality_and_empty_category_are_named() {
        let error = NewNeed::parse(input("999997", raw(" "))).unwrap_err();
        let ServiceError::InvalidArgument(violations) = error else {
            panic!()
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["municipality_code", "category"]);
    }

    #[test]
    fn every_bad_detail_is_named() {
        let mut need = raw("ゴミ出し");
        need.details = RawDetails {
            location: Some((10.0, 10.0)),
            time_windows: vec![(2, 720, 540)],
            frequency: Some((2, None)),
            start_date: "2026-05-01".into(),
            deadline: "2026-04-01".into(),
            helper_gender_required: true,
            languages: vec!["ja".into(), "ポルトガル語".into()],
            preferred_helper_id: "h".into(),
            ..RawDetails::default()
        };
        need.notes = "x".repeat(MAX_NOTES_CHARS + 1);
        let ServiceError::InvalidArgument(violations) = NewNeed::parse(input("212024", need)).unwrap_err()
        else {
            panic!()
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "details.location",
                "details.time_windows[0]",
                "details.frequency.per",
                "details.requirements.helper_gender",
                "details.requirements.languages[1]",
                "details.requirements.preferred_helper_id",
                "details.deadline",
                "notes"
            ]
        );
    }

    #[test]
    fn an_edit_takes_only_the_masked_fields() {
        let mut first = raw("ゴミ出し");
        first.notes = "玄関前に出す".into();
        first.details.max_fee_yen = Some(300);
        let current = NewNeed::parse(input("212024", first)).unwrap().content;
        // The request leaves area and category empty: not masked, so not read.
        let change = RawNeed {
            urgency: Some(Urgency::Urgent),
            details: RawDetails {
                max_fee_yen: Some(0),
                ..RawDetails::default()
            },
            ..RawNeed::default()
        };
        let mask = FieldMask::parse(&["urgency".into(), "details.max_fee_yen".into()], UPDATABLE).unwrap();
        let edited = current.edited(&change, &mask).unwrap();
        assert_eq!(edited.urgency, Urgency::Urgent);
        assert_eq!(edited.details.max_fee_yen, Some(0));
        assert_eq!(edited.category, "life.garbage");
        assert_eq!(edited.notes, "玄関前に出す");
        // A masked field is validated.
        let mask = FieldMask::parse(&["category".into()], UPDATABLE).unwrap();
        assert!(current.edited(&change, &mask).is_err());
    }
}
