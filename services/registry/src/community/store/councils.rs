//! Councils in SQL: the `council` row, its member organisations (`council_organization`, in
//! the caller's order) and its meetings (`council_meeting`). A meeting recorded or corrected
//! is a change of the council: its version goes up, its history says what, and
//! `council.updated` goes out.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use tsunagu_runtime::error::{ServiceError, ServiceResult, Violations};
use tsunagu_runtime::grpc::Page;
use uuid::Uuid;

use super::{
    COUNCIL, ListFilter, MetaRow, Referent, SUBTREE, Stored, areas, check_filter_area, check_layer_area,
    corrupt, expect_live, folded_contains, introduced, introduced_in_list,
};
use crate::community::common::{Layer, snapshot};
use crate::community::councils::{Council, Meeting, Member};
use crate::history::{self, FieldChange};

/// A council as stored, with the date of its latest meeting.
#[derive(Debug, Clone)]
pub struct CouncilRecord {
    pub stored: Stored<Council>,
    pub last_held_on: Option<NaiveDate>,
}

#[derive(Debug, sqlx::FromRow)]
struct CouncilRow {
    #[sqlx(flatten)]
    meta: MetaRow,
    name: String,
    name_kana: String,
    layer: i16,
    area_id: Option<Uuid>,
    organization_id: Option<Uuid>,
    member_organization_ids: Vec<Uuid>,
    members: Json<Vec<Member>>,
    last_held_on: Option<NaiveDate>,
}

const SELECT_COUNCIL: &str = "SELECT c.id, c.municipality_code, c.version, c.created_at, c.updated_at,
            c.deleted_at, c.deleted_reason, c.deleted_by,
            c.name, c.name_kana, c.layer, c.area_id, c.organization_id, c.members,
            ARRAY(SELECT co.organization_id FROM council_organization co
                  WHERE co.council_id = c.id ORDER BY co.position) AS member_organization_ids,
            (SELECT max(m.held_on) FROM council_meeting m WHERE m.council_id = c.id) AS last_held_on
     FROM council c";

impl CouncilRow {
    fn into_record(self) -> ServiceResult<CouncilRecord> {
        let id = self.meta.id;
        let layer = Layer::from_number(self.layer)
            .ok_or_else(|| corrupt(&COUNCIL, id, "layer", &self.layer.to_string()))?;
        Ok(CouncilRecord {
            stored: Stored {
                meta: self.meta.into(),
                state: Council {
                    name: self.name,
                    name_kana: self.name_kana,
                    layer,
                    area_id: self.area_id,
                    organization_id: self.organization_id,
                    member_organization_ids: self.member_organization_ids,
                    members: self.members.0,
                },
            },
            last_held_on: self.last_held_on,
        })
    }
}

async fn fetch(tx: &mut PgConnection, id: Uuid, lock: bool) -> ServiceResult<Option<CouncilRecord>> {
    let lock = if lock { "FOR UPDATE OF c" } else { "" };
    let row: Option<CouncilRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_COUNCIL} WHERE c.id = $1 {lock}"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(CouncilRow::into_record).transpose()
}

