//! Editing and deleting areas. Official areas (都道府県, 市区町村, 区) take their names from the
//! official list, so only their point and boundary are edited here; a municipality's own
//! areas may also be renamed and moved under another parent of an allowed kind.

use serde_json::{Map, Value, json};
use sqlx::{PgConnection, PgPool};
use tsunagu_runtime::error::{ServiceError, ServiceResult, Violations};
use tsunagu_runtime::events::{self, AreaCreated, RegistryChange};
use tsunagu_runtime::outbox;
use tsunagu_runtime::text;
use uuid::Uuid;

use crate::domain::AreaKind;
use crate::field_mask::{FieldMask, check_version};
use crate::geo::{GeoPoint, parse_boundary};
use crate::history::{self, ChangeAuthor, EntityKind, FieldChange, WHOLE_ENTITY};
use crate::store::{AreaRow, SELECT_AREA, expect_parent};

pub const UPDATABLE: &[&str] = &["name", "name_kana", "location", "boundary_geojson", "parent_id"];

/// The values an update may carry; only the masked ones are read.
#[derive(Debug, Clone, Default)]
pub struct AreaEdit {
    pub name: String,
    pub name_kana: String,
    pub location: Option<(f64, f64)>,
    pub boundary_geojson: String,
    pub parent_id: String,
}

fn snapshot(area: &AreaRow) -> Map<String, Value> {
    match json!({
        "name": area.name,
        "name_kana": area.name_kana,
        "parent_id": area.parent_id,
        "latitude": area.latitude,
        "longitude": area.longitude,
        "boundary": area.boundary,
    }) {
        Value::Object(map) => map,
        _ => unreachable!("an object literal"),
    }
}

