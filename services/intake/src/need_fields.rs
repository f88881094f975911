//! What a need asks for beyond area and category — where (coarsely), when, how often, from
//! when and by when, for whom (eligibility), at what fee, with which requirements — and how it
//! arrived. Value types with their validation and their Japanese words; pure, no I/O.
//!
//! [`NeedDetails`] is the matching-relevant part: the only part of a need that leaves intake,
//! and only when the consent allows it.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tsunagu_runtime::error::Violations;
use uuid::Uuid;

/// A point rounded to a grid of [`LOCATION_GRID_DEGREES`]: near enough for distances between
/// a resident and a provider, too coarse to find a house.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CoarseLocation {
    pub latitude: f64,
    pub longitude: f64,
}

/// 0.005° is about 550 m north–south and 450 m east–west in Japan.
pub const LOCATION_GRID_DEGREES: f64 = 0.005;

impl CoarseLocation {
    /// Rounds a point inside Japan's extent (20–46° N, 122–154° E) to the grid.
    pub fn coarsen(latitude: f64, longitude: f64) -> Result<CoarseLocation, String> {
        let inside = (20.0..=46.0).contains(&latitude) && (122.0..=154.0).contains(&longitude);
        if !inside {
            return Err(format!(
                "位置が日本の範囲外です（緯度 {latitude}, 経度 {longitude}） / the point is outside Japan"
            ));
        }
        let snap = |value: f64| {
            let snapped = (value / LOCATION_GRID_DEGREES).round() * LOCATION_GRID_DEGREES;
            // Three decimals say everything the grid holds; no float noise in the database.
            (snapped * 1000.0).round() / 1000.0
        };
        Ok(CoarseLocation {
            latitude: snap(latitude),
            longitude: snap(longitude),
        })
    }
}

/// A weekly window the resident wants help in, local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WantedWindow {
    /// 1 = Monday … 7 = Sunday, as in `tsunagu.common.v1.Weekday`.
    pub weekday: u8,
    pub start_minute: u32,
    pub end_minute: u32,
}

/// Checks the windows, naming each bad one as `{field}[i]`; returns them sorted.
pub fn wanted_windows(violations: &mut Violations, field: &str, raw: &[(u8, u32, u32)]) -> Vec<WantedWindow> {
    let mut windows = Vec::with_capacity(raw.len());
    for (index, &(weekday, start_minute, end_minute)) in raw.iter().enumerate() {
        let at = format!("{field}[{index}]");
        if !(1..=7).contains(&weekday) {
            violations.add(
                format!("{at}.weekday"),
                "曜日を指定してください / weekday is required",
            );
            continue;
        }
        if start_minute >= end_minute || end_minute > 24 * 60 {
            violations.add(
                at,
                "時間帯は 0:00〜24:00 の中で、開始が終了より前です / start must be before end, within one day",
            );
            continue;
        }
        windows.push(WantedWindow {
            weekday,
            start_minute,
            end_minute,
        });
    }
    if windows.len() > 28 {
        violations.add(field, "希望の時間帯は28件までです / at most 28 windows");
    }
    windows.sort_by_key(|w| (w.weekday, w.start_minute, w.end_minute));
    windows.dedup();
    windows
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrequencyUnit {
    Once,
    Week,
    Month,
}

impl FrequencyUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            FrequencyUnit::Once => "once",
            FrequencyUnit::Week => "week",
            FrequencyUnit::Month => "month",
        }
    }

    pub fn parse(stored: &str) -> Option<FrequencyUnit> {
        [FrequencyUnit::Once, FrequencyUnit::Week, FrequencyUnit::Month]
            .into_iter()
            .find(|unit| unit.as_str() == stored)
    }
}

/// How often help is wanted: twice a week, once a month, once only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frequency {
    pub times: u32,
    pub per: FrequencyUnit,
}

impl Frequency {
    pub fn new(times: u32, per: FrequencyUnit) -> Result<Frequency, String> {
        match per {
            FrequencyUnit::Once => Ok(Frequency { times: 1, per }),
            _ if (1..=31).contains(&times) => Ok(Frequency { times, per }),
            _ => Err("回数は1〜31です / times must be 1–31".into()),
        }
    }

