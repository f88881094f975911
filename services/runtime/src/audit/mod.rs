//! The audit trail (issue 7), shared by every service: who read personal data (a resident's,
//! a helper's contact details, a proxy's address), who changed what, when, from which client.
//! Rows are appended after the call succeeded (a read is on record before its answer leaves)
//! and never changed: each service's `audit_entry` table refuses updates and deletes. `api`
//! serves `tsunagu.audit.v1.AuditService` over a service's own trail.

pub mod api;

use crate::auth::Principal;
use crate::error::ServiceResult;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
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
        let agent = request
            .metadata()
            .get("user-agent")
            .and_then(|value| value.to_str().ok());
        Actor::from_parts(caller, request.remote_addr(), agent)
    }

    /// From what the auth layer sees of a call: its caller, address and user agent.
    pub fn from_parts(
        caller: &Principal,
        address: Option<std::net::SocketAddr>,
        agent: Option<&str>,
    ) -> Actor {
        let address = address.map(|address| address.to_string()).unwrap_or_default();
        Actor {
            role: caller.role.as_str().to_string(),
            key: caller.key_prefix.clone(),
            client: format!("{address} {}", agent.unwrap_or_default())
                .trim()
                .chars()
                .take(200)
                .collect(),
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

/// Who is calling and which method. The auth layer (`crate::auth::layer`) runs every admitted
/// call's handler inside one, so code below a service's edge — a store that records history,
/// a list that returns people's records — puts its reads and changes on record without the
/// request being threaded through.
#[derive(Debug, Clone)]
pub struct Call {
    pub actor: Actor,
    pub method: String,
}

tokio::task_local! {
    static CALL: Call;
}

/// Runs a call's handler with its actor and method at hand.
pub async fn as_call<F: std::future::Future>(call: Call, work: F) -> F::Output {
    CALL.scope(call, work).await
}

/// The call being handled; `None` in a service's own work (a sweep, a consumer, seeding).
pub fn current_call() -> Option<Call> {
    CALL.try_with(Clone::clone).ok()
}

/// Puts on record, for the current call, one entry per object (`(municipality, id)`), in one
/// statement. Outside a call (the service's own work) nothing is recorded.
pub async fn record_for_call(
    pool: &PgPool,
    action: Action,
    object_kind: &'static str,
    objects: &[(String, Uuid)],
    detail: &str,
) -> ServiceResult<()> {
    let Some(call) = current_call() else {
        return Ok(());
    };
    record_objects(pool, &call, action, object_kind, objects, detail).await
}

/// One entry per object (`(municipality, id)`) in one statement: a list that returns 500
/// helpers is 500 reads on record.
pub async fn record_objects(
    pool: &PgPool,
    call: &Call,
    action: Action,
    object_kind: &'static str,
    objects: &[(String, Uuid)],
    detail: &str,
) -> ServiceResult<()> {
    let mut connection = pool.acquire().await?;
    record_objects_in(&mut connection, call, action, object_kind, objects, detail).await
}

/// [`record_objects`] inside the caller's transaction: on record exactly when it commits.
pub async fn record_objects_in(
    connection: &mut sqlx::PgConnection,
    call: &Call,
    action: Action,
    object_kind: &'static str,
    objects: &[(String, Uuid)],
    detail: &str,
) -> ServiceResult<()> {
    if objects.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = objects.iter().map(|_| Uuid::now_v7()).collect();
    let municipalities: Vec<&str> = objects.iter().map(|(code, _)| code.as_str()).collect();
    let object_ids: Vec<Uuid> = objects.iter().map(|(_, id)| *id).collect();
    sqlx::query(
        "INSERT INTO audit_entry (id, municipality_code, actor_role, actor_key, action, method, object_kind,
                                  object_id, detail, client)
         SELECT id, municipality_code, $3, $4, $5, $6, $7, object_id, $8, $9
         FROM unnest($1::uuid[], $2::text[], $10::uuid[]) AS o (id, municipality_code, object_id)",
    )
    .bind(&ids)
    .bind(&municipalities)
    .bind(&call.actor.role)
    .bind(&call.actor.key)
    .bind(action.as_str())
    .bind(&call.method)
    .bind(object_kind)
    .bind(detail)
    .bind(&call.actor.client)
    .bind(&object_ids)
    .execute(connection)
    .await?;
    Ok(())
}
