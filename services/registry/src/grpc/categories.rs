//! Taxonomy RPCs: the bundled categories and a municipality's own.

use sqlx::PgPool;
use tonic::Status;
use tsunagu_proto::registry::v1 as pb;
use tsunagu_runtime::ServiceError;
use tsunagu_runtime::events::{self, CategoryCreated};
use tsunagu_runtime::outbox;
use tsunagu_runtime::tenant::MunicipalityCode;

use crate::categories::{self, CategoryEntry, CategoryIndex, CategoryInput, NewCategory};

pub async fn list(pool: &PgPool, request: pb::ListCategoriesRequest) -> Result<Vec<pb::Category>, Status> {
    let municipality_code = match request.municipality_code.trim() {
        "" => None,
        code => Some(
            MunicipalityCode::parse_known(code)
                .map_err(|error| ServiceError::invalid("municipality_code", error.to_string()))?,
        ),
    };
    let mut conn = pool.acquire().await.map_err(ServiceError::from)?;
    let index = CategoryIndex::load(
        &mut conn,
        municipality_code.as_ref().map(MunicipalityCode::as_str),
    )
    .await
    .map_err(ServiceError::from)?;
    Ok(index.entries().iter().cloned().map(category_to_proto).collect())
}

pub async fn create(pool: &PgPool, request: pb::CreateCategoryRequest) -> Result<pb::Category, Status> {
    let new = NewCategory::parse(CategoryInput {
        municipality_code: &request.municipality_code,
        slug: &request.slug,
        parent: &request.parent,
        name: &request.name,
        name_kana: &request.name_kana,
        description: &request.description,
    })?;
    let mut tx = pool.begin().await.map_err(ServiceError::from)?;
    let entry = categories::create_category(&mut tx, new).await?;
    let event = CategoryCreated {
        code: entry.code.clone(),
        municipality_code: entry.municipality_code.clone().unwrap_or_default(),
        parent_code: entry.parent_code.clone().unwrap_or_default(),
        name: entry.name.clone(),
    };
    outbox::enqueue(
        &mut tx,
        events::CATEGORY_CREATED,
        &event.municipality_code,
        &event,
    )
    .await
    .map_err(ServiceError::from)?;
    tx.commit().await.map_err(ServiceError::from)?;
    tracing::info!(code = entry.code, "category created");
    Ok(category_to_proto(entry))
}

fn category_to_proto(entry: CategoryEntry) -> pb::Category {
    pb::Category {
        code: entry.code,
        parent_code: entry.parent_code.unwrap_or_default(),
        name: entry.name,
        name_kana: entry.name_kana,
        description: entry.description,
        aliases: entry.aliases,
        municipality_code: entry.municipality_code.unwrap_or_default(),
    }
}
