//! Consent (domain.md §7): a resident's needs and contact details leave intake only as far as
//! the resident (or family, or a guardian) agreed. Who consented, how, when, who recorded it,
//! and its scope; a new consent replaces the current one, a withdrawal ends it, and every
//! consent stays on record.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use tsunagu_runtime::error::{ServiceError, ServiceResult, Violations};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentGiver {
    Resident,
    Family,
    Guardian,
}

impl ConsentGiver {
    pub const ALL: [ConsentGiver; 3] = [
        ConsentGiver::Resident,
        ConsentGiver::Family,
        ConsentGiver::Guardian,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConsentGiver::Resident => "resident",
            ConsentGiver::Family => "family",
            ConsentGiver::Guardian => "guardian",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ConsentGiver::Resident => "本人",
            ConsentGiver::Family => "家族",
            ConsentGiver::Guardian => "成年後見人等",
        }
    }

    pub fn parse(stored: &str) -> Option<ConsentGiver> {
        ConsentGiver::ALL.into_iter().find(|g| g.as_str() == stored)
    }

    pub fn parse_label(cell: &str) -> Option<ConsentGiver> {
        let cell = tsunagu_runtime::text::nfkc(cell);
        let cell = cell.trim();
        match cell {
            "後見人" | "成年後見人" => Some(ConsentGiver::Guardian),
            _ => ConsentGiver::ALL
                .into_iter()
                .find(|g| g.label() == cell || g.as_str() == cell),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentMethod {
    Written,
    Verbal,
    Electronic,
}

impl ConsentMethod {
    pub const ALL: [ConsentMethod; 3] = [
        ConsentMethod::Written,
        ConsentMethod::Verbal,
        ConsentMethod::Electronic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConsentMethod::Written => "written",
            ConsentMethod::Verbal => "verbal",
            ConsentMethod::Electronic => "electronic",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ConsentMethod::Written => "書面",
            ConsentMethod::Verbal => "口頭",
            ConsentMethod::Electronic => "電子",
        }
    }

    pub fn parse(stored: &str) -> Option<ConsentMethod> {
        ConsentMethod::ALL.into_iter().find(|m| m.as_str() == stored)
    }

    pub fn parse_label(cell: &str) -> Option<ConsentMethod> {
        let cell = tsunagu_runtime::text::nfkc(cell);
        let cell = cell.trim();
        ConsentMethod::ALL
            .into_iter()
            .find(|m| m.label() == cell || m.as_str() == cell)
    }
}

/// What the consent allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes {
    /// The need (ids, area, category, schedule, eligibility, requirements) may go to matching
    /// and to the providers it is proposed to.
    pub share_need: bool,
    /// The resident's contact details may go to the provider that accepted.
    pub share_contact: bool,
}

/// A consent as received.
#[derive(Debug, Clone, Default)]
pub struct RawConsent {
    pub given_by: Option<ConsentGiver>,
    pub method: Option<ConsentMethod>,
    pub scopes: Scopes,
    /// Whether the request named a scope intake does not know.
    pub unknown_scope: bool,
    pub consented_at: Option<DateTime<Utc>>,
    /// Whether the request gave a time that is no time (out of range, bad nanoseconds): it
    /// is refused, never taken as "now".
    pub unreadable_time: bool,
}

/// How far ahead of intake's clock a consent time may be: a caller's clock a little fast is
/// not an error; a time further ahead is (a consent cannot have been given in the future).
const CLOCK_TOLERANCE: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// No consent recorded here is older than this: an earlier time is a client's default (the
/// epoch, year 1) or a typing error, not when a resident agreed.
fn earliest_consent() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2000-01-01T00:00:00+09:00")
        .expect("a time")
        .with_timezone(&Utc)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentInput {
    pub given_by: ConsentGiver,
    pub method: ConsentMethod,
    pub scopes: Scopes,
    /// None: now.
    pub consented_at: Option<DateTime<Utc>>,
}

