//! Storage of helpers, coordinators and councils. What the three share lives here: the
//! version, timestamps and soft deletion of a row ([`Meta`]), the steps every write ends with
//! (history and outbox event in the same transaction: [`Entity`]), soft deletion, and the
//! checks of what a request refers to (areas, organisations, coordinators).

pub mod coordinators;
pub mod councils;
pub mod helpers;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::{PgConnection, PgPool};
use tsunagu_runtime::error::{ServiceError, ServiceResult, Violations};
use tsunagu_runtime::events::{self, RegistryChange};
use tsunagu_runtime::grpc::Page;
use tsunagu_runtime::outbox;
use uuid::Uuid;

use crate::domain::AreaKind;
use crate::field_mask::check_version;
use crate::history::{self, ChangeAuthor, EntityKind, FieldChange, HistoryRow, WHOLE_ENTITY};

/// A soft deletion: when, why and by whom.
#[derive(Debug, Clone, PartialEq)]
pub struct Deletion {
    pub deleted_at: DateTime<Utc>,
    pub reason: String,
    pub deleted_by: String,
}

/// What every stored entity has besides its editable state.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub id: Uuid,
    pub municipality_code: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deletion: Option<Deletion>,
}

/// An entity as stored: its meta and its editable state.
#[derive(Debug, Clone)]
pub struct Stored<T> {
    pub meta: Meta,
    pub state: T,
}

