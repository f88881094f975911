//! The areas intake knows, learnt from the registry's events (`area.created`, `area.updated`,
//! `area.deleted`), and the one check every `area_id` intake takes goes through: the area
//! exists, is not deleted, is of the caller's municipality, and is of a kind the record may
//! be placed in.
//!
//! An area created a moment ago may not have reached intake yet (the registry's relay, the
//! broker and intake's consumer lie between; usually well under a second). A coordinator who
//! creates an area and then enters a need in it expects that to work, so a call naming an area
//! intake has not heard of waits for it ([`await_known`]) before the check: for [`ARRIVAL`],
//! and longer while areas are still arriving (a backlog such as the official list's 1,788
//! areas on a first start), up to [`LONGEST_WAIT`]. Past that, intake cannot tell a new area from a mistyped id without asking the
//! registry, and admitting an unknown id is the defect this check closes: it is refused, with
//! a message that says to send again shortly if the area was just created. An id that was
//! waited for in vain is not waited for again for a minute, so a sheet repeating a wrong id
//! costs one wait, not one per row.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use sqlx::{PgConnection, PgPool};
use tsunagu_runtime::amqp::Envelope;
use tsunagu_runtime::consumer::HandlerError;
use tsunagu_runtime::error::{ServiceError, ServiceResult};
use tsunagu_runtime::events::{self, AreaCreated, RegistryChange};
use uuid::Uuid;

/// Kinds a need or an area issue may be placed in: where people live, a daily-life area or
/// an area within one. A municipality, a ward or a prefecture is too coarse: the gap map and
/// matching place both per daily-life area.
const PLACEABLE_KINDS: [&str; 4] = [
    "daily_life_area",
    "school_district",
    "district_council_area",
    "neighborhood_association",
];

fn kind_label(kind: &str) -> &str {
    match kind {
        "prefecture" => "都道府県",
        "municipality" => "市区町村",
        "ward" => "政令市の区",
        "daily_life_area" => "日常生活圏域",
        "school_district" => "小学校区",
        "district_council_area" => "地区社協区域",
        "neighborhood_association" => "自治会・町内会",
        other => other,
    }
}

/// Whether an area of `kind` may hold a need or an area issue. An area whose kind is unknown
/// (learnt from records made before intake checked areas) keeps being accepted.
fn admits(kind: Option<&str>) -> bool {
    kind.is_none_or(|kind| PLACEABLE_KINDS.contains(&kind))
}

/// Applies `area.created`, `area.updated` (the area's current state) and `area.deleted`, in
/// the consumer's transaction.
pub async fn learn(tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
    if event.event_type == events::AREA_DELETED {
        let deleted: RegistryChange = decode(event)?;
        // A deletion that overtook its creation leaves a deleted placeholder, so the late
        // creation does not bring the area back.
        sqlx::query(
            "INSERT INTO known_area (id, municipality_code, deleted) VALUES ($1, $2, true)
             ON CONFLICT (id) DO UPDATE SET deleted = true, learnt_at = now()",
        )
        .bind(deleted.entity_id)
        .bind(&deleted.municipality_code)
        .execute(&mut *tx)
        .await?;
        tracing::info!(area_id = %deleted.entity_id, "area forgotten");
        return Ok(());
    }
    let area: AreaCreated = decode(event)?;
    sqlx::query(
        "INSERT INTO known_area (id, municipality_code, kind, parent_id, name) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET municipality_code = $2, kind = $3, parent_id = $4, name = $5,
                                        learnt_at = now()",
    )
    .bind(area.area_id)
    .bind(&area.municipality_code)
    .bind(&area.kind)
    .bind(area.parent_id)
    .bind(&area.name)
    .execute(&mut *tx)
    .await?;
    tracing::info!(area_id = %area.area_id, kind = area.kind, "area learnt");
    Ok(())
}

fn decode<T: serde::de::DeserializeOwned>(event: &Envelope) -> Result<T, HandlerError> {
    event.decode().map_err(|error| {
        HandlerError::Permanent(anyhow::anyhow!(
            "{} payload does not match its contract: {error}",
            event.event_type
        ))
    })
}

