//! Resource storage. Every write runs in one transaction with its history rows and its
//! outbox event (`resource.created` / `resource.updated` / `resource.deleted`).

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use tsunagu_runtime::error::{ServiceError, ServiceResult};
use tsunagu_runtime::events::{self, ResourceChanged};
use tsunagu_runtime::grpc::Page;
use tsunagu_runtime::outbox;
use tsunagu_runtime::text::search_fold;
use uuid::Uuid;

use super::model::{Eligibility, ResourceFields, ResourceKind, ResourceStatus};
use crate::history::{self, ChangeAuthor, EntityKind, FieldChange, WHOLE_ENTITY};
use crate::store::check_areas_exist;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ResourceRecord {
    pub id: Uuid,
    pub municipality_code: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub capacity_updated_at: DateTime<Utc>,
    pub verified_at: Option<DateTime<Utc>>,
    pub verified_by: Option<String>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub deleted_reason: Option<String>,
    pub deleted_by: Option<String>,
    #[sqlx(rename = "details")]
    pub fields: Json<ResourceFields>,
}

impl ResourceRecord {
    fn changed_event(&self) -> ResourceChanged {
        ResourceChanged {
            resource_id: self.id,
            municipality_code: self.municipality_code.clone(),
            version: self.version,
            organization_id: self.fields.organization_id,
            category: self.fields.category.clone(),
            coverage_area_ids: self.fields.coverage_area_ids.clone(),
            capacity: match self.fields.capacity.maximum {
                0 => u32::MAX,
                maximum => maximum,
            },
            accepting: self.deleted_at.is_none() && self.fields.accepting(),
            terms: Some(super::matching_terms::terms(
                &self.fields,
                crate::community::common::today_in_japan(),
            )),
        }
    }
}

const SELECT_RESOURCE: &str = "SELECT r.id, r.municipality_code, r.version, r.created_at, r.updated_at,
        r.capacity_updated_at, r.verified_at, r.verified_by, r.deleted_at, r.deleted_reason, r.deleted_by,
        r.details
     FROM resource r";

/// Checks what only the database knows: the organisation exists in the resource's community
/// (its municipality, or its prefecture), and the coverage areas exist (they may lie across
/// the border: that is how a neighbour's provider serves an area).
async fn check_references(
    tx: &mut PgConnection,
    municipality_code: &str,
    fields: &ResourceFields,
) -> ServiceResult<()> {
    let organization_municipality: Option<String> =
        sqlx::query_scalar("SELECT municipality_code FROM organization WHERE id = $1 AND deleted_at IS NULL")
            .bind(fields.organization_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(organization_municipality) = organization_municipality else {
        return Err(ServiceError::invalid(
            "organization_id",
            format!(
                "事業主体 {} は登録されていません / organization not found",
                fields.organization_id
            ),
        ));
    };
    if !crate::authz::same_community(municipality_code, &organization_municipality) {
        return Err(ServiceError::invalid(
            "organization_id",
            format!(
                "事業主体は {organization_municipality} の団体です。同じ市区町村か都道府県の事業主体を指定してください（他の市区町村の区域は coverage_area_ids で担えます） / the organization belongs to another municipality"
            ),
        ));
    }
    check_areas_exist(tx, "coverage_area_ids", &fields.coverage_area_ids).await
}

/// Writes the columns lists filter on and the coverage rows from `fields`.
async fn write_columns(tx: &mut PgConnection, id: Uuid, fields: &ResourceFields) -> ServiceResult<()> {
    let eligibility: Vec<&str> = fields.eligibility.iter().map(|e| e.as_str()).collect();
    let capacity = i32::try_from(fields.capacity.maximum).unwrap_or(i32::MAX);
    let result = sqlx::query(
        "UPDATE resource SET organization_id = $2, name = $3, name_kana = $4, category = $5, capacity = $6,
                kind = $7, status = $8, eligibility = $9, external_id = $10, details = $11
         WHERE id = $1",
    )
    .bind(id)
    .bind(fields.organization_id)
    .bind(&fields.name)
    .bind(&fields.name_kana)
    .bind(&fields.category)
    .bind(capacity)
    .bind(fields.kind.as_str())
    .bind(fields.status.as_str())
    .bind(&eligibility)
    .bind(&fields.external_id)
    .bind(Json(fields))
    .execute(&mut *tx)
    .await;
    if let Err(error) = &result
        && is_unique_violation(error)
    {
        return Err(ServiceError::AlreadyExists(format!(
            "外部ID {:?} の地域資源は既に登録されています / a resource with this external_id exists",
            fields.external_id.as_deref().unwrap_or_default()
        )));
    }
    result?;
    sqlx::query("DELETE FROM resource_coverage WHERE resource_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO resource_coverage (resource_id, area_id) SELECT $1, unnest($2::uuid[])")
        .bind(id)
        .bind(&fields.coverage_area_ids)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "23505")
}

