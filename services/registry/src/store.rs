//! Registry storage. Each write runs in one transaction together with its outbox event.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tsunagu_runtime::error::{ServiceError, ServiceResult, Violations};
use tsunagu_runtime::events::{self, AreaCreated};
use tsunagu_runtime::grpc::Page;
use tsunagu_runtime::outbox;
use uuid::Uuid;

use crate::domain::{AreaKind, NewArea};
use crate::geo::AreaPlace;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AreaRow {
    pub id: Uuid,
    pub kind: String,
    pub code: Option<String>,
    pub name: String,
    pub name_kana: String,
    pub parent_id: Option<Uuid>,
    pub municipality_code: String,
    pub created_at: DateTime<Utc>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub boundary: Option<serde_json::Value>,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub deleted_reason: Option<String>,
    pub deleted_by: Option<String>,
}

pub(crate) const AREA_COLUMNS: &str =
    "id, kind, code, name, name_kana, parent_id, municipality_code, created_at,
     latitude, longitude, boundary, version, updated_at, deleted_at, deleted_reason, deleted_by";

pub(crate) const SELECT_AREA: &str =
    "SELECT id, kind, code, name, name_kana, parent_id, municipality_code, created_at,
            latitude, longitude, boundary, version, updated_at, deleted_at, deleted_reason, deleted_by
     FROM area";

pub async fn create_area(pool: &PgPool, new: NewArea, place: AreaPlace) -> ServiceResult<AreaRow> {
    let mut tx = pool.begin().await?;
    let id = Uuid::now_v7();
    let (code, name, name_kana, parent_id, municipality_code) = match &new {
        NewArea::Prefecture {
            code,
            name,
            name_kana,
        } => (
            Some(code.as_str().to_string()),
            name,
            name_kana,
            None,
            code.as_str().to_string(),
        ),
        NewArea::Municipality {
            code,
            name,
            name_kana,
            parent_id,
        } => {
            let parent = expect_parent(&mut tx, *parent_id, AreaKind::Municipality.allowed_parents()).await?;
            let entry = code.official().expect("parse_known checked the official list");
            if parent.code.as_deref() != Some(entry.prefecture_code().as_str()) {
                return Err(ServiceError::invalid(
                    "parent_id",
                    format!(
                        "{}（{}）の親は{}です / the parent must be the municipality's own prefecture",
                        entry.name(),
                        code,
                        entry.prefecture
                    ),
                ));
            }
            (
                Some(code.as_str().to_string()),
                name,
                name_kana,
                Some(*parent_id),
                code.as_str().to_string(),
            )
        }
        NewArea::Local {
            kind,
            name,
            name_kana,
            parent_id,
        } => {
            let parent = expect_parent(&mut tx, *parent_id, kind.allowed_parents()).await?;
            (None, name, name_kana, Some(*parent_id), parent.municipality_code)
        }
    };
    let inserted = sqlx::query_as::<_, AreaRow>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO area (id, kind, code, name, name_kana, parent_id, municipality_code, latitude, longitude, boundary)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         RETURNING {AREA_COLUMNS}"
    )))
    .bind(id)
    .bind(new.kind().as_str())
    .bind(&code)
    .bind(name)
    .bind(name_kana)
    .bind(parent_id)
    .bind(&municipality_code)
    .bind(place.point.map(|point| point.latitude))
    .bind(place.point.map(|point| point.longitude))
    .bind(place.boundary)
    .fetch_one(&mut *tx)
    .await;
    let area = match inserted {
        Ok(area) => area,
        Err(error) if is_unique_violation(&error) => {
            return Err(ServiceError::AlreadyExists(format!(
                "コード {} の区域は登録済みです / an area with code {} already exists",
                code.clone().unwrap_or_default(),
                code.unwrap_or_default()
            )));
        }
        Err(error) => return Err(error.into()),
    };
    let event = AreaCreated {
        area_id: area.id,
        kind: area.kind.clone(),
        code: area.code.clone(),
        name: area.name.clone(),
        parent_id: area.parent_id,
        municipality_code: area.municipality_code.clone(),
    };
    outbox::enqueue(&mut tx, events::AREA_CREATED, &area.municipality_code, &event).await?;
    // A new area keeps no field history; its creation is on the trail.
    crate::write_audit::changed(&mut tx, "area", &area.municipality_code, Some(area.id), "created").await?;
    tx.commit().await?;
    Ok(area)
}

/// The parent area, which must exist and be of one of the `allowed` kinds.
pub(crate) async fn expect_parent(
    tx: &mut PgConnection,
    parent_id: Uuid,
    allowed: &[AreaKind],
) -> ServiceResult<AreaRow> {
    let parent = sqlx::query_as::<_, AreaRow>(sqlx::AssertSqlSafe(format!(
        "{SELECT_AREA} WHERE id = $1 AND deleted_at IS NULL"
    )))
    .bind(parent_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| {
        ServiceError::invalid(
            "parent_id",
            format!("親区域 {parent_id} は登録されていません / parent area not found"),
        )
    })?;
    if !AreaKind::parse(&parent.kind).is_some_and(|kind| allowed.contains(&kind)) {
        let expected: Vec<&str> = allowed.iter().map(|kind| kind.label()).collect();
        return Err(ServiceError::invalid(
            "parent_id",
            format!("親区域は{}でなければなりません", expected.join("または")),
        ));
    }
    Ok(parent)
}

pub async fn get_area(pool: &PgPool, id: Uuid) -> ServiceResult<AreaRow> {
    sqlx::query_as::<_, AreaRow>(sqlx::AssertSqlSafe(format!("{SELECT_AREA} WHERE id = $1")))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("区域 {id}")))
}

