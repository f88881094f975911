//! Organisation storage. Every write runs in one transaction with its history rows and its
//! outbox event (`organization.created` / `organization.updated` / `organization.deleted`).

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use tsunagu_runtime::error::{ServiceError, ServiceResult};
use tsunagu_runtime::events::{self, OrganizationCreated, RegistryChange};
use tsunagu_runtime::grpc::Page;
use tsunagu_runtime::outbox;
use tsunagu_runtime::text::search_fold;
use uuid::Uuid;

use super::input::OrganizationFields;
use crate::contact::ContactPoint;
use crate::history::{self, ChangeAuthor, EntityKind, FieldChange, WHOLE_ENTITY};
use crate::store::check_areas_exist;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrganizationRow {
    pub id: Uuid,
    pub municipality_code: String,
    pub name: String,
    pub name_kana: String,
    pub kind: String,
    pub area_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub parent_organization_id: Option<Uuid>,
    pub corporate_number: Option<String>,
    pub care_provider_numbers: Vec<String>,
    pub contact_points: Json<Vec<ContactPoint>>,
    pub external_id: Option<String>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub deleted_reason: Option<String>,
    pub deleted_by: Option<String>,
}

impl OrganizationRow {
    pub fn fields(&self) -> OrganizationFields {
        OrganizationFields {
            name: self.name.clone(),
            name_kana: self.name_kana.clone(),
            kind: self.kind.clone(),
            area_ids: self.area_ids.clone(),
            parent_organization_id: self.parent_organization_id,
            corporate_number: self.corporate_number.clone(),
            care_provider_numbers: self.care_provider_numbers.clone(),
            contact_points: self.contact_points.0.clone(),
            external_id: self.external_id.clone(),
        }
    }

    fn change(&self) -> RegistryChange {
        RegistryChange {
            entity_id: self.id,
            municipality_code: self.municipality_code.clone(),
            version: self.version,
            organization_id: None,
        }
    }
}

const SELECT_ORGANIZATION: &str =
    "SELECT o.id, o.municipality_code, o.name, o.name_kana, o.kind, o.created_at,
        o.updated_at, o.version, o.parent_organization_id, o.corporate_number, o.care_provider_numbers,
        o.contact_points, o.external_id, o.deleted_at, o.deleted_reason, o.deleted_by,
        COALESCE((SELECT array_agg(oa.area_id ORDER BY oa.area_id) FROM organization_area oa
                  WHERE oa.organization_id = o.id), '{}') AS area_ids
     FROM organization o";

async fn check_references(
    tx: &mut PgConnection,
    id: Option<Uuid>,
    municipality_code: &str,
    fields: &OrganizationFields,
) -> ServiceResult<()> {
    check_areas_exist(tx, "area_ids", &fields.area_ids).await?;
    let Some(parent_id) = fields.parent_organization_id else {
        return Ok(());
    };
    if Some(parent_id) == id {
        return Err(ServiceError::invalid(
            "parent_organization_id",
            "自分自身を親団体にはできません / an organization cannot be its own parent",
        ));
    }
    // The parent must exist, be live, and not lie below this organisation (no cycles).
    let (parent_municipality, cycle): (Option<String>, bool) = sqlx::query_as(
        "WITH RECURSIVE up AS (
             SELECT id, parent_organization_id FROM organization WHERE id = $1
             UNION ALL
             SELECT o.id, o.parent_organization_id FROM organization o JOIN up ON o.id = up.parent_organization_id)
         SELECT (SELECT municipality_code FROM organization WHERE id = $1 AND deleted_at IS NULL),
                $2::uuid IS NOT NULL AND EXISTS (SELECT 1 FROM up WHERE id = $2)",
    )
    .bind(parent_id)
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let Some(parent_municipality) = parent_municipality else {
        return Err(ServiceError::invalid(
            "parent_organization_id",
            format!("親団体 {parent_id} は登録されていません / parent organization not found"),
        ));
    };
    if !crate::authz::same_community(municipality_code, &parent_municipality) {
        return Err(ServiceError::invalid(
            "parent_organization_id",
            format!(
                "親団体は {parent_municipality} の団体です。同じ市区町村か都道府県の団体を指定してください / the parent belongs to another municipality"
            ),
        ));
    }
    if cycle {
        return Err(ServiceError::invalid(
            "parent_organization_id",
            "親子関係が循環します（親団体がこの団体の下にあります） / the parent lies below this organization",
        ));
    }
    Ok(())
}