/// Creates a resource in the caller's transaction (an import writes many in one).
pub async fn insert(
    tx: &mut PgConnection,
    municipality_code: &str,
    fields: &ResourceFields,
    author: ChangeAuthor<'_>,
) -> ServiceResult<ResourceRecord> {
    check_references(tx, municipality_code, fields).await?;
    // One INSERT with every column, returning the row: a resource is written once, not
    // inserted and then updated (the import benchmark showed the double write).
    let id = Uuid::now_v7();
    let eligibility: Vec<&str> = fields.eligibility.iter().map(|e| e.as_str()).collect();
    let capacity = i32::try_from(fields.capacity.maximum).unwrap_or(i32::MAX);
    let inserted = sqlx::query_as::<_, ResourceRecord>(
        "INSERT INTO resource (id, municipality_code, organization_id, name, name_kana, category, capacity, kind,
                               status, eligibility, external_id, details, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         RETURNING id, municipality_code, version, created_at, updated_at, capacity_updated_at, verified_at,
                   verified_by, deleted_at, deleted_reason, deleted_by, details",
    )
    .bind(id)
    .bind(municipality_code)
    .bind(fields.organization_id)
    .bind(&fields.name)
    .bind(&fields.name_kana)
    .bind(&fields.category)
    .bind(capacity)
    .bind(fields.kind.as_str())
    .bind(fields.status.as_str())
    .bind(&eligibility)
    .bind(&fields.external_id)
    .bind(Json(fields))
    .bind(author.changed_by)
    .fetch_one(&mut *tx)
    .await;
    let record = match inserted {
        Ok(record) => record,
        Err(error) if is_unique_violation(&error) => {
            return Err(ServiceError::AlreadyExists(format!(
                "外部ID {:?} の地域資源は既に登録されています / a resource with this external_id exists",
                fields.external_id.as_deref().unwrap_or_default()
            )));
        }
        Err(error) => return Err(error.into()),
    };
    sqlx::query("INSERT INTO resource_coverage (resource_id, area_id) SELECT $1, unnest($2::uuid[])")
        .bind(id)
        .bind(&fields.coverage_area_ids)
        .execute(&mut *tx)
        .await?;
    let creation = FieldChange {
        field: WHOLE_ENTITY.into(),
        old_value: None,
        new_value: Some(serde_json::Value::Object(fields.snapshot())),
    };
    history::record(tx, EntityKind::Resource, id, record.version, author, &[creation]).await?;
    publish(tx, events::RESOURCE_CREATED, &record).await?;
    Ok(record)
}

pub async fn create(
    pool: &PgPool,
    municipality_code: &str,
    fields: &ResourceFields,
    author: ChangeAuthor<'_>,
) -> ServiceResult<ResourceRecord> {
    let mut tx = pool.begin().await?;
    let record = insert(&mut tx, municipality_code, fields, author).await?;
    tx.commit().await?;
    Ok(record)
}

async fn publish(tx: &mut PgConnection, event_type: &str, record: &ResourceRecord) -> ServiceResult<()> {
    outbox::enqueue(tx, event_type, &record.municipality_code, &record.changed_event()).await?;
    Ok(())
}

