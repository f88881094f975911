//! Helpers in SQL: the `helper` row and its areas (`helper_area`, in the caller's order).

use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use tsunagu_runtime::error::{ServiceError, ServiceResult, Violations};
use tsunagu_runtime::grpc::Page;
use uuid::Uuid;

use super::{
    HELPER, ListFilter, MetaRow, Referent, SUBTREE, Stored, check_filter_area, corrupt, expect_areas,
    expect_live, folded_contains, introduced,
};
use crate::community::common::{TimeWindow, snapshot};
use crate::community::helpers::{
    Gender, Helper, HelperKind, HelperStatus, LoadUnit, MonthlyLoad, TrainingRecord,
};
use crate::contact::ContactPoint;
use crate::history;

#[derive(Debug, sqlx::FromRow)]
struct HelperRow {
    #[sqlx(flatten)]
    meta: MetaRow,
    organization_id: Uuid,
    name: String,
    name_kana: String,
    kind: String,
    skills: Vec<String>,
    area_ids: Vec<Uuid>,
    availability: Json<Vec<TimeWindow>>,
    monthly_load_amount: Option<i32>,
    monthly_load_unit: Option<String>,
    gender: Option<String>,
    languages: Vec<String>,
    training_records: Json<Vec<TrainingRecord>>,
    contact_points: Json<Vec<ContactPoint>>,
    status: String,
    external_id: Option<String>,
}

const SELECT_HELPER: &str = "SELECT h.id, h.municipality_code, h.version, h.created_at, h.updated_at,
            h.deleted_at, h.deleted_reason, h.deleted_by,
            h.organization_id, h.name, h.name_kana, h.kind, h.skills, h.availability,
            h.monthly_load_amount, h.monthly_load_unit, h.gender, h.languages, h.training_records,
            h.contact_points, h.status, h.external_id,
            ARRAY(SELECT ha.area_id FROM helper_area ha WHERE ha.helper_id = h.id ORDER BY ha.position) AS area_ids
     FROM helper h";

impl HelperRow {
    fn into_stored(self) -> ServiceResult<Stored<Helper>> {
        let id = self.meta.id;
        let kind = HelperKind::parse(&self.kind).ok_or_else(|| corrupt(&HELPER, id, "kind", &self.kind))?;
        let status =
            HelperStatus::parse(&self.status).ok_or_else(|| corrupt(&HELPER, id, "status", &self.status))?;
        let gender = match self.gender.as_deref() {
            None => None,
            Some(raw) => Some(Gender::parse(raw).ok_or_else(|| corrupt(&HELPER, id, "gender", raw))?),
        };
        let monthly_load = match (self.monthly_load_amount, self.monthly_load_unit.as_deref()) {
            (Some(amount), Some(unit)) => Some(MonthlyLoad {
                amount: u32::try_from(amount).map_err(|_| corrupt(&HELPER, id, "monthly load", unit))?,
                unit: LoadUnit::parse(unit).ok_or_else(|| corrupt(&HELPER, id, "monthly load unit", unit))?,
            }),
            _ => None,
        };
        Ok(Stored {
            meta: self.meta.into(),
            state: Helper {
                organization_id: self.organization_id,
                name: self.name,
                name_kana: self.name_kana,
                kind,
                skills: self.skills,
                area_ids: self.area_ids,
                availability: self.availability.0,
                monthly_load,
                gender,
                languages: self.languages,
                training_records: self.training_records.0,
                contact_points: self.contact_points.0,
                status,
                external_id: self.external_id,
            },
        })
    }
}

async fn fetch(tx: &mut PgConnection, id: Uuid, lock: bool) -> ServiceResult<Option<Stored<Helper>>> {
    let lock = if lock { "FOR UPDATE" } else { "" };
    let row: Option<HelperRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_HELPER} WHERE h.id = $1 {lock}"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(HelperRow::into_stored).transpose()
}

