//! Intake storage. Every change of a need commits together with its history row, its events
//! (through the outbox) and the wake-up of its watchers, or not at all.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use tracing::Instrument;
use tsunagu_runtime::error::{FieldViolation, ServiceError, ServiceResult};
use tsunagu_runtime::field_mask::{FieldMask, check_version};
use tsunagu_runtime::grpc::Page;
use tsunagu_runtime::{db, events, outbox};
use uuid::Uuid;

use crate::areas;
use crate::consent::{self, ConsentInput, ConsentRow};
use crate::domain::{NeedContent, NewNeed, RawNeed};
use crate::lifecycle::{self, NeedStatus, Outcome, Transition, TransitionError};
use crate::need_row::{NEED_COLUMNS, NeedRow, StoredNeed, notes_associated_data};
use crate::sealing::{Keyring, Sealed};
use crate::{audit, categories, sharing, watch};

fn not_found(id: Uuid) -> ServiceError {
    ServiceError::NotFound(format!("ニーズ {id}"))
}

fn no_key_for_notes() -> ServiceError {
    ServiceError::FailedPrecondition(
        "備考を暗号化する鍵が設定されていません（TSUNAGU_INTAKE_ENCRYPTION_KEYS） / no encryption key is configured for private notes"
            .into(),
    )
}

/// Seals notes for the row `id`; `None` for empty notes.
fn seal_notes(
    keys: Option<&Keyring>,
    id: Uuid,
    municipality_code: &str,
    notes: &str,
) -> ServiceResult<Option<Sealed>> {
    if notes.is_empty() {
        return Ok(None);
    }
    let keys = keys.ok_or_else(no_key_for_notes)?;
    keys.seal(&notes_associated_data(id, municipality_code), notes.as_bytes())
        .map(Some)
        .map_err(|reason| ServiceError::Internal(anyhow::anyhow!(reason)))
}

/// The need's private notes, opened; empty when it has none.
pub fn open_notes(keys: Option<&Keyring>, row: &NeedRow) -> ServiceResult<String> {
    let Some(sealed) = row.sealed_notes() else {
        return Ok(String::new());
    };
    let keys = keys.ok_or_else(no_key_for_notes)?;
    let plaintext = keys
        .open(&notes_associated_data(row.id, &row.municipality_code), &sealed)
        .map_err(|reason| ServiceError::Internal(anyhow::anyhow!("need {}: {reason}", row.id)))?;
    String::from_utf8(plaintext).map_err(|error| ServiceError::Internal(error.into()))
}

async fn check_resident(
    tx: &mut PgConnection,
    resident_id: Option<Uuid>,
    municipality_code: &str,
) -> ServiceResult<()> {
    let Some(resident_id) = resident_id else {
        return Ok(());
    };
    let known: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM resident WHERE id = $1 AND municipality_code = $2)")
            .bind(resident_id)
            .bind(municipality_code)
            .fetch_one(tx)
            .await?;
    if known {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            "resident_id",
            format!(
                "利用者 {resident_id} はこの市区町村に登録されていません / no such resident in this municipality"
            ),
        ))
    }
}

async fn fetch(conn: &mut PgConnection, id: Uuid, lock: bool) -> ServiceResult<NeedRow> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    sqlx::query_as::<_, NeedRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {NEED_COLUMNS} FROM need WHERE id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| not_found(id))
}

