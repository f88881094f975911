//! Applies registry events to matching's own copy of the areas and resources it needs.
//! Idempotent (upserts guarded by version), so a replayed or stale event changes nothing.

use sqlx::PgConnection;
use tsunagu_runtime::events::{AreaCreated, AreaIssueRecorded, RegistryChange, ResourceChanged};

pub async fn apply_area(tx: &mut PgConnection, area: &AreaCreated) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO area (id, parent_id, kind, municipality_code, name) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET parent_id = EXCLUDED.parent_id, kind = EXCLUDED.kind,
                                        municipality_code = EXCLUDED.municipality_code, name = EXCLUDED.name",
    )
    .bind(area.area_id)
    .bind(area.parent_id)
    .bind(&area.kind)
    .bind(&area.municipality_code)
    .bind(&area.name)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// An area issue from intake, for the gap map (recorded once; a redelivery changes nothing).
pub async fn apply_area_issue(tx: &mut PgConnection, issue: &AreaIssueRecorded) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO area_issue (id, municipality_code, source, area_id, category, count, estimated, period_from,
                                 period_to)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
    )
    .bind(issue.area_issue_id)
    .bind(&issue.municipality_code)
    .bind(&issue.source)
    .bind(issue.area_id)
    .bind(&issue.category)
    .bind(i32::try_from(issue.count).unwrap_or(i32::MAX))
    .bind(issue.estimated)
    .bind(issue.period_from)
    .bind(issue.period_to)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Applies a resource's state unless a newer version was applied already. Returns whether
/// it was applied.
pub async fn apply_resource(tx: &mut PgConnection, resource: &ResourceChanged) -> sqlx::Result<bool> {
    let capacity = i32::try_from(resource.capacity).unwrap_or(i32::MAX);
    // Capacity never drops below what is already committed: the proposals made stand, and
    // the resource takes no new need until enough are released.
    let applied = sqlx::query(
        "INSERT INTO resource (id, municipality_code, organization_id, category, capacity, version, accepting, terms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (id) DO UPDATE SET category = EXCLUDED.category, terms = EXCLUDED.terms,
             organization_id = EXCLUDED.organization_id,
             capacity = GREATEST(EXCLUDED.capacity, resource.committed),
             version = EXCLUDED.version, accepting = EXCLUDED.accepting
         WHERE resource.version < EXCLUDED.version",
    )
    .bind(resource.resource_id)
    .bind(&resource.municipality_code)
    .bind(resource.organization_id)
    .bind(&resource.category)
    .bind(capacity)
    .bind(resource.version)
    .bind(resource.accepting)
    .bind(resource.terms.as_ref().map(sqlx::types::Json))
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !applied {
        return Ok(false);
    }
    sqlx::query("DELETE FROM resource_coverage WHERE resource_id = $1")
        .bind(resource.resource_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO resource_coverage (resource_id, area_id) SELECT $1, unnest($2::uuid[])")
        .bind(resource.resource_id)
        .bind(&resource.coverage_area_ids)
        .execute(&mut *tx)
        .await?;
    Ok(true)
}

/// Which organisation a helper works for (ids only), unless a newer version was applied.
pub async fn apply_helper(tx: &mut PgConnection, change: &RegistryChange, deleted: bool) -> sqlx::Result<()> {
    // Events written before they carried the organisation tell matching nothing it can use.
    let Some(organization_id) = change.organization_id else {
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO helper (id, organization_id, version, deleted) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET organization_id = EXCLUDED.organization_id,
             version = EXCLUDED.version, deleted = EXCLUDED.deleted
         WHERE helper.version < EXCLUDED.version",
    )
    .bind(change.entity_id)
    .bind(organization_id)
    .bind(change.version)
    .bind(deleted)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
