//! Coordinators in SQL: the `coordinator` row and its areas (`coordinator_area`, in the
//! caller's order). The areas' kinds are checked against the layer here, where they are known.

use chrono::NaiveDate;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use tsunagu_runtime::error::{ServiceResult, Violations};
use tsunagu_runtime::grpc::Page;
use uuid::Uuid;

use super::{
    COORDINATOR, ListFilter, MetaRow, Referent, SUBTREE, Stored, check_filter_area, check_layer_area,
    corrupt, expect_areas, expect_live, folded_contains, introduced,
};
use crate::community::common::{Layer, snapshot};
use crate::community::coordinators::Coordinator;
use crate::contact::ContactPoint;
use crate::history;

#[derive(Debug, sqlx::FromRow)]
struct CoordinatorRow {
    #[sqlx(flatten)]
    meta: MetaRow,
    name: String,
    name_kana: String,
    layer: i16,
    area_ids: Vec<Uuid>,
    organization_id: Option<Uuid>,
    employer_organization_id: Option<Uuid>,
    contact_points: Json<Vec<ContactPoint>>,
    active_from: Option<NaiveDate>,
    active_until: Option<NaiveDate>,
}

const SELECT_COORDINATOR: &str = "SELECT c.id, c.municipality_code, c.version, c.created_at, c.updated_at,
            c.deleted_at, c.deleted_reason, c.deleted_by,
            c.name, c.name_kana, c.layer, c.organization_id, c.employer_organization_id, c.contact_points,
            c.active_from, c.active_until,
            ARRAY(SELECT ca.area_id FROM coordinator_area ca WHERE ca.coordinator_id = c.id ORDER BY ca.position) AS area_ids
     FROM coordinator c";

impl CoordinatorRow {
    fn into_stored(self) -> ServiceResult<Stored<Coordinator>> {
        let id = self.meta.id;
        let layer = Layer::from_number(self.layer)
            .ok_or_else(|| corrupt(&COORDINATOR, id, "layer", &self.layer.to_string()))?;
        Ok(Stored {
            meta: self.meta.into(),
            state: Coordinator {
                name: self.name,
                name_kana: self.name_kana,
                layer,
                area_ids: self.area_ids,
                organization_id: self.organization_id,
                employer_organization_id: self.employer_organization_id,
                contact_points: self.contact_points.0,
                active_from: self.active_from,
                active_until: self.active_until,
            },
        })
    }
}

async fn fetch(tx: &mut PgConnection, id: Uuid, lock: bool) -> ServiceResult<Option<Stored<Coordinator>>> {
    let lock = if lock { "FOR UPDATE" } else { "" };
    let row: Option<CoordinatorRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_COORDINATOR} WHERE c.id = $1 {lock}"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(CoordinatorRow::into_stored).transpose()
}

/// Areas: they exist, fit the layer and lie in the municipality (checked every time: a layer
/// change makes old areas wrong). Organisations the change introduces: alive.
async fn check_references(
    tx: &mut PgConnection,
    municipality_code: &str,
    after: &Coordinator,
    before: Option<&Coordinator>,
) -> ServiceResult<()> {
    let mut violations = Violations::new();
    let areas = expect_areas(tx, &mut violations, "area_ids", &after.area_ids).await?;
    for (index, id) in after.area_ids.iter().enumerate() {
        if let Some(area) = areas.get(id) {
            check_layer_area(
                &mut violations,
                &format!("area_ids[{index}]"),
                after.layer,
                municipality_code,
                area,
            );
        }
    }
    let mut organizations = introduced(
        "organization_id",
        after.organization_id,
        before.and_then(|before| before.organization_id),
    );
    organizations.extend(introduced(
        "employer_organization_id",
        after.employer_organization_id,
        before.and_then(|before| before.employer_organization_id),
    ));
    expect_live(tx, &mut violations, Referent::Organization, &organizations).await?;
    violations.into_result()
}