/// The area fits the layer and lies in the municipality; organisations and coordinators the
/// change introduces are alive.
async fn check_references(
    tx: &mut PgConnection,
    municipality_code: &str,
    after: &Council,
    before: Option<&Council>,
) -> ServiceResult<()> {
    let mut violations = Violations::new();
    if let Some(area_id) = after.area_id {
        match areas(tx, &[area_id]).await?.get(&area_id) {
            None => violations.add(
                "area_id",
                format!("区域 {area_id} は登録されていません / area not found"),
            ),
            Some(area) => check_layer_area(&mut violations, "area_id", after.layer, municipality_code, area),
        }
    }
    let mut organizations = introduced(
        "organization_id",
        after.organization_id,
        before.and_then(|before| before.organization_id),
    );
    let before_members = before
        .map(|before| before.member_organization_ids.as_slice())
        .unwrap_or_default();
    organizations.extend(introduced_in_list(
        "member_organization_ids",
        &after.member_organization_ids,
        before_members,
    ));
    let mut coordinators = Vec::new();
    for (index, member) in after.members.iter().enumerate() {
        let known = |pick: fn(&Member) -> Option<Uuid>, id: Uuid| {
            before.is_some_and(|before| before.members.iter().any(|m| pick(m) == Some(id)))
        };
        if let Some(id) = member.organization_id
            && !known(|m| m.organization_id, id)
        {
            organizations.push((format!("members[{index}].organization_id"), id));
        }
        if let Some(id) = member.coordinator_id
            && !known(|m| m.coordinator_id, id)
        {
            coordinators.push((format!("members[{index}].coordinator_id"), id));
        }
    }
    expect_live(tx, &mut violations, Referent::Organization, &organizations).await?;
    expect_live(tx, &mut violations, Referent::Coordinator, &coordinators).await?;
    violations.into_result()
}

async fn write(tx: &mut PgConnection, id: Uuid, council: &Council) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE council SET name = $2, name_kana = $3, layer = $4, area_id = $5, organization_id = $6,
             members = $7
         WHERE id = $1",
    )
    .bind(id)
    .bind(&council.name)
    .bind(&council.name_kana)
    .bind(council.layer.number())
    .bind(council.area_id)
    .bind(council.organization_id)
    .bind(Json(&council.members))
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM council_organization WHERE council_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO council_organization (council_id, organization_id, position)
         SELECT $1, organization_id, position
         FROM unnest($2::uuid[]) WITH ORDINALITY AS o(organization_id, position)",
    )
    .bind(id)
    .bind(&council.member_organization_ids)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn create(
    pool: &PgPool,
    municipality_code: &str,
    council: Council,
    created_by: &str,
) -> ServiceResult<CouncilRecord> {
    let mut tx = pool.begin().await?;
    check_references(&mut tx, municipality_code, &council, None).await?;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO council (id, municipality_code, name, layer, area_id, organization_id)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(municipality_code)
    .bind(&council.name)
    .bind(council.layer.number())
    .bind(council.area_id)
    .bind(council.organization_id)
    .execute(&mut *tx)
    .await?;
    write(&mut tx, id, &council).await?;
    COUNCIL
        .record_created(&mut tx, id, municipality_code, snapshot(&council), created_by)
        .await?;
    tx.commit().await?;
    get(pool, id).await
}

pub async fn get(pool: &PgPool, id: Uuid) -> ServiceResult<CouncilRecord> {
    let mut connection = pool.acquire().await?;
    fetch(&mut connection, id, false)
        .await?
        .ok_or_else(|| COUNCIL.not_found(id))
}

pub async fn batch_get(pool: &PgPool, ids: &[Uuid]) -> ServiceResult<Vec<CouncilRecord>> {
    let rows: Vec<CouncilRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_COUNCIL} WHERE c.id = ANY($1)"
    )))
    .bind(ids)
    .fetch_all(pool)
    .await?;
    let found = rows
        .into_iter()
        .map(CouncilRow::into_record)
        .collect::<ServiceResult<Vec<_>>>()?;
    COUNCIL.in_request_order(ids, found, |council| council.stored.meta.id)
}

pub async fn update(
    pool: &PgPool,
    id: Uuid,
    expected_version: i64,
    changed_by: &str,
    change: impl FnOnce(&Council) -> ServiceResult<Council>,
) -> ServiceResult<CouncilRecord> {
    let mut tx = pool.begin().await?;
    let current = fetch(&mut tx, id, true)
        .await?
        .ok_or_else(|| COUNCIL.not_found(id))?;
    let Stored { meta, state } = &current.stored;
    COUNCIL.check_editable(meta, expected_version)?;
    let changed = change(state)?;
    let changes = history::diff(&snapshot(state), &snapshot(&changed));
    if changes.is_empty() {
        return Ok(current);
    }
    check_references(&mut tx, &meta.municipality_code, &changed, Some(state)).await?;
    write(&mut tx, id, &changed).await?;
    COUNCIL
        .record_updated(&mut tx, meta, &changes, changed_by)
        .await?;
    tx.commit().await?;
    get(pool, id).await
}

