//! 生活支援コーディネーター (coordinators): their layer (3層), the areas they cover (layers 1
//! and 2) or the provider they work within (layer 3), who employs them and when they are in
//! office. Whether the areas have the kinds the layer needs is known only to the database:
//! `store::coordinators` checks it with [`Layer::check_area_kind`].

use chrono::NaiveDate;
use serde::Serialize;
use tsunagu_runtime::MunicipalityCode;
use tsunagu_runtime::error::{ServiceResult, Violations};
use uuid::Uuid;

use super::common::{self, ContactInput, Layer, MAX_NAME_CHARS, optional_text, required_name};
use crate::contact::ContactPoint;
use crate::field_mask::FieldMask;

/// A coordinator's editable state. Field names are the API's and the update mask's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coordinator {
    pub name: String,
    pub name_kana: String,
    pub layer: Layer,
    pub area_ids: Vec<Uuid>,
    pub organization_id: Option<Uuid>,
    pub employer_organization_id: Option<Uuid>,
    pub contact_points: Vec<ContactPoint>,
    pub active_from: Option<NaiveDate>,
    pub active_until: Option<NaiveDate>,
}

pub const UPDATABLE: &[&str] = &[
    "name",
    "name_kana",
    "layer",
    "area_ids",
    "organization_id",
    "employer_organization_id",
    "contact_points",
    "active_from",
    "active_until",
];

pub struct CoordinatorInput<'a> {
    /// Read on create only: a coordinator stays in their municipality.
    pub municipality_code: &'a str,
    pub name: &'a str,
    pub name_kana: &'a str,
    /// None when unspecified or unknown.
    pub layer: Option<Layer>,
    pub area_ids: &'a [String],
    pub organization_id: &'a str,
    pub employer_organization_id: &'a str,
    pub contact_points: Vec<ContactInput<'a>>,
    pub active_from: &'a str,
    pub active_until: &'a str,
}

impl Coordinator {
    pub fn parse_new(input: &CoordinatorInput<'_>) -> ServiceResult<(MunicipalityCode, Coordinator)> {
        let mut violations = Violations::new();
        let municipality_code = violations.check(
            "municipality_code",
            MunicipalityCode::parse_known(input.municipality_code),
        );
        let mut coordinator = Coordinator {
            name: String::new(),
            name_kana: String::new(),
            layer: Layer::First,
            area_ids: vec![],
            organization_id: None,
            employer_organization_id: None,
            contact_points: vec![],
            active_from: None,
            active_until: None,
        };
        for field in UPDATABLE {
            coordinator.assign(field, input, &mut violations);
        }
        if input.layer.is_some() {
            coordinator.check_consistency(&mut violations);
        }
        violations.into_result()?;
        Ok((municipality_code.expect("checked"), coordinator))
    }