async fn write(tx: &mut PgConnection, id: Uuid, coordinator: &Coordinator) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE coordinator SET name = $2, name_kana = $3, layer = $4, organization_id = $5,
             employer_organization_id = $6, contact_points = $7, active_from = $8, active_until = $9
         WHERE id = $1",
    )
    .bind(id)
    .bind(&coordinator.name)
    .bind(&coordinator.name_kana)
    .bind(coordinator.layer.number())
    .bind(coordinator.organization_id)
    .bind(coordinator.employer_organization_id)
    .bind(Json(&coordinator.contact_points))
    .bind(coordinator.active_from)
    .bind(coordinator.active_until)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM coordinator_area WHERE coordinator_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO coordinator_area (coordinator_id, area_id, position)
         SELECT $1, area_id, position FROM unnest($2::uuid[]) WITH ORDINALITY AS a(area_id, position)",
    )
    .bind(id)
    .bind(&coordinator.area_ids)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn create(
    pool: &PgPool,
    municipality_code: &str,
    coordinator: Coordinator,
    created_by: &str,
) -> ServiceResult<Stored<Coordinator>> {
    let mut tx = pool.begin().await?;
    check_references(&mut tx, municipality_code, &coordinator, None).await?;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO coordinator (id, municipality_code, name, layer, organization_id)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(municipality_code)
    .bind(&coordinator.name)
    .bind(coordinator.layer.number())
    .bind(coordinator.organization_id)
    .execute(&mut *tx)
    .await?;
    write(&mut tx, id, &coordinator).await?;
    COORDINATOR
        .record_created(&mut tx, id, municipality_code, snapshot(&coordinator), created_by)
        .await?;
    tx.commit().await?;
    get(pool, id).await
}

pub async fn get(pool: &PgPool, id: Uuid) -> ServiceResult<Stored<Coordinator>> {
    let mut connection = pool.acquire().await?;
    fetch(&mut connection, id, false)
        .await?
        .ok_or_else(|| COORDINATOR.not_found(id))
}

pub async fn batch_get(pool: &PgPool, ids: &[Uuid]) -> ServiceResult<Vec<Stored<Coordinator>>> {
    let rows: Vec<CoordinatorRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_COORDINATOR} WHERE c.id = ANY($1)"
    )))
    .bind(ids)
    .fetch_all(pool)
    .await?;
    let found = rows
        .into_iter()
        .map(CoordinatorRow::into_stored)
        .collect::<ServiceResult<Vec<_>>>()?;
    COORDINATOR.in_request_order(ids, found, |coordinator| coordinator.meta.id)
}

pub async fn update(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
    changed_by: &str,
    change: impl FnOnce(&Coordinator) -> ServiceResult<Coordinator>,
) -> ServiceResult<Stored<Coordinator>> {
    let mut tx = pool.begin().await?;
    let current = fetch(&mut tx, id, true)
        .await?
        .ok_or_else(|| COORDINATOR.not_found(id))?;
    COORDINATOR.check_editable(&current.meta, expected_version)?;
    let changed = change(&current.state)?;
    let changes = history::diff(&snapshot(&current.state), &snapshot(&changed));
    if changes.is_empty() {
        return Ok(current);
    }
    check_references(
        &mut tx,
        &current.meta.municipality_code,
        &changed,
        Some(&current.state),
    )
    .await?;
    write(&mut tx, id, &changed).await?;
    COORDINATOR
        .record_updated(&mut tx, &current.meta, &changes, changed_by)
        .await?;
    tx.commit().await?;
    get(pool, id).await
}

#[derive(Debug, Clone, Default)]
pub struct CoordinatorFilter {
    pub layer: Option<Layer>,
    pub organization_id: Option<Uuid>,
    /// In office on this date.
    pub active_on: Option<NaiveDate>,
}

pub async fn list(
    pool: &PgPool,
    filter: &ListFilter,
    coordinators: &CoordinatorFilter,
    page: Page,
) -> ServiceResult<Vec<Stored<Coordinator>>> {
    check_filter_area(pool, filter.area_id).await?;
    let rows: Vec<CoordinatorRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SUBTREE}
         {SELECT_COORDINATOR}
         WHERE ($1::text IS NULL OR c.municipality_code = $1)
           AND ($2::uuid IS NULL OR EXISTS (
                SELECT 1 FROM coordinator_area ca
                WHERE ca.coordinator_id = c.id AND ca.area_id IN (SELECT id FROM subtree)))
           AND ($3::text IS NULL OR {})
           AND ($4::timestamptz IS NULL OR c.updated_at > $4)
           AND ($5 OR c.deleted_at IS NULL)
           AND ($6::smallint IS NULL OR c.layer = $6)
           AND ($7::uuid IS NULL OR c.organization_id = $7)
           AND ($8::date IS NULL OR ((c.active_from IS NULL OR c.active_from <= $8)
                                     AND (c.active_until IS NULL OR $8 <= c.active_until)))
           AND ($9::uuid IS NULL OR c.id > $9)
         ORDER BY c.id LIMIT $10",
        folded_contains("c.search_key", "$3")
    )))
    .bind(filter.municipality_code.as_deref())
    .bind(filter.area_id)
    .bind(filter.text.as_deref())
    .bind(filter.modified_after)
    .bind(filter.include_deleted)
    .bind(coordinators.layer.map(Layer::number))
    .bind(coordinators.organization_id)
    .bind(coordinators.active_on)
    .bind(page.after)
    .bind(i64::from(page.size))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(CoordinatorRow::into_stored).collect()
}