async fn write_columns(tx: &mut PgConnection, id: Uuid, fields: &OrganizationFields) -> ServiceResult<()> {
    let result = sqlx::query(
        "UPDATE organization SET name = $2, name_kana = $3, kind = $4, parent_organization_id = $5,
                corporate_number = $6, care_provider_numbers = $7, contact_points = $8, external_id = $9
         WHERE id = $1",
    )
    .bind(id)
    .bind(&fields.name)
    .bind(&fields.name_kana)
    .bind(&fields.kind)
    .bind(fields.parent_organization_id)
    .bind(&fields.corporate_number)
    .bind(&fields.care_provider_numbers)
    .bind(Json(&fields.contact_points))
    .bind(&fields.external_id)
    .execute(&mut *tx)
    .await;
    if let Err(error) = &result
        && error
            .as_database_error()
            .and_then(|e| e.code())
            .is_some_and(|code| code == "23505")
    {
        return Err(ServiceError::AlreadyExists(format!(
            "外部ID {:?} の事業主体は既に登録されています / an organization with this external_id exists",
            fields.external_id.as_deref().unwrap_or_default()
        )));
    }
    result?;
    sqlx::query("DELETE FROM organization_area WHERE organization_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO organization_area (organization_id, area_id) SELECT $1, unnest($2::uuid[])")
        .bind(id)
        .bind(&fields.area_ids)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn fetch(conn: &mut PgConnection, id: Uuid) -> ServiceResult<OrganizationRow> {
    lock_or_fetch(conn, id, "")
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("事業主体 {id}")))
}