async fn fetch(conn: &mut PgConnection, id: Uuid) -> ServiceResult<ResourceRecord> {
    sqlx::query_as::<_, ResourceRecord>(sqlx::AssertSqlSafe(format!("{SELECT_RESOURCE} WHERE r.id = $1")))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("地域資源 {id}")))
}

/// Locks the resource, deleted or not; `None` if there is none.
pub async fn lock(tx: &mut PgConnection, id: Uuid) -> ServiceResult<Option<ResourceRecord>> {
    Ok(sqlx::query_as::<_, ResourceRecord>(sqlx::AssertSqlSafe(format!(
        "{SELECT_RESOURCE} WHERE r.id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?)
}

/// Locks the resource for a change, refusing a deleted one.
pub async fn lock_for_change(tx: &mut PgConnection, id: Uuid) -> ServiceResult<ResourceRecord> {
    let record = lock(tx, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("地域資源 {id}")))?;
    if record.deleted_at.is_some() {
        return Err(ServiceError::FailedPrecondition(format!(
            "地域資源 {id} は削除されています（理由: {}） / the resource is deleted",
            record.deleted_reason.as_deref().unwrap_or_default()
        )));
    }
    Ok(record)
}

/// What a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Changed,
    /// The new fields equal the stored ones: nothing written, no version, no event.
    Unchanged,
}

/// Replaces a locked resource's fields with `fields`, recording each changed field.
pub async fn apply_change(
    tx: &mut PgConnection,
    current: &ResourceRecord,
    fields: &ResourceFields,
    author: ChangeAuthor<'_>,
) -> ServiceResult<(ResourceRecord, Applied)> {
    let changes = history::diff(&current.fields.snapshot(), &fields.snapshot());
    if changes.is_empty() {
        return Ok((current.clone(), Applied::Unchanged));
    }
    check_references(tx, &current.municipality_code, fields).await?;
    write_columns(tx, current.id, fields).await?;
    let capacity_changed = current.fields.capacity.available != fields.capacity.available
        || current.fields.capacity.maximum != fields.capacity.maximum;
    sqlx::query(
        "UPDATE resource SET version = version + 1, updated_at = now(), updated_by = $2,
                capacity_updated_at = CASE WHEN $3 THEN now() ELSE capacity_updated_at END
         WHERE id = $1",
    )
    .bind(current.id)
    .bind(author.changed_by)
    .bind(capacity_changed)
    .execute(&mut *tx)
    .await?;
    let record = fetch(tx, current.id).await?;
    history::record(
        tx,
        EntityKind::Resource,
        record.id,
        record.version,
        author,
        &changes,
    )
    .await?;
    publish(tx, events::RESOURCE_UPDATED, &record).await?;
    Ok((record, Applied::Changed))
}

/// Soft delete: the row stays (readable by id, with its history); lists and matching drop it.
pub async fn delete(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
    author: ChangeAuthor<'_>,
) -> ServiceResult<ResourceRecord> {
    let mut tx = pool.begin().await?;
    let current = lock_for_change(&mut tx, id).await?;
    crate::field_mask::check_version("地域資源", expected_version, current.version)?;
    sqlx::query(
        "UPDATE resource SET version = version + 1, deleted_at = now(), deleted_reason = $2, deleted_by = $3
         WHERE id = $1",
    )
    .bind(id)
    .bind(author.reason)
    .bind(author.changed_by)
    .execute(&mut *tx)
    .await?;
    let record = fetch(&mut tx, id).await?;
    let deletion = FieldChange {
        field: WHOLE_ENTITY.into(),
        old_value: Some(serde_json::Value::Object(current.fields.snapshot())),
        new_value: None,
    };
    history::record(
        &mut tx,
        EntityKind::Resource,
        id,
        record.version,
        author,
        &[deletion],
    )
    .await?;
    publish(&mut tx, events::RESOURCE_DELETED, &record).await?;
    tx.commit().await?;
    Ok(record)
}

pub async fn get(pool: &PgPool, id: Uuid) -> ServiceResult<ResourceRecord> {
    let mut conn = pool.acquire().await?;
    fetch(&mut conn, id).await
}

/// The resources with these ids, in the order asked; NOT_FOUND names every missing id.
pub async fn batch_get(pool: &PgPool, ids: &[Uuid]) -> ServiceResult<Vec<ResourceRecord>> {
    let found = sqlx::query_as::<_, ResourceRecord>(sqlx::AssertSqlSafe(format!(
        "{SELECT_RESOURCE} WHERE r.id = ANY($1)"
    )))
    .bind(ids)
    .fetch_all(pool)
    .await?;
    crate::batch::in_request_order("地域資源", ids, found, |record| record.id)
}

/// The resource a municipality's list knows by `external_id`, locked for an upsert.
pub async fn lock_by_external_id(
    tx: &mut PgConnection,
    municipality_code: &str,
    external_id: &str,
) -> ServiceResult<Option<ResourceRecord>> {
    Ok(sqlx::query_as::<_, ResourceRecord>(sqlx::AssertSqlSafe(format!(
        "{SELECT_RESOURCE} WHERE r.municipality_code = $1 AND r.external_id = $2 FOR UPDATE"
    )))
    .bind(municipality_code)
    .bind(external_id)
    .fetch_optional(&mut *tx)
    .await?)
}

/// Filters of `list`; `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct ResourceFilter {
    pub municipality_code: Option<String>,
    /// Resources serving any part of the area: coverage inside it, or containing it.
    pub area_id: Option<Uuid>,
    /// The category and its sub-categories, already expanded.
    pub categories: Option<Vec<String>>,
    pub eligibility: Option<Eligibility>,
    pub statuses: Option<Vec<ResourceStatus>>,
    pub kind: Option<ResourceKind>,
    pub text: Option<String>,
    pub modified_after: Option<DateTime<Utc>>,
    pub include_deleted: bool,
    pub organization_id: Option<Uuid>,
}

/// The words of a text filter, folded like `search_key` and escaped for LIKE (NFKC turns a
/// full-width ％ or ＿ into a wildcard, so escaping comes after the fold).
fn like_patterns(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|word| {
            let folded = search_fold(word)
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{folded}%")
        })
        .collect()
}

