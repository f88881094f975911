//! The foundation's matching rule: a resource is a candidate for a need when its category is
//! the need's, its coverage contains the need's area (the area itself or an ancestor in the
//! area tree), and it has capacity left. The least loaded candidate wins; ties go to the
//! oldest resource, so the choice is deterministic.

use sqlx::PgConnection;
use uuid::Uuid;

pub struct Candidate {
    pub resource_id: Uuid,
    pub organization_id: Uuid,
}

pub enum Decision {
    Proposed(Candidate),
    /// `kind` names the reason for the gap map: `no_resource`, `no_coverage` or `at_capacity`.
    Unmatched {
        reason: String,
        kind: &'static str,
    },
}

/// Chooses a resource and commits one unit of its capacity, in the caller's transaction.
/// `excluded` are resources that declined this need before (rejected or let it expire).
pub async fn decide(
    tx: &mut PgConnection,
    area_id: Uuid,
    category: &str,
    excluded: &[Uuid],
) -> sqlx::Result<Decision> {
    let candidates: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "WITH RECURSIVE covering (id, parent_id) AS (
             SELECT $1::uuid, (SELECT parent_id FROM area WHERE id = $1)
             UNION ALL
             SELECT a.id, a.parent_id FROM area a JOIN covering c ON a.id = c.parent_id
         )
         SELECT DISTINCT r.id, r.organization_id, r.committed::float8 / r.capacity AS load
         FROM resource r JOIN resource_coverage rc ON rc.resource_id = r.id
         WHERE r.category = $2 AND r.accepting AND rc.area_id IN (SELECT id FROM covering)
           AND r.committed < r.capacity AND r.id <> ALL($3)
         ORDER BY load, r.id",
    )
    .bind(area_id)
    .bind(category)
    .bind(excluded)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|(id, organization, _load): (Uuid, Uuid, f64)| (id, organization))
    .collect();

    for (resource_id, organization_id) in candidates {
        // The row lock and the re-checked condition keep capacity exact under concurrent
        // workers: a worker that lost the race finds committed = capacity and tries the next.
        let taken = sqlx::query(
            "UPDATE resource SET committed = committed + 1 WHERE id = $1 AND committed < capacity",
        )
        .bind(resource_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if taken == 1 {
            return Ok(Decision::Proposed(Candidate {
                resource_id,
                organization_id,
            }));
        }
    }
    let (kind, reason) = explain_unmatched(tx, area_id, category).await?;
    Ok(Decision::Unmatched { reason, kind })
}

/// Says why nothing was proposed, in the words a coordinator uses.
async fn explain_unmatched(
    tx: &mut PgConnection,
    area_id: Uuid,
    category: &str,
) -> sqlx::Result<(&'static str, String)> {
    let (of_category, covering): (i64, i64) = sqlx::query_as(
        "WITH RECURSIVE covering (id, parent_id) AS (
             SELECT $1::uuid, (SELECT parent_id FROM area WHERE id = $1)
             UNION ALL
             SELECT a.id, a.parent_id FROM area a JOIN covering c ON a.id = c.parent_id
         )
         SELECT count(DISTINCT r.id),
                count(DISTINCT r.id) FILTER (WHERE rc.area_id IN (SELECT id FROM covering))
         FROM resource r LEFT JOIN resource_coverage rc ON rc.resource_id = r.id
         WHERE r.category = $2 AND r.accepting",
    )
    .bind(area_id)
    .bind(category)
    .fetch_one(&mut *tx)
    .await?;
    // Coordinators read the category's Japanese name, not its code.
    let category = tsunagu_runtime::taxonomy::resolve_bundled(category)
        .map(|entry| entry.name.as_str())
        .unwrap_or(category);
    Ok(if of_category == 0 {
        (
            "no_resource",
            format!(
                "「{category}」の地域資源が登録されていません / no resource of this category is registered"
            ),
        )
    } else if covering == 0 {
        (
            "no_coverage",
            format!(
                "この区域を対象とする「{category}」の地域資源がありません / no resource of this category covers the area"
            ),
        )
    } else {
        (
            "at_capacity",
            format!(
                "対象となる「{category}」の地域資源はすべて受け入れ上限に達しているか、お断りされました / every candidate is at capacity or declined"
            ),
        )
    })
}