/// The columns of [`MetaRow`], for a table aliased `alias`.
fn meta_columns(alias: &str) -> String {
    [
        "id",
        "municipality_code",
        "version",
        "created_at",
        "updated_at",
        "deleted_at",
        "deleted_reason",
        "deleted_by",
    ]
    .map(|column| format!("{alias}.{column}"))
    .join(", ")
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MetaRow {
    id: Uuid,
    municipality_code: String,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
    deleted_reason: Option<String>,
    deleted_by: Option<String>,
}

impl From<MetaRow> for Meta {
    fn from(row: MetaRow) -> Meta {
        Meta {
            id: row.id,
            municipality_code: row.municipality_code,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
            deletion: row.deleted_at.map(|deleted_at| Deletion {
                deleted_at,
                reason: row.deleted_reason.unwrap_or_default(),
                deleted_by: row.deleted_by.unwrap_or_default(),
            }),
        }
    }
}

/// One kind of entity: its table, its name for people, its history kind and its events.
pub struct Entity {
    pub kind: EntityKind,
    table: &'static str,
    /// As a coordinator calls it, e.g. 担い手.
    pub label: &'static str,
    created: &'static str,
    updated: &'static str,
    deleted: &'static str,
}

pub const HELPER: Entity = Entity {
    kind: EntityKind::Helper,
    table: "helper",
    label: "担い手",
    created: events::HELPER_CREATED,
    updated: events::HELPER_UPDATED,
    deleted: events::HELPER_DELETED,
};

pub const COORDINATOR: Entity = Entity {
    kind: EntityKind::Coordinator,
    table: "coordinator",
    label: "生活支援コーディネーター",
    created: events::COORDINATOR_CREATED,
    updated: events::COORDINATOR_UPDATED,
    deleted: events::COORDINATOR_DELETED,
};

pub const COUNCIL: Entity = Entity {
    kind: EntityKind::Council,
    table: "council",
    label: "協議体",
    created: events::COUNCIL_CREATED,
    updated: events::COUNCIL_UPDATED,
    deleted: events::COUNCIL_DELETED,
};

impl Entity {
    fn not_found(&self, id: Uuid) -> ServiceError {
        ServiceError::NotFound(format!("{} {id}", self.label))
    }

    /// Locks the row for the rest of the transaction and returns its meta.
    async fn lock(&self, tx: &mut PgConnection, id: Uuid) -> ServiceResult<Meta> {
        let row: Option<MetaRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM {} t WHERE t.id = $1 FOR UPDATE",
            meta_columns("t"),
            self.table
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        row.map(Meta::from).ok_or_else(|| self.not_found(id))
    }

    /// A deleted entity is read-only; `expected_version` (0 = no check) must be current.
    fn check_editable(&self, meta: &Meta, expected_version: i64) -> ServiceResult<()> {
        if let Some(deletion) = &meta.deletion {
            return Err(ServiceError::FailedPrecondition(format!(
                "{} {} は削除されています（{}、理由: {}） / deleted",
                self.label,
                meta.id,
                deletion.deleted_at.format("%Y-%m-%d"),
                deletion.reason
            )));
        }
        check_version(self.label, expected_version, meta.version)
    }

    /// The first history entry (field "*", the whole snapshot) and the created event.
    async fn record_created(
        &self,
        tx: &mut PgConnection,
        id: Uuid,
        municipality_code: &str,
        snapshot: Map<String, Value>,
        created_by: &str,
    ) -> ServiceResult<()> {
        let creation = FieldChange {
            field: WHOLE_ENTITY.to_string(),
            old_value: None,
            new_value: Some(Value::Object(snapshot)),
        };
        let author = ChangeAuthor {
            changed_by: created_by,
            reason: "",
        };
        history::record(tx, self.kind, id, 1, author, &[creation]).await?;
        self.announce(tx, self.created, id, municipality_code, 1).await
    }

    /// After the entity's own columns were written: bumps the version, records `changes`
    /// under it and announces the update. Returns the new version.
    async fn record_updated(
        &self,
        tx: &mut PgConnection,
        meta: &Meta,
        changes: &[FieldChange],
        changed_by: &str,
    ) -> ServiceResult<i64> {
        let version: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "UPDATE {} SET version = version + 1, updated_at = now() WHERE id = $1 RETURNING version",
            self.table
        )))
        .bind(meta.id)
        .fetch_one(&mut *tx)
        .await?;
        let author = ChangeAuthor {
            changed_by,
            reason: "",
        };
        history::record(tx, self.kind, meta.id, version, author, changes).await?;
        self.announce(tx, self.updated, meta.id, &meta.municipality_code, version)
            .await?;
        Ok(version)
    }

    async fn announce(
        &self,
        tx: &mut PgConnection,
        event_type: &str,
        id: Uuid,
        municipality_code: &str,
        version: i64,
    ) -> ServiceResult<()> {
        // Matching keeps which organisation a helper works for (continuity with a helper
        // the resident knows); the other entities carry ids only.
        let organization_id = match self.kind {
            EntityKind::Helper => {
                sqlx::query_scalar("SELECT organization_id FROM helper WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
            }
            _ => None,
        };
        let change = RegistryChange {
            entity_id: id,
            municipality_code: municipality_code.to_string(),
            version,
            organization_id,
        };
        outbox::enqueue(tx, event_type, municipality_code, &change).await?;
        Ok(())
    }

    /// Soft deletion: the row stays, readable by id, with when, why and by whom; the history
    /// records it as field "*" with the reason; the deleted event goes out.
    pub async fn delete(
        &self,
        pool: &PgPool,
        id: Uuid,
        expected_version: i64,
        reason: &str,
        deleted_by: &str,
    ) -> ServiceResult<()> {
        let mut tx = pool.begin().await?;
        let meta = self.lock(&mut tx, id).await?;
        self.check_editable(&meta, expected_version)?;
        let version: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "UPDATE {} SET deleted_at = now(), deleted_reason = $2, deleted_by = $3,
                 version = version + 1, updated_at = now()
             WHERE id = $1 RETURNING version",
            self.table
        )))
        .bind(id)
        .bind(reason)
        .bind(deleted_by)
        .fetch_one(&mut *tx)
        .await?;
        let deletion = FieldChange {
            field: WHOLE_ENTITY.to_string(),
            old_value: None,
            new_value: None,
        };
        let author = ChangeAuthor {
            changed_by: deleted_by,
            reason,
        };
        history::record(&mut tx, self.kind, id, version, author, &[deletion]).await?;
        self.announce(&mut tx, self.deleted, id, &meta.municipality_code, version)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The field-level history of one entity (deleted ones too), oldest first.
    pub async fn history(&self, pool: &PgPool, id: Uuid, page: Page) -> ServiceResult<Vec<HistoryRow>> {
        let exists: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT EXISTS (SELECT 1 FROM {} WHERE id = $1)",
            self.table
        )))
        .bind(id)
        .fetch_one(pool)
        .await?;
        if !exists {
            return Err(self.not_found(id));
        }
        history::list(pool, self.kind, id, page).await
    }

    /// `found` in the order of `ids` (duplicates repeated), or `NOT_FOUND` naming every
    /// missing id.
    fn in_request_order<T: Clone>(
        &self,
        ids: &[Uuid],
        found: Vec<T>,
        id_of: impl Fn(&T) -> Uuid,
    ) -> ServiceResult<Vec<T>> {
        crate::batch::in_request_order(self.label, ids, found, id_of)
    }
}

