//! Loading the official list of 全国地方公共団体コード into the area tree: prefectures, then
//! municipalities, then the wards of designated cities, so every parent exists before its
//! children. One transaction: valid rows are applied together, invalid ones reported; a dry run
//! rolls back. Each created or changed area announces itself through the outbox.

use std::collections::{BTreeMap, HashMap};

use sqlx::{PgConnection, PgPool};
use tsunagu_runtime::error::ServiceResult;
use tsunagu_runtime::events::{self, AreaCreated};
use tsunagu_runtime::outbox;
use tsunagu_runtime::tenant::{
    BUNDLED_OFFICIAL_LIST, OfficialEntry, OfficialParse, RowProblem, designated_city_of,
};
use uuid::Uuid;

use crate::domain::AreaKind;

#[derive(Debug, Default)]
pub struct ImportReport {
    pub created: u32,
    pub updated: u32,
    pub unchanged: u32,
    pub rejected: Vec<RowProblem>,
}

enum Outcome {
    Created(Uuid),
    Updated(Uuid),
    Unchanged(Uuid),
}

pub async fn import_official(
    pool: &PgPool,
    parsed: OfficialParse,
    dry_run: bool,
) -> ServiceResult<ImportReport> {
    let mut report = ImportReport {
        rejected: parsed.rejected,
        ..ImportReport::default()
    };
    let rows: Vec<(OfficialEntry, usize)> = parsed.entries.into_iter().zip(parsed.entry_rows).collect();
    let entries: Vec<&OfficialEntry> = rows.iter().map(|(entry, _)| entry).collect();

    // Parents first: prefectures (0), municipalities (1), wards (2).
    let mut ordered: Vec<(&OfficialEntry, usize, Option<&OfficialEntry>)> = rows
        .iter()
        .map(|(entry, row)| (entry, *row, designated_city_of(entry, entries.iter().copied())))
        .collect();
    ordered.sort_by_key(|(entry, row, city)| {
        let rank = if entry.is_prefecture() {
            0
        } else if city.is_some() {
            2
        } else {
            1
        };
        (rank, *row)
    });

    let mut tx = pool.begin().await?;
    let mut ids: HashMap<String, Uuid> = HashMap::new();
    let mut changed: BTreeMap<&str, Vec<(String, Uuid)>> = BTreeMap::new();
    for (entry, row, designated_city) in ordered {
        let (kind, parent_code, municipality_code) = match designated_city {
            _ if entry.is_prefecture() => (AreaKind::Prefecture, None, entry.code.as_str().to_string()),
            Some(city) => (
                AreaKind::Ward,
                Some(city.code.as_str().to_string()),
                city.code.as_str().to_string(),
            ),
            None => (
                AreaKind::Municipality,
                Some(entry.prefecture_code_in(&entries)),
                entry.code.as_str().to_string(),
            ),
        };
        let parent_id = match &parent_code {
            None => None,
            Some(code) => match ids.get(code) {
                Some(id) => Some(*id),
                None => {
                    report.rejected.push(RowProblem {
                        row,
                        column: "code".into(),
                        reason: format!(
                            "親区域 {code} を登録できませんでした / the parent area {code} is missing"
                        ),
                    });
                    continue;
                }
            },
        };
        let area = Upsert {
            kind,
            code: entry.code.as_str(),
            name: entry.name(),
            name_kana: entry.name_kana(),
            parent_id,
            municipality_code: &municipality_code,
        };
        let (id, event_type) = match upsert(&mut tx, &area).await? {
            Outcome::Created(id) => {
                report.created += 1;
                (id, events::AREA_CREATED)
            }
            Outcome::Updated(id) => {
                report.updated += 1;
                (id, events::AREA_UPDATED)
            }
            Outcome::Unchanged(id) => {
                report.unchanged += 1;
                ids.insert(entry.code.as_str().to_string(), id);
                continue;
            }
        };
        ids.insert(entry.code.as_str().to_string(), id);
        let event = AreaCreated {
            area_id: id,
            kind: kind.as_str().to_string(),
            code: Some(entry.code.as_str().to_string()),
            name: area.name.to_string(),
            parent_id,
            municipality_code: municipality_code.clone(),
        };
        outbox::enqueue(&mut tx, event_type, &municipality_code, &event).await?;
        changed
            .entry(event_type)
            .or_default()
            .push((municipality_code, id));
    }
    // On the trail in one statement per kind of change: the national list is 1,800 areas.
    for (event_type, areas) in &changed {
        crate::write_audit::changed_many(&mut tx, "area", areas, event_type).await?;
    }
    report.rejected.sort_by_key(|problem| problem.row);
    if dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(report)
}

/// On first start (no official area yet), loads the official list shipped with the project.
/// An advisory lock makes replicas that start together load it once.
pub async fn seed_if_empty(pool: &PgPool) -> anyhow::Result<()> {
    let mut lock = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('tsunagu.registry.seed_official_areas'))")
        .execute(&mut *lock)
        .await?;
    let seeded: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM area WHERE code IS NOT NULL)")
        .fetch_one(&mut *lock)
        .await?;
    if !seeded {
        let parsed = tsunagu_runtime::tenant::parse_official_csv(BUNDLED_OFFICIAL_LIST.as_bytes())
            .map_err(anyhow::Error::msg)?;
        let report = import_official(pool, parsed, false)
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        tracing::info!(
            created = report.created,
            "official list of local government codes loaded"
        );
    }
    lock.commit().await?;
    Ok(())
}

struct Upsert<'a> {
    kind: AreaKind,
    code: &'a str,
    name: &'a str,
    name_kana: &'a str,
    parent_id: Option<Uuid>,
    municipality_code: &'a str,
}

/// Inserts the area, or updates it when anything differs; an identical row is left alone.
async fn upsert(tx: &mut PgConnection, area: &Upsert<'_>) -> sqlx::Result<Outcome> {
    let written: Option<(Uuid, bool)> = sqlx::query_as(
        "INSERT INTO area (id, kind, code, name, name_kana, parent_id, municipality_code)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (code) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name,
             name_kana = EXCLUDED.name_kana, parent_id = EXCLUDED.parent_id,
             municipality_code = EXCLUDED.municipality_code,
             version = area.version + 1, updated_at = now()
         WHERE (area.kind, area.name, area.name_kana, area.parent_id, area.municipality_code)
               IS DISTINCT FROM
               (EXCLUDED.kind, EXCLUDED.name, EXCLUDED.name_kana, EXCLUDED.parent_id, EXCLUDED.municipality_code)
         RETURNING id, (xmax = 0) AS inserted",
    )
    .bind(Uuid::now_v7())
    .bind(area.kind.as_str())
    .bind(area.code)
    .bind(area.name)
    .bind(area.name_kana)
    .bind(area.parent_id)
    .bind(area.municipality_code)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(match written {
        Some((id, true)) => Outcome::Created(id),
        Some((id, false)) => Outcome::Updated(id),
        None => {
            let id = sqlx::query_scalar("SELECT id FROM area WHERE code = $1")
                .bind(area.code)
                .fetch_one(&mut *tx)
                .await?;
            Outcome::Unchanged(id)
        }
    })
}
