//! The audit trail (issue 7): who read a resident's personal data, who changed what, when,
//! from which client. Rows are appended after the call succeeded (a read is on record before
//! its answer leaves) and never changed: the table refuses updates and deletes.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tsunagu_runtime::auth::Principal;
use tsunagu_runtime::error::ServiceResult;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ReadPersonalData,
    Change,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::ReadPersonalData => "read_personal_data",
            Action::Change => "change",
        }
    }
}

/// Who made a call, and from where.
#[derive(Debug, Clone)]
pub struct Actor {
    pub role: String,
    pub key: String,
    pub client: String,
}

impl Actor {
    pub fn of<T>(request: &tonic::Request<T>, caller: &Principal) -> Actor {
        let address = request
            .remote_addr()
            .map(|address| address.to_string())
            .unwrap_or_default();
        let agent = request
            .metadata()
            .get("user-agent")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        Actor {
            role: caller.role.as_str().to_string(),
            key: caller.key_prefix.clone(),
            client: format!("{address} {agent}").trim().chars().take(200).collect(),
        }
    }
}

/// What happened to which object.
pub struct Event<'a> {
    pub municipality_code: &'a str,
    pub action: Action,
    pub method: &'static str,
    pub object_kind: &'static str,
    pub object_id: Option<Uuid>,
    pub detail: String,
}

/// A change made in the caller's transaction, audited there: on record exactly when it
/// commits, without a commit of its own.
#[derive(Clone, Copy)]
pub struct InTransaction<'a> {
    pub actor: &'a Actor,
    pub method: &'static str,
}

pub async fn record(pool: &PgPool, actor: &Actor, event: Event<'_>) -> ServiceResult<()> {
    let mut connection = pool.acquire().await?;
    record_in(&mut connection, actor, event).await
}

pub async fn record_in(
    connection: &mut sqlx::PgConnection,
    actor: &Actor,
    event: Event<'_>,
) -> ServiceResult<()> {
    sqlx::query(
        "INSERT INTO audit_entry (id, municipality_code, actor_role, actor_key, action, method, object_kind,
                                  object_id, detail, client)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(Uuid::now_v7())
    .bind(event.municipality_code)
    .bind(&actor.role)
    .bind(&actor.key)
    .bind(event.action.as_str())
    .bind(event.method)
    .bind(event.object_kind)
    .bind(event.object_id)
    .bind(&event.detail)
    .bind(&actor.client)
    .execute(connection)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub municipality_code: String,
    pub actor_role: String,
    pub actor_key: String,
    pub action: String,
    pub method: String,
    pub object_kind: String,
    pub object_id: Option<Uuid>,
    pub detail: String,
    pub client: String,
}

/// What to list: a municipality's entries, newest first, optionally in a time range or about
/// one object, before `before` (the page token).
pub struct Query {
    pub municipality_code: String,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub object_id: Option<Uuid>,
    pub before: Option<Uuid>,
    pub limit: i64,
}

pub async fn list(pool: &PgPool, query: &Query) -> ServiceResult<Vec<EntryRow>> {
    Ok(sqlx::query_as(
        "SELECT id, at, municipality_code, actor_role, actor_key, action, method, object_kind, object_id, detail,
                client
         FROM audit_entry
         WHERE municipality_code = $1 AND ($2::timestamptz IS NULL OR at >= $2)
           AND ($3::timestamptz IS NULL OR at < $3) AND ($4::uuid IS NULL OR object_id = $4)
           AND ($5::uuid IS NULL OR id < $5)
         ORDER BY id DESC LIMIT $6",
    )
    .bind(&query.municipality_code)
    .bind(query.since)
    .bind(query.until)
    .bind(query.object_id)
    .bind(query.before)
    .bind(query.limit)
    .fetch_all(pool)
    .await?)
}