/// Creates the need, or returns the one an earlier call with the same request id created
/// (`true` = replayed). Concurrent retries are safe: the unique key decides who inserts.
pub async fn submit_need(
    pool: &PgPool,
    keys: Option<&Keyring>,
    new: &NewNeed,
    audited: audit::InTransaction<'_>,
) -> ServiceResult<(StoredNeed, bool)> {
    let municipality_code = new.municipality_code.as_str();
    // Outside the transaction: an area created a moment ago is given time to arrive.
    areas::await_known(pool, new.content.area_id).await?;
    let mut tx = pool.begin().await?;
    let new = &with_references_checked(&mut tx, new).await?;
    let fingerprint = new.fingerprint();
    let content = &new.content;
    let id = Uuid::now_v7();
    let notes = seal_notes(keys, id, municipality_code, &content.notes)?;
    let status = if new.draft {
        NeedStatus::Draft
    } else {
        NeedStatus::Submitted
    };
    check_resident(&mut tx, content.resident_id, municipality_code).await?;
    let inserted = sqlx::query_as::<_, NeedRow>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO need (id, municipality_code, request_id, request_fingerprint, status, submitted_by,
                           area_id, category, urgency, resident_id, location_lat, location_lon, time_windows,
                           frequency_times, frequency_per, start_date, deadline, eligibility, max_fee_yen,
                           requirements, channel, referrer_name, referrer_organization_id, referrer_contact,
                           notes_key_id, notes_nonce, notes_sealed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                 $21, $22, $23, $24, $25, $26, $27)
         ON CONFLICT (municipality_code, request_id) DO NOTHING
         RETURNING {NEED_COLUMNS}"
    )))
    .bind(id)
    .bind(municipality_code)
    .bind(&new.request_id)
    .bind(&fingerprint)
    .bind(status.as_str())
    .bind(&new.submitted_by);
    let span = db::span("intake", "INSERT", "need");
    span.record("tsunagu.need_id", id.to_string());
    let inserted = bind_content(inserted, content, notes.as_ref())
        .fetch_optional(&mut *tx)
        .instrument(span)
        .await?;

    let Some(row) = inserted else {
        tx.rollback().await?;
        let mut conn = pool.acquire().await?;
        let earlier = sqlx::query_as::<_, NeedRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {NEED_COLUMNS} FROM need WHERE municipality_code = $1 AND request_id = $2"
        )))
        .bind(municipality_code)
        .bind(&new.request_id)
        .fetch_one(&mut *conn)
        .await?;
        if earlier.request_fingerprint != fingerprint {
            return Err(ServiceError::AlreadyExists(format!(
                "リクエストID {:?} は別の内容のニーズで使用済みです / request_id was already used for a need with other content (need {})",
                new.request_id, earlier.id
            )));
        }
        let consent = consent::current(&mut conn, earlier.id).await?;
        return Ok((
            StoredNeed {
                row: earlier,
                consent,
            },
            true,
        ));
    };

    sqlx::query(
        "INSERT INTO need_status_history (id, need_id, status, version, changed_by) VALUES ($1, $2, $3, 1, $4)",
    )
    .bind(Uuid::now_v7())
    .bind(row.id)
    .bind(&row.status)
    .bind(&new.submitted_by)
    .execute(&mut *tx)
    .await?;
    audit::record_in(
        &mut tx,
        audited.actor,
        audit::Event {
            municipality_code,
            action: audit::Action::Change,
            method: audited.method,
            object_kind: "need",
            object_id: Some(row.id),
            detail: "submitted".into(),
        },
    )
    .await?;
    let consent = match &new.consent {
        Some(input) => Some(consent::record_first(&mut tx, row.id, input, &new.submitted_by).await?),
        None => None,
    };
    if !new.draft {
        sharing::announce_submitted(&mut tx, &row, consent.as_ref()).await?;
    }
    // No NOTIFY: nobody can watch a need before it exists, and a NOTIFY serialises commits
    // (PostgreSQL takes a database-wide lock for it at commit).
    tx.commit().await?;
    Ok((StoredNeed { row, consent }, false))
}

/// The submission with its category resolved among the municipality's own categories, and its
/// area checked against the areas intake knows (`areas::check`); refused, naming every bad
/// reference at once, otherwise.
pub async fn with_references_checked(conn: &mut PgConnection, new: &NewNeed) -> ServiceResult<NewNeed> {
    let municipality_code = new.municipality_code.as_str();
    let mut resolved = new.clone();
    let area = areas::check(conn, municipality_code, new.content.area_id).await;
    let category = categories::resolve_known(conn, municipality_code, &new.content.category).await;
    match (area, category) {
        (Ok(()), Ok(category)) => {
            resolved.content.category = category;
            Ok(resolved)
        }
        // Both named at once, as a request's other fields are.
        (Err(ServiceError::InvalidArgument(mut violations)), Err(ServiceError::InvalidArgument(more))) => {
            violations.extend(more);
            Err(ServiceError::InvalidArgument(violations))
        }
        (Err(error), _) | (_, Err(error)) => Err(error),
    }
}