    /// 「週2回」「月1回」「毎日」「1回のみ」 (also 「2回/週」), as coordinators write it.
    pub fn parse_japanese(cell: &str) -> Result<Option<Frequency>, String> {
        let compact: String = tsunagu_runtime::text::nfkc(cell)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if compact.is_empty() {
            return Ok(None);
        }
        let hint = "頻度は「週2回」「月1回」「毎日」「1回のみ」のように書いてください / write e.g. 週2回";
        match compact.as_str() {
            "1回のみ" | "1回" | "単発" | "一回のみ" => {
                return Ok(Some(Frequency::new(1, FrequencyUnit::Once)?));
            }
            "毎日" => return Ok(Some(Frequency::new(7, FrequencyUnit::Week)?)),
            _ => {}
        }
        let (per, rest) = if let Some(rest) = compact.strip_prefix('週') {
            (FrequencyUnit::Week, rest.to_string())
        } else if let Some(rest) = compact.strip_prefix('月') {
            (FrequencyUnit::Month, rest.to_string())
        } else if let Some(rest) = compact.strip_suffix("/週") {
            (FrequencyUnit::Week, rest.to_string())
        } else if let Some(rest) = compact.strip_suffix("/月") {
            (FrequencyUnit::Month, rest.to_string())
        } else {
            return Err(format!("「{cell}」: {hint}"));
        };
        let times = rest
            .strip_suffix('回')
            .and_then(|digits| digits.parse::<u32>().ok())
            .ok_or_else(|| format!("「{cell}」: {hint}"))?;
        Frequency::new(times, per).map(Some)
    }
}

/// The vocabulary of 介護保険 and 総合事業 eligibility (domain.md §5), stored as the registry
/// stores what resources accept, so matching compares like with like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Eligibility {
    GeneralElderly,
    ProjectTarget,
    #[serde(rename = "support_1")]
    Support1,
    #[serde(rename = "support_2")]
    Support2,
    #[serde(rename = "care_1")]
    Care1,
    #[serde(rename = "care_2")]
    Care2,
    #[serde(rename = "care_3")]
    Care3,
    #[serde(rename = "care_4")]
    Care4,
    #[serde(rename = "care_5")]
    Care5,
}

impl Eligibility {
    pub const ALL: [Eligibility; 9] = [
        Eligibility::GeneralElderly,
        Eligibility::ProjectTarget,
        Eligibility::Support1,
        Eligibility::Support2,
        Eligibility::Care1,
        Eligibility::Care2,
        Eligibility::Care3,
        Eligibility::Care4,
        Eligibility::Care5,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Eligibility::GeneralElderly => "general_elderly",
            Eligibility::ProjectTarget => "project_target",
            Eligibility::Support1 => "support_1",
            Eligibility::Support2 => "support_2",
            Eligibility::Care1 => "care_1",
            Eligibility::Care2 => "care_2",
            Eligibility::Care3 => "care_3",
            Eligibility::Care4 => "care_4",
            Eligibility::Care5 => "care_5",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Eligibility::GeneralElderly => "一般高齢者",
            Eligibility::ProjectTarget => "事業対象者",
            Eligibility::Support1 => "要支援1",
            Eligibility::Support2 => "要支援2",
            Eligibility::Care1 => "要介護1",
            Eligibility::Care2 => "要介護2",
            Eligibility::Care3 => "要介護3",
            Eligibility::Care4 => "要介護4",
            Eligibility::Care5 => "要介護5",
        }
    }

    pub fn parse(stored: &str) -> Option<Eligibility> {
        Eligibility::ALL.into_iter().find(|e| e.as_str() == stored)
    }

    /// By its Japanese word (「要支援１」 as typed, NFKC) or its stored name.
    pub fn parse_label(cell: &str) -> Option<Eligibility> {
        let cell = tsunagu_runtime::text::nfkc(cell);
        let cell = cell.trim();
        Eligibility::ALL
            .into_iter()
            .find(|e| e.label() == cell || e.as_str() == cell)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Female,
    Male,
}

impl Gender {
    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Female => "female",
            Gender::Male => "male",
        }
    }

    pub fn parse_label(cell: &str) -> Option<Gender> {
        match tsunagu_runtime::text::nfkc(cell).trim().to_lowercase().as_str() {
            "女性" | "女" | "female" => Some(Gender::Female),
            "男性" | "男" | "male" => Some(Gender::Male),
            _ => None,
        }
    }
}

