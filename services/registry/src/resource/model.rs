//! A resource's editable state (`ResourceFields`) and its vocabularies. The state is stored
//! as one JSON document (with the columns lists filter on copied out of it), so a change's
//! history is the difference between two documents.

use serde::{Deserialize, Serialize};
use tsunagu_calendar::ScheduleEntry;
use uuid::Uuid;

use crate::geo::GeoPoint;

/// 利用する資源 / 参加する資源 / 場所・拠点 (domain.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Use,
    Participate,
    Place,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 3] = [ResourceKind::Use, ResourceKind::Participate, ResourceKind::Place];

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Use => "use",
            ResourceKind::Participate => "participate",
            ResourceKind::Place => "place",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ResourceKind::Use => "利用する資源",
            ResourceKind::Participate => "参加する資源",
            ResourceKind::Place => "場所・拠点",
        }
    }

    /// The kind a category implies when the caller does not say: the taxonomy's `social`
    /// branch is joined, its `place` branch is places, everything else is used.
    pub fn implied_by_category(code: &str) -> ResourceKind {
        let root = code.split('.').next().unwrap_or(code);
        match root {
            "social" => ResourceKind::Participate,
            "place" => ResourceKind::Place,
            _ => ResourceKind::Use,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceStatus {
    Active,
    Inactive,
    TemporarilyClosed,
    Defunct,
}

impl ResourceStatus {
    pub const ALL: [ResourceStatus; 4] = [
        ResourceStatus::Active,
        ResourceStatus::Inactive,
        ResourceStatus::TemporarilyClosed,
        ResourceStatus::Defunct,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceStatus::Active => "active",
            ResourceStatus::Inactive => "inactive",
            ResourceStatus::TemporarilyClosed => "temporarily_closed",
            ResourceStatus::Defunct => "defunct",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ResourceStatus::Active => "実施中",
            ResourceStatus::Inactive => "休止",
            ResourceStatus::TemporarilyClosed => "一時休止",
            ResourceStatus::Defunct => "廃止",
        }
    }
}

/// Who may use a resource, in the vocabulary of 介護保険.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Eligibility {
    GeneralElderly,
    ProjectTarget,
    Support1,
    Support2,
    Care1,
    Care2,
    Care3,
    Care4,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Female,
    Male,
}

impl Gender {
    pub fn label(self) -> &'static str {
        match self {
            Gender::Female => "女性",
            Gender::Male => "男性",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Capacity {
    pub available: u32,
    /// 0: no stated limit (places, activities anyone may join, care providers whose list
    /// gives no 定員). Matching treats it as unlimited; the provider still accepts or declines.
    pub maximum: u32,
    pub unit: String,
}

/// What using the resource costs. `Unknown` is kept apart from `Free`: a coordinator must
/// not tell a resident something is free because nobody entered the fee.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Fee {
    #[default]
    Unknown,
    Free {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        description: String,
    },
    Paid {
        amount_yen: u32,
        unit: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        description: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Capabilities {
    pub wheelchair_vehicle: bool,
    pub languages: Vec<String>,
    pub helper_genders: Vec<Gender>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Location {
    pub address: String,
    pub point: Option<GeoPoint>,
    /// The address and point are withheld from every view but the full one.
    pub confidential: bool,
}

/// Everything about a resource that an update may change. The municipality that owns it is
/// fixed at creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceFields {
    pub organization_id: Uuid,
    pub name: String,
    pub name_kana: String,
    pub description: String,
    pub category: String,
    pub kind: ResourceKind,
    pub coverage_area_ids: Vec<Uuid>,
    pub capacity: Capacity,
    pub fee: Fee,
    pub eligibility: Vec<Eligibility>,
    pub min_age: Option<u32>,
    pub max_age: Option<u32>,
    pub capabilities: Capabilities,
    pub schedules: Vec<ScheduleEntry>,
    pub status: ResourceStatus,
    pub status_note: String,
    pub location: Location,
    pub external_id: Option<String>,
    pub url: String,
}

impl ResourceFields {
    /// Field name → value, the form the change history compares.
    pub fn snapshot(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => unreachable!("ResourceFields serialises to an object"),
        }
    }

    /// Whether matching may propose it to a new need.
    pub fn accepting(&self) -> bool {
        self.status == ResourceStatus::Active
    }
}
