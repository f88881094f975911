//! Organisation RPCs: proto ↔ domain conversion and the calls into `crate::organization`.

use sqlx::PgPool;
use tonic::Status;
use tsunagu_proto::registry::v1 as pb;
use tsunagu_runtime::error::{ServiceError, Violations};
use tsunagu_runtime::grpc::{Page, parse_id, timestamp};
use tsunagu_runtime::tenant::MunicipalityCode;

use super::resources::change_to_proto;
use super::text_or;
use crate::contact::ContactKind;
use crate::field_mask::FieldMask;
use crate::history::{self, ChangeAuthor, EntityKind};
use crate::organization::input::RawOrganization;
use crate::organization::store::{self as organization_store, OrganizationFilter, OrganizationRow};
use crate::organization::{self, UPDATABLE};

pub async fn create(
    pool: &PgPool,
    request: pb::CreateOrganizationRequest,
) -> Result<pb::Organization, Status> {
    let raw = RawOrganization {
        name: request.name,
        name_kana: request.name_kana,
        kind: kind_code(request.kind),
        area_ids: request.area_ids,
        parent_organization_id: request.parent_organization_id,
        corporate_number: request.corporate_number,
        care_provider_numbers: request.care_provider_numbers,
        contact_points: contacts_from_proto(request.contact_points),
        external_id: request.external_id,
    };
    let created_by = text_or(&request.created_by, "(不明)");
    let author = ChangeAuthor {
        changed_by: &created_by,
        reason: "",
    };
    let row = organization::create(pool, &request.municipality_code, &raw, author).await?;
    tracing::info!(organization_id = %row.id, municipality_code = row.municipality_code, "organization created");
    Ok(to_proto(row))
}

pub async fn update(
    pool: &PgPool,
    request: pb::UpdateOrganizationRequest,
) -> Result<pb::Organization, Status> {
    let Some(given) = request.organization else {
        return Err(ServiceError::invalid(
            "organization",
            "organization を指定してください / organization is required",
        )
        .into());
    };
    let paths = request.update_mask.map(|mask| mask.paths).unwrap_or_default();
    let mut violations = Violations::new();
    let id = violations.absorb(parse_id("organization.id", &given.id));
    let mask = violations.absorb(FieldMask::parse(&paths, UPDATABLE));
    violations.into_result()?;
    let raw = RawOrganization {
        name: given.name,
        name_kana: given.name_kana,
        kind: kind_code(given.kind),
        area_ids: given.area_ids,
        parent_organization_id: given.parent_organization_id,
        corporate_number: given.corporate_number,
        care_provider_numbers: given.care_provider_numbers,
        contact_points: contacts_from_proto(given.contact_points),
        external_id: given.external_id,
    };
    let changed_by = text_or(&request.changed_by, "(不明)");
    let reason = tsunagu_runtime::text::nfkc(&request.reason).trim().to_string();
    let author = ChangeAuthor {
        changed_by: &changed_by,
        reason: &reason,
    };
    let row = organization::update(
        pool,
        id.expect("checked"),
        raw,
        &mask.expect("checked"),
        request.expected_version,
        author,
    )
    .await
    .map_err(|error| error.prefixed("organization."))?;
    tracing::info!(organization_id = %row.id, version = row.version, "organization updated");
    Ok(to_proto(row))
}

pub async fn delete(
    pool: &PgPool,
    request: pb::DeleteOrganizationRequest,
) -> Result<pb::Organization, Status> {
    let mut violations = Violations::new();
    let id = violations.absorb(parse_id("id", &request.id));
    let reason = tsunagu_runtime::text::normalised_non_empty(&request.reason);
    if reason.is_none() {
        violations.add(
            "reason",
            "削除の理由を入力してください（例: 解散のため） / reason is required",
        );
    }
    violations.into_result()?;
    let deleted_by = text_or(&request.deleted_by, "(不明)");
    let reason = reason.expect("checked");
    let author = ChangeAuthor {
        changed_by: &deleted_by,
        reason: &reason,
    };
    let row =
        organization_store::delete(pool, id.expect("checked"), request.expected_version, author).await?;
    tracing::info!(organization_id = %row.id, "organization deleted");
    Ok(to_proto(row))
}

pub async fn list(
    pool: &PgPool,
    request: pb::ListOrganizationsRequest,
) -> Result<pb::ListOrganizationsResponse, Status> {
    let mut violations = Violations::new();
    let municipality_code = match request.municipality_code.trim() {
        "" => None,
        code => violations.check("municipality_code", MunicipalityCode::parse_known(code)),
    };
    let area_id = match request.area_id.trim() {
        "" => None,
        id => violations.absorb(parse_id("area_id", id)),
    };
    if request.municipality_code.trim().is_empty() && request.area_id.trim().is_empty() {
        violations.add(
            "municipality_code",
            "municipality_code か area_id のどちらかを指定してください / give municipality_code or area_id",
        );
    }
    let parent_organization_id = match request.parent_organization_id.trim() {
        "" => None,
        id => violations.absorb(parse_id("parent_organization_id", id)),
    };
    let modified_after = request.modified_after.and_then(|at| {
        violations.check(
            "modified_after",
            chrono::DateTime::from_timestamp(at.seconds, at.nanos.max(0) as u32)
                .ok_or("日時が範囲外です / time out of range"),
        )
    });
    let page = violations.absorb(Page::from_request(request.page));
    violations.into_result()?;
    let non_empty = |value: &str| {
        let value = tsunagu_runtime::text::nfkc(value).trim().to_string();
        (!value.is_empty()).then_some(value)
    };
    let filter = OrganizationFilter {
        municipality_code: municipality_code.map(|code| code.as_str().to_string()),
        area_id,
        kind: kind_code(request.kind),
        text: non_empty(&request.text),
        modified_after,
        include_deleted: request.include_deleted,
        parent_organization_id,
        corporate_number: non_empty(&request.corporate_number),
        care_provider_number: non_empty(&request.care_provider_number),
    };
    let page = page.expect("checked");
    let rows = organization_store::list(pool, &filter, page).await?;
    let next_page_token = page.next_token_after(&rows, |row| row.id);
    Ok(pb::ListOrganizationsResponse {
        organizations: rows.into_iter().map(to_proto).collect(),
        next_page_token,
    })
}