/// Hard requirements a resource must meet, and preferences matching weighs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Requirements {
    #[serde(default)]
    pub wheelchair_vehicle: bool,
    #[serde(default)]
    pub helper_gender: Option<Gender>,
    /// A requirement when true, a preference when false.
    #[serde(default)]
    pub helper_gender_required: bool,
    /// BCP 47 tags; any one suffices.
    #[serde(default)]
    pub languages: Vec<String>,
    /// A helper the resident knows (registry helper id), preferred.
    #[serde(default)]
    pub preferred_helper_id: Option<Uuid>,
}

/// A BCP 47 tag as far as matters here: a 2–3 letter language, then subtags of 2–8 letters or
/// digits ("ja", "pt-BR", "zh-Hant-TW"). Normalised to the usual case.
pub fn language_tag(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let mut parts = raw.split(['-', '_']);
    let language = parts.next().unwrap_or_default();
    let language_ok = (2..=3).contains(&language.len()) && language.chars().all(|c| c.is_ascii_alphabetic());
    let mut tag = language.to_ascii_lowercase();
    let mut ok = language_ok;
    for part in parts {
        ok &= (2..=8).contains(&part.len()) && part.chars().all(|c| c.is_ascii_alphanumeric());
        tag.push('-');
        tag.push_str(&match part.len() {
            2 => part.to_ascii_uppercase(),
            4 => {
                let mut script = part.to_ascii_lowercase();
                script[..1].make_ascii_uppercase();
                script
            }
            _ => part.to_ascii_lowercase(),
        });
    }
    if ok {
        Ok(tag)
    } else {
        Err(format!(
            "言語はBCP 47のタグで指定してください（例: ja, pt-BR。入力: {raw:?}） / not a BCP 47 language tag"
        ))
    }
}

/// The matching-relevant description of a need.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NeedDetails {
    #[serde(default)]
    pub location: Option<CoarseLocation>,
    #[serde(default)]
    pub time_windows: Vec<WantedWindow>,
    #[serde(default)]
    pub frequency: Option<Frequency>,
    #[serde(default)]
    pub start_date: Option<NaiveDate>,
    #[serde(default)]
    pub deadline: Option<NaiveDate>,
    #[serde(default)]
    pub eligibility: Option<Eligibility>,
    /// None: any fee; Some(0): free only.
    #[serde(default)]
    pub max_fee_yen: Option<u32>,
    #[serde(default)]
    pub requirements: Requirements,
}

impl NeedDetails {
    /// Whether anything beyond the defaults is set (old needs have nothing).
    pub fn is_empty(&self) -> bool {
        *self == NeedDetails::default()
    }

    /// Cross-field checks: the deadline is not before the start.
    pub fn check_dates(&self, violations: &mut Violations, prefix: &str) {
        if let (Some(start), Some(deadline)) = (self.start_date, self.deadline)
            && deadline < start
        {
            violations.add(
                format!("{prefix}deadline"),
                format!(
                    "期限（{deadline}）が開始日（{start}）より前です / the deadline is before the start date"
                ),
            );
        }
    }
}

/// How a need reached the municipality (domain.md §5, §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    CommunitySupportCenter,
    CareManager,
    WelfareCommissioner,
    Coordinator,
    Resident,
    Family,
    CommunityCareMeeting,
    Survey,
    Other,
}