pub async fn get_area_by_code(pool: &PgPool, code: &str) -> ServiceResult<AreaRow> {
    sqlx::query_as::<_, AreaRow>(sqlx::AssertSqlSafe(format!("{SELECT_AREA} WHERE code = $1")))
        .bind(code)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("コード {code} の区域")))
}

pub async fn list_child_areas(pool: &PgPool, parent_id: Uuid, page: Page) -> ServiceResult<Vec<AreaRow>> {
    Ok(sqlx::query_as::<_, AreaRow>(sqlx::AssertSqlSafe(format!(
        "{SELECT_AREA} WHERE parent_id = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR id > $2)
         ORDER BY id LIMIT $3"
    )))
    .bind(parent_id)
    .bind(page.after)
    .bind(i64::from(page.size))
    .fetch_all(pool)
    .await?)
}

/// The areas above `id`, root first. `NotFound` when `id` names no area.
pub async fn list_ancestors(pool: &PgPool, id: Uuid) -> ServiceResult<Vec<AreaRow>> {
    let area = get_area(pool, id).await?;
    let ancestors = sqlx::query_as::<_, AreaRow>(sqlx::AssertSqlSafe(format!(
        "WITH RECURSIVE up (id, depth) AS (
             SELECT parent_id, 1 FROM area WHERE id = $1 AND parent_id IS NOT NULL
             UNION ALL
             SELECT a.parent_id, up.depth + 1 FROM area a JOIN up ON a.id = up.id WHERE a.parent_id IS NOT NULL
         )
         {SELECT_AREA} JOIN up USING (id) ORDER BY up.depth DESC"
    )))
    .bind(area.id)
    .fetch_all(pool)
    .await?;
    Ok(ancestors)
}

/// Every area below `id`, at any depth, in id order after `page.after`.
pub async fn list_descendants(pool: &PgPool, id: Uuid, page: Page) -> ServiceResult<Vec<AreaRow>> {
    get_area(pool, id).await?;
    Ok(sqlx::query_as::<_, AreaRow>(sqlx::AssertSqlSafe(format!(
        "WITH RECURSIVE down (id) AS (
             SELECT id FROM area WHERE parent_id = $1
             UNION ALL
             SELECT a.id FROM area a JOIN down ON a.parent_id = down.id
         )
         {SELECT_AREA} WHERE id IN (SELECT id FROM down) AND deleted_at IS NULL AND ($2::uuid IS NULL OR id > $2)
         ORDER BY id LIMIT $3"
    )))
    .bind(id)
    .bind(page.after)
    .bind(i64::from(page.size))
    .fetch_all(pool)
    .await?)
}

/// Whether `area_id` is `container_id` or lies below it. Both must exist.
pub async fn area_contains(pool: &PgPool, container_id: Uuid, area_id: Uuid) -> ServiceResult<bool> {
    get_area(pool, container_id).await.map_err(|_| {
        ServiceError::invalid(
            "container_id",
            format!("区域 {container_id} は登録されていません / area not found"),
        )
    })?;
    get_area(pool, area_id).await.map_err(|_| {
        ServiceError::invalid(
            "area_id",
            format!("区域 {area_id} は登録されていません / area not found"),
        )
    })?;
    Ok(sqlx::query_scalar(
        "WITH RECURSIVE up (id, parent_id) AS (
             SELECT id, parent_id FROM area WHERE id = $2
             UNION ALL
             SELECT a.id, a.parent_id FROM area a JOIN up ON a.id = up.parent_id
         )
         SELECT EXISTS (SELECT 1 FROM up WHERE id = $1)",
    )
    .bind(container_id)
    .bind(area_id)
    .fetch_one(pool)
    .await?)
}

pub struct AreaSearch<'a> {
    pub query: &'a str,
    pub municipality_code: Option<&'a str>,
    pub kind: Option<AreaKind>,
}

/// Areas whose folded name or reading contains the folded query (`search_fold` in SQL).
pub async fn search_areas(pool: &PgPool, search: AreaSearch<'_>, page: Page) -> ServiceResult<Vec<AreaRow>> {
    // The query is matched literally: LIKE's wildcards are escaped after the fold, because
    // NFKC turns a full-width ％ or ＿ into a wildcard.
    Ok(sqlx::query_as::<_, AreaRow>(sqlx::AssertSqlSafe(format!(
        "{SELECT_AREA}
         WHERE search_key LIKE
               '%' || replace(replace(replace(search_fold($1), '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'
               ESCAPE '\\'
           AND deleted_at IS NULL
           AND ($2::text IS NULL OR municipality_code = $2)
           AND ($3::text IS NULL OR kind = $3)
           AND ($4::uuid IS NULL OR id > $4)
         ORDER BY id LIMIT $5"
    )))
    .bind(search.query)
    .bind(search.municipality_code)
    .bind(search.kind.map(AreaKind::as_str))
    .bind(page.after)
    .bind(i64::from(page.size))
    .fetch_all(pool)
    .await?)
}

/// Reports every id in `ids` that names no area, under `field[index]`.
pub(crate) async fn check_areas_exist(tx: &mut PgConnection, field: &str, ids: &[Uuid]) -> ServiceResult<()> {
    let found: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM area WHERE id = ANY($1)")
        .bind(ids)
        .fetch_all(&mut *tx)
        .await?;
    let mut violations = Violations::new();
    for (index, id) in ids.iter().enumerate() {
        if !found.contains(id) {
            violations.add(
                format!("{field}[{index}]"),
                format!("区域 {id} は登録されていません / area not found"),
            );
        }
    }
    violations.into_result()
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "23505")
}
