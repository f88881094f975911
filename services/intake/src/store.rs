//! Intake storage: a need, its first history entry and its `need.submitted` event commit
//! together, or not at all.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tsunagu_runtime::error::{ServiceError, ServiceResult};
use tsunagu_runtime::events::{self, NeedSubmitted};
use tsunagu_runtime::outbox;
use uuid::Uuid;

use crate::domain::NewNeed;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NeedRow {
    pub id: Uuid,
    pub municipality_code: String,
    pub area_id: Uuid,
    pub category: String,
    pub urgency: String,
    pub status: String,
    pub submitted_at: DateTime<Utc>,
    pub request_fingerprint: String,
}

const NEED_COLUMNS: &str =
    "id, municipality_code, area_id, category, urgency, status, submitted_at, request_fingerprint";

/// Creates the need, or returns the one an earlier call with the same request id created
/// (`true` = replayed). Concurrent retries are safe: the unique key decides who inserts.
pub async fn submit_need(pool: &PgPool, new: &NewNeed) -> ServiceResult<(NeedRow, bool)> {
    let fingerprint = new.fingerprint();
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query_as::<_, NeedRow>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO need (id, municipality_code, request_id, request_fingerprint, area_id, category, urgency)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (municipality_code, request_id) DO NOTHING
         RETURNING {NEED_COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(new.municipality_code.as_str())
    .bind(&new.request_id)
    .bind(&fingerprint)
    .bind(new.area_id)
    .bind(&new.category)
    .bind(new.urgency.as_str())
    .fetch_optional(&mut *tx)
    .await?;

    let Some(need) = inserted else {
        tx.rollback().await?;
        let earlier = sqlx::query_as::<_, NeedRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {NEED_COLUMNS} FROM need WHERE municipality_code = $1 AND request_id = $2"
        )))
        .bind(new.municipality_code.as_str())
        .bind(&new.request_id)
        .fetch_one(pool)
        .await?;
        if earlier.request_fingerprint != fingerprint {
            return Err(ServiceError::AlreadyExists(format!(
                "リクエストID {:?} は別の内容のニーズで使用済みです / request_id was already used for a need with other content (need {})",
                new.request_id, earlier.id
            )));
        }
        return Ok((earlier, true));
    };

    sqlx::query("INSERT INTO need_status_history (need_id, status) VALUES ($1, $2)")
        .bind(need.id)
        .bind(&need.status)
        .execute(&mut *tx)
        .await?;
    let event = NeedSubmitted {
        need_id: need.id,
        municipality_code: need.municipality_code.clone(),
        area_id: need.area_id,
        category: need.category.clone(),
        urgency: need.urgency.clone(),
    };
    outbox::enqueue(&mut tx, events::NEED_SUBMITTED, &need.municipality_code, &event).await?;
    tx.commit().await?;
    Ok((need, false))
}

pub async fn get_need(pool: &PgPool, id: Uuid) -> ServiceResult<NeedRow> {
    sqlx::query_as::<_, NeedRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {NEED_COLUMNS} FROM need WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| ServiceError::NotFound(format!("ニーズ {id}")))
}
