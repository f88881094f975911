//! The freshness period of each municipality: how long a resource's verification counts as
//! current before coordinators should re-check it with the provider. `ListStaleResources`
//! lists by it, and the sweep of `resource::overdue` announces what outlived it.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;
use tsunagu_runtime::error::{ServiceError, ServiceResult};

/// Used until a municipality sets its own: half a year, the cadence many 社協 already keep for
/// their resource maps.
pub const DEFAULT_DAYS: i32 = 180;
pub const MAX_DAYS: i32 = 3650;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreshnessPeriod {
    pub days: i32,
    /// True while the municipality has not set its own.
    pub is_default: bool,
}

impl FreshnessPeriod {
    /// Resources verified before this instant are stale.
    pub fn cutoff(self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - TimeDelta::days(i64::from(self.days))
    }
}

pub async fn get(pool: &PgPool, municipality_code: &str) -> ServiceResult<FreshnessPeriod> {
    let days: Option<i32> =
        sqlx::query_scalar("SELECT days FROM freshness_period WHERE municipality_code = $1")
            .bind(municipality_code)
            .fetch_optional(pool)
            .await?;
    Ok(match days {
        Some(days) => FreshnessPeriod {
            days,
            is_default: false,
        },
        None => FreshnessPeriod {
            days: DEFAULT_DAYS,
            is_default: true,
        },
    })
}

pub async fn set(
    pool: &PgPool,
    municipality_code: &str,
    days: i32,
    updated_by: &str,
) -> ServiceResult<FreshnessPeriod> {
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ServiceError::invalid(
            "days",
            format!(
                "確認の有効期間は1〜{MAX_DAYS}日です（入力: {days}） / days must be within 1..{MAX_DAYS}"
            ),
        ));
    }
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO freshness_period (municipality_code, days, updated_by) VALUES ($1, $2, $3)
         ON CONFLICT (municipality_code) DO UPDATE SET days = EXCLUDED.days, updated_by = EXCLUDED.updated_by,
                                                       updated_at = now()",
    )
    .bind(municipality_code)
    .bind(days)
    .bind(updated_by)
    .execute(&mut *tx)
    .await?;
    // A municipality's setting has no id of its own: the municipality names it.
    crate::write_audit::changed(
        &mut tx,
        "freshness_period",
        municipality_code,
        None,
        &format!("days={days}"),
    )
    .await?;
    tx.commit().await?;
    Ok(FreshnessPeriod {
        days,
        is_default: false,
    })
}