impl ConsentInput {
    /// Violations are named `{prefix}{field}`.
    pub fn parse(raw: &RawConsent, prefix: &str, violations: &mut Violations) -> Option<ConsentInput> {
        let before = violations.len();
        if raw.given_by.is_none() {
            violations.add(
                format!("{prefix}given_by"),
                "同意した人（本人・家族・成年後見人等）を指定してください / given_by is required",
            );
        }
        if raw.method.is_none() {
            violations.add(
                format!("{prefix}method"),
                "同意の方法（書面・口頭・電子）を指定してください / method is required",
            );
        }
        if raw.unknown_scope || raw.scopes == Scopes::default() {
            violations.add(
                format!("{prefix}scopes"),
                "同意の範囲（提供者へのニーズの共有、受諾後の連絡先の共有）を指定してください / scopes must name known scopes",
            );
        } else if raw.scopes.share_contact && !raw.scopes.share_need {
            violations.add(
                format!("{prefix}scopes"),
                "連絡先の共有には、提供者へのニーズの共有への同意も必要です / sharing contact details needs sharing the need too",
            );
        }
        // Checked here, so a request and a sheet row are refused alike, and a time that is
        // wrong is refused rather than replaced by now.
        let field = format!("{prefix}consented_at");
        if raw.unreadable_time {
            violations.add(
                field,
                "同意日時を読み取れません。同意を得た日時を指定するか、空にしてください（空なら記録した時刻） / consented_at is not a valid time; give when the consent was given, or leave it empty for now",
            );
        } else if let Some(at) = raw.consented_at {
            if at > Utc::now() + CLOCK_TOLERANCE {
                violations.add(
                    field,
                    "同意日時が未来です（5分を超えて先の時刻）。同意を得た日時を指定してください / consented_at is more than 5 minutes in the future; give when the consent was given",
                );
            } else if at < earliest_consent() {
                violations.add(
                    field,
                    "同意日時が2000年より前です。同意を得た日時を指定してください / consented_at is before 2000; give when the consent was given",
                );
            }
        }
        if violations.len() > before {
            return None;
        }
        Some(ConsentInput {
            given_by: raw.given_by.expect("checked"),
            method: raw.method.expect("checked"),
            scopes: raw.scopes,
            consented_at: raw.consented_at,
        })
    }

    /// What of the consent identifies a submission (not its time, which a retry may omit).
    pub fn fingerprint_part(&self) -> String {
        format!(
            "{}/{}/{}{}",
            self.given_by.as_str(),
            self.method.as_str(),
            u8::from(self.scopes.share_need),
            u8::from(self.scopes.share_contact)
        )
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsentRow {
    pub id: Uuid,
    pub need_id: Uuid,
    pub given_by: String,
    pub method: String,
    pub share_need: bool,
    pub share_contact: bool,
    pub consented_at: DateTime<Utc>,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawn_by: Option<String>,
    pub withdrawal_reason: Option<String>,
}

pub(crate) const CONSENT_COLUMNS: &str =
    "id, need_id, given_by, method, share_need, share_contact, consented_at, recorded_by,
     recorded_at, withdrawn_at, withdrawn_by, withdrawal_reason";

/// The consent in force for a need, if any.
pub async fn current(conn: &mut PgConnection, need_id: Uuid) -> ServiceResult<Option<ConsentRow>> {
    Ok(sqlx::query_as::<_, ConsentRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {CONSENT_COLUMNS} FROM consent WHERE need_id = $1 AND withdrawn_at IS NULL"
    )))
    .bind(need_id)
    .fetch_optional(conn)
    .await?)
}

/// The consents in force of several needs at once (for lists).
pub async fn current_of(conn: &mut PgConnection, need_ids: &[Uuid]) -> ServiceResult<Vec<ConsentRow>> {
    Ok(sqlx::query_as::<_, ConsentRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {CONSENT_COLUMNS} FROM consent WHERE need_id = ANY($1) AND withdrawn_at IS NULL"
    )))
    .bind(need_ids)
    .fetch_all(conn)
    .await?)
}

/// Every consent of a need, newest first.
pub async fn all_of(conn: &mut PgConnection, need_id: Uuid) -> ServiceResult<Vec<ConsentRow>> {
    Ok(sqlx::query_as::<_, ConsentRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {CONSENT_COLUMNS} FROM consent WHERE need_id = $1 ORDER BY recorded_at DESC, id DESC"
    )))
    .bind(need_id)
    .fetch_all(conn)
    .await?)
}

/// Records `input` as the need's consent in the caller's transaction; the one it replaces is
/// ended (withdrawn "replaced") so that at most one is current.
pub async fn record(
    tx: &mut PgConnection,
    need_id: Uuid,
    input: &ConsentInput,
    recorded_by: &str,
) -> ServiceResult<ConsentRow> {
    end_current(
        tx,
        need_id,
        recorded_by,
        "新しい同意に置き換え / replaced by a newer consent",
    )
    .await?;
    record_first(tx, need_id, input, recorded_by).await
}

