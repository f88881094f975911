//! The in-app inbox: list, mark read, and a stream that resumes from a cursor.
//!
//! The cursor is a notification's place in commit order, (txid, seq): a reader returns only
//! rows whose writing transaction is older than every transaction still running
//! (`pg_snapshot_xmin`), in (txid, seq) order. A row committed later always sorts after what
//! was returned, so resuming after the last cursor received skips nothing and repeats
//! nothing. (A long transaction anywhere in the cluster delays the stream; it loses nothing.)

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tsunagu_proto::notifications::v1 as pb;
use tsunagu_runtime::error::{ServiceError, ServiceResult};
use tsunagu_runtime::grpc::{Page, timestamp};
use uuid::Uuid;

use crate::message::Audience;

#[derive(sqlx::FromRow)]
pub struct NotificationRow {
    id: Uuid,
    municipality_code: String,
    recipient_kind: String,
    recipient_id: String,
    event_type: String,
    event_id: Uuid,
    title: String,
    body: String,
    /// None for notifications about no need (a resource overdue for verification).
    need_id: Option<Uuid>,
    proposal_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    txid: String,
    seq: i64,
    urgent: bool,
    read_at: Option<DateTime<Utc>>,
    template_key: String,
    template_version: i32,
}

const COLUMNS: &str = "id, municipality_code, recipient_kind, recipient_id, event_type, event_id, title, body,
    need_id, proposal_id, created_at, txid::text AS txid, seq, urgent, read_at, template_key, template_version";

/// A place in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    txid: u64,
    seq: i64,
}

impl Cursor {
    pub const START: Cursor = Cursor { txid: 0, seq: 0 };

    pub fn parse(token: &str) -> ServiceResult<Cursor> {
        if token.is_empty() {
            return Ok(Cursor::START);
        }
        let invalid = || {
            ServiceError::invalid(
                "cursor",
                "cursor は受け取った通知の cursor をそのまま渡してください / not a cursor this service issued",
            )
        };
        let rest = token.strip_prefix("c1.").ok_or_else(invalid)?;
        let (txid, seq) = rest.split_once('.').ok_or_else(invalid)?;
        Ok(Cursor {
            txid: txid.parse().map_err(|_| invalid())?,
            seq: seq.parse().map_err(|_| invalid())?,
        })
    }

    pub fn token(&self) -> String {
        format!("c1.{}.{}", self.txid, self.seq)
    }
}

impl NotificationRow {
    pub fn id(&self) -> Uuid {
        self.id
    }

    pub fn cursor(&self) -> Cursor {
        Cursor {
            txid: self.txid.parse().unwrap_or(0),
            seq: self.seq,
        }
    }

    pub fn into_proto(self) -> pb::Notification {
        let cursor = self.cursor().token();
        let kind = match self.recipient_kind.as_str() {
            "organization" => pb::recipient::Kind::OrganizationId(self.recipient_id),
            _ => pb::recipient::Kind::CoordinatorsOfMunicipality(self.recipient_id),
        };
        pb::Notification {
            id: self.id.to_string(),
            municipality_code: self.municipality_code,
            recipient: Some(pb::Recipient { kind: Some(kind) }),
            channel: pb::Channel::InApp.into(),
            event_type: self.event_type,
            event_id: self.event_id.to_string(),
            title: self.title,
            body: self.body,
            need_id: self.need_id.map(|id| id.to_string()).unwrap_or_default(),
            proposal_id: self.proposal_id.map(|id| id.to_string()).unwrap_or_default(),
            created_at: Some(timestamp(self.created_at)),
            cursor,
            urgent: self.urgent,
            read_at: self.read_at.map(timestamp),
            template_key: self.template_key,
            template_version: self.template_version.max(0) as u32,
        }
    }
}

pub async fn list(
    pool: &PgPool,
    audience: &Audience,
    only_municipality: Option<&str>,
    unread_only: bool,
    page: &Page,
) -> ServiceResult<Vec<NotificationRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM notification
         WHERE recipient_kind = $1 AND recipient_id = $2 AND ($3::uuid IS NULL OR id > $3)
           AND ($5::text IS NULL OR municipality_code = $5) AND (NOT $6 OR read_at IS NULL)
         ORDER BY id LIMIT $4"
    )))
    .bind(audience.kind())
    .bind(audience.id())
    .bind(page.after)
    .bind(i64::from(page.size))
    .bind(only_municipality)
    .bind(unread_only)
    .fetch_all(pool)
    .await?)
}

/// The stream's next rows after `cursor`, in commit order, only from finished transactions.
pub async fn after(
    pool: &PgPool,
    audience: &Audience,
    only_municipality: Option<&str>,
    cursor: &Cursor,
    limit: i64,
) -> ServiceResult<Vec<NotificationRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM notification
         WHERE recipient_kind = $1 AND recipient_id = $2
           AND ($3::text IS NULL OR municipality_code = $3)
           AND (txid, seq) > ($4::text::xid8, $5)
           AND txid < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY txid, seq LIMIT $6"
    )))
    // Planned afresh each time: a plan cached while the inbox was small reads the recipient's
    // whole inbox through (recipient, id) at every wake instead of seeking the stream index
    // (recipient, txid, seq) to the cursor — a cost that grew with the inbox (docs/benchmarks/load.md).
    .persistent(false)
    .bind(audience.kind())
    .bind(audience.id())
    .bind(only_municipality)
    .bind(cursor.txid.to_string())
    .bind(cursor.seq)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

pub async fn mark_read(
    pool: &PgPool,
    audience: &Audience,
    only_municipality: Option<&str>,
    ids: &[Uuid],
) -> ServiceResult<u64> {
    Ok(sqlx::query(
        "UPDATE notification SET read_at = now()
         WHERE id = ANY ($1) AND recipient_kind = $2 AND recipient_id = $3 AND read_at IS NULL
           AND ($4::text IS NULL OR municipality_code = $4)",
    )
    .bind(ids)
    .bind(audience.kind())
    .bind(audience.id())
    .bind(only_municipality)
    .execute(pool)
    .await?
    .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_tokens_are_refused() {
        let cursor = Cursor {
            txid: 7_000_123,
            seq: 42,
        };
        assert_eq!(Cursor::parse(&cursor.token()).unwrap(), cursor);
        assert_eq!(Cursor::parse("").unwrap(), Cursor::START);
        assert!(Cursor::parse("c1.x.1").is_err());
        assert!(Cursor::parse("abc").is_err());
    }
}