/// Binds the content's columns, in the order of `submit_need`'s and `update_need`'s
/// statements, after the parameters each binds first.
fn bind_content<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    content: &'q NeedContent,
    notes: Option<&Sealed>,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    let details = &content.details;
    query
        .bind(content.area_id)
        .bind(&content.category)
        .bind(content.urgency.as_str())
        .bind(content.resident_id)
        .bind(details.location.map(|l| l.latitude))
        .bind(details.location.map(|l| l.longitude))
        .bind(Json(details.time_windows.clone()))
        .bind(details.frequency.map(|f| f.times as i32))
        .bind(details.frequency.map(|f| f.per.as_str()))
        .bind(details.start_date)
        .bind(details.deadline)
        .bind(details.eligibility.map(|e| e.as_str()))
        .bind(details.max_fee_yen.map(|fee| fee as i32))
        .bind(Json(details.requirements.clone()))
        .bind(content.channel.map(|c| c.as_str()))
        .bind(&content.referrer.name)
        .bind(content.referrer.organization_id)
        .bind(&content.referrer.contact)
        .bind(notes.map(|n| n.key_id.clone()))
        .bind(notes.map(|n| n.nonce.clone()))
        .bind(notes.map(|n| n.ciphertext.clone()))
}

/// Where a need stands, read in the caller's transaction (and locked until it ends).
pub async fn status_of(tx: &mut PgConnection, id: Uuid) -> ServiceResult<NeedStatus> {
    Ok(fetch(tx, id, true).await?.status())
}

pub async fn get_need(pool: &PgPool, id: Uuid) -> ServiceResult<StoredNeed> {
    let mut conn = pool.acquire().await?;
    let row = fetch(&mut conn, id, false).await?;
    let consent = consent::current(&mut conn, id).await?;
    Ok(StoredNeed { row, consent })
}

/// What ListNeeds filters on; empty lists and `None` mean "any".
#[derive(Debug, Default)]
pub struct NeedFilter {
    pub area_ids: Vec<Uuid>,
    pub categories: Vec<String>,
    pub statuses: Vec<&'static str>,
    pub urgency: Option<&'static str>,
    pub resident_id: Option<Uuid>,
    pub channel: Option<&'static str>,
    pub submitted_after: Option<DateTime<Utc>>,
    pub submitted_before: Option<DateTime<Utc>>,
}

/// Needs of a municipality, oldest first (ids are UUIDv7), paged by id.
pub async fn list_needs(
    pool: &PgPool,
    municipality_code: &str,
    filter: &NeedFilter,
    page: Page,
) -> ServiceResult<Vec<StoredNeed>> {
    let mut conn = pool.acquire().await?;
    let rows = sqlx::query_as::<_, NeedRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {NEED_COLUMNS} FROM need
         WHERE municipality_code = $1
           AND (cardinality($2::uuid[]) = 0 OR area_id = ANY($2))
           AND (cardinality($3::text[]) = 0 OR category = ANY($3))
           AND (cardinality($4::text[]) = 0 OR status = ANY($4))
           AND ($5::text IS NULL OR urgency = $5)
           AND ($6::uuid IS NULL OR resident_id = $6)
           AND ($7::text IS NULL OR channel = $7)
           AND ($8::timestamptz IS NULL OR submitted_at > $8)
           AND ($9::timestamptz IS NULL OR submitted_at < $9)
           AND ($10::uuid IS NULL OR id > $10)
         ORDER BY id LIMIT $11"
    )))
    .bind(municipality_code)
    .bind(&filter.area_ids)
    .bind(&filter.categories)
    .bind(&filter.statuses)
    .bind(filter.urgency)
    .bind(filter.resident_id)
    .bind(filter.channel)
    .bind(filter.submitted_after)
    .bind(filter.submitted_before)
    .bind(page.after)
    .bind(i64::from(page.size))
    .fetch_all(&mut *conn)
    .await?;
    with_consents(&mut conn, rows).await
}