/// The filters every list takes. `$1` is the municipality and `$2` the area in every list
/// query, so [`SUBTREE`] can be shared.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub municipality_code: Option<String>,
    /// The area itself and every area below it.
    pub area_id: Option<Uuid>,
    /// Matched against name and reading with `search_fold`.
    pub text: Option<String>,
    pub modified_after: Option<DateTime<Utc>>,
    pub include_deleted: bool,
}

/// The area `$2` and every area below it, as `subtree (id)`; empty when `$2` is NULL.
const SUBTREE: &str = "WITH RECURSIVE subtree (id) AS (
         SELECT id FROM area WHERE id = $2
         UNION ALL
         SELECT a.id FROM area a JOIN subtree s ON a.parent_id = s.id
     )";

/// SQL: `column` (a stored `search_fold` key) contains the folded text `param`, matched
/// literally: LIKE's wildcards are escaped after the fold, which turns ％ into %.
fn folded_contains(column: &str, param: &str) -> String {
    format!(
        "{column} LIKE '%' || replace(replace(replace(search_fold({param}), '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%' ESCAPE '\\'"
    )
}

/// `INVALID_ARGUMENT` naming `area_id` when a list filters by an area that does not exist.
async fn check_filter_area(pool: &PgPool, area_id: Option<Uuid>) -> ServiceResult<()> {
    let Some(area_id) = area_id else {
        return Ok(());
    };
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM area WHERE id = $1)")
        .bind(area_id)
        .fetch_one(pool)
        .await?;
    if !exists {
        return Err(ServiceError::invalid(
            "area_id",
            format!("区域 {area_id} は登録されていません / area not found"),
        ));
    }
    Ok(())
}

/// What a check needs to know of an area.
#[derive(Debug, Clone)]
pub(crate) struct AreaFacts {
    pub kind: Option<AreaKind>,
    pub name: String,
    pub municipality_code: String,
}

pub(crate) async fn areas(tx: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<HashMap<Uuid, AreaFacts>> {
    let rows: Vec<(Uuid, String, String, String)> =
        sqlx::query_as("SELECT id, kind, name, municipality_code FROM area WHERE id = ANY($1)")
            .bind(ids)
            .fetch_all(&mut *tx)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, kind, name, municipality_code)| {
            let facts = AreaFacts {
                kind: AreaKind::parse(&kind),
                name,
                municipality_code,
            };
            (id, facts)
        })
        .collect())
}

/// Reports every id of `ids` (named `field[index]`) that names no area; returns the facts of
/// the others.
pub(crate) async fn expect_areas(
    tx: &mut PgConnection,
    violations: &mut Violations,
    field: &str,
    ids: &[Uuid],
) -> sqlx::Result<HashMap<Uuid, AreaFacts>> {
    let found = areas(tx, ids).await?;
    for (index, id) in ids.iter().enumerate() {
        if !found.contains_key(id) {
            violations.add(
                format!("{field}[{index}]"),
                format!("区域 {id} は登録されていません / area not found"),
            );
        }
    }
    Ok(found)
}