#[derive(Debug, Clone, Default)]
pub struct CouncilFilter {
    pub layer: Option<Layer>,
}

pub async fn list(
    pool: &PgPool,
    filter: &ListFilter,
    councils: &CouncilFilter,
    page: Page,
) -> ServiceResult<Vec<CouncilRecord>> {
    check_filter_area(pool, filter.area_id).await?;
    let rows: Vec<CouncilRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SUBTREE}
         {SELECT_COUNCIL}
         WHERE ($1::text IS NULL OR c.municipality_code = $1)
           AND ($2::uuid IS NULL OR c.area_id IN (SELECT id FROM subtree))
           AND ($3::text IS NULL OR {})
           AND ($4::timestamptz IS NULL OR c.updated_at > $4)
           AND ($5 OR c.deleted_at IS NULL)
           AND ($6::smallint IS NULL OR c.layer = $6)
           AND ($7::uuid IS NULL OR c.id > $7)
         ORDER BY c.id LIMIT $8",
        folded_contains("c.search_key", "$3")
    )))
    .bind(filter.municipality_code.as_deref())
    .bind(filter.area_id)
    .bind(filter.text.as_deref())
    .bind(filter.modified_after)
    .bind(filter.include_deleted)
    .bind(councils.layer.map(Layer::number))
    .bind(page.after)
    .bind(i64::from(page.size))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(CouncilRow::into_record).collect()
}

/// A meeting as stored.
#[derive(Debug, Clone)]
pub struct MeetingRecord {
    pub id: Uuid,
    pub council_id: Uuid,
    pub meeting: Meeting,
    pub recorded_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, sqlx::FromRow)]
