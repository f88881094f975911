//! The organisation sheet: one row per organisation (事業主体), Japanese headers (English
//! aliases accepted), kinds by their Japanese names (NPO法人, 社会福祉協議会, 自治会・町内会 …),
//! the parent by ID or name, areas by name, code or ID, and contact points one column per
//! kind with an optional label in brackets. A written row reads back to the same fields.

use tsunagu_runtime::text;
use tsunagu_tabular::Row;

use super::common::{
    EXTERNAL_ID, ID, Layout, check_contacts, contact_kind_of, contacts_cell, merge_contacts, parse_contacts,
};
use super::resource_sheet::{AreaNames, CellProblem, Column, OrganizationNames, items};
use crate::contact::ContactKind;
use crate::organization::input::RawOrganization;
use crate::organization::store::OrganizationRow;
use crate::organization::{KINDS, kind_label};

pub const NAME: &str = "団体名";
pub const KIND: &str = "種類";
const PARENT_ID: &str = "親団体ID";
const PARENT_NAME: &str = "親団体名";

pub const COLUMNS: &[Column] = &[
    Column {
        header: ID,
        aliases: &["id", "団体ID"],
        field: "id",
    },
    Column {
        header: EXTERNAL_ID,
        aliases: &["external_id", "管理番号"],
        field: "external_id",
    },
    Column {
        header: NAME,
        aliases: &["name", "名称", "事業主体名"],
        field: "name",
    },
    Column {
        header: "読み",
        aliases: &["name_kana", "よみがな", "ふりがな", "カナ"],
        field: "name_kana",
    },
    Column {
        header: KIND,
        aliases: &["kind", "種別", "団体の種類"],
        field: "kind",
    },
    Column {
        header: PARENT_ID,
        aliases: &["parent_organization_id"],
        field: "parent_organization_id",
    },
    Column {
        header: PARENT_NAME,
        aliases: &["parent_organization", "親団体"],
        field: "parent_organization_id",
    },
    Column {
        header: "法人番号",
        aliases: &["corporate_number"],
        field: "corporate_number",
    },
    Column {
        header: "介護保険事業所番号",
        aliases: &["care_provider_numbers", "事業所番号"],
        field: "care_provider_numbers",
    },
    Column {
        header: "活動区域",
        aliases: &["area_ids", "areas", "活動地域"],
        field: "area_ids",
    },
    Column {
        header: "電話",
        aliases: &["phone", "電話番号", "TEL"],
        field: "contact_points",
    },
    Column {
        header: "FAX",
        aliases: &["fax", "FAX番号", "ファクス"],
        field: "contact_points",
    },
    Column {
        header: "メール",
        aliases: &["email", "メールアドレス", "e-mail"],
        field: "contact_points",
    },
    Column {
        header: "URL",
        aliases: &["url", "ホームページ"],
        field: "contact_points",
    },
    Column {
        header: "住所",
        aliases: &["address", "所在地"],
        field: "contact_points",
    },
];

/// Other words people use for a kind.
const KIND_ALIASES: &[(&str, &str)] = &[
    ("NPO", "npo"),
    ("特定非営利活動法人", "npo"),
    ("社協", "shakyo"),
    ("企業", "company"),
    ("株式会社", "company"),
    ("生協", "cooperative"),
    ("農協", "cooperative"),
    ("ボランティアグループ", "volunteer_group"),
    ("自治会", "neighborhood_association"),
    ("町内会", "neighborhood_association"),
    ("地縁組織", "neighborhood_association"),
    ("介護事業所", "care_provider"),
    ("包括", "community_care_center"),
    ("地域包括", "community_care_center"),
];

/// A kind by its label, code or a common alias; empty is `None` (the kind is required, so
/// the parse reports it).
pub fn parse_kind(cell: &str) -> Result<Option<String>, String> {
    let wanted = text::nfkc(cell).trim().to_string();
    if wanted.is_empty() {
        return Ok(None);
    }
    KINDS
        .iter()
        .find(|(code, label)| *label == wanted || code.eq_ignore_ascii_case(&wanted))
        .map(|(code, _)| *code)
        .or_else(|| {
            KIND_ALIASES
                .iter()
                .find(|(alias, _)| alias.eq_ignore_ascii_case(&wanted))
                .map(|(_, code)| *code)
        })
        .map(|code| Some(code.to_string()))
        .ok_or_else(|| {
            let labels: Vec<&str> = KINDS.iter().map(|(_, label)| *label).collect();
            format!(
                "団体の種類は {} のいずれかです（入力: {wanted:?}） / unknown kind",
                labels.join("・")
            )
        })
}