/// Checks what `after` refers to that `before` did not: the organisation (alive, and in the
/// helper's municipality when it changes) and the areas.
async fn check_references(
    tx: &mut PgConnection,
    after: &Helper,
    before: Option<(&Helper, &str)>,
) -> ServiceResult<String> {
    let mut violations = Violations::new();
    let before_organization = before.map(|(helper, _)| helper.organization_id);
    let organization = expect_live(
        tx,
        &mut violations,
        Referent::Organization,
        &introduced(
            "organization_id",
            Some(after.organization_id),
            before_organization,
        ),
    )
    .await?;
    let municipality_code = match (before, organization.get(&after.organization_id)) {
        (Some((_, municipality_code)), Some(facts)) if facts.municipality_code != municipality_code => {
            violations.add(
                "organization_id",
                format!(
                    "担い手の所属は同じ市区町村（{municipality_code}）の団体に限ります（指定の団体は {}） / \
                     the new organisation belongs to another municipality",
                    facts.municipality_code
                ),
            );
            String::new()
        }
        (Some((_, municipality_code)), _) => municipality_code.to_string(),
        (None, facts) => facts
            .map(|facts| facts.municipality_code.clone())
            .unwrap_or_default(),
    };
    // Areas are never deleted, so every one is checked, not only the new ones.
    expect_areas(tx, &mut violations, "area_ids", &after.area_ids).await?;
    violations.into_result()?;
    Ok(municipality_code)
}

/// Writes the editable columns and the areas (not the version). An external id another
/// helper of the municipality has is `ALREADY_EXISTS`.
async fn write(tx: &mut PgConnection, id: Uuid, helper: &Helper) -> ServiceResult<()> {
    let result = sqlx::query(
        "UPDATE helper SET organization_id = $2, name = $3, name_kana = $4, kind = $5, skills = $6,
             availability = $7, monthly_load_amount = $8, monthly_load_unit = $9, gender = $10,
             languages = $11, training_records = $12, contact_points = $13, status = $14,
             external_id = $15
         WHERE id = $1",
    )
    .bind(id)
    .bind(helper.organization_id)
    .bind(&helper.name)
    .bind(&helper.name_kana)
    .bind(helper.kind.as_str())
    .bind(&helper.skills)
    .bind(Json(&helper.availability))
    .bind(helper.monthly_load.map(|load| load.amount as i32))
    .bind(helper.monthly_load.map(|load| load.unit.as_str()))
    .bind(helper.gender.map(Gender::as_str))
    .bind(&helper.languages)
    .bind(Json(&helper.training_records))
    .bind(Json(&helper.contact_points))
    .bind(helper.status.as_str())
    .bind(&helper.external_id)
    .execute(&mut *tx)
    .await;
    if let Err(error) = &result
        && error
            .as_database_error()
            .and_then(|e| e.code())
            .is_some_and(|code| code == "23505")
    {
        return Err(ServiceError::AlreadyExists(format!(
            "外部ID {:?} の担い手は既に登録されています / a helper with this external_id exists",
            helper.external_id.as_deref().unwrap_or_default()
        )));
    }
    result?;
    sqlx::query("DELETE FROM helper_area WHERE helper_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO helper_area (helper_id, area_id, position)
         SELECT $1, area_id, position FROM unnest($2::uuid[]) WITH ORDINALITY AS a(area_id, position)",
    )
    .bind(id)
    .bind(&helper.area_ids)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn create(pool: &PgPool, helper: Helper, created_by: &str) -> ServiceResult<Stored<Helper>> {
    let mut tx = pool.begin().await?;
    let id = insert(&mut tx, &helper, created_by).await?.meta.id;
    tx.commit().await?;
    get(pool, id).await
}

/// Creates the helper in the caller's transaction (in the municipality of its organisation),
/// with its first history entry and its event.
pub async fn insert(
    tx: &mut PgConnection,
    helper: &Helper,
    created_by: &str,
) -> ServiceResult<Stored<Helper>> {
    let municipality_code = check_references(tx, helper, None).await?;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO helper (id, municipality_code, organization_id, name, kind, status, training_records)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(&municipality_code)
    .bind(helper.organization_id)
    .bind(&helper.name)
    .bind(helper.kind.as_str())
    .bind(helper.status.as_str())
    .bind(Json(&helper.training_records))
    .execute(&mut *tx)
    .await?;
    write(tx, id, helper).await?;
    HELPER
        .record_created(tx, id, &municipality_code, snapshot(helper), created_by)
        .await?;
    fetch(tx, id, false).await?.ok_or_else(|| HELPER.not_found(id))
}

/// Locks the helper, deleted or not, for an import that decides what to do with it.
pub async fn lock(tx: &mut PgConnection, id: Uuid) -> ServiceResult<Option<Stored<Helper>>> {
    fetch(tx, id, true).await
}

/// The helper of the municipality with this external id (deleted ones included: the id stays
/// taken), locked for an upsert.
pub async fn lock_by_external_id(
    tx: &mut PgConnection,
    municipality_code: &str,
    external_id: &str,
) -> ServiceResult<Option<Stored<Helper>>> {
    let row: Option<HelperRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_HELPER} WHERE h.municipality_code = $1 AND h.external_id = $2 FOR UPDATE"
    )))
    .bind(municipality_code)
    .bind(external_id)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(HelperRow::into_stored).transpose()
}

