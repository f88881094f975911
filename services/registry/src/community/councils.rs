//! 協議体 (councils): a regular meeting of the municipality, the coordinators and local actors
//! for one layer — the municipality (第1層), a daily-life area (第2層) or a provider (第3層) —
//! with its member organisations and people, and the records of its meetings.

use chrono::NaiveDate;
use serde::Serialize;
use tsunagu_runtime::MunicipalityCode;
use tsunagu_runtime::error::{ServiceResult, Violations};
use uuid::Uuid;

use super::common::{self, Layer, MAX_NAME_CHARS, MAX_NOTE_CHARS, optional_text, required_name};
use crate::field_mask::FieldMask;

/// A person on a council (構成員).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Member {
    pub name: String,
    pub role: String,
    pub coordinator_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
}

/// A council's editable state. Field names are the API's and the update mask's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Council {
    pub name: String,
    pub name_kana: String,
    pub layer: Layer,
    pub area_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub member_organization_ids: Vec<Uuid>,
    pub members: Vec<Member>,
}

pub const UPDATABLE: &[&str] = &[
    "name",
    "name_kana",
    "layer",
    "area_id",
    "organization_id",
    "member_organization_ids",
    "members",
];

pub struct MemberInput<'a> {
    pub name: &'a str,
    pub role: &'a str,
    pub coordinator_id: &'a str,
    pub organization_id: &'a str,
}

pub struct CouncilInput<'a> {
    /// Read on create only.
    pub municipality_code: &'a str,
    pub name: &'a str,
    pub name_kana: &'a str,
    pub layer: Option<Layer>,
    pub area_id: &'a str,
    pub organization_id: &'a str,
    pub member_organization_ids: &'a [String],
    pub members: Vec<MemberInput<'a>>,
}

impl Council {
    pub fn parse_new(input: &CouncilInput<'_>) -> ServiceResult<(MunicipalityCode, Council)> {
        let mut violations = Violations::new();
        let municipality_code = violations.check(
            "municipality_code",
            MunicipalityCode::parse_known(input.municipality_code),
        );
        let mut council = Council {
            name: String::new(),
            name_kana: String::new(),
            layer: Layer::First,
            area_id: None,
            organization_id: None,
            member_organization_ids: vec![],
            members: vec![],
        };
        for field in UPDATABLE {
            council.assign(field, input, &mut violations);
        }
        if input.layer.is_some() {
            council.check_consistency(&mut violations);
        }
        violations.into_result()?;
        Ok((municipality_code.expect("checked"), council))
    }

    pub fn with_changes(&self, input: &CouncilInput<'_>, mask: &FieldMask) -> ServiceResult<Council> {
        let mut changed = self.clone();
        let mut violations = Violations::new();
        for field in mask.fields() {
            changed.assign(field, input, &mut violations);
        }
        if violations.is_empty() {
            changed.check_consistency(&mut violations);
        }
        violations.into_result()?;
        Ok(changed)
    }

    fn assign(&mut self, field: &str, input: &CouncilInput<'_>, v: &mut Violations) {
        match field {
            "name" => self.name = required_name(v, field, input.name, "協議体の名称"),
            "name_kana" => self.name_kana = optional_text(v, field, input.name_kana, MAX_NAME_CHARS),
            "layer" => match input.layer {
                Some(layer) => self.layer = layer,
                None => v.add(
                    field,
                    "層（第1層・第2層・第3層）を指定してください / layer is required",
                ),
            },
            "area_id" => self.area_id = common::optional_id(v, field, input.area_id),
            "organization_id" => self.organization_id = common::optional_id(v, field, input.organization_id),
            "member_organization_ids" => {
                self.member_organization_ids = common::id_list(v, field, input.member_organization_ids)
            }
            "members" => {
                self.members = input
                    .members
                    .iter()
                    .enumerate()
                    .map(|(index, member)| {
                        let at = format!("{field}[{index}]");
                        Member {
                            name: required_name(v, &format!("{at}.name"), member.name, "構成員の氏名"),
                            role: optional_text(v, &format!("{at}.role"), member.role, MAX_NAME_CHARS),
                            coordinator_id: common::optional_id(
                                v,
                                &format!("{at}.coordinator_id"),
                                member.coordinator_id,
                            ),
                            organization_id: common::optional_id(
                                v,
                                &format!("{at}.organization_id"),
                                member.organization_id,
                            ),
                        }
                    })
                    .collect()
            }
            other => unreachable!("{other} is not in UPDATABLE"),
        }
    }

    fn check_consistency(&self, violations: &mut Violations) {
        match self.layer {
            Layer::First | Layer::Second => {
                if self.area_id.is_none() {
                    violations.add(
                        "area_id",
                        format!(
                            "{}の協議体は対象区域（area_id）を指定してください / a layer {} council needs its area",
                            self.layer.label(),
                            self.layer.number()
                        ),
                    );
                }
                if self.organization_id.is_some() {
                    violations.add(
                        "organization_id",
                        "organization_id は第3層（事業主体）の協議体のみです。参加団体は member_organization_ids に指定してください / \
                         only layer 3 councils have organization_id",
                    );
                }
            }
            Layer::Third => {
                if self.organization_id.is_none() {
                    violations.add(
                        "organization_id",
                        "第3層の協議体は事業主体（organization_id）を指定してください / a layer 3 council needs its provider",
                    );
                }
            }
        }
    }
}

