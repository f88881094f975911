//! Organisations (事業主体): who runs resources. Same shape as `resource`: `input` parses,
//! `store` writes with history and events, this module ties them together.

pub mod input;
pub mod store;

use sqlx::PgPool;
use tsunagu_runtime::error::{ServiceResult, Violations, both};
use tsunagu_runtime::tenant::MunicipalityCode;
use uuid::Uuid;

use crate::field_mask::{FieldMask, check_version};
use crate::history::ChangeAuthor;
use input::RawOrganization;
use store::OrganizationRow;

pub const UPDATABLE: &[&str] = &[
    "name",
    "name_kana",
    "kind",
    "area_ids",
    "parent_organization_id",
    "corporate_number",
    "care_provider_numbers",
    "contact_points",
    "external_id",
];

/// The kinds of organisation (domain.md §5): the stored code (the proto enum's name in lower
/// case) and the label a sheet shows.
pub const KINDS: &[(&str, &str)] = &[
    ("npo", "NPO法人"),
    ("social_welfare_corp", "社会福祉法人"),
    ("shakyo", "社会福祉協議会"),
    ("district_shakyo", "地区社協"),
    ("company", "民間企業"),
    ("cooperative", "協同組合"),
    ("volunteer_group", "ボランティア団体"),
    ("neighborhood_association", "自治会・町内会"),
    ("care_provider", "介護サービス事業所"),
    ("silver_hr_center", "シルバー人材センター"),
    ("senior_club", "老人クラブ"),
    ("shop", "商店"),
    ("pharmacy", "薬局"),
    ("individual", "個人"),
    ("commerce_association", "商工会"),
    ("shopping_street", "商店街"),
    ("housekeeping_agency", "家政婦紹介所"),
    ("welfare_commissioner", "民生委員"),
    ("community_care_center", "地域包括支援センター"),
];

/// The label of a stored kind code, e.g. `shakyo` → 社会福祉協議会.
pub fn kind_label(code: &str) -> Option<&'static str> {
    KINDS
        .iter()
        .find(|(known, _)| *known == code)
        .map(|(_, label)| *label)
}

pub fn overlay(base: &mut RawOrganization, given: RawOrganization, mask: &FieldMask) {
    for field in mask.fields() {
        match field {
            "name" => base.name = given.name.clone(),
            "name_kana" => base.name_kana = given.name_kana.clone(),
            "kind" => base.kind = given.kind.clone(),
            "area_ids" => base.area_ids = given.area_ids.clone(),
            "parent_organization_id" => base.parent_organization_id = given.parent_organization_id.clone(),
            "corporate_number" => base.corporate_number = given.corporate_number.clone(),
            "care_provider_numbers" => base.care_provider_numbers = given.care_provider_numbers.clone(),
            "contact_points" => base.contact_points = given.contact_points.clone(),
            "external_id" => base.external_id = given.external_id.clone(),
            other => unreachable!("{other} is in UPDATABLE but not overlaid"),
        }
    }
}

pub async fn create(
    pool: &PgPool,
    municipality_code: &str,
    raw: &RawOrganization,
    author: ChangeAuthor<'_>,
) -> ServiceResult<OrganizationRow> {
    let mut violations = Violations::new();
    let code = violations.check(
        "municipality_code",
        MunicipalityCode::parse_known(municipality_code),
    );
    let municipality = violations.into_result().map(|()| code.expect("checked"));
    let (municipality, fields) = both(municipality, raw.parse())?;
    store::create(pool, municipality.as_str(), &fields, author).await
}

pub async fn update(
    pool: &PgPool,
    id: Uuid,
    given: RawOrganization,
    mask: &FieldMask,
    expected_version: i64,
    author: ChangeAuthor<'_>,
) -> ServiceResult<OrganizationRow> {
    let mut tx = pool.begin().await?;
    let current = store::lock_for_change(&mut tx, id).await?;
    check_version("事業主体", expected_version, current.version)?;
    let mut merged = RawOrganization::from_fields(&current.fields());
    overlay(&mut merged, given, mask);
    let fields = merged.parse()?;
    let updated = store::apply_change(&mut tx, &current, &fields, author).await?;
    tx.commit().await?;
    Ok(updated.unwrap_or(current))
}