pub async fn get(pool: &PgPool, id: Uuid) -> ServiceResult<Stored<Helper>> {
    let mut connection = pool.acquire().await?;
    fetch(&mut connection, id, false)
        .await?
        .ok_or_else(|| HELPER.not_found(id))
}

pub async fn batch_get(pool: &PgPool, ids: &[Uuid]) -> ServiceResult<Vec<Stored<Helper>>> {
    let rows: Vec<HelperRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_HELPER} WHERE h.id = ANY($1)"
    )))
    .bind(ids)
    .fetch_all(pool)
    .await?;
    let found = rows
        .into_iter()
        .map(HelperRow::into_stored)
        .collect::<ServiceResult<Vec<_>>>()?;
    HELPER.in_request_order(ids, found, |helper| helper.meta.id)
}

/// Locks the helper, checks it is editable at `expected_version`, applies `change` to its
/// current state and, when anything changed, writes it with its history and event.
pub async fn update(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
    changed_by: &str,
    change: impl FnOnce(&Helper) -> ServiceResult<Helper>,
) -> ServiceResult<Stored<Helper>> {
    let mut tx = pool.begin().await?;
    let current = fetch(&mut tx, id, true)
        .await?
        .ok_or_else(|| HELPER.not_found(id))?;
    HELPER.check_editable(&current.meta, expected_version)?;
    let changed = change(&current.state)?;
    if apply_change(&mut tx, &current, &changed, changed_by)
        .await?
        .is_none()
    {
        return Ok(current);
    }
    tx.commit().await?;
    get(pool, id).await
}

/// Writes `changed` over a locked, editable helper in the caller's transaction, with its
/// history and event; `None` when nothing differs (no version, no history, no event).
pub async fn apply_change(
    tx: &mut PgConnection,
    current: &Stored<Helper>,
    changed: &Helper,
    changed_by: &str,
) -> ServiceResult<Option<Stored<Helper>>> {
    let changes = history::diff(&snapshot(&current.state), &snapshot(changed));
    if changes.is_empty() {
        return Ok(None);
    }
    check_references(
        tx,
        changed,
        Some((&current.state, &current.meta.municipality_code)),
    )
    .await?;
    let id = current.meta.id;
    write(tx, id, changed).await?;
    HELPER
        .record_updated(tx, &current.meta, &changes, changed_by)
        .await?;
    Ok(Some(
        fetch(tx, id, false).await?.ok_or_else(|| HELPER.not_found(id))?,
    ))
}

/// What helpers lists filter by, besides [`ListFilter`].
#[derive(Debug, Clone, Default)]
pub struct HelperFilter {
    pub organization_id: Option<Uuid>,
    pub status: Option<HelperStatus>,
    /// A taxonomy code.
    pub skill: Option<String>,
}

pub async fn list(
    pool: &PgPool,
    filter: &ListFilter,
    helpers: &HelperFilter,
    page: Page,
) -> ServiceResult<Vec<Stored<Helper>>> {
    check_filter_area(pool, filter.area_id).await?;
    let rows: Vec<HelperRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SUBTREE}
         {SELECT_HELPER}
         WHERE ($1::text IS NULL OR h.municipality_code = $1)
           AND ($2::uuid IS NULL OR EXISTS (
                SELECT 1 FROM helper_area ha WHERE ha.helper_id = h.id AND ha.area_id IN (SELECT id FROM subtree)))
           AND ($3::text IS NULL OR {})
           AND ($4::timestamptz IS NULL OR h.updated_at > $4)
           AND ($5 OR h.deleted_at IS NULL)
           AND ($6::uuid IS NULL OR h.organization_id = $6)
           AND ($7::text IS NULL OR h.status = $7)
           AND ($8::text IS NULL OR $8 = ANY (h.skills))
           AND ($9::uuid IS NULL OR h.id > $9)
         ORDER BY h.id LIMIT $10",
        folded_contains("h.search_key", "$3")
    )))
    .bind(filter.municipality_code.as_deref())
    .bind(filter.area_id)
    .bind(filter.text.as_deref())
    .bind(filter.modified_after)
    .bind(filter.include_deleted)
    .bind(helpers.organization_id)
    .bind(helpers.status.map(HelperStatus::as_str))
    .bind(helpers.skill.as_deref())
    .bind(page.after)
    .bind(i64::from(page.size))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(HelperRow::into_stored).collect()
}