pub async fn list(pool: &PgPool, filter: &ResourceFilter, page: Page) -> ServiceResult<Vec<ResourceRecord>> {
    let statuses: Option<Vec<&str>> = filter
        .statuses
        .as_ref()
        .map(|statuses| statuses.iter().map(|s| s.as_str()).collect());
    let patterns: Option<Vec<String>> = filter.text.as_deref().map(like_patterns);
    Ok(sqlx::query_as::<_, ResourceRecord>(sqlx::AssertSqlSafe(format!(
        "WITH RECURSIVE below AS (
             SELECT id FROM area WHERE id = $2
             UNION ALL SELECT a.id FROM area a JOIN below b ON a.parent_id = b.id),
         above AS (
             SELECT id, parent_id FROM area WHERE id = $2
             UNION ALL SELECT a.id, a.parent_id FROM area a JOIN above ab ON a.id = ab.parent_id)
         {SELECT_RESOURCE}
         WHERE ($1::text IS NULL OR r.municipality_code = $1)
           AND ($2::uuid IS NULL OR EXISTS (
                 SELECT 1 FROM resource_coverage c WHERE c.resource_id = r.id
                   AND (c.area_id IN (SELECT id FROM below) OR c.area_id IN (SELECT id FROM above))))
           AND ($3::text[] IS NULL OR r.category = ANY($3))
           AND ($4::text IS NULL OR cardinality(r.eligibility) = 0 OR $4 = ANY(r.eligibility))
           AND ($5::text[] IS NULL OR r.status = ANY($5))
           AND ($6::text IS NULL OR r.kind = $6)
           AND ($7::text[] IS NULL OR NOT EXISTS (
                 SELECT 1 FROM unnest($7::text[]) AS w(pattern) WHERE r.search_key NOT LIKE w.pattern ESCAPE '\\'))
           AND ($8::timestamptz IS NULL OR r.updated_at > $8)
           AND ($9 OR r.deleted_at IS NULL)
           AND ($10::uuid IS NULL OR r.organization_id = $10)
           AND ($11::uuid IS NULL OR r.id > $11)
         ORDER BY r.id LIMIT $12"
    )))
    .bind(&filter.municipality_code)
    .bind(filter.area_id)
    .bind(&filter.categories)
    .bind(filter.eligibility.map(Eligibility::as_str))
    .bind(&statuses)
    .bind(filter.kind.map(ResourceKind::as_str))
    .bind(&patterns)
    .bind(filter.modified_after)
    .bind(filter.include_deleted)
    .bind(filter.organization_id)
    .bind(page.after)
    .bind(i64::from(page.size))
    .fetch_all(pool)
    .await?)
}