    /// This coordinator with the fields in `mask` taken from `input`, checked as a whole: a
    /// layer change that leaves areas of the old layer behind names `area_ids`.
    pub fn with_changes(&self, input: &CoordinatorInput<'_>, mask: &FieldMask) -> ServiceResult<Coordinator> {
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

    fn assign(&mut self, field: &str, input: &CoordinatorInput<'_>, v: &mut Violations) {
        match field {
            "name" => self.name = required_name(v, field, input.name, "コーディネーターの氏名"),
            "name_kana" => self.name_kana = optional_text(v, field, input.name_kana, MAX_NAME_CHARS),
            "layer" => match input.layer {
                Some(layer) => self.layer = layer,
                None => v.add(
                    field,
                    "層（第1層・第2層・第3層）を指定してください / layer is required",
                ),
            },
            "area_ids" => self.area_ids = common::id_list(v, field, input.area_ids),
            "organization_id" => self.organization_id = common::optional_id(v, field, input.organization_id),
            "employer_organization_id" => {
                self.employer_organization_id = common::optional_id(v, field, input.employer_organization_id)
            }
            "contact_points" => self.contact_points = common::contact_points(v, field, &input.contact_points),
            "active_from" => self.active_from = common::optional_date(v, field, input.active_from),
            "active_until" => self.active_until = common::optional_date(v, field, input.active_until),
            other => unreachable!("{other} is not in UPDATABLE"),
        }
    }

    /// What the layer asks of areas and organisation, and an active period in order.
    fn check_consistency(&self, violations: &mut Violations) {
        match self.layer {
            Layer::First | Layer::Second => {
                if self.area_ids.is_empty() {
                    violations.add(
                        "area_ids",
                        format!(
                            "{}のコーディネーターは担当区域を1つ以上指定してください / layer {} coordinators need at least one area",
                            self.layer.label(),
                            self.layer.number()
                        ),
                    );
                }
                if self.organization_id.is_some() {
                    violations.add(
                        "organization_id",
                        format!(
                            "organization_id は第3層（事業主体）のコーディネーターのみです。雇用先は employer_organization_id に指定してください / \
                             only layer 3 coordinators have organization_id (layer {} has areas)",
                            self.layer.number()
                        ),
                    );
                }
            }
            Layer::Third => {
                if self.organization_id.is_none() {
                    violations.add(
                        "organization_id",
                        "第3層のコーディネーターは事業主体（organization_id）を指定してください / layer 3 coordinators need the provider",
                    );
                }
                if !self.area_ids.is_empty() {
                    violations.add(
                        "area_ids",
                        "第3層のコーディネーターの担当は事業主体です。担当区域は指定しません / layer 3 coordinators have no areas",
                    );
                }
            }
        }
        if let (Some(from), Some(until)) = (self.active_from, self.active_until)
            && until < from
        {
            violations.add(
                "active_until",
                format!(
                    "在任期間の終了（{until}）が開始（{from}）より前です / active_until is before active_from"
                ),
            );
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

    fn input<'a>(
        layer: Option<Layer>,
        area_ids: &'a [String],
        organization_id: &'a str,
    ) -> CoordinatorInput<'a> {
        CoordinatorInput {
            municipality_code: "212024",
            name: "佐藤 一郎",
            name_kana: "サトウ イチロウ",
            layer,
            area_ids,
            organization_id,
            employer_organization_id: "",
            contact_points: vec![],
            active_from: "2025-04-01",
            active_until: "",
        }
    }

    #[test]
    fn layers_one_and_two_need_areas_and_layer_three_a_provider() {
        let error = Coordinator::parse_new(&input(Some(Layer::Second), &[], "")).unwrap_err();
        assert_eq!(fields(error), ["area_ids"]);
        let provider = Uuid::now_v7().to_string();
        let error = Coordinator::parse_new(&input(Some(Layer::Third), &[], "")).unwrap_err();
        assert_eq!(fields(error), ["organization_id"]);
        let (_, coordinator) = Coordinator::parse_new(&input(Some(Layer::Third), &[], &provider)).unwrap();
        assert_eq!(coordinator.layer, Layer::Third);
        let areas = vec![Uuid::now_v7().to_string()];
        let error = Coordinator::parse_new(&input(Some(Layer::First), &areas, &provider)).unwrap_err();
        assert_eq!(fields(error), ["organization_id"]);
    }

    #[test]
    fn unknown_layer_bad_code_and_period_are_named() {
        let mut bad = input(None, &[], "");
        bad.municipality_code = "212025";
        bad.active_until = "2025-02-30";
        let error = Coordinator::parse_new(&bad).unwrap_err();
        assert_eq!(fields(error), ["municipality_code", "layer", "active_until"]);

        let areas = vec![Uuid::now_v7().to_string()];
        let mut reversed = input(Some(Layer::Second), &areas, "");
        reversed.active_until = "2025-03-31";
        assert_eq!(
            fields(Coordinator::parse_new(&reversed).unwrap_err()),
            ["active_until"]
        );
    }

    #[test]
    fn a_layer_change_is_checked_against_the_fields_it_leaves_alone() {
        let areas = vec![Uuid::now_v7().to_string()];
        let (_, coordinator) = Coordinator::parse_new(&input(Some(Layer::Second), &areas, "")).unwrap();
        let request = input(Some(Layer::Third), &[], "");
        let mask = FieldMask::parse(&["layer".to_string()], UPDATABLE).unwrap();
        let error = coordinator.with_changes(&request, &mask).unwrap_err();
        assert_eq!(fields(error), ["organization_id", "area_ids"]);
    }
}