/// An area of a layer-1 or layer-2 coordinator or council: of a kind the layer allows, in
/// the entity's municipality.
pub(crate) fn check_layer_area(
    violations: &mut Violations,
    field: &str,
    layer: super::common::Layer,
    municipality_code: &str,
    area: &AreaFacts,
) {
    if let Err(reason) = layer.check_area_kind(area.kind) {
        violations.add(field, format!("{}: {reason}", area.name));
    } else if area.municipality_code != municipality_code {
        violations.add(
            field,
            format!(
                "{} は市区町村 {} の区域です（登録先は {municipality_code}） / the area belongs to another municipality",
                area.name, area.municipality_code
            ),
        );
    }
}

/// What a check needs to know of an organisation or a coordinator.
#[derive(Debug, Clone)]
pub(crate) struct ReferenceFacts {
    pub municipality_code: String,
    pub deleted: bool,
}

/// Organisations or coordinators by id, deleted ones included.
async fn references(
    tx: &mut PgConnection,
    table: &str,
    ids: &[Uuid],
) -> sqlx::Result<HashMap<Uuid, ReferenceFacts>> {
    let rows: Vec<(Uuid, String, bool)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, municipality_code, deleted_at IS NOT NULL FROM {table} WHERE id = ANY($1)"
    )))
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, municipality_code, deleted)| {
            (
                id,
                ReferenceFacts {
                    municipality_code,
                    deleted,
                },
            )
        })
        .collect())
}

/// Which kind of row a reference names.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Referent {
    Organization,
    Coordinator,
}

impl Referent {
    fn table(self) -> &'static str {
        match self {
            Referent::Organization => "organization",
            Referent::Coordinator => "coordinator",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Referent::Organization => "団体",
            Referent::Coordinator => "生活支援コーディネーター",
        }
    }
}

/// Checks references `(field, id)` that a change introduces: each must exist and not be
/// deleted. References a change keeps are not checked again, so a record whose organisation
/// was deleted later can still be edited. Returns the facts of those found.
pub(crate) async fn expect_live(
    tx: &mut PgConnection,
    violations: &mut Violations,
    referent: Referent,
    references_to_check: &[(String, Uuid)],
) -> sqlx::Result<HashMap<Uuid, ReferenceFacts>> {
    if references_to_check.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<Uuid> = references_to_check.iter().map(|(_, id)| *id).collect();
    let found = references(tx, referent.table(), &ids).await?;
    for (field, id) in references_to_check {
        match found.get(id) {
            None => violations.add(
                field.as_str(),
                format!(
                    "{} {id} は登録されていません / {} not found",
                    referent.label(),
                    referent.table()
                ),
            ),
            Some(facts) if facts.deleted => violations.add(
                field.as_str(),
                format!(
                    "{} {id} は削除されています / the {} is deleted",
                    referent.label(),
                    referent.table()
                ),
            ),
            Some(_) => {}
        }
    }
    Ok(found)
}

/// The `(field, id)` pairs of `after` that `before` did not have.
pub(crate) fn introduced(field: &str, after: Option<Uuid>, before: Option<Uuid>) -> Vec<(String, Uuid)> {
    match after {
        Some(id) if after != before => vec![(field.to_string(), id)],
        _ => vec![],
    }
}

/// The `(field[index], id)` pairs of the list `after` whose id is not in `before`.
pub(crate) fn introduced_in_list(field: &str, after: &[Uuid], before: &[Uuid]) -> Vec<(String, Uuid)> {
    after
        .iter()
        .enumerate()
        .filter(|(_, id)| !before.contains(id))
        .map(|(index, id)| (format!("{field}[{index}]"), *id))
        .collect()
}

/// Stored data that does not parse back: a bug or a hand edit, never the caller's fault.
fn corrupt(entity: &Entity, id: Uuid, what: &str, value: &str) -> ServiceError {
    ServiceError::Internal(anyhow::anyhow!(
        "{} {id}: stored {what} {value:?} is not understood",
        entity.table
    ))
}