/// Records a verification; the edit date and version are left alone. Emits `resource.verified`.
/// Clears the overdue mark: once this verification is stale in turn, it is announced again
/// (`overdue`).
pub async fn verify(pool: &PgPool, id: Uuid, verified_by: &str) -> ServiceResult<ResourceRecord> {
    let mut tx = pool.begin().await?;
    let current = lock_for_change(&mut tx, id).await?;
    sqlx::query(
        "UPDATE resource SET verified_at = now(), verified_by = $2, overdue_announced_at = NULL WHERE id = $1",
    )
        .bind(id)
        .bind(verified_by)
        .execute(&mut *tx)
        .await?;
    let event = events::ResourceVerified {
        resource_id: id,
        municipality_code: current.municipality_code.clone(),
    };
    outbox::enqueue(
        &mut tx,
        events::RESOURCE_VERIFIED,
        &current.municipality_code,
        &event,
    )
    .await?;
    // A verification keeps no field history (the edit date and version stay); it is a change
    // on the trail all the same.
    crate::write_audit::changed(
        &mut tx,
        "resource",
        &current.municipality_code,
        Some(id),
        "verified",
    )
    .await?;
    let record = fetch(&mut tx, id).await?;
    tx.commit().await?;
    Ok(record)
}

/// Resources of `municipality_code` verified before `cutoff`, or never: never-verified first,
/// then the oldest verification. Paged by (verified_at, id). Deleted and defunct ones are not
/// worth re-checking and are left out.
pub async fn list_stale(
    pool: &PgPool,
    municipality_code: &str,
    cutoff: DateTime<Utc>,
    page: Page,
) -> ServiceResult<Vec<ResourceRecord>> {
    // The page token is the id of the last resource; its verified_at is looked up so the
    // order (verified_at NULLS FIRST, id) continues where the last page ended.
    Ok(sqlx::query_as::<_, ResourceRecord>(sqlx::AssertSqlSafe(format!(
        "{SELECT_RESOURCE}
         WHERE r.municipality_code = $1 AND (r.verified_at IS NULL OR r.verified_at < $2)
           AND r.deleted_at IS NULL AND r.status <> 'defunct'
           AND ($3::uuid IS NULL OR (COALESCE(r.verified_at, '-infinity'), r.id) >
               (SELECT COALESCE(verified_at, '-infinity'), id FROM resource WHERE id = $3))
         ORDER BY COALESCE(r.verified_at, '-infinity'), r.id LIMIT $4"
    )))
    .bind(municipality_code)
    .bind(cutoff)
    .bind(page.after)
    .bind(i64::from(page.size))
    .fetch_all(pool)
    .await?)
}

/// Whether resource `id`'s location was ever confidential, by its change history (a
/// `location` change, or the whole-record snapshot of its creation or deletion): its past
/// addresses are then withheld from those who may not see confidential ones.
pub async fn location_ever_confidential(pool: &PgPool, id: Uuid) -> ServiceResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (
             SELECT 1 FROM change_history
             WHERE entity_kind = 'resource' AND entity_id = $1
               AND (CASE WHEN field = '*' THEN old_value -> 'location' ELSE old_value END ->> 'confidential' = 'true'
                    OR CASE WHEN field = '*' THEN new_value -> 'location' ELSE new_value END ->> 'confidential' = 'true')
               AND (field = '*' OR field LIKE 'location%'))",
    )
    .bind(id)
    .fetch_one(pool)
    .await?)
}