/// A meeting of a council (開催記録). Field names are the API's and the update mask's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Meeting {
    pub held_on: NaiveDate,
    pub agenda_items: Vec<String>,
    pub decisions: Vec<String>,
    pub attendees_count: u32,
    pub notes: String,
}

pub const MEETING_UPDATABLE: &[&str] = &["held_on", "agenda_items", "decisions", "attendees_count", "notes"];

const MAX_ITEM_CHARS: usize = 1000;
const MAX_ATTENDEES: u32 = 10_000;

pub struct MeetingInput<'a> {
    pub held_on: &'a str,
    pub agenda_items: &'a [String],
    pub decisions: &'a [String],
    pub attendees_count: u32,
    pub notes: &'a str,
}

impl Meeting {
    /// A meeting that was held: its date is required and not in the future.
    pub fn parse_new(input: &MeetingInput<'_>, today: NaiveDate) -> ServiceResult<Meeting> {
        let mut meeting = Meeting {
            held_on: NaiveDate::MIN,
            agenda_items: vec![],
            decisions: vec![],
            attendees_count: 0,
            notes: String::new(),
        };
        let mut violations = Violations::new();
        for field in MEETING_UPDATABLE {
            meeting.assign(field, input, today, &mut violations);
        }
        violations.into_result()?;
        Ok(meeting)
    }

    pub fn with_changes(
        &self,
        input: &MeetingInput<'_>,
        mask: &FieldMask,
        today: NaiveDate,
    ) -> ServiceResult<Meeting> {
        let mut changed = self.clone();
        let mut violations = Violations::new();
        for field in mask.fields() {
            changed.assign(field, input, today, &mut violations);
        }
        violations.into_result()?;
        Ok(changed)
    }

    fn assign(&mut self, field: &str, input: &MeetingInput<'_>, today: NaiveDate, v: &mut Violations) {
        match field {
            "held_on" => self.held_on = common::past_date(v, field, input.held_on, today),
            "agenda_items" => {
                self.agenda_items = common::text_items(v, field, input.agenda_items, MAX_ITEM_CHARS)
            }
            "decisions" => self.decisions = common::text_items(v, field, input.decisions, MAX_ITEM_CHARS),
            "attendees_count" => {
                if input.attendees_count > MAX_ATTENDEES {
                    v.add(
                        field,
                        format!("出席者数は{MAX_ATTENDEES}人以下です / at most {MAX_ATTENDEES}"),
                    );
                }
                self.attendees_count = input.attendees_count;
            }
            "notes" => self.notes = optional_text(v, field, input.notes, MAX_NOTE_CHARS),
            other => unreachable!("{other} is not in MEETING_UPDATABLE"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tsunagu_runtime::ServiceError;

    fn fields(error: ServiceError) -> Vec<String> {
        match error {
            ServiceError::InvalidArgument(violations) => violations.into_iter().map(|v| v.field).collect(),
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn a_council_needs_what_its_layer_needs_and_members_are_checked() {
        let input = CouncilInput {
            municipality_code: "212024",
            name: "西部圏域 支え合い会議",
            name_kana: "",
            layer: Some(Layer::Second),
            area_id: "",
            organization_id: "",
            member_organization_ids: &[],
            members: vec![MemberInput {
                name: "",
                role: "町内会長",
                coordinator_id: "x",
                organization_id: "",
            }],
        };
        let error = Council::parse_new(&input).unwrap_err();
        assert_eq!(
            fields(error),
            ["members[0].name", "members[0].coordinator_id", "area_id"]
        );
    }

    #[test]
    fn meetings_are_in_the_past_with_non_blank_items() {
        let today = NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
        let agenda = vec!["買い物支援の担い手不足".to_string(), " ".to_string()];
        let input = MeetingInput {
            held_on: "2026-04-02",
            agenda_items: &agenda,
            decisions: &[],
            attendees_count: 12,
            notes: "",
        };
        assert_eq!(
            fields(Meeting::parse_new(&input, today).unwrap_err()),
            ["held_on", "agenda_items[1]"]
        );
        let agenda = vec!["買い物支援の担い手不足".to_string()];
        let meeting = Meeting::parse_new(
            &MeetingInput {
                held_on: "2026-03-10",
                agenda_items: &agenda,
                ..input
            },
            today,
        )
        .unwrap();
        assert_eq!(meeting.attendees_count, 12);
        let mask = FieldMask::parse(&["notes".to_string()], MEETING_UPDATABLE).unwrap();
        let edited = meeting
            .with_changes(
                &MeetingInput {
                    held_on: "bad, but not in the mask",
                    notes: "次回は移動販売を議題に",
                    ..input
                },
                &mask,
                today,
            )
            .unwrap();
        assert_eq!(edited.held_on, meeting.held_on);
        assert_eq!(edited.notes, "次回は移動販売を議題に");
    }
}