impl Channel {
    pub const ALL: [Channel; 9] = [
        Channel::CommunitySupportCenter,
        Channel::CareManager,
        Channel::WelfareCommissioner,
        Channel::Coordinator,
        Channel::Resident,
        Channel::Family,
        Channel::CommunityCareMeeting,
        Channel::Survey,
        Channel::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::CommunitySupportCenter => "community_support_center",
            Channel::CareManager => "care_manager",
            Channel::WelfareCommissioner => "welfare_commissioner",
            Channel::Coordinator => "coordinator",
            Channel::Resident => "resident",
            Channel::Family => "family",
            Channel::CommunityCareMeeting => "community_care_meeting",
            Channel::Survey => "survey",
            Channel::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Channel::CommunitySupportCenter => "地域包括支援センター",
            Channel::CareManager => "ケアマネジャー",
            Channel::WelfareCommissioner => "民生委員",
            Channel::Coordinator => "生活支援コーディネーター",
            Channel::Resident => "本人",
            Channel::Family => "家族",
            Channel::CommunityCareMeeting => "地域ケア会議",
            Channel::Survey => "調査",
            Channel::Other => "その他",
        }
    }

    pub fn parse(stored: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == stored)
    }

    /// By its Japanese word or a common short form (包括, ケアマネ, SC).
    pub fn parse_label(cell: &str) -> Option<Channel> {
        let cell = tsunagu_runtime::text::nfkc(cell);
        let cell = cell.trim();
        let short = match cell {
            "包括" | "地域包括" => Some(Channel::CommunitySupportCenter),
            "ケアマネ" => Some(Channel::CareManager),
            "SC" | "生活支援コーディネーター" | "コーディネーター" => {
                Some(Channel::Coordinator)
            }
            "本人" | "利用者" => Some(Channel::Resident),
            _ => None,
        };
        short.or_else(|| {
            Channel::ALL
                .into_iter()
                .find(|c| c.label() == cell || c.as_str() == cell)
        })
    }
}

/// Who passed the need on: staff, not the resident.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Referrer {
    pub name: String,
    pub organization_id: Option<Uuid>,
    /// Phone or e-mail to call back.
    pub contact: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_snap_to_the_grid_inside_japan_only() {
        let point = CoarseLocation::coarsen(35.359_123, 136.612_987).unwrap();
        assert_eq!(
            point,
            CoarseLocation {
                latitude: 35.36,
                longitude: 136.615
            }
        );
        assert!(CoarseLocation::coarsen(51.5, -0.12).is_err());
    }

    #[test]
    fn frequencies_read_as_coordinators_write_them() {
        let read = |cell| Frequency::parse_japanese(cell).unwrap().unwrap();
        assert_eq!(
            read("週2回"),
            Frequency {
                times: 2,
                per: FrequencyUnit::Week
            }
        );
        assert_eq!(
            read("月 １ 回"),
            Frequency {
                times: 1,
                per: FrequencyUnit::Month
            }
        );
        assert_eq!(
            read("毎日"),
            Frequency {
                times: 7,
                per: FrequencyUnit::Week
            }
        );
        assert_eq!(
            read("1回のみ"),
            Frequency {
                times: 1,
                per: FrequencyUnit::Once
            }
        );
        assert_eq!(
            read("3回/週"),
            Frequency {
                times: 3,
                per: FrequencyUnit::Week
            }
        );
        assert_eq!(Frequency::parse_japanese(" ").unwrap(), None);
        assert!(Frequency::parse_japanese("ときどき").is_err());
        assert!(Frequency::parse_japanese("週40回").is_err());
    }

    #[test]
    fn windows_are_checked_and_sorted() {
        let mut violations = Violations::new();
        let windows = wanted_windows(
            &mut violations,
            "w",
            &[(5, 540, 720), (2, 540, 720), (0, 1, 2), (3, 720, 600)],
        );
        let fields: Vec<_> = violations.iter().map(|v| v.field.clone()).collect();
        assert_eq!(fields, ["w[2].weekday", "w[3]"]);
        assert_eq!(windows.iter().map(|w| w.weekday).collect::<Vec<_>>(), [2, 5]);
    }

    #[test]
    fn language_tags_are_normalised() {
        assert_eq!(language_tag("pt-br").unwrap(), "pt-BR");
        assert_eq!(language_tag("zh_hant_tw").unwrap(), "zh-Hant-TW");
        assert_eq!(language_tag("JA").unwrap(), "ja");
        assert!(language_tag("日本語").is_err());
        assert!(language_tag("").is_err());
    }

    #[test]
    fn words_read_back() {
        for eligibility in Eligibility::ALL {
            assert_eq!(Eligibility::parse_label(eligibility.label()), Some(eligibility));
            assert_eq!(Eligibility::parse(eligibility.as_str()), Some(eligibility));
            let json = serde_json::to_string(&eligibility).unwrap();
            assert_eq!(json, format!("\"{}\"", eligibility.as_str()));
        }
        for channel in Channel::ALL {
            assert_eq!(Channel::parse_label(channel.label()), Some(channel));
        }
        assert_eq!(Channel::parse_label("ケアマネ"), Some(Channel::CareManager));
        assert_eq!(Gender::parse_label("女"), Some(Gender::Female));
    }
}