async fn with_consents(conn: &mut PgConnection, rows: Vec<NeedRow>) -> ServiceResult<Vec<StoredNeed>> {
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let mut consents = consent::current_of(conn, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let consent = consents
                .iter()
                .position(|c| c.need_id == row.id)
                .map(|at| consents.swap_remove(at));
            StoredNeed { row, consent }
        })
        .collect())
}

/// What an edit asks.
pub struct Edit<'a> {
    pub raw: &'a RawNeed,
    pub mask: &'a FieldMask,
    pub expected_version: i64,
    pub changed_by: &'a str,
    pub reason: &'a str,
}

/// Applies a masked edit. Nothing changed → the need as it was (no new version, no event).
pub async fn update_need(
    pool: &PgPool,
    keys: Option<&Keyring>,
    id: Uuid,
    edit: Edit<'_>,
) -> ServiceResult<StoredNeed> {
    if edit.mask.contains("area_id")
        && let Ok(area_id) = edit.raw.area_id.trim().parse::<Uuid>()
    {
        // Outside the transaction: an area created a moment ago is given time to arrive.
        areas::await_known(pool, area_id).await?;
    }
    let mut tx = pool.begin().await?;
    let current = fetch(&mut tx, id, true).await?;
    check_version("ニーズ", edit.expected_version, current.version)?;
    let status = current.status();
    if status.is_closed() || status == NeedStatus::EnteredInError {
        return Err(ServiceError::FailedPrecondition(format!(
            "このニーズは「{status}」で閉じています。編集するには再開してください / a closed need is not edited; reopen it first"
        )));
    }
    // The notes are opened only when the edit is about them.
    let notes_masked = edit.mask.contains("notes");
    let current_notes = if notes_masked {
        open_notes(keys, &current)?
    } else {
        String::new()
    };
    let before = current.content(current_notes);
    let mut after = before.edited(edit.raw, edit.mask)?;
    if after.category != before.category {
        after.category =
            categories::resolve_known(&mut tx, &current.municipality_code, &after.category).await?;
    }
    let changed = changed_fields(&before, &after);
    if changed.is_empty() {
        let consent = consent::current(&mut tx, id).await?;
        tx.rollback().await?;
        return Ok(StoredNeed {
            row: current,
            consent,
        });
    }
    if changed.contains(&"area_id") {
        areas::check(&mut tx, &current.municipality_code, after.area_id).await?;
    }
    if changed.contains(&"resident_id") {
        check_resident(&mut tx, after.resident_id, &current.municipality_code).await?;
    }
    let notes = if notes_masked {
        seal_notes(keys, id, &current.municipality_code, &after.notes)?
    } else {
        current.sealed_notes()
    };
    let query = sqlx::query_as::<_, NeedRow>(sqlx::AssertSqlSafe(format!(
        "UPDATE need SET area_id = $2, category = $3, urgency = $4, resident_id = $5, location_lat = $6,
                location_lon = $7, time_windows = $8, frequency_times = $9, frequency_per = $10,
                start_date = $11, deadline = $12, eligibility = $13, max_fee_yen = $14, requirements = $15,
                channel = $16, referrer_name = $17, referrer_organization_id = $18, referrer_contact = $19,
                notes_key_id = $20, notes_nonce = $21, notes_sealed = $22, version = version + 1
         WHERE id = $1 RETURNING {NEED_COLUMNS}"
    )))
    .bind(id);
    let row = bind_content(query, &after, notes.as_ref())
        .fetch_one(&mut *tx)
        .await?;
    record_edit(&mut tx, &row, &changed, edit.changed_by, edit.reason).await?;
    let consent = consent::current(&mut tx, id).await?;
    // Matching hears of the edit once the need is out of draft and it may see the need.
    if status != NeedStatus::Draft && consent.as_ref().is_some_and(|c| c.share_need) {
        sharing::announce_updated(&mut tx, &row, consent.as_ref()).await?;
    }
    watch::notify(&mut tx, id).await?;
    tx.commit().await?;
    Ok(StoredNeed { row, consent })
}