/// How long a call waits for an area intake has not heard of: several times the consumer's
/// usual lag, short enough for a person waiting on the answer.
pub const ARRIVAL: Duration = Duration::from_secs(5);

/// Past [`ARRIVAL`], the wait goes on while intake learnt some area within this long (the
/// consumer is working through a backlog the area is probably in) …
const STILL_ARRIVING: Duration = Duration::from_secs(2);

/// … but never longer than this.
pub const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// How often the wait looks again (the area may arrive through another replica's consumer,
/// so the table is asked, not an in-process signal).
const POLL: Duration = Duration::from_millis(100);

/// Ids waited for in vain, and when: not waited for again within [`FORGET_MISSES_AFTER`].
static MISSED: LazyLock<Mutex<HashMap<Uuid, Instant>>> = LazyLock::new(Default::default);
const FORGET_MISSES_AFTER: Duration = Duration::from_secs(60);

fn missed_recently(area_id: Uuid) -> bool {
    let mut missed = MISSED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    missed.retain(|_, at| at.elapsed() < FORGET_MISSES_AFTER);
    missed.contains_key(&area_id)
}

/// Waits (before the caller's transaction) until intake knows `area_id`: for [`ARRIVAL`], and
/// on while areas are still arriving, up to [`LONGEST_WAIT`]; the check that follows decides.
/// Returns at once for a known area.
pub async fn await_known(pool: &PgPool, area_id: Uuid) -> ServiceResult<()> {
    let started = Instant::now();
    loop {
        let (known, arriving): (bool, bool) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM known_area WHERE id = $1),
                    EXISTS (SELECT 1 FROM known_area WHERE learnt_at > now() - make_interval(secs => $2))",
        )
        .bind(area_id)
        .bind(STILL_ARRIVING.as_secs_f64())
        .fetch_one(pool)
        .await?;
        if known || missed_recently(area_id) {
            return Ok(());
        }
        let waited = started.elapsed();
        if waited >= LONGEST_WAIT || (waited >= ARRIVAL && !arriving) {
            MISSED
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(area_id, Instant::now());
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
}

#[derive(sqlx::FromRow)]
struct KnownArea {
    municipality_code: String,
    kind: Option<String>,
    deleted: bool,
}

/// Refuses an `area_id` that is unknown, deleted, of another municipality, or coarser than a
/// daily-life area; INVALID_ARGUMENT on `area_id` (callers prefix it as their
/// request names it).
pub async fn check(conn: &mut PgConnection, municipality_code: &str, area_id: Uuid) -> ServiceResult<()> {
    let known = sqlx::query_as::<_, KnownArea>(
        "SELECT municipality_code, kind, deleted FROM known_area WHERE id = $1",
    )
    .bind(area_id)
    .fetch_optional(conn)
    .await?;
    let refused = |reason: String| Err(ServiceError::invalid("area_id", reason));
    let Some(area) = known else {
        return refused(format!(
            "区域 {area_id} は登録簿にありません。作成したばかりの区域なら、しばらくしてもう一度送ってください / unknown area; if it was created a moment ago, send again shortly"
        ));
    };
    if area.deleted {
        return refused(format!(
            "区域 {area_id} は登録簿から削除されています / the area was deleted from the registry"
        ));
    }
    // The kind first: a prefecture is too coarse, not "another municipality".
    if !admits(area.kind.as_deref()) {
        let kind = kind_label(area.kind.as_deref().unwrap_or_default());
        return refused(format!(
            "区域 {area_id} は{kind}です。日常生活圏域か、その中の小学校区・地区社協区域・自治会・町内会を指定してください / the area must be a daily-life area or an area within one"
        ));
    }
    if area.municipality_code != municipality_code {
        return refused(format!(
            "区域 {area_id} は別の市区町村（{}）の区域です / the area belongs to another municipality",
            area.municipality_code
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_and_issues_go_where_people_live() {
        for kind in PLACEABLE_KINDS {
            assert!(admits(Some(kind)), "{kind}");
        }
        for kind in ["prefecture", "municipality", "ward"] {
            assert!(!admits(Some(kind)), "{kind}");
        }
        // Learnt from earlier records: its kind is unknown, and it keeps working.
        assert!(admits(None));
    }
}
