//! PostgreSQL: one pool per service, pinned to the service's own schema, and migrations that
//! bring that schema up to date (the runtime's outbox/inbox tables first, then the service's).

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

/// Migrations of the runtime's own tables, applied in every service schema before the
/// service's migrations. Services number theirs from 100.
static RUNTIME_MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Connects to the service's database with `search_path` set to `schema`, so the service's
/// unqualified table names resolve inside its own schema and nowhere else.
pub async fn connect(database_url: &str, schema: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let pool = pool_options(max_connections)
        .connect_with(connect_options(database_url, schema)?)
        .await
        .map_err(|error| unreachable(database_url, error))?;
    Ok(pool)
}

/// Connections pinned to `schema`, named after it, slow statements logged.
fn connect_options(database_url: &str, schema: &str) -> anyhow::Result<PgConnectOptions> {
    Ok(PgConnectOptions::from_str(database_url)
        .map_err(|error| anyhow::anyhow!("TSUNAGU_DATABASE_URL is not a PostgreSQL URL: {error}"))?
        .options([("search_path", schema)])
        .application_name(&format!("tsunagu-{schema}"))
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500)))
}

fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
}

pub const HOW_TO_START_POSTGRES: &str = "PostgreSQL must be running: on Debian, \
`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`; \
with Docker, `docker compose up -d postgres`.";

fn unreachable(database_url: &str, error: sqlx::Error) -> anyhow::Error {
    // A missing database is not a stopped server: say what to do about it instead.
    let missing_database = error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "3D000");
    let advice = if missing_database {
        "The database does not exist: create it (`createdb <name>`, or let the operator \
         provision it); `tsunagu up` creates its own."
    } else {
        HOW_TO_START_POSTGRES
    };
    anyhow::anyhow!(
        "cannot connect to PostgreSQL at {}: {error}\n{advice}",
        redact(database_url)
    )
}

/// Creates the schema if needed and applies the runtime's and the service's migrations.
pub async fn migrate(pool: &PgPool, schema: &str, service_migrations: &Migrator) -> anyhow::Result<()> {
    let mut migrations: Vec<Migration> = RUNTIME_MIGRATIONS.iter().cloned().collect();
    migrations.extend(service_migrations.iter().cloned());
    let mut migrator = Migrator::with_migrations(migrations);
    migrator.create_schema(schema.to_string());
    migrator.dangerous_set_table_name(Cow::Owned(format!("{schema}._sqlx_migrations")));
    migrator
        .run(pool)
        .await
        .map_err(|error| anyhow::anyhow!("migrating schema {schema} failed: {error}"))?;
    Ok(())
}

/// Creates the database named in `database_url` if it does not exist (the `up` command and
/// tests use this; production databases are provisioned by the operator).
pub async fn ensure_database(database_url: &str) -> anyhow::Result<()> {
    let options = PgConnectOptions::from_str(database_url)?;
    let Some(name) = options.get_database().map(str::to_string) else {
        return Ok(());
    };
    let mut admin = options
        .clone()
        .database("postgres")
        .connect()
        .await
        .map_err(|error| unreachable(database_url, error))?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&mut admin)
        .await?;
    if !exists {
        // Identifiers cannot be bound; the name is quoted with its quotes doubled.
        let statement = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        if let Err(error) = sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut admin)
            .await
        {
            // Another process may have created it in between.
            let is_duplicate = error
                .as_database_error()
                .and_then(|e| e.code())
                .is_some_and(|code| code == "42P04");
            if !is_duplicate {
                return Err(error.into());
            }
        }
    }
    admin.close().await?;
    Ok(())
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_hides_the_password_only() {
        assert_eq!(super::redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact("amqp://h"), "amqp://h");
    }
}

tokio::task_local! {
    /// Whose rows the current task may touch, in pools guarded by row-level security
    /// (`connect_guarded`).
    static SCOPE: Scope;
}

/// The tenant of a task: a municipality's code (`*` for a service's own work across
/// municipalities), and the caller's organisation when it is a provider (whose proposals and
/// notifications may come from other municipalities).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub tenant: String,
    pub organization: String,
}

/// The tenant value that admits every municipality: a service's sweeps, and calls between
/// services.
pub const EVERY_TENANT: &str = "*";

/// Runs `work` as `tenant`: every connection it takes from a guarded pool carries that tenant,
/// and row-level security shows and accepts only that municipality's rows.
pub async fn as_tenant<F: std::future::Future>(tenant: &str, work: F) -> F::Output {
    as_scope(
        Scope {
            tenant: tenant.to_string(),
            organization: String::new(),
        },
        work,
    )
    .await
}

/// Runs `work` in `scope` (a future that outlives its caller takes `current_scope()` along).
pub async fn as_scope<F: std::future::Future>(scope: Scope, work: F) -> F::Output {
    SCOPE.scope(scope, work).await
}

/// The current task's scope; empty outside `as_scope` (a guarded pool then shows nothing).
pub fn current_scope() -> Scope {
    SCOPE.try_with(Clone::clone).unwrap_or_default()
}

async fn set_tenant(connection: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    let scope = current_scope();
    sqlx::query(
        "SELECT set_config('tsunagu.tenant', $1, false), set_config('tsunagu.organization', $2, false)",
    )
    .bind(scope.tenant)
    .bind(scope.organization)
    .execute(connection)
    .await?;
    Ok(())
}

/// A pool for a service whose tables carry row-level security: every connection acts as
/// `role` (which owns nothing and is no superuser, so the policies hold), and carries the
/// tenant of the task that takes it (`as_tenant`), set again at every checkout.
pub async fn connect_guarded(
    database_url: &str,
    schema: &str,
    max_connections: u32,
    role: &'static str,
) -> anyhow::Result<PgPool> {
    let options = connect_options(database_url, schema)?;
    let pool = pool_options(max_connections)
        .after_connect(move |connection, _| {
            Box::pin(async move {
                // The role's name is a constant of the service, never input.
                sqlx::query(sqlx::AssertSqlSafe(format!("SET ROLE \"{role}\"")))
                    .execute(&mut *connection)
                    .await?;
                set_tenant(connection).await
            })
        })
        .before_acquire(|connection, _| {
            Box::pin(async move {
                set_tenant(connection).await?;
                Ok(true)
            })
        })
        .connect_with(options)
        .await
        .map_err(|error| unreachable(database_url, error))?;
    Ok(pool)
}

/// A span of one significant database operation, after the OpenTelemetry database semantic
/// conventions: a client span named `{operation} {table}` with `db.system.name`,
/// `db.operation.name`, `db.collection.name` and the schema (`db.namespace`, the service's).
/// Callers record ids on it (`tsunagu.need_id`, …) where they have them — never values.
pub fn span(schema: &str, operation: &'static str, table: &'static str) -> tracing::Span {
    tracing::info_span!(
        "db",
        otel.name = format!("{operation} {table}"),
        otel.kind = "client",
        db.system.name = "postgresql",
        db.namespace = schema,
        db.operation.name = operation,
        db.collection.name = table,
        tsunagu.service = schema,
        tsunagu.need_id = tracing::field::Empty,
        tsunagu.proposal_id = tracing::field::Empty,
        tsunagu.resource_id = tracing::field::Empty,
        tsunagu.organization_id = tracing::field::Empty,
        db.response.returned_rows = tracing::field::Empty,
    )
}
