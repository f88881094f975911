//! Intake storage: a need, its first history entry and its `need.submitted` event commit
//! together, or not at all.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tsunagu_runtime::error::{FieldViolation, ServiceError, ServiceResult};
use tsunagu_runtime::events::{self, NeedStatusChanged, NeedSubmitted};
use tsunagu_runtime::grpc::Page;
use tsunagu_runtime::outbox;
use uuid::Uuid;

use crate::domain::NewNeed;
use crate::lifecycle::{self, NeedStatus, Outcome, Transition, TransitionError};

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
    pub version: i64,
    pub outcome: Option<String>,
    pub status_reason: String,
    pub status_changed_at: DateTime<Utc>,
    pub resident_id: Option<Uuid>,
}

const NEED_COLUMNS: &str =
    "id, municipality_code, area_id, category, urgency, status, submitted_at, request_fingerprint,
     version, outcome, status_reason, status_changed_at, resident_id";

/// Creates the need, or returns the one an earlier call with the same request id created
/// (`true` = replayed). Concurrent retries are safe: the unique key decides who inserts.
pub async fn submit_need(pool: &PgPool, new: &NewNeed) -> ServiceResult<(NeedRow, bool)> {
    let fingerprint = new.fingerprint();
    let mut tx = pool.begin().await?;
    if let Some(resident_id) = new.resident_id {
        let known: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM resident WHERE id = $1 AND municipality_code = $2)",
        )
        .bind(resident_id)
        .bind(new.municipality_code.as_str())
        .fetch_one(&mut *tx)
        .await?;
        if !known {
            return Err(ServiceError::invalid(
                "resident_id",
                format!(
                    "利用者 {resident_id} はこの市区町村に登録されていません / no such resident in this municipality"
                ),
            ));
        }
    }
    let inserted = sqlx::query_as::<_, NeedRow>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO need (id, municipality_code, request_id, request_fingerprint, area_id, category, urgency,
                           resident_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
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
    .bind(new.resident_id)
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

    sqlx::query("INSERT INTO need_status_history (id, need_id, status, version) VALUES ($1, $2, $3, 1)")
        .bind(Uuid::now_v7())
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
        resident_id: need.resident_id,
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

/// Moves a need to another status, checked against the lifecycle, with its history row and
/// its `need.status_changed` event in one transaction.
pub async fn transition(
    pool: &PgPool,
    id: Uuid,
    transition: &Transition,
    expected_version: i64,
    changed_by: &str,
) -> ServiceResult<NeedRow> {
    let mut tx = pool.begin().await?;
    let current = sqlx::query_as::<_, NeedRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {NEED_COLUMNS} FROM need WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ServiceError::NotFound(format!("ニーズ {id}")))?;
    if expected_version != 0 && expected_version != current.version {
        return Err(ServiceError::Conflict(format!(
            "ニーズは他の人が更新しました（版 {expected_version} を見ていましたが、現在は版 {}） / the need changed meanwhile",
            current.version
        )));
    }
    let from = NeedStatus::parse(&current.status).expect("the CHECK constraint admits known statuses only");
    if let Err(errors) = lifecycle::check(from, transition) {
        let mut violations = Vec::new();
        for error in errors {
            match error {
                TransitionError::Illegal(message) => return Err(ServiceError::FailedPrecondition(message)),
                TransitionError::Field { field, reason } => {
                    violations.push(FieldViolation::new(field, reason))
                }
            }
        }
        return Err(ServiceError::InvalidArgument(violations));
    }
    let outcome = transition.outcome.map(Outcome::as_str);
    let need = sqlx::query_as::<_, NeedRow>(sqlx::AssertSqlSafe(format!(
        "UPDATE need SET status = $2, outcome = $3, status_reason = $4, status_changed_at = now(),
                version = version + 1
         WHERE id = $1 RETURNING {NEED_COLUMNS}"
    )))
    .bind(id)
    .bind(transition.to.as_str())
    .bind(outcome)
    .bind(&transition.reason)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO need_status_history (id, need_id, status, from_status, reason, outcome, changed_by, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(Uuid::now_v7())
    .bind(id)
    .bind(&need.status)
    .bind(&current.status)
    .bind(&transition.reason)
    .bind(outcome)
    .bind(changed_by)
    .bind(need.version)
    .execute(&mut *tx)
    .await?;
    let event = NeedStatusChanged {
        need_id: id,
        municipality_code: need.municipality_code.clone(),
        version: need.version,
        from: current.status.clone(),
        to: need.status.clone(),
        outcome: need.outcome.clone(),
    };
    outbox::enqueue(
        &mut tx,
        events::NEED_STATUS_CHANGED,
        &need.municipality_code,
        &event,
    )
    .await?;
    tx.commit().await?;
    Ok(need)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StatusChangeRow {
    pub id: Uuid,
    pub version: i64,
    pub from_status: Option<String>,
    pub status: String,
    pub reason: String,
    pub outcome: Option<String>,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
}

/// Every status the need has been in, oldest first.
pub async fn history(pool: &PgPool, id: Uuid, page: Page) -> ServiceResult<Vec<StatusChangeRow>> {
    get_need(pool, id).await?;
    Ok(sqlx::query_as::<_, StatusChangeRow>(
        "SELECT id, version, from_status, status, reason, outcome, changed_by, changed_at
         FROM need_status_history
         WHERE need_id = $1 AND ($2::uuid IS NULL OR id > $2)
         ORDER BY id LIMIT $3",
    )
    .bind(id)
    .bind(page.after)
    .bind(i64::from(page.size))
    .fetch_all(pool)
    .await?)
}

/// Open needs of a municipality whose status has not changed since `idle_since`: the ones a
/// coordinator should follow up. Longest idle first, paged by id within that order.
pub async fn idle_needs(
    pool: &PgPool,
    municipality_code: &str,
    idle_since: DateTime<Utc>,
    page: Page,
) -> ServiceResult<Vec<NeedRow>> {
    Ok(sqlx::query_as::<_, NeedRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {NEED_COLUMNS} FROM need
         WHERE municipality_code = $1 AND status_changed_at < $2
           AND status NOT IN ('completed', 'cancelled', 'failed', 'entered_in_error')
           AND ($3::uuid IS NULL OR (status_changed_at, id) >
               (SELECT status_changed_at, id FROM need WHERE id = $3))
         ORDER BY status_changed_at, id LIMIT $4"
    )))
    .bind(municipality_code)
    .bind(idle_since)
    .bind(page.after)
    .bind(i64::from(page.size))
    .fetch_all(pool)
    .await?)
}