pub async fn batch_get(
    pool: &PgPool,
    request: pb::BatchGetOrganizationsRequest,
) -> Result<Vec<pb::Organization>, Status> {
    let ids = crate::batch::parse_ids(&request.ids)?;
    Ok(organization_store::batch_get(pool, &ids)
        .await?
        .into_iter()
        .map(to_proto)
        .collect())
}

pub async fn history(
    pool: &PgPool,
    request: pb::ListOrganizationHistoryRequest,
) -> Result<pb::ListOrganizationHistoryResponse, Status> {
    let mut violations = Violations::new();
    let id = violations.absorb(parse_id("organization_id", &request.organization_id));
    let page = violations.absorb(Page::from_request(request.page));
    violations.into_result()?;
    let (id, page) = (id.expect("checked"), page.expect("checked"));
    organization_store::get(pool, id).await?;
    let rows = history::list(pool, EntityKind::Organization, id, page).await?;
    let next_page_token = page.next_token_after(&rows, |row| row.id);
    Ok(pb::ListOrganizationHistoryResponse {
        changes: rows.into_iter().map(change_to_proto).collect(),
        next_page_token,
    })
}

/// The stored code of a proto kind (`ORGANIZATION_KIND_NPO` → `npo`); `None` if unspecified.
pub fn kind_code(kind: i32) -> Option<String> {
    let kind = pb::OrganizationKind::try_from(kind)
        .ok()
        .filter(|k| *k != pb::OrganizationKind::Unspecified)?;
    let name = kind.as_str_name();
    Some(
        name.strip_prefix("ORGANIZATION_KIND_")
            .unwrap_or(name)
            .to_ascii_lowercase(),
    )
}

fn kind_from_code(code: &str) -> pb::OrganizationKind {
    pb::OrganizationKind::from_str_name(&format!("ORGANIZATION_KIND_{}", code.to_ascii_uppercase()))
        .unwrap_or(pb::OrganizationKind::Unspecified)
}

fn contacts_from_proto(contacts: Vec<pb::ContactPoint>) -> Vec<(Option<ContactKind>, String, String)> {
    contacts
        .into_iter()
        .map(|contact| {
            (
                contact_kind_from_proto(contact.kind),
                contact.value,
                contact.label,
            )
        })
        .collect()
}

fn contact_kind_from_proto(kind: i32) -> Option<ContactKind> {
    match pb::ContactKind::try_from(kind).ok()? {
        pb::ContactKind::Phone => Some(ContactKind::Phone),
        pb::ContactKind::Fax => Some(ContactKind::Fax),
        pb::ContactKind::Email => Some(ContactKind::Email),
        pb::ContactKind::Url => Some(ContactKind::Url),
        pb::ContactKind::Address => Some(ContactKind::Address),
        pb::ContactKind::Unspecified => None,
    }
}

fn contact_kind_to_proto(kind: ContactKind) -> pb::ContactKind {
    match kind {
        ContactKind::Phone => pb::ContactKind::Phone,
        ContactKind::Fax => pb::ContactKind::Fax,
        ContactKind::Email => pb::ContactKind::Email,
        ContactKind::Url => pb::ContactKind::Url,
        ContactKind::Address => pb::ContactKind::Address,
    }
}

pub fn to_proto(row: OrganizationRow) -> pb::Organization {
    pb::Organization {
        id: row.id.to_string(),
        municipality_code: row.municipality_code,
        name: row.name,
        name_kana: row.name_kana,
        kind: kind_from_code(&row.kind).into(),
        area_ids: row.area_ids.iter().map(ToString::to_string).collect(),
        created_at: Some(timestamp(row.created_at)),
        parent_organization_id: row
            .parent_organization_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        corporate_number: row.corporate_number.unwrap_or_default(),
        care_provider_numbers: row.care_provider_numbers,
        contact_points: row
            .contact_points
            .0
            .into_iter()
            .map(|contact| pb::ContactPoint {
                kind: contact_kind_to_proto(contact.kind).into(),
                value: contact.value,
                label: contact.label,
            })
            .collect(),
        version: row.version,
        updated_at: Some(timestamp(row.updated_at)),
        deletion: row.deleted_at.map(|deleted_at| pb::Deletion {
            deleted_at: Some(timestamp(deleted_at)),
            reason: row.deleted_reason.unwrap_or_default(),
            deleted_by: row.deleted_by.unwrap_or_default(),
        }),
        external_id: row.external_id.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_proto_kind_has_a_sheet_label_and_back() {
        let codes: Vec<String> = (1..100).filter_map(kind_code).collect();
        assert_eq!(codes.len(), organization::KINDS.len());
        for code in &codes {
            assert!(organization::kind_label(code).is_some(), "{code} has no label");
            assert_ne!(kind_from_code(code), pb::OrganizationKind::Unspecified);
        }
    }
}