struct MeetingRow {
    id: Uuid,
    council_id: Uuid,
    held_on: NaiveDate,
    agenda_items: Vec<String>,
    decisions: Vec<String>,
    attendees_count: i32,
    notes: String,
    recorded_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<MeetingRow> for MeetingRecord {
    fn from(row: MeetingRow) -> MeetingRecord {
        MeetingRecord {
            id: row.id,
            council_id: row.council_id,
            meeting: Meeting {
                held_on: row.held_on,
                agenda_items: row.agenda_items,
                decisions: row.decisions,
                attendees_count: row.attendees_count.max(0) as u32,
                notes: row.notes,
            },
            recorded_by: row.recorded_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

const SELECT_MEETING: &str =
    "SELECT id, council_id, held_on, agenda_items, decisions, attendees_count, notes,
            recorded_by, created_at, updated_at
     FROM council_meeting";

/// The history field of a meeting: `meetings[<id>]`, or `meetings[<id>].<field>`.
fn meeting_field(id: Uuid, field: Option<&str>) -> String {
    match field {
        None => format!("meetings[{id}]"),
        Some(field) => format!("meetings[{id}].{field}"),
    }
}

async fn write_meeting(tx: &mut PgConnection, id: Uuid, meeting: &Meeting) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE council_meeting SET held_on = $2, agenda_items = $3, decisions = $4, attendees_count = $5,
             notes = $6, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(meeting.held_on)
    .bind(&meeting.agenda_items)
    .bind(&meeting.decisions)
    .bind(i32::try_from(meeting.attendees_count).unwrap_or(i32::MAX))
    .bind(&meeting.notes)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Records a meeting of a council that is not deleted, at `expected_version` of the council.
pub async fn add_meeting(
    pool: &PgPool,
    council_id: Uuid,
    expected_version: i64,
    recorded_by: &str,
    meeting: Meeting,
) -> ServiceResult<(MeetingRecord, CouncilRecord)> {
    let mut tx = pool.begin().await?;
    let meta = COUNCIL.lock(&mut tx, council_id).await?;
    COUNCIL.check_editable(&meta, expected_version)?;
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO council_meeting (id, council_id, held_on, recorded_by) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(council_id)
        .bind(meeting.held_on)
        .bind(recorded_by)
        .execute(&mut *tx)
        .await?;
    write_meeting(&mut tx, id, &meeting).await?;
    let change = FieldChange {
        field: meeting_field(id, None),
        old_value: None,
        new_value: Some(serde_json::Value::Object(snapshot(&meeting))),
    };
    COUNCIL
        .record_updated(&mut tx, &meta, &[change], recorded_by)
        .await?;
    tx.commit().await?;
    Ok((get_meeting(pool, id).await?, get(pool, council_id).await?))
}

/// Corrects a meeting: the council must not be deleted and be at `expected_version`.
pub async fn update_meeting(
    pool: &PgPool,
    meeting_id: Uuid,
    expected_version: i64,
    changed_by: &str,
    change: impl FnOnce(&Meeting) -> ServiceResult<Meeting>,
) -> ServiceResult<(MeetingRecord, CouncilRecord)> {
    let mut tx = pool.begin().await?;
    let council_id: Uuid = sqlx::query_scalar("SELECT council_id FROM council_meeting WHERE id = $1")
        .bind(meeting_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("協議体の開催記録 {meeting_id}")))?;
    // The council first, then the meeting: every writer of a meeting locks in this order.
    let meta = COUNCIL.lock(&mut tx, council_id).await?;
    COUNCIL.check_editable(&meta, expected_version)?;
    let current: MeetingRecord = sqlx::query_as::<_, MeetingRow>(sqlx::AssertSqlSafe(format!(
        "{SELECT_MEETING} WHERE id = $1 FOR UPDATE"
    )))
    .bind(meeting_id)
    .fetch_one(&mut *tx)
    .await?
    .into();
    let changed = change(&current.meeting)?;
    let changes: Vec<FieldChange> = history::diff(&snapshot(&current.meeting), &snapshot(&changed))
        .into_iter()
        .map(|change| FieldChange {
            field: meeting_field(meeting_id, Some(&change.field)),
            ..change
        })
        .collect();
    if changes.is_empty() {
        return Ok((current, get(pool, council_id).await?));
    }
    write_meeting(&mut tx, meeting_id, &changed).await?;
    COUNCIL
        .record_updated(&mut tx, &meta, &changes, changed_by)
        .await?;
    tx.commit().await?;
    Ok((get_meeting(pool, meeting_id).await?, get(pool, council_id).await?))
}

async fn get_meeting(pool: &PgPool, id: Uuid) -> ServiceResult<MeetingRecord> {
    sqlx::query_as::<_, MeetingRow>(sqlx::AssertSqlSafe(format!("{SELECT_MEETING} WHERE id = $1")))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(MeetingRecord::from)
        .ok_or_else(|| ServiceError::NotFound(format!("協議体の開催記録 {id}")))
}

/// Meetings of a council, the most recent first: by held_on, then by id (the order they were
/// recorded), both descending. The page token is the last meeting's id.
pub async fn list_meetings(pool: &PgPool, council_id: Uuid, page: Page) -> ServiceResult<Vec<MeetingRecord>> {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM council WHERE id = $1)")
        .bind(council_id)
        .fetch_one(pool)
        .await?;
    if !exists {
        return Err(COUNCIL.not_found(council_id));
    }
    let rows: Vec<MeetingRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_MEETING}
         WHERE council_id = $1
           AND ($2::uuid IS NULL OR (held_on, id) < (SELECT held_on, id FROM council_meeting WHERE id = $2))
         ORDER BY held_on DESC, id DESC LIMIT $3"
    )))
    .bind(council_id)
    .bind(page.after)
    .bind(i64::from(page.size))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(MeetingRecord::from).collect())
}