/// Overlays the row's columns on `base` (the stored organisation, or an empty one): a column
/// the sheet does not have leaves its field as it was.
pub fn overlay(
    layout: &Layout,
    row: &Row,
    base: &mut RawOrganization,
    areas: &AreaNames,
    organizations: &OrganizationNames,
) -> Vec<CellProblem> {
    let mut problems = Vec::new();
    let mut note = |column: &str, result: Result<(), String>| {
        if let Err(reason) = result {
            problems.push(CellProblem {
                column: column.into(),
                reason,
            });
        }
    };
    let mut contacts = Vec::new();
    let parent_id_given = layout
        .cell(row, PARENT_ID)
        .is_some_and(|cell| !cell.trim().is_empty());
    for (header, cell) in layout.cells(row) {
        match header {
            EXTERNAL_ID => base.external_id = cell.to_string(),
            NAME => base.name = cell.to_string(),
            "読み" => base.name_kana = cell.to_string(),
            KIND => note(header, parse_kind(cell).map(|kind| base.kind = kind)),
            PARENT_ID => base.parent_organization_id = cell.trim().to_string(),
            PARENT_NAME if !parent_id_given => {
                let name = text::nfkc(cell).trim().to_string();
                if name.is_empty() {
                    base.parent_organization_id = String::new();
                } else {
                    note(
                        header,
                        organizations
                            .resolve(&name)
                            .map(|id| base.parent_organization_id = id),
                    );
                }
            }
            "法人番号" => base.corporate_number = cell.to_string(),
            "介護保険事業所番号" => base.care_provider_numbers = items(cell),
            "活動区域" => {
                let mut ids = Vec::new();
                for item in items(cell) {
                    match areas.resolve(&item) {
                        Ok(id) => ids.push(id),
                        Err(reason) => note(header, Err(reason)),
                    }
                }
                // A set, stored and read back in id order: the same areas in another order
                // are no change.
                ids.sort();
                ids.dedup();
                base.area_ids = ids;
            }
            _ => {
                if let Some(kind) = contact_kind_of(header) {
                    let given = parse_contacts(cell, kind);
                    note(header, check_contacts(kind, &given));
                    contacts.push((kind, given));
                }
            }
        }
    }
    if !contacts.is_empty() {
        let current: Vec<(ContactKind, String, String)> = base
            .contact_points
            .iter()
            .filter_map(|(kind, value, label)| kind.map(|kind| (kind, value.clone(), label.clone())))
            .collect();
        base.contact_points = merge_contacts(&current, contacts)
            .into_iter()
            .map(|(kind, value, label)| (Some(kind), value, label))
            .collect();
    }
    problems
}

/// The headers an export writes, in order.
pub fn export_headers() -> Vec<&'static str> {
    COLUMNS.iter().map(|column| column.header).collect()
}

pub fn export_row(
    organization: &OrganizationRow,
    areas: &AreaNames,
    organizations: &OrganizationNames,
) -> Vec<String> {
    let fields = organization.fields();
    COLUMNS
        .iter()
        .map(|column| match column.header {
            ID => organization.id.to_string(),
            EXTERNAL_ID => fields.external_id.clone().unwrap_or_default(),
            NAME => fields.name.clone(),
            "読み" => fields.name_kana.clone(),
            KIND => kind_label(&fields.kind).unwrap_or(&fields.kind).to_string(),
            PARENT_ID => fields
                .parent_organization_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            PARENT_NAME => fields
                .parent_organization_id
                .map(|id| organizations.name_of(id).to_string())
                .unwrap_or_default(),
            "法人番号" => fields.corporate_number.clone().unwrap_or_default(),
            "介護保険事業所番号" => fields.care_provider_numbers.join("、"),
            "活動区域" => areas.cell(&fields.area_ids),
            header => match contact_kind_of(header) {
                Some(kind) => contacts_cell(&fields.contact_points, kind),
                None => unreachable!("column {header} has no export"),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_label_code_or_alias() {
        assert_eq!(parse_kind("社会福祉協議会").unwrap().as_deref(), Some("shakyo"));
        assert_eq!(parse_kind("ＮＰＯ法人").unwrap().as_deref(), Some("npo"));
        assert_eq!(
            parse_kind("CARE_PROVIDER").unwrap().as_deref(),
            Some("care_provider")
        );
        assert_eq!(
            parse_kind("町内会").unwrap().as_deref(),
            Some("neighborhood_association")
        );
        assert_eq!(parse_kind(" ").unwrap(), None);
        assert!(
            parse_kind("秘密結社")
                .unwrap_err()
                .contains("地域包括支援センター")
        );
        for (code, label) in KINDS {
            assert_eq!(parse_kind(label).unwrap().as_deref(), Some(*code));
        }
    }
}
