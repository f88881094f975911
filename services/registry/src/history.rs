//! Field-level change history: who changed which field of which entity, from what, to what.
//!
//! Entities describe their editable state as a JSON object (field → value); a change is the
//! difference between the object before and after, so every entity kind shares one table and
//! one diff, and the history reads like HSDS `metadata` (resource, field, previous value,
//! replacement value, updated by).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::{PgConnection, PgPool};
use tsunagu_runtime::error::ServiceResult;
use tsunagu_runtime::grpc::Page;
use uuid::Uuid;

/// Which table an entity id refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    Area,
    Organization,
    Resource,
    Helper,
    Coordinator,
    Council,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Area => "area",
            EntityKind::Organization => "organization",
            EntityKind::Resource => "resource",
            EntityKind::Helper => "helper",
            EntityKind::Coordinator => "coordinator",
            EntityKind::Council => "council",
        }
    }
}

/// The field name recorded for creation and deletion, which concern the whole entity.
pub const WHOLE_ENTITY: &str = "*";

#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: String,
    pub old_value: Option<Value>,
    pub new_value: Option<Value>,
}

/// The fields whose values differ between two snapshots, in field-name order.
pub fn diff(before: &Map<String, Value>, after: &Map<String, Value>) -> Vec<FieldChange> {
    let mut fields: Vec<&String> = before.keys().chain(after.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter(|field| before.get(*field) != after.get(*field))
        .map(|field| FieldChange {
            field: field.clone(),
            old_value: before.get(field).cloned(),
            new_value: after.get(field).cloned(),
        })
        .collect()
}

/// Who made a change and why, as the caller states it.
#[derive(Debug, Clone, Copy)]
pub struct ChangeAuthor<'a> {
    pub changed_by: &'a str,
    pub reason: &'a str,
}

/// Records `changes`, made in `version`, inside the caller's transaction.
pub async fn record(
    tx: &mut PgConnection,
    kind: EntityKind,
    entity_id: Uuid,
    version: i64,
    author: ChangeAuthor<'_>,
    changes: &[FieldChange],
) -> sqlx::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = changes.iter().map(|_| Uuid::now_v7()).collect();
    let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
    let old_values: Vec<Option<Value>> = changes.iter().map(|c| c.old_value.clone()).collect();
    let new_values: Vec<Option<Value>> = changes.iter().map(|c| c.new_value.clone()).collect();
    sqlx::query(
        "INSERT INTO change_history (id, entity_kind, entity_id, version, field, old_value, new_value, changed_by, reason)
         SELECT id, $2, $3, $4, field, old_value, new_value, $8, $9
         FROM unnest($1::uuid[], $5::text[], $6::jsonb[], $7::jsonb[]) AS c(id, field, old_value, new_value)",
    )
    .bind(&ids)
    .bind(kind.as_str())
    .bind(entity_id)
    .bind(version)
    .bind(&fields)
    .bind(&old_values)
    .bind(&new_values)
    .bind(author.changed_by)
    .bind(author.reason)
    .execute(&mut *tx)
    .await?;
    audit_change(tx, kind, entity_id, &fields).await
}

/// Every change made through the API is on the audit trail too (`write_audit::changed`, where
/// every write of the registry is recorded), with the key, role and client that made it (the
/// history keeps the name the caller gave).
async fn audit_change(
    tx: &mut PgConnection,
    kind: EntityKind,
    entity_id: Uuid,
    fields: &[&str],
) -> sqlx::Result<()> {
    if tsunagu_runtime::audit::current_call().is_none() {
        return Ok(());
    }
    // The table's name is one of six constants, never input.
    let municipality: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT municipality_code FROM {} WHERE id = $1",
        kind.as_str()
    )))
    .bind(entity_id)
    .fetch_one(&mut *tx)
    .await?;
    crate::write_audit::changed(
        tx,
        kind.as_str(),
        &municipality,
        Some(entity_id),
        &fields.join(","),
    )
    .await
    .map_err(|error| sqlx::Error::Protocol(error.to_string()))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryRow {
    pub id: Uuid,
    pub version: i64,
    pub field: String,
    pub old_value: Option<Value>,
    pub new_value: Option<Value>,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
    pub reason: String,
}

/// The history of one entity, oldest change first.
pub async fn list(
    pool: &PgPool,
    kind: EntityKind,
    entity_id: Uuid,
    page: Page,
) -> ServiceResult<Vec<HistoryRow>> {
    Ok(sqlx::query_as::<_, HistoryRow>(
        "SELECT id, version, field, old_value, new_value, changed_by, changed_at, reason
         FROM change_history
         WHERE entity_kind = $1 AND entity_id = $2 AND ($3::uuid IS NULL OR id > $3)
         ORDER BY id LIMIT $4",
    )
    .bind(kind.as_str())
    .bind(entity_id)
    .bind(page.after)
    .bind(i64::from(page.size))
    .fetch_all(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn diff_names_changed_added_and_removed_fields_only() {
        let before = object(json!({"name": "ゴミ出し隊", "capacity": 3, "note": "x"}));
        let after = object(json!({"name": "ゴミ出し隊", "capacity": 5, "status": "active"}));
        let changes = diff(&before, &after);
        let summary: Vec<_> = changes
            .iter()
            .map(|c| (c.field.as_str(), c.old_value.clone(), c.new_value.clone()))
            .collect();
        assert_eq!(
            summary,
            [
                ("capacity", Some(json!(3)), Some(json!(5))),
                ("note", Some(json!("x")), None),
                ("status", None, Some(json!("active"))),
            ]
        );
    }
}