async fn lock(tx: &mut PgConnection, id: Uuid) -> ServiceResult<AreaRow> {
    let area = sqlx::query_as::<_, AreaRow>(sqlx::AssertSqlSafe(format!(
        "{SELECT_AREA} WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ServiceError::NotFound(format!("区域 {id}")))?;
    if area.deleted_at.is_some() {
        return Err(ServiceError::FailedPrecondition(format!(
            "区域 {id} は削除されています / the area is deleted"
        )));
    }
    Ok(area)
}

async fn fetch(tx: &mut PgConnection, id: Uuid) -> ServiceResult<AreaRow> {
    Ok(
        sqlx::query_as::<_, AreaRow>(sqlx::AssertSqlSafe(format!("{SELECT_AREA} WHERE id = $1")))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?,
    )
}

pub async fn update(
    pool: &PgPool,
    id: Uuid,
    edit: AreaEdit,
    mask: &FieldMask,
    expected_version: i64,
    author: ChangeAuthor<'_>,
) -> ServiceResult<AreaRow> {
    let mut tx = pool.begin().await?;
    let current = lock(&mut tx, id).await?;
    check_version("区域", expected_version, current.version)?;
    let kind = AreaKind::parse(&current.kind).expect("stored kinds are known");
    let mut next = current.clone();
    let mut violations = Violations::new();
    for field in mask.fields() {
        match field {
            "name" | "name_kana" | "parent_id" if !kind.is_local() => violations.add(
                field,
                format!(
                    "{}の名称・読み・親区域は公式の一覧で決まります（ImportOfficialAreas で更新してください） / official areas take these from the official list",
                    kind.label()
                ),
            ),
            "name" => match text::normalised_non_empty(&edit.name) {
                Some(name) => next.name = name,
                None => violations.add("name", "区域名を入力してください / name is required"),
            },
            "name_kana" => next.name_kana = text::nfkc(&edit.name_kana).trim().to_string(),
            "location" => match edit.location {
                None => (next.latitude, next.longitude) = (None, None),
                Some((latitude, longitude)) => {
                    if let Some(point) = violations.check("location", GeoPoint::parse(latitude, longitude)) {
                        (next.latitude, next.longitude) = (Some(point.latitude), Some(point.longitude));
                    }
                }
            },
            "boundary_geojson" => match edit.boundary_geojson.trim() {
                "" => next.boundary = None,
                geojson => next.boundary = violations.check("boundary_geojson", parse_boundary(geojson)),
            },
            "parent_id" => match edit.parent_id.trim().parse::<Uuid>() {
                Ok(parent) => next.parent_id = Some(parent),
                Err(_) => violations.add("parent_id", "親区域のIDを指定してください / not a UUID"),
            },
            other => unreachable!("{other} is in UPDATABLE but not handled"),
        }
    }
    violations.into_result()?;
    if next.parent_id != current.parent_id
        && let Some(parent_id) = next.parent_id
    {
        let parent = expect_parent(&mut tx, parent_id, kind.allowed_parents()).await?;
        if parent.municipality_code != current.municipality_code {
            return Err(ServiceError::invalid(
                "parent_id",
                "別の市区町村の区域の下には移せません / the parent lies in another municipality",
            ));
        }
        let below: bool = sqlx::query_scalar(
            "WITH RECURSIVE up AS (SELECT id, parent_id FROM area WHERE id = $1
                 UNION ALL SELECT a.id, a.parent_id FROM area a JOIN up ON a.id = up.parent_id)
             SELECT EXISTS (SELECT 1 FROM up WHERE id = $2)",
        )
        .bind(parent_id)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if below {
            return Err(ServiceError::invalid(
                "parent_id",
                "自分の下にある区域を親にはできません / the parent lies below this area",
            ));
        }
    }
    let changes = history::diff(&snapshot(&current), &snapshot(&next));
    if changes.is_empty() {
        return Ok(current);
    }
    sqlx::query(
        "UPDATE area SET name = $2, name_kana = $3, parent_id = $4, latitude = $5, longitude = $6, boundary = $7,
                version = version + 1, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(&next.name)
    .bind(&next.name_kana)
    .bind(next.parent_id)
    .bind(next.latitude)
    .bind(next.longitude)
    .bind(&next.boundary)
    .execute(&mut *tx)
    .await?;
    let area = fetch(&mut tx, id).await?;
    history::record(&mut tx, EntityKind::Area, id, area.version, author, &changes).await?;
    let event = AreaCreated {
        area_id: area.id,
        kind: area.kind.clone(),
        code: area.code.clone(),
        name: area.name.clone(),
        parent_id: area.parent_id,
        municipality_code: area.municipality_code.clone(),
    };
    outbox::enqueue(&mut tx, events::AREA_UPDATED, &area.municipality_code, &event).await?;
    tx.commit().await?;
    Ok(area)
}

/// Soft delete, refused for official areas and while anything live refers to the area: child
/// areas, resources covering it, organisations, helpers, coordinators or 協議体 active there.
pub async fn delete(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
    author: ChangeAuthor<'_>,
) -> ServiceResult<AreaRow> {
    let mut tx = pool.begin().await?;
    let current = lock(&mut tx, id).await?;
    check_version("区域", expected_version, current.version)?;
    let kind = AreaKind::parse(&current.kind).expect("stored kinds are known");
    if !kind.is_local() {
        return Err(ServiceError::FailedPrecondition(format!(
            "{}は公式の一覧の区域なので削除できません / official areas cannot be deleted",
            kind.label()
        )));
    }
    let (children, resources, organizations, helpers, coordinators, councils): (i64, i64, i64, i64, i64, i64) =
        sqlx::query_as(
            "SELECT (SELECT count(*) FROM area WHERE parent_id = $1 AND deleted_at IS NULL),
                    (SELECT count(*) FROM resource_coverage c JOIN resource r ON r.id = c.resource_id
                      WHERE c.area_id = $1 AND r.deleted_at IS NULL),
                    (SELECT count(*) FROM organization_area oa JOIN organization o ON o.id = oa.organization_id
                      WHERE oa.area_id = $1 AND o.deleted_at IS NULL),
                    (SELECT count(*) FROM helper_area ha JOIN helper h ON h.id = ha.helper_id
                      WHERE ha.area_id = $1 AND h.deleted_at IS NULL),
                    (SELECT count(*) FROM coordinator_area ca JOIN coordinator c ON c.id = ca.coordinator_id
                      WHERE ca.area_id = $1 AND c.deleted_at IS NULL),
                    (SELECT count(*) FROM council WHERE area_id = $1 AND deleted_at IS NULL)",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let dependants: Vec<String> = [
        ("下位の区域", children),
        ("地域資源", resources),
        ("事業主体", organizations),
        ("担い手", helpers),
        ("コーディネーター", coordinators),
        ("協議体", councils),
    ]
    .into_iter()
    .filter(|(_, count)| *count > 0)
    .map(|(what, count)| format!("{what}{count}件"))
    .collect();
    if !dependants.is_empty() {
        return Err(ServiceError::FailedPrecondition(format!(
            "この区域を使っているものがあります（{}）。先に移すか削除してください / live records refer to this area",
            dependants.join("、")
        )));
    }
    sqlx::query(
        "UPDATE area SET version = version + 1, deleted_at = now(), deleted_reason = $2, deleted_by = $3
         WHERE id = $1",
    )
    .bind(id)
    .bind(author.reason)
    .bind(author.changed_by)
    .execute(&mut *tx)
    .await?;
    let area = fetch(&mut tx, id).await?;
    let deletion = FieldChange {
        field: WHOLE_ENTITY.into(),
        old_value: Some(Value::Object(snapshot(&current))),
        new_value: None,
    };
    history::record(&mut tx, EntityKind::Area, id, area.version, author, &[deletion]).await?;
    let event = RegistryChange {
        entity_id: id,
        municipality_code: area.municipality_code.clone(),
        version: area.version,
        organization_id: None,
    };
    outbox::enqueue(&mut tx, events::AREA_DELETED, &area.municipality_code, &event).await?;
    tx.commit().await?;
    Ok(area)
}

/// The areas with these ids, in the order asked; NOT_FOUND names every missing id.
pub async fn batch_get(pool: &PgPool, ids: &[Uuid]) -> ServiceResult<Vec<AreaRow>> {
    let found =
        sqlx::query_as::<_, AreaRow>(sqlx::AssertSqlSafe(format!("{SELECT_AREA} WHERE id = ANY($1)")))
            .bind(ids)
            .fetch_all(pool)
            .await?;
    crate::batch::in_request_order("区域", ids, found, |area| area.id)
}