/// Records the first consent of a need that has none yet (at submission): nothing to end.
pub async fn record_first(
    tx: &mut PgConnection,
    need_id: Uuid,
    input: &ConsentInput,
    recorded_by: &str,
) -> ServiceResult<ConsentRow> {
    Ok(sqlx::query_as::<_, ConsentRow>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO consent (id, need_id, given_by, method, share_need, share_contact, consented_at, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, now()), $8)
         RETURNING {CONSENT_COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(need_id)
    .bind(input.given_by.as_str())
    .bind(input.method.as_str())
    .bind(input.scopes.share_need)
    .bind(input.scopes.share_contact)
    .bind(input.consented_at)
    .bind(recorded_by)
    .fetch_one(tx)
    .await?)
}

/// Ends the current consent; `None` when there was none.
pub async fn end_current(
    tx: &mut PgConnection,
    need_id: Uuid,
    by: &str,
    reason: &str,
) -> ServiceResult<Option<ConsentRow>> {
    Ok(sqlx::query_as::<_, ConsentRow>(sqlx::AssertSqlSafe(format!(
        "UPDATE consent SET withdrawn_at = now(), withdrawn_by = $2, withdrawal_reason = $3
         WHERE need_id = $1 AND withdrawn_at IS NULL
         RETURNING {CONSENT_COLUMNS}"
    )))
    .bind(need_id)
    .bind(by)
    .bind(reason)
    .fetch_optional(tx)
    .await?)
}

/// The refusal when there is no consent to withdraw.
pub fn nothing_to_withdraw() -> ServiceError {
    ServiceError::FailedPrecondition(
        "このニーズには撤回できる同意がありません / the need has no consent in force".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(share_need: bool, share_contact: bool) -> RawConsent {
        RawConsent {
            given_by: Some(ConsentGiver::Family),
            method: Some(ConsentMethod::Written),
            scopes: Scopes {
                share_need,
                share_contact,
            },
            ..RawConsent::default()
        }
    }

    fn fields(raw: &RawConsent) -> Vec<String> {
        let mut violations = Violations::new();
        ConsentInput::parse(raw, "consent.", &mut violations);
        violations.iter().map(|v| v.field.clone()).collect()
    }

    #[test]
    fn a_consent_names_who_how_and_a_coherent_scope() {
        assert!(fields(&raw(true, true)).is_empty());
        assert!(fields(&raw(true, false)).is_empty());
        assert_eq!(fields(&raw(false, true)), ["consent.scopes"]);
        assert_eq!(fields(&raw(false, false)), ["consent.scopes"]);
        assert_eq!(
            fields(&RawConsent::default()),
            ["consent.given_by", "consent.method", "consent.scopes"]
        );
        let mut future = raw(true, false);
        future.consented_at = Some(Utc::now() + chrono::TimeDelta::days(1));
        assert_eq!(fields(&future), ["consent.consented_at"]);
    }

    #[test]
    fn a_consent_time_is_refused_not_replaced_when_it_cannot_be_one() {
        let at = |time: DateTime<Utc>| RawConsent {
            consented_at: Some(time),
            ..raw(true, false)
        };
        // A caller's clock a minute fast is tolerated; the past is fine.
        assert!(fields(&at(Utc::now() + chrono::TimeDelta::minutes(1))).is_empty());
        assert!(fields(&at(Utc::now() - chrono::TimeDelta::days(30))).is_empty());
        let far = DateTime::parse_from_rfc3339("9999-12-31T00:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(fields(&at(far)), ["consent.consented_at"]);
        assert_eq!(
            fields(&at(Utc::now() + chrono::TimeDelta::minutes(10))),
            ["consent.consented_at"]
        );
        assert_eq!(fields(&at(DateTime::UNIX_EPOCH)), ["consent.consented_at"]);
        let unreadable = RawConsent {
            unreadable_time: true,
            ..raw(true, false)
        };
        assert_eq!(fields(&unreadable), ["consent.consented_at"]);
    }

    #[test]
    fn words_read_back() {
        for giver in ConsentGiver::ALL {
            assert_eq!(ConsentGiver::parse_label(giver.label()), Some(giver));
            assert_eq!(ConsentGiver::parse(giver.as_str()), Some(giver));
        }
        for method in ConsentMethod::ALL {
            assert_eq!(ConsentMethod::parse_label(method.label()), Some(method));
            assert_eq!(ConsentMethod::parse(method.as_str()), Some(method));
        }
    }
}
