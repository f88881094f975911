//! 担い手 (helpers): volunteers and paid helpers, individuals or groups, belonging to an
//! organisation, with what they do, where and when, how much they take on per month, and their
//! 養成研修. Onboarding runs prospective → trained → active ⇄ inactive (see
//! [`HelperStatus::check_transition`]).
//!
//! A helper's phone number or e-mail is personal data: it lives in the registry's database and
//! its API answers, never in events or logs.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tsunagu_runtime::error::{ServiceError, ServiceResult, Violations};
use tsunagu_runtime::{taxonomy, text};
use uuid::Uuid;

use super::common::{
    self, ContactInput, MAX_NAME_CHARS, TimeWindow, WindowInput, optional_text, required_id, required_name,
    stored_enum,
};
use crate::contact::ContactPoint;
use crate::field_mask::FieldMask;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HelperKind {
    Individual,
    Group,
}
stored_enum!(HelperKind { Individual => "individual", Group => "group" });

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Female,
    Male,
    Other,
}
stored_enum!(Gender { Female => "female", Male => "male", Other => "other" });

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadUnit {
    Hours,
    Visits,
}
stored_enum!(LoadUnit { Hours => "hours", Visits => "visits" });

impl LoadUnit {
    /// The most a month can hold: every hour of 31 days, or a generous number of visits.
    fn maximum(self) -> u32 {
        match self {
            LoadUnit::Hours => 744,
            LoadUnit::Visits => 500,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthlyLoad {
    pub amount: u32,
    pub unit: LoadUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HelperStatus {
    /// 養成前: registered, not trained yet.
    Prospective,
    /// 養成済: completed a 養成研修, not active yet.
    Trained,
    /// 活動中.
    Active,
    /// 休止・退会.
    Inactive,
}
stored_enum!(HelperStatus {
    Prospective => "prospective",
    Trained => "trained",
    Active => "active",
    Inactive => "inactive",
});

impl HelperStatus {
    pub fn label(self) -> &'static str {
        match self {
            HelperStatus::Prospective => "養成前",
            HelperStatus::Trained => "養成済",
            HelperStatus::Active => "活動中",
            HelperStatus::Inactive => "休止",
        }
    }

    /// Where a helper may go from here. Prospective never jumps to active: the programme
    /// registers helpers who completed a 養成研修, so training is recorded first. A helper who
    /// paused comes back as active (or starts over as prospective).
    pub fn next(self) -> &'static [HelperStatus] {
        use HelperStatus::*;
        match self {
            Prospective => &[Trained, Inactive],
            Trained => &[Active, Inactive],
            Active => &[Inactive],
            Inactive => &[Active, Prospective],
        }
    }

    /// Trained and active helpers have at least one training record.
    pub fn needs_training(self) -> bool {
        matches!(self, HelperStatus::Trained | HelperStatus::Active)
    }

    /// `FAILED_PRECONDITION` naming the current status when `self → to` is not an allowed
    /// step, or when `to` needs training the helper has no record of. Staying is always fine.
    pub fn check_transition(self, to: HelperStatus, has_training: bool) -> ServiceResult<()> {
        if self == to {
            return Ok(());
        }
        if !self.next().contains(&to) {
            let allowed: Vec<String> = self
                .next()
                .iter()
                .map(|status| format!("「{}」", status.label()))
                .collect();
            let hint = if (self, to) == (HelperStatus::Prospective, HelperStatus::Active) {
                "養成研修の修了を記録して「養成済」にしてから「活動中」にしてください。"
            } else {
                ""
            };
            return Err(ServiceError::FailedPrecondition(format!(
                "担い手の状態は現在「{}」のため「{}」には変更できません（変更できる状態: {}）。{hint} / \
                 the helper is {}; it cannot become {} (allowed: {})",
                self.label(),
                to.label(),
                allowed.join(""),
                self.as_str(),
                to.as_str(),
                self.next()
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if to.needs_training() && !has_training {
            return Err(ServiceError::FailedPrecondition(format!(
                "担い手の状態は現在「{}」です。養成研修の修了記録（training_records）がないため「{}」にはできません / \
                 the helper is {}; {} needs a training record",
                self.label(),
                to.label(),
                self.as_str(),
                to.as_str()
            )));
        }
        Ok(())
    }
}

/// A completed 養成研修.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    pub course_name: String,
    pub completed_on: NaiveDate,
    /// 0 when not recorded.
    pub hours: f64,
    pub organiser: String,
}

const MAX_TRAINING_HOURS: f64 = 1000.0;

pub struct TrainingInput<'a> {
    pub course_name: &'a str,
    pub completed_on: &'a str,
    pub hours: f64,
    pub organiser: &'a str,
}

pub struct LoadInput {
    pub amount: u32,
    /// None when unspecified or unknown.
    pub unit: Option<LoadUnit>,
}

/// A helper's editable state. Field names are the API's and the update mask's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Helper {
    pub organization_id: Uuid,
    pub name: String,
    pub name_kana: String,
    pub kind: HelperKind,
    /// Taxonomy codes.
    pub skills: Vec<String>,
    pub area_ids: Vec<Uuid>,
    pub availability: Vec<TimeWindow>,
    pub monthly_load: Option<MonthlyLoad>,
    pub gender: Option<Gender>,
    /// BCP 47 tags.
    pub languages: Vec<String>,
    pub training_records: Vec<TrainingRecord>,
    pub contact_points: Vec<ContactPoint>,
    pub status: HelperStatus,
    /// The id the municipality's own list uses; unique per municipality.
    pub external_id: Option<String>,
}

pub const UPDATABLE: &[&str] = &[
    "organization_id",
    "name",
    "name_kana",
    "kind",
    "skills",
    "area_ids",
    "availability",
    "monthly_load",
    "gender",
    "languages",
    "training_records",
    "contact_points",
    "status",
    "external_id",
];

/// At most this many characters in an external id.
const MAX_EXTERNAL_ID_CHARS: usize = 100;

/// A helper as received. Enums are None when unspecified or unknown.
pub struct HelperInput<'a> {
    pub organization_id: &'a str,
    pub name: &'a str,
    pub name_kana: &'a str,
    pub kind: Option<HelperKind>,
    pub skills: &'a [String],
    pub area_ids: &'a [String],
    pub availability: Vec<WindowInput>,
    pub monthly_load: Option<LoadInput>,
    /// `Ok(None)`: not recorded; `Err(())`: unspecified or an unknown value was sent.
    pub gender: Result<Option<Gender>, ()>,
    pub languages: &'a [String],
    pub training_records: Vec<TrainingInput<'a>>,
    pub contact_points: Vec<ContactInput<'a>>,
    pub status: Option<HelperStatus>,
    pub external_id: &'a str,
}

impl Helper {
    /// A new helper from every field of `input`. It may start as prospective, or — people
    /// already active when the registry starts — as trained or active with a training record;
    /// never as inactive.
    pub fn parse_new(input: &HelperInput<'_>, today: NaiveDate) -> ServiceResult<Helper> {
        let mut helper = Helper {
            organization_id: Uuid::nil(),
            name: String::new(),
            name_kana: String::new(),
            kind: HelperKind::Individual,
            skills: vec![],
            area_ids: vec![],
            availability: vec![],
            monthly_load: None,
            gender: None,
            languages: vec![],
            training_records: vec![],
            contact_points: vec![],
            status: HelperStatus::Prospective,
            external_id: None,
        };
        let mut violations = Violations::new();
        for field in UPDATABLE {
            helper.assign(field, input, today, &mut violations);
        }
        if input.status == Some(HelperStatus::Inactive) {
            violations.add(
                "status",
                "新しい担い手は「養成前」「養成済」「活動中」のいずれかで登録します / a new helper cannot be inactive",
            );
        } else if input.status.is_some_and(HelperStatus::needs_training) && helper.training_records.is_empty()
        {
            violations.add(
                "status",
                format!(
                    "「{}」で登録するには養成研修の修了記録（training_records）が必要です / {} needs a training record",
                    helper.status.label(),
                    helper.status.as_str()
                ),
            );
        }
        violations.into_result()?;
        Ok(helper)
    }

    /// This helper with the fields in `mask` taken from `input`. Invalid fields are
    /// `INVALID_ARGUMENT`; an illegal status step is `FAILED_PRECONDITION`.
    pub fn with_changes(
        &self,
        input: &HelperInput<'_>,
        mask: &FieldMask,
        today: NaiveDate,
    ) -> ServiceResult<Helper> {
        let mut changed = self.clone();
        let mut violations = Violations::new();
        for field in mask.fields() {
            changed.assign(field, input, today, &mut violations);
        }
        let has_training = !changed.training_records.is_empty();
        if mask.contains("training_records")
            && changed.status == self.status
            && changed.status.needs_training()
            && !has_training
        {
            violations.add(
                "training_records",
                format!(
                    "「{}」の担い手の養成研修の記録はすべては削除できません / a {} helper keeps at least one training record",
                    self.status.label(),
                    self.status.as_str()
                ),
            );
        }
        violations.into_result()?;
        self.status.check_transition(changed.status, has_training)?;
        Ok(changed)
    }

    /// Parses one field of `input` into `self`, recording its violations.
    fn assign(&mut self, field: &str, input: &HelperInput<'_>, today: NaiveDate, v: &mut Violations) {
        match field {
            "organization_id" => {
                self.organization_id = required_id(v, field, input.organization_id, "所属団体")
            }
            "name" => self.name = required_name(v, field, input.name, "担い手の氏名または団体名"),
            "name_kana" => self.name_kana = optional_text(v, field, input.name_kana, MAX_NAME_CHARS),
            "kind" => match input.kind {
                Some(kind) => self.kind = kind,
                None => v.add(
                    field,
                    "担い手の種類（個人・グループ）を指定してください / kind is required",
                ),
            },
            "skills" => self.skills = skills(v, field, input.skills),
            "area_ids" => self.area_ids = common::id_list(v, field, input.area_ids),
            "availability" => self.availability = common::availability(v, field, &input.availability),
            "monthly_load" => self.monthly_load = monthly_load(v, field, input.monthly_load.as_ref()),
            "gender" => match input.gender {
                Ok(gender) => self.gender = gender,
                Err(()) => v.add(
                    field,
                    "性別の値が不正です（記録しない場合は gender を省略してください） / unknown gender; leave it unset when not recorded",
                ),
            },
            "languages" => self.languages = languages(v, field, input.languages),
            "training_records" => {
                self.training_records = training_records(v, field, &input.training_records, today)
            }
            "contact_points" => self.contact_points = common::contact_points(v, field, &input.contact_points),
            "status" => match input.status {
                Some(status) => self.status = status,
                None => v.add(
                    field,
                    "担い手の状態（養成前・養成済・活動中・休止）を指定してください / status is required",
                ),
            },
            "external_id" => {
                let external_id = optional_text(v, field, input.external_id, MAX_EXTERNAL_ID_CHARS);
                self.external_id = (!external_id.is_empty()).then_some(external_id);
            }
            other => unreachable!("{other} is not in UPDATABLE"),
        }
    }
}

/// Skills as taxonomy codes: a code, or a Japanese name, reading or alias of one.
fn skills(violations: &mut Violations, field: &str, raw: &[String]) -> Vec<String> {
    let mut codes: Vec<String> = Vec::with_capacity(raw.len());
    for (index, input) in raw.iter().enumerate() {
        match taxonomy::resolve_bundled(input) {
            Some(category) => {
                if !codes.contains(&category.code) {
                    codes.push(category.code.clone());
                }
            }
            None => violations.add(
                format!("{field}[{index}]"),
                format!(
                    "「{}」は生活支援の分類にありません（例: ゴミ出し、買い物支援、life.garbage） / not a category of the taxonomy",
                    input.trim()
                ),
            ),
        }
    }
    codes
}

fn monthly_load(violations: &mut Violations, field: &str, raw: Option<&LoadInput>) -> Option<MonthlyLoad> {
    let raw = raw?;
    let Some(unit) = raw.unit else {
        violations.add(
            format!("{field}.unit"),
            "単位（時間／月・回／月）を指定してください / unit is required",
        );
        return None;
    };
    if raw.amount == 0 || raw.amount > unit.maximum() {
        violations.add(
            format!("{field}.amount"),
            format!(
                "1〜{}の数を入力してください（受けない場合は monthly_load を省略） / amount must be 1–{}",
                unit.maximum(),
                unit.maximum()
            ),
        );
        return None;
    }
    Some(MonthlyLoad {
        amount: raw.amount,
        unit,
    })
}

/// BCP 47 language tags in their conventional case ("ja", "pt-BR", "zh-Hant"); duplicates dropped.
fn languages(violations: &mut Violations, field: &str, raw: &[String]) -> Vec<String> {
    let mut tags: Vec<String> = Vec::with_capacity(raw.len());
    for (index, input) in raw.iter().enumerate() {
        match language_tag(input) {
            Some(tag) => {
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
            None => violations.add(
                format!("{field}[{index}]"),
                format!(
                    "言語は BCP 47 の言語タグで入力してください（例: ja, en, vi, pt-BR）（入力: {input:?}） / not a BCP 47 language tag"
                ),
            ),
        }
    }
    tags
}

/// A well-formed BCP 47 tag (language, then subtags of 1–8 letters or digits), with the
/// language lower case, a script title case and a region upper case.
pub fn language_tag(input: &str) -> Option<String> {
    let input = text::nfkc(input).trim().replace('_', "-");
    let mut subtags = input.split('-');
    let language = subtags.next()?;
    if !(2..=3).contains(&language.len()) || !language.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let mut tag = language.to_ascii_lowercase();
    for subtag in subtags {
        if subtag.is_empty() || subtag.len() > 8 || !subtag.chars().all(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        tag.push('-');
        let alphabetic = subtag.chars().all(|c| c.is_ascii_alphabetic());
        match subtag.len() {
            4 if alphabetic => {
                tag.push_str(&subtag[..1].to_ascii_uppercase());
                tag.push_str(&subtag[1..].to_ascii_lowercase());
            }
            2 if alphabetic => tag.push_str(&subtag.to_ascii_uppercase()),
            _ => tag.push_str(&subtag.to_ascii_lowercase()),
        }
    }
    Some(tag)
}

/// Training records, each field checked; stored in the order they were completed.
fn training_records(
    violations: &mut Violations,
    field: &str,
    raw: &[TrainingInput<'_>],
    today: NaiveDate,
) -> Vec<TrainingRecord> {
    let mut records: Vec<TrainingRecord> = raw
        .iter()
        .enumerate()
        .map(|(index, input)| {
            let at = format!("{field}[{index}]");
            let course_name = required_name(
                violations,
                &format!("{at}.course_name"),
                input.course_name,
                "研修名",
            );
            let completed_on = common::past_date(violations, &format!("{at}.completed_on"), input.completed_on, today);
            if !input.hours.is_finite() || !(0.0..=MAX_TRAINING_HOURS).contains(&input.hours) {
                violations.add(
                    format!("{at}.hours"),
                    format!(
                        "研修時間は0〜{MAX_TRAINING_HOURS}時間です（0は記録なし） / hours must be 0–{MAX_TRAINING_HOURS}"
                    ),
                );
            }
            TrainingRecord {
                course_name,
                completed_on,
                hours: input.hours,
                organiser: optional_text(violations, &format!("{at}.organiser"), input.organiser, MAX_NAME_CHARS),
            }
        })
        .collect();
    records.sort_by(|a, b| (a.completed_on, &a.course_name).cmp(&(b.completed_on, &b.course_name)));
    records
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::ContactKind;
    use crate::field_mask::FieldMask;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 4, 1).unwrap()
    }

    fn input<'a>(skills: &'a [String], areas: &'a [String], languages: &'a [String]) -> HelperInput<'a> {
        HelperInput {
            organization_id: "0190a000-0000-7000-8000-000000000001",
            name: " 山田　花子 ",
            name_kana: "ﾔﾏﾀﾞ ﾊﾅｺ",
            kind: Some(HelperKind::Individual),
            skills,
            area_ids: areas,
            availability: vec![WindowInput {
                weekday: Some(common::Weekday::Tuesday),
                start_minute: 540,
                end_minute: 720,
            }],
            monthly_load: Some(LoadInput {
                amount: 10,
                unit: Some(LoadUnit::Hours),
            }),
            gender: Ok(Some(Gender::Female)),
            languages,
            training_records: vec![TrainingInput {
                course_name: "生活支援サポーター養成講座",
                completed_on: "2025-06-14",
                hours: 12.0,
                organiser: "大垣市社会福祉協議会",
            }],
            contact_points: vec![(Some(ContactKind::Phone), "090-1234-5678", "携帯")],
            status: Some(HelperStatus::Trained),
            external_id: " Ｈ－００１ ",
        }
    }

    fn fields(error: ServiceError) -> Vec<String> {
        match error {
            ServiceError::InvalidArgument(violations) => violations.into_iter().map(|v| v.field).collect(),
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| value.to_string()).collect()
    }

    #[test]
    fn a_helper_is_normalised_and_skills_become_codes() {
        let skills = strings(&["ゴミ出し", "ｶｲﾓﾉｼｴﾝ", "life.garbage"]);
        let languages = strings(&["JA", "pt_br"]);
        let helper = Helper::parse_new(&input(&skills, &[], &languages), today()).unwrap();
        assert_eq!(helper.name, "山田 花子");
        assert_eq!(helper.name_kana, "ヤマダ ハナコ");
        assert_eq!(helper.skills, ["life.garbage", "life.shopping"]);
        assert_eq!(helper.languages, ["ja", "pt-BR"]);
        assert_eq!(helper.status, HelperStatus::Trained);
        assert_eq!(helper.external_id.as_deref(), Some("H-001"));
        let snapshot = common::snapshot(&helper);
        assert_eq!(snapshot["status"], "trained");
        assert_eq!(snapshot["monthly_load"]["unit"], "hours");
        assert_eq!(snapshot["training_records"][0]["completed_on"], "2025-06-14");
    }

    #[test]
    fn every_bad_field_is_named() {
        let skills = strings(&["草刈り"]);
        let areas = strings(&["nope"]);
        let languages = strings(&["日本語"]);
        let mut bad = input(&skills, &areas, &languages);
        bad.organization_id = "";
        bad.name = " ";
        bad.kind = None;
        bad.monthly_load = Some(LoadInput {
            amount: 0,
            unit: Some(LoadUnit::Visits),
        });
        bad.gender = Err(());
        bad.training_records[0].completed_on = "2025-13-01";
        bad.training_records[0].hours = -1.0;
        let error = Helper::parse_new(&bad, today()).unwrap_err();
        assert_eq!(
            fields(error),
            [
                "organization_id",
                "name",
                "kind",
                "skills[0]",
                "area_ids[0]",
                "monthly_load.amount",
                "gender",
                "languages[0]",
                "training_records[0].completed_on",
                "training_records[0].hours",
            ]
        );
    }

    #[test]
    fn trained_or_active_needs_a_training_record_and_nobody_starts_inactive() {
        let mut untrained = input(&[], &[], &[]);
        untrained.training_records.clear();
        assert_eq!(
            fields(Helper::parse_new(&untrained, today()).unwrap_err()),
            ["status"]
        );
        untrained.status = Some(HelperStatus::Prospective);
        assert!(Helper::parse_new(&untrained, today()).is_ok());
        let mut inactive = input(&[], &[], &[]);
        inactive.status = Some(HelperStatus::Inactive);
        assert_eq!(
            fields(Helper::parse_new(&inactive, today()).unwrap_err()),
            ["status"]
        );
    }

    #[test]
    fn status_steps_follow_onboarding() {
        use HelperStatus::*;
        assert!(Prospective.check_transition(Trained, true).is_ok());
        assert!(Trained.check_transition(Active, true).is_ok());
        assert!(Active.check_transition(Inactive, true).is_ok());
        assert!(Inactive.check_transition(Active, true).is_ok());
        assert!(Inactive.check_transition(Prospective, false).is_ok());
        assert!(Active.check_transition(Active, true).is_ok());
        for (from, to, training) in [
            (Prospective, Active, true),
            (Prospective, Trained, false),
            (Active, Prospective, true),
            (Active, Trained, true),
            (Inactive, Active, false),
        ] {
            match from.check_transition(to, training) {
                Err(ServiceError::FailedPrecondition(message)) => {
                    assert!(
                        message.contains(&format!("現在「{}」", from.label())),
                        "{message}"
                    )
                }
                other => panic!("{from:?} → {to:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_update_changes_the_masked_fields_only() {
        let prospective = {
            let mut new = input(&[], &[], &[]);
            new.status = Some(HelperStatus::Prospective);
            Helper::parse_new(&new, today()).unwrap()
        };
        // The request carries a blank name, but the mask does not name it.
        let mut request = input(&[], &[], &[]);
        request.name = "";
        request.status = Some(HelperStatus::Active);
        let mask = FieldMask::parse(&strings(&["status"]), UPDATABLE).unwrap();
        let error = prospective.with_changes(&request, &mask, today()).unwrap_err();
        assert!(matches!(error, ServiceError::FailedPrecondition(_)), "{error:?}");

        request.status = Some(HelperStatus::Trained);
        let trained = prospective.with_changes(&request, &mask, today()).unwrap();
        assert_eq!(trained.status, HelperStatus::Trained);
        assert_eq!(trained.name, prospective.name);

        // Removing every training record of a trained helper is refused.
        request.training_records.clear();
        let mask = FieldMask::parse(&strings(&["training_records"]), UPDATABLE).unwrap();
        assert_eq!(
            fields(trained.with_changes(&request, &mask, today()).unwrap_err()),
            ["training_records"]
        );
    }

    #[test]
    fn language_tags_are_checked_and_cased() {
        assert_eq!(language_tag("zh-hant-tw").as_deref(), Some("zh-Hant-TW"));
        assert_eq!(language_tag(" EN ").as_deref(), Some("en"));
        assert_eq!(language_tag("e"), None);
        assert_eq!(language_tag("en--us"), None);
        assert_eq!(language_tag("英語"), None);
    }
}
