//! Parses an organisation as a caller sends it into validated fields, naming every bad field.

use serde::{Deserialize, Serialize};
use tsunagu_runtime::error::{ServiceResult, Violations};
use tsunagu_runtime::text;
use uuid::Uuid;

use crate::contact::{ContactKind, ContactPoint};
use crate::identifiers::{CareProviderNumber, CorporateNumber};
use crate::resource::input::parse_ids;

/// Everything about an organisation an update may change; the owning municipality is fixed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationFields {
    pub name: String,
    pub name_kana: String,
    /// e.g. `npo`, `shakyo`, `care_provider` (the proto enum's name in lower case).
    pub kind: String,
    pub area_ids: Vec<Uuid>,
    pub parent_organization_id: Option<Uuid>,
    pub corporate_number: Option<String>,
    pub care_provider_numbers: Vec<String>,
    pub contact_points: Vec<ContactPoint>,
    pub external_id: Option<String>,
}

impl OrganizationFields {
    pub fn snapshot(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => unreachable!("OrganizationFields serialises to an object"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawOrganization {
    pub name: String,
    pub name_kana: String,
    /// `None` when unspecified.
    pub kind: Option<String>,
    pub area_ids: Vec<String>,
    pub parent_organization_id: String,
    pub corporate_number: String,
    pub care_provider_numbers: Vec<String>,
    /// Each contact point's kind (None when unspecified), value and label.
    pub contact_points: Vec<(Option<ContactKind>, String, String)>,
    pub external_id: String,
}

impl RawOrganization {
    pub fn from_fields(fields: &OrganizationFields) -> RawOrganization {
        RawOrganization {
            name: fields.name.clone(),
            name_kana: fields.name_kana.clone(),
            kind: Some(fields.kind.clone()),
            area_ids: fields.area_ids.iter().map(Uuid::to_string).collect(),
            parent_organization_id: fields
                .parent_organization_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            corporate_number: fields.corporate_number.clone().unwrap_or_default(),
            care_provider_numbers: fields.care_provider_numbers.clone(),
            contact_points: fields
                .contact_points
                .iter()
                .map(|c| (Some(c.kind), c.value.clone(), c.label.clone()))
                .collect(),
            external_id: fields.external_id.clone().unwrap_or_default(),
        }
    }

    pub fn parse(&self) -> ServiceResult<OrganizationFields> {
        let mut violations = Violations::new();
        let name = text::normalised_non_empty(&self.name);
        if name.is_none() {
            violations.add("name", "団体名を入力してください / name is required");
        }
        if self.kind.is_none() {
            violations.add("kind", "団体の種類を指定してください / kind is required");
        }
        let area_ids = parse_ids(&mut violations, "area_ids", &self.area_ids);
        let parent_organization_id = match self.parent_organization_id.trim() {
            "" => None,
            raw => violations.check(
                "parent_organization_id",
                raw.parse::<Uuid>().map_err(|_| "IDの形式が不正です / not a UUID"),
            ),
        };
        let corporate_number = match self.corporate_number.trim() {
            "" => None,
            raw => violations
                .check("corporate_number", CorporateNumber::parse(raw))
                .map(|number| number.as_str().to_string()),
        };
        let mut care_provider_numbers = Vec::new();
        for (index, raw) in self.care_provider_numbers.iter().enumerate() {
            if let Some(number) = violations.check(
                &format!("care_provider_numbers[{index}]"),
                CareProviderNumber::parse(raw),
            ) && !care_provider_numbers.contains(&number.as_str().to_string())
            {
                care_provider_numbers.push(number.as_str().to_string());
            }
        }
        let mut contact_points = Vec::new();
        for (index, (kind, value, label)) in self.contact_points.iter().enumerate() {
            let Some(kind) = kind else {
                violations.add(
                    format!("contact_points[{index}].kind"),
                    "連絡先の種類を指定してください / kind is required",
                );
                continue;
            };
            match ContactPoint::parse(*kind, value, label) {
                Ok(contact) => contact_points.push(contact),
                Err((part, reason)) => violations.add(format!("contact_points[{index}].{part}"), reason),
            }
        }
        let external_id = text::nfkc(&self.external_id).trim().to_string();
        if external_id.chars().count() > 100 {
            violations.add("external_id", "外部IDは100文字以内です / external_id is too long");
        }
        violations.into_result()?;
        Ok(OrganizationFields {
            name: name.expect("checked"),
            name_kana: text::nfkc(&self.name_kana).trim().to_string(),
            kind: self.kind.clone().expect("checked"),
            area_ids,
            parent_organization_id,
            corporate_number,
            care_provider_numbers,
            contact_points,
            external_id: (!external_id.is_empty()).then_some(external_id),
        })
    }
}