/// The update_mask paths whose values differ, most specific first.
fn changed_fields(before: &NeedContent, after: &NeedContent) -> Vec<&'static str> {
    let (b, a) = (&before.details, &after.details);
    let checks: [(&'static str, bool); 15] = [
        ("area_id", before.area_id != after.area_id),
        ("category", before.category != after.category),
        ("urgency", before.urgency != after.urgency),
        ("resident_id", before.resident_id != after.resident_id),
        ("details.location", b.location != a.location),
        ("details.time_windows", b.time_windows != a.time_windows),
        ("details.frequency", b.frequency != a.frequency),
        ("details.start_date", b.start_date != a.start_date),
        ("details.deadline", b.deadline != a.deadline),
        ("details.eligibility", b.eligibility != a.eligibility),
        ("details.max_fee_yen", b.max_fee_yen != a.max_fee_yen),
        ("details.requirements", b.requirements != a.requirements),
        ("channel", before.channel != after.channel),
        ("referrer", before.referrer != after.referrer),
        ("notes", before.notes != after.notes),
    ];
    checks
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(field, _)| field)
        .collect()
}

async fn record_edit(
    tx: &mut PgConnection,
    row: &NeedRow,
    fields: &[&str],
    changed_by: &str,
    reason: &str,
) -> ServiceResult<()> {
    sqlx::query("INSERT INTO need_edit (id, need_id, version, fields, changed_by, reason) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(Uuid::now_v7())
        .bind(row.id)
        .bind(row.version)
        .bind(fields)
        .bind(changed_by)
        .bind(reason)
        .execute(tx)
        .await?;
    Ok(())
}

/// Moves a need to another status, checked against the lifecycle, with its history row and
/// its events in one transaction: `need.status_changed` always; `need.submitted` when a draft
/// is submitted; `need.withdrawn` when it is cancelled, failed or entered in error.
pub async fn transition(
    pool: &PgPool,
    id: Uuid,
    transition: &Transition,
    expected_version: i64,
    changed_by: &str,
) -> ServiceResult<StoredNeed> {
    let mut tx = pool.begin().await?;
    let need = transition_in(&mut tx, id, transition, expected_version, changed_by).await?;
    tx.commit().await?;
    Ok(need)
}

/// [`transition`] in the caller's transaction (the consumer of matching's events).
pub async fn transition_in(
    tx: &mut PgConnection,
    id: Uuid,
    transition: &Transition,
    expected_version: i64,
    changed_by: &str,
) -> ServiceResult<StoredNeed> {
    let current = fetch(tx, id, true).await?;
    check_version("ニーズ", expected_version, current.version)?;
    let from = current.status();
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
    let row = sqlx::query_as::<_, NeedRow>(sqlx::AssertSqlSafe(format!(
        "UPDATE need SET status = $2, outcome = $3, status_reason = $4, status_changed_at = now(),
                follow_up_due_at = NULL, version = version + 1
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
    .bind(&row.status)
    .bind(&current.status)
    .bind(&transition.reason)
    .bind(outcome)
    .bind(changed_by)
    .bind(row.version)
    .execute(&mut *tx)
    .await?;
    let event = events::NeedStatusChanged {
        need_id: id,
        municipality_code: row.municipality_code.clone(),
        version: row.version,
        from: current.status.clone(),
        to: row.status.clone(),
        outcome: row.outcome.clone(),
    };
    outbox::enqueue(tx, events::NEED_STATUS_CHANGED, &row.municipality_code, &event).await?;
    let consent = consent::current(tx, id).await?;
    match transition.to {
        NeedStatus::Submitted if from == NeedStatus::Draft => {
            sharing::announce_submitted(tx, &row, consent.as_ref()).await?;
        }
        NeedStatus::Cancelled | NeedStatus::Failed | NeedStatus::EnteredInError
            if from != NeedStatus::Draft =>
        {
            sharing::announce_withdrawn(tx, &row, transition.to.as_str()).await?;
        }
        // Reopened: matching takes the need up again, as far as the consent in force allows.
        NeedStatus::Submitted if from.is_closed() => {
            sharing::announce_updated(tx, &row, consent.as_ref()).await?;
        }
        _ => {}
    }
    watch::notify(tx, id).await?;
    Ok(StoredNeed { row, consent })
}

/// Records a consent for the need (replacing the current one). Matching hears of it: the
/// need's state when the consent allows sharing, a withdrawal when it no longer does.
pub async fn record_consent(
    pool: &PgPool,
    id: Uuid,
    input: &ConsentInput,
    recorded_by: &str,
) -> ServiceResult<(ConsentRow, StoredNeed)> {
    let mut tx = pool.begin().await?;
    let current = fetch(&mut tx, id, true).await?;
    if current.status() == NeedStatus::EnteredInError {
        return Err(ServiceError::FailedPrecondition(
            "誤登録のニーズには同意を記録できません / the need was entered in error".into(),
        ));
    }
    let previous = consent::current(&mut tx, id).await?;
    let recorded = consent::record(&mut tx, id, input, recorded_by).await?;
    let row = bump_version(&mut tx, id).await?;
    record_edit(&mut tx, &row, &["consent"], recorded_by, "同意を記録").await?;
    let was_shared = previous.is_some_and(|c| c.share_need);
    if row.status() != NeedStatus::Draft && !closed(&row) {
        if recorded.share_need {
            sharing::announce_updated(&mut tx, &row, Some(&recorded)).await?;
        } else if was_shared {
            sharing::announce_withdrawn(&mut tx, &row, "consent_narrowed").await?;
        }
    }
    watch::notify(&mut tx, id).await?;
    tx.commit().await?;
    Ok((
        recorded.clone(),
        StoredNeed {
            row,
            consent: Some(recorded),
        },
    ))
}

/// Withdraws the consent in force: nothing more of the need is shared (`need.withdrawn`).
pub async fn withdraw_consent(
    pool: &PgPool,
    id: Uuid,
    withdrawn_by: &str,
    reason: &str,
) -> ServiceResult<(ConsentRow, StoredNeed)> {
    let mut tx = pool.begin().await?;
    fetch(&mut tx, id, true).await?;
    let ended = consent::end_current(&mut tx, id, withdrawn_by, reason)
        .await?
        .ok_or_else(consent::nothing_to_withdraw)?;
    let row = bump_version(&mut tx, id).await?;
    record_edit(&mut tx, &row, &["consent"], withdrawn_by, reason).await?;
    if ended.share_need && row.status() != NeedStatus::Draft && !closed(&row) {
        sharing::announce_withdrawn(&mut tx, &row, "consent_withdrawn").await?;
    }
    watch::notify(&mut tx, id).await?;
    tx.commit().await?;
    Ok((ended, StoredNeed { row, consent: None }))
}

fn closed(row: &NeedRow) -> bool {
    let status = row.status();
    status.is_closed() || status == NeedStatus::EnteredInError
}

async fn bump_version(tx: &mut PgConnection, id: Uuid) -> ServiceResult<NeedRow> {
    Ok(sqlx::query_as::<_, NeedRow>(sqlx::AssertSqlSafe(format!(
        "UPDATE need SET version = version + 1 WHERE id = $1 RETURNING {NEED_COLUMNS}"
    )))
    .bind(id)
    .fetch_one(tx)
    .await?)
}

pub async fn consents(pool: &PgPool, id: Uuid) -> ServiceResult<Vec<ConsentRow>> {
    let mut conn = pool.acquire().await?;
    fetch(&mut conn, id, false).await?;
    consent::all_of(&mut conn, id).await
}

/// The resident behind a need whose consent lets the accepting provider contact them, after
/// checking the consent and the status; the disclosure is recorded.
pub async fn contact_disclosure(
    pool: &PgPool,
    id: Uuid,
    organization_id: Option<Uuid>,
) -> ServiceResult<Uuid> {
    let mut tx = pool.begin().await?;
    let row = fetch(&mut tx, id, false).await?;
    let consent = consent::current(&mut tx, id).await?;
    if !consent.is_some_and(|c| c.share_contact) {
        return Err(ServiceError::FailedPrecondition(
            "連絡先の共有に同意がありません（同意の範囲: 受諾後の連絡先の共有） / the consent does not cover sharing contact details"
                .into(),
        ));
    }
    let status = row.status();
    if !matches!(status, NeedStatus::Accepted | NeedStatus::InProgress) {
        return Err(ServiceError::FailedPrecondition(format!(
            "連絡先は提供者が受諾した後（受諾済み・支援中）に共有されます。このニーズは「{status}」です / contact details are shared once a provider accepted"
        )));
    }
    let resident_id = row.resident_id.ok_or_else(|| {
        ServiceError::FailedPrecondition(
            "このニーズには利用者が登録されていません / the need names no resident".into(),
        )
    })?;
    sqlx::query("INSERT INTO contact_disclosure (id, need_id, organization_id) VALUES ($1, $2, $3)")
        .bind(Uuid::now_v7())
        .bind(id)
        .bind(organization_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(resident_id)
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
    let mut conn = pool.acquire().await?;
    fetch(&mut conn, id, false).await?;
    status_changes_after(&mut conn, id, page.after, i64::from(page.size)).await
}

async fn status_changes_after(
    conn: &mut PgConnection,
    id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> ServiceResult<Vec<StatusChangeRow>> {
    Ok(sqlx::query_as::<_, StatusChangeRow>(
        "SELECT id, version, from_status, status, reason, outcome, changed_by, changed_at
         FROM need_status_history
         WHERE need_id = $1 AND ($2::uuid IS NULL OR id > $2)
         ORDER BY id LIMIT $3",
    )
    .bind(id)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// The status changes that made versions after `version`, oldest first.
async fn status_changes_since(
    conn: &mut PgConnection,
    id: Uuid,
    version: i64,
) -> ServiceResult<Vec<StatusChangeRow>> {
    Ok(sqlx::query_as::<_, StatusChangeRow>(
        "SELECT id, version, from_status, status, reason, outcome, changed_by, changed_at
         FROM need_status_history WHERE need_id = $1 AND version > $2 ORDER BY version",
    )
    .bind(id)
    .bind(version)
    .fetch_all(conn)
    .await?)
}

/// One version of a need as it was when it was made, with the status change that made it
/// (if a status change did).
pub struct NeedVersion {
    pub need: StoredNeed,
    pub status_change: Option<StatusChangeRow>,
}

/// The versions of a need after `version`, oldest first, each as it was (for watchers). The
/// snapshots are written by a trigger at every new version (migration 112), so a watcher that
/// missed versions replays each one; it never sees a later state under an earlier version.
/// A version made before that migration has no snapshot and is skipped.
pub async fn versions_since(pool: &PgPool, id: Uuid, version: i64) -> ServiceResult<Vec<NeedVersion>> {
    let mut conn = pool.acquire().await?;
    let rows = sqlx::query_as::<_, NeedRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {NEED_COLUMNS} FROM (
             SELECT n.* FROM need_version v, jsonb_populate_record(NULL::need, v.need) n
             WHERE v.need_id = $1 AND v.version > $2) snapshot
         ORDER BY version"
    )))
    .bind(id)
    .bind(version)
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut consents = sqlx::query_as::<_, ConsentAt>(sqlx::AssertSqlSafe(format!(
        "SELECT at_version, {} FROM (
             SELECT v.version AS at_version, c.* FROM need_version v, jsonb_populate_record(NULL::consent, v.consent) c
             WHERE v.need_id = $1 AND v.version > $2 AND v.consent IS NOT NULL) snapshot",
        consent::CONSENT_COLUMNS
    )))
    .bind(id)
    .bind(version)
    .fetch_all(&mut *conn)
    .await?;
    let mut changes = status_changes_since(&mut conn, id, version).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let consent = consents
                .iter()
                .position(|c| c.at_version == row.version)
                .map(|at| consents.swap_remove(at).consent);
            let status_change = changes
                .iter()
                .position(|c| c.version == row.version)
                .map(|at| changes.swap_remove(at));
            NeedVersion {
                need: StoredNeed { row, consent },
                status_change,
            }
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct ConsentAt {
    at_version: i64,
    #[sqlx(flatten)]
    consent: ConsentRow,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EditRow {
    pub version: i64,
    pub fields: Vec<String>,
    pub changed_by: String,
    pub reason: String,
    pub changed_at: DateTime<Utc>,
}

pub async fn edits(pool: &PgPool, id: Uuid) -> ServiceResult<Vec<EditRow>> {
    Ok(sqlx::query_as::<_, EditRow>(
        "SELECT version, fields, changed_by, reason, changed_at FROM need_edit WHERE need_id = $1 ORDER BY id",
    )
    .bind(id)
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
) -> ServiceResult<Vec<StoredNeed>> {
    let mut conn = pool.acquire().await?;
    let rows = sqlx::query_as::<_, NeedRow>(sqlx::AssertSqlSafe(format!(
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
    .fetch_all(&mut *conn)
    .await?;
    with_consents(&mut conn, rows).await
}

/// Flags open needs idle since before `idle_since` that are not flagged yet, each with a
/// `need.follow_up_due` event (for the coordinators' notifications); returns how many.
/// Several replicas may sweep at once: `SKIP LOCKED` gives each need to one of them.
pub async fn flag_idle_needs(pool: &PgPool, idle_since: DateTime<Utc>, batch: usize) -> ServiceResult<usize> {
    let mut tx = pool.begin().await?;
    let flagged = sqlx::query_as::<_, NeedRow>(sqlx::AssertSqlSafe(format!(
        "UPDATE need SET follow_up_due_at = now()
         WHERE id IN (SELECT id FROM need
                      WHERE status_changed_at < $1 AND follow_up_due_at IS NULL
                        AND status NOT IN ('draft', 'completed', 'cancelled', 'failed', 'entered_in_error')
                      ORDER BY status_changed_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING {NEED_COLUMNS}"
    )))
    .bind(idle_since)
    .bind(batch as i64)
    .fetch_all(&mut *tx)
    .await?;
    for row in &flagged {
        let event = events::NeedFollowUpDue {
            need_id: row.id,
            municipality_code: row.municipality_code.clone(),
            status: row.status.clone(),
            idle_since: row.status_changed_at,
        };
        outbox::enqueue(
            &mut tx,
            events::NEED_FOLLOW_UP_DUE,
            &row.municipality_code,
            &event,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(flagged.len())
}

/// The submission with its category resolved, outside a transaction (for dry runs).
pub async fn resolved(pool: &PgPool, new: &NewNeed) -> ServiceResult<NewNeed> {
    areas::await_known(pool, new.content.area_id).await?;
    with_references_checked(&mut *pool.acquire().await?, new).await
}

/// The fingerprints of earlier needs with these request ids, by request id (for dry runs).
pub async fn fingerprints(
    pool: &PgPool,
    municipality_code: &str,
    request_ids: &[String],
) -> ServiceResult<std::collections::HashMap<String, String>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT request_id, request_fingerprint FROM need WHERE municipality_code = $1 AND request_id = ANY($2)",
    )
    .bind(municipality_code)
    .bind(request_ids)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}