async fn lock_or_fetch(
    conn: &mut PgConnection,
    id: Uuid,
    suffix: &str,
) -> ServiceResult<Option<OrganizationRow>> {
    Ok(sqlx::query_as::<_, OrganizationRow>(sqlx::AssertSqlSafe(format!(
        "{SELECT_ORGANIZATION} WHERE o.id = $1 {suffix}"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn insert(
    tx: &mut PgConnection,
    municipality_code: &str,
    fields: &OrganizationFields,
    author: ChangeAuthor<'_>,
) -> ServiceResult<OrganizationRow> {
    check_references(tx, None, municipality_code, fields).await?;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO organization (id, municipality_code, name, kind, updated_by) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(municipality_code)
    .bind(&fields.name)
    .bind(&fields.kind)
    .bind(author.changed_by)
    .execute(&mut *tx)
    .await?;
    write_columns(tx, id, fields).await?;
    let row = fetch(tx, id).await?;
    let creation = FieldChange {
        field: WHOLE_ENTITY.into(),
        old_value: None,
        new_value: Some(serde_json::Value::Object(fields.snapshot())),
    };
    history::record(tx, EntityKind::Organization, id, row.version, author, &[creation]).await?;
    let event = OrganizationCreated {
        organization_id: id,
        municipality_code: row.municipality_code.clone(),
        name: row.name.clone(),
        kind: row.kind.clone(),
        area_ids: row.area_ids.clone(),
        parent_organization_id: row.parent_organization_id,
    };
    outbox::enqueue(tx, events::ORGANIZATION_CREATED, &row.municipality_code, &event).await?;
    Ok(row)
}

pub async fn create(
    pool: &PgPool,
    municipality_code: &str,
    fields: &OrganizationFields,
    author: ChangeAuthor<'_>,
) -> ServiceResult<OrganizationRow> {
    let mut tx = pool.begin().await?;
    let row = insert(&mut tx, municipality_code, fields, author).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn lock_for_change(tx: &mut PgConnection, id: Uuid) -> ServiceResult<OrganizationRow> {
    let row = lock_or_fetch(tx, id, "FOR UPDATE OF o")
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("事業主体 {id}")))?;
    if row.deleted_at.is_some() {
        return Err(ServiceError::FailedPrecondition(format!(
            "事業主体 {id} は削除されています（理由: {}） / the organization is deleted",
            row.deleted_reason.as_deref().unwrap_or_default()
        )));
    }
    Ok(row)
}

/// Locks the organisation, deleted or not, for an import that decides what to do with it.
pub async fn lock(tx: &mut PgConnection, id: Uuid) -> ServiceResult<Option<OrganizationRow>> {
    lock_or_fetch(tx, id, "FOR UPDATE OF o").await
}

/// The organisation of the municipality with this external id (deleted ones included: the id
/// stays taken), locked for an upsert.
pub async fn lock_by_external_id(
    tx: &mut PgConnection,
    municipality_code: &str,
    external_id: &str,
) -> ServiceResult<Option<OrganizationRow>> {
    Ok(sqlx::query_as::<_, OrganizationRow>(sqlx::AssertSqlSafe(format!(
        "{SELECT_ORGANIZATION} WHERE o.municipality_code = $1 AND o.external_id = $2 FOR UPDATE OF o"
    )))
    .bind(municipality_code)
    .bind(external_id)
    .fetch_optional(&mut *tx)
    .await?)
}

/// Replaces a locked organisation's fields; `None` when nothing differs.
pub async fn apply_change(
    tx: &mut PgConnection,
    current: &OrganizationRow,
    fields: &OrganizationFields,
    author: ChangeAuthor<'_>,
) -> ServiceResult<Option<OrganizationRow>> {
    let changes = history::diff(&current.fields().snapshot(), &fields.snapshot());
    if changes.is_empty() {
        return Ok(None);
    }
    check_references(tx, Some(current.id), &current.municipality_code, fields).await?;
    write_columns(tx, current.id, fields).await?;
    sqlx::query(
        "UPDATE organization SET version = version + 1, updated_at = now(), updated_by = $2 WHERE id = $1",
    )
    .bind(current.id)
    .bind(author.changed_by)
    .execute(&mut *tx)
    .await?;
    let row = fetch(tx, current.id).await?;
    history::record(
        tx,
        EntityKind::Organization,
        row.id,
        row.version,
        author,
        &changes,
    )
    .await?;
    outbox::enqueue(
        tx,
        events::ORGANIZATION_UPDATED,
        &row.municipality_code,
        &row.change(),
    )
    .await?;
    Ok(Some(row))
}

/// Soft delete. Refused while live resources or child organisations depend on it, so nothing
/// is left pointing at a deleted organisation.
pub async fn delete(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
    author: ChangeAuthor<'_>,
) -> ServiceResult<OrganizationRow> {
    let mut tx = pool.begin().await?;
    let current = lock_for_change(&mut tx, id).await?;
    crate::field_mask::check_version("事業主体", expected_version, current.version)?;
    let (resources, children): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM resource WHERE organization_id = $1 AND deleted_at IS NULL),
                (SELECT count(*) FROM organization WHERE parent_organization_id = $1 AND deleted_at IS NULL)",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if resources > 0 || children > 0 {
        return Err(ServiceError::FailedPrecondition(format!(
            "この事業主体には地域資源が{resources}件、下部団体が{children}件あります。先にそれらを削除するか移してください / \
             live resources or child organizations depend on it"
        )));
    }
    sqlx::query(
        "UPDATE organization SET version = version + 1, deleted_at = now(), deleted_reason = $2, deleted_by = $3
         WHERE id = $1",
    )
    .bind(id)
    .bind(author.reason)
    .bind(author.changed_by)
    .execute(&mut *tx)
    .await?;
    let row = fetch(&mut tx, id).await?;
    let deletion = FieldChange {
        field: WHOLE_ENTITY.into(),
        old_value: Some(serde_json::Value::Object(current.fields().snapshot())),
        new_value: None,
    };
    history::record(
        &mut tx,
        EntityKind::Organization,
        id,
        row.version,
        author,
        &[deletion],
    )
    .await?;
    outbox::enqueue(
        &mut tx,
        events::ORGANIZATION_DELETED,
        &row.municipality_code,
        &row.change(),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn get(pool: &PgPool, id: Uuid) -> ServiceResult<OrganizationRow> {
    let mut conn = pool.acquire().await?;
    fetch(&mut conn, id).await
}

pub async fn batch_get(pool: &PgPool, ids: &[Uuid]) -> ServiceResult<Vec<OrganizationRow>> {
    let found = sqlx::query_as::<_, OrganizationRow>(sqlx::AssertSqlSafe(format!(
        "{SELECT_ORGANIZATION} WHERE o.id = ANY($1)"
    )))
    .bind(ids)
    .fetch_all(pool)
    .await?;
    crate::batch::in_request_order("事業主体", ids, found, |row| row.id)
}

#[derive(Debug, Clone, Default)]
pub struct OrganizationFilter {
    pub municipality_code: Option<String>,
    /// Active in any part of the area: an activity area inside it, or containing it.
    pub area_id: Option<Uuid>,
    pub kind: Option<String>,
    pub text: Option<String>,
    pub modified_after: Option<DateTime<Utc>>,
    pub include_deleted: bool,
    pub parent_organization_id: Option<Uuid>,
    pub corporate_number: Option<String>,
    pub care_provider_number: Option<String>,
}

pub async fn list(
    pool: &PgPool,
    filter: &OrganizationFilter,
    page: Page,
) -> ServiceResult<Vec<OrganizationRow>> {
    let patterns: Option<Vec<String>> = filter.text.as_deref().map(|text| {
        text.split_whitespace()
            .map(|word| {
                let folded = search_fold(word)
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                format!("%{folded}%")
            })
            .collect()
    });
    Ok(sqlx::query_as::<_, OrganizationRow>(sqlx::AssertSqlSafe(format!(
        "WITH RECURSIVE below AS (
             SELECT id FROM area WHERE id = $2
             UNION ALL SELECT a.id FROM area a JOIN below b ON a.parent_id = b.id),
         above AS (
             SELECT id, parent_id FROM area WHERE id = $2
             UNION ALL SELECT a.id, a.parent_id FROM area a JOIN above ab ON a.id = ab.parent_id)
         {SELECT_ORGANIZATION}
         WHERE ($1::text IS NULL OR o.municipality_code = $1)
           AND ($2::uuid IS NULL OR EXISTS (
                 SELECT 1 FROM organization_area oa WHERE oa.organization_id = o.id
                   AND (oa.area_id IN (SELECT id FROM below) OR oa.area_id IN (SELECT id FROM above))))
           AND ($3::text IS NULL OR o.kind = $3)
           AND ($4::text[] IS NULL OR NOT EXISTS (
                 SELECT 1 FROM unnest($4::text[]) AS w(pattern) WHERE o.search_key NOT LIKE w.pattern ESCAPE '\\'))
           AND ($5::timestamptz IS NULL OR o.updated_at > $5)
           AND ($6 OR o.deleted_at IS NULL)
           AND ($7::uuid IS NULL OR o.parent_organization_id = $7)
           AND ($8::text IS NULL OR o.corporate_number = $8)
           AND ($9::text IS NULL OR $9 = ANY(o.care_provider_numbers))
           AND ($10::uuid IS NULL OR o.id > $10)
         ORDER BY o.id LIMIT $11"
    )))
    .bind(&filter.municipality_code)
    .bind(filter.area_id)
    .bind(&filter.kind)
    .bind(&patterns)
    .bind(filter.modified_after)
    .bind(filter.include_deleted)
    .bind(filter.parent_organization_id)
    .bind(&filter.corporate_number)
    .bind(&filter.care_provider_number)
    .bind(page.after)
    .bind(i64::from(page.size))
    .fetch_all(pool)
    .await?)
}

/// The live organisation that lists this 介護保険事業所番号, locked for an upsert.
pub async fn lock_by_care_provider_number(
    tx: &mut PgConnection,
    number: &str,
) -> ServiceResult<Option<OrganizationRow>> {
    Ok(sqlx::query_as::<_, OrganizationRow>(sqlx::AssertSqlSafe(format!(
        "{SELECT_ORGANIZATION} WHERE $1 = ANY(o.care_provider_numbers) AND o.deleted_at IS NULL
         ORDER BY o.id LIMIT 1 FOR UPDATE OF o"
    )))
    .bind(number)
    .fetch_optional(&mut *tx)
    .await?)
}
