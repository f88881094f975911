//! Categories of a municipality's own (registry `category.created`), learnt from events so
//! that needs named by them are stored under their codes. Bundled categories resolve without
//! the database (`tsunagu_runtime::taxonomy`).

use sqlx::PgConnection;
use tsunagu_runtime::amqp::Envelope;
use tsunagu_runtime::consumer::HandlerError;
use tsunagu_runtime::error::{ServiceError, ServiceResult};
use tsunagu_runtime::events::CategoryCreated;
use tsunagu_runtime::taxonomy;

/// Learns a municipality's category from `category.created` (in the consumer's transaction).
pub async fn learn(tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
    let category: CategoryCreated = event.decode().map_err(|error| {
        HandlerError::Permanent(anyhow::anyhow!(
            "category.created payload does not match its contract: {error}"
        ))
    })?;
    sqlx::query(
        "INSERT INTO municipal_category (code, municipality_code, name, name_key, parent_code)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (code) DO UPDATE SET name = $3, name_key = $4, parent_code = $5",
    )
    .bind(&category.code)
    .bind(&category.municipality_code)
    .bind(&category.name)
    .bind(taxonomy::comparable(&category.name))
    .bind(&category.parent_code)
    .execute(&mut *tx)
    .await?;
    tracing::info!(code = category.code, "municipal category learnt");
    Ok(())
}

fn is_bundled_code(category: &str) -> bool {
    taxonomy::bundled().iter().any(|entry| entry.code == category)
}

/// The code of a known category named `category`: a bundled code as it is, a municipality's
/// own category by its code or its name; anything else is refused, naming the field
/// `category`. (Bundled names were turned into codes when the request was parsed.)
pub async fn resolve_known(
    conn: &mut PgConnection,
    municipality_code: &str,
    category: &str,
) -> ServiceResult<String> {
    if is_bundled_code(category) {
        return Ok(category.to_string());
    }
    let code: Option<String> = sqlx::query_scalar(
        "SELECT code FROM municipal_category WHERE municipality_code = $1 AND (code = $2 OR name_key = $3)
         ORDER BY code = $2 DESC LIMIT 1",
    )
    .bind(municipality_code)
    .bind(category)
    .bind(taxonomy::comparable(category))
    .fetch_optional(conn)
    .await?;
    code.ok_or_else(|| {
        ServiceError::invalid(
            "category",
            format!(
                "「{category}」は分類表にないカテゴリです（一覧は RegistryService/ListCategories、市区町村独自のものは CreateCategory で追加） / unknown category"
            ),
        )
    })
}
