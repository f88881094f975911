//! Resources (地域資源), modelled after Open Referral HSDS 3.x where it fits.
//!
//! - `model`: the validated state and its vocabularies (kind, status, eligibility, fee …);
//! - `input`: what callers send, parsed into the model with every bad field named;
//! - `store`: SQL, each write with its history rows and outbox event;
//! - `overdue`: the sweep that announces resources overdue for verification;
//! - this module: the operations that tie them together (create, masked update).

pub mod input;
pub mod matching_terms;
pub mod model;
pub mod overdue;
pub mod store;

use sqlx::PgPool;
use tsunagu_runtime::error::{ServiceResult, Violations, both};
use tsunagu_runtime::tenant::MunicipalityCode;
use uuid::Uuid;

use crate::categories::CategoryIndex;
use crate::field_mask::{FieldMask, check_version};
use crate::history::ChangeAuthor;
use input::RawResource;
use store::ResourceRecord;

/// The fields an `UpdateResource` mask may name.
pub const UPDATABLE: &[&str] = &[
    "organization_id",
    "name",
    "name_kana",
    "description",
    "category",
    "kind",
    "coverage_area_ids",
    "capacity",
    "fee",
    "eligibility",
    "min_age",
    "max_age",
    "capabilities",
    "schedules",
    "status",
    "status_note",
    "location",
    "external_id",
    "url",
];

/// Replaces the masked fields of `base` with those of `given`.
pub fn overlay(base: &mut RawResource, given: RawResource, mask: &FieldMask) {
    for field in mask.fields() {
        match field {
            "organization_id" => base.organization_id = given.organization_id.clone(),
            "name" => base.name = given.name.clone(),
            "name_kana" => base.name_kana = given.name_kana.clone(),
            "description" => base.description = given.description.clone(),
            "category" => base.category = given.category.clone(),
            "kind" => base.kind = given.kind,
            "coverage_area_ids" => base.coverage_area_ids = given.coverage_area_ids.clone(),
            "capacity" => base.capacity = given.capacity.clone(),
            "fee" => base.fee = given.fee.clone(),
            "eligibility" => base.eligibility = given.eligibility.clone(),
            "min_age" => base.min_age = given.min_age,
            "max_age" => base.max_age = given.max_age,
            "capabilities" => base.capabilities = given.capabilities.clone(),
            "schedules" => base.schedules = given.schedules.clone(),
            "status" => base.status = given.status,
            "status_note" => base.status_note = given.status_note.clone(),
            "location" => base.location = given.location.clone(),
            "external_id" => base.external_id = given.external_id.clone(),
            "url" => base.url = given.url.clone(),
            other => unreachable!("{other} is in UPDATABLE but not overlaid"),
        }
    }
}

pub async fn create(
    pool: &PgPool,
    municipality_code: &str,
    raw: &RawResource,
    author: ChangeAuthor<'_>,
) -> ServiceResult<ResourceRecord> {
    let mut violations = Violations::new();
    let code = violations.check(
        "municipality_code",
        MunicipalityCode::parse_known(municipality_code),
    );
    let municipality = violations.into_result().map(|()| code.expect("checked"));
    let categories = {
        let mut conn = pool.acquire().await?;
        CategoryIndex::load(&mut conn, Some(municipality_code.trim())).await?
    };
    let (municipality, fields) = both(municipality, raw.parse(&categories))?;
    store::create(pool, municipality.as_str(), &fields, author).await
}

/// Applies the masked fields of `given` to the stored resource, validating the result as a
/// whole. Returns the stored resource unchanged when nothing differs.
pub async fn update(
    pool: &PgPool,
    id: Uuid,
    given: RawResource,
    mask: &FieldMask,
    expected_version: i64,
    author: ChangeAuthor<'_>,
) -> ServiceResult<ResourceRecord> {
    let mut tx = pool.begin().await?;
    let current = store::lock_for_change(&mut tx, id).await?;
    check_version("地域資源", expected_version, current.version)?;
    let categories = CategoryIndex::load(&mut tx, Some(&current.municipality_code)).await?;
    let mut merged = RawResource::from_fields(&current.fields);
    overlay(&mut merged, given, mask);
    let fields = merged.parse(&categories)?;
    let (record, _) = store::apply_change(&mut tx, &current, &fields, author).await?;
    tx.commit().await?;
    Ok(record)
}
