//! Applies registry events to matching's own copy of the areas and resources it needs.
//! Idempotent (upserts), so a replayed event changes nothing.

use sqlx::PgConnection;
use tsunagu_runtime::events::{AreaCreated, ResourceCreated};

pub async fn apply_area(tx: &mut PgConnection, area: &AreaCreated) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO area (id, parent_id, kind, municipality_code) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET parent_id = EXCLUDED.parent_id, kind = EXCLUDED.kind,
                                        municipality_code = EXCLUDED.municipality_code",
    )
    .bind(area.area_id)
    .bind(area.parent_id)
    .bind(&area.kind)
    .bind(&area.municipality_code)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn apply_resource(tx: &mut PgConnection, resource: &ResourceCreated) -> sqlx::Result<()> {
    let capacity = i32::try_from(resource.capacity).unwrap_or(i32::MAX);
    sqlx::query(
        "INSERT INTO resource (id, municipality_code, organization_id, category, capacity)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET category = EXCLUDED.category,
             capacity = GREATEST(EXCLUDED.capacity, resource.committed)",
    )
    .bind(resource.resource_id)
    .bind(&resource.municipality_code)
    .bind(resource.organization_id)
    .bind(&resource.category)
    .bind(capacity)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO resource_coverage (resource_id, area_id) SELECT $1, unnest($2::uuid[])
         ON CONFLICT DO NOTHING",
    )
    .bind(resource.resource_id)
    .bind(&resource.coverage_area_ids)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
