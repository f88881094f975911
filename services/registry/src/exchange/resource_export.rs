//! Exports a municipality's resources as the sheet `resource_import` reads.

use sqlx::PgPool;
use tsunagu_runtime::auth::Principal;
use tsunagu_runtime::error::ServiceResult;
use uuid::Uuid;

use super::resource_sheet::{export_headers, export_row};
use super::{area_names, organization_names};
use crate::categories::CategoryIndex;
use crate::resource::store::{self, ResourceFilter, ResourceRecord};
use tsunagu_runtime::grpc::Page;

/// Every live resource of the municipality, oldest first.
pub async fn live_resources(pool: &PgPool, municipality_code: &str) -> ServiceResult<Vec<ResourceRecord>> {
    let filter = ResourceFilter {
        municipality_code: Some(municipality_code.to_string()),
        ..ResourceFilter::default()
    };
    let mut records = Vec::new();
    let mut after: Option<Uuid> = None;
    loop {
        let page = Page { size: 1000, after };
        let batch = store::list(pool, &filter, page).await?;
        let full = batch.len() == page.size as usize;
        after = batch.last().map(|record| record.id);
        records.extend(batch);
        if !full {
            return Ok(records);
        }
    }
}

pub struct ExportedSheet {
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// Who an export is for and whether they asked for confidential locations; each record's is
/// shown only where `authz::shows_confidential_location` says so.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    pub caller: &'a Principal,
    pub asks_confidential: bool,
}

impl Reader<'_> {
    pub fn shows_location(&self, record: &ResourceRecord) -> bool {
        crate::authz::shows_confidential_location(
            self.caller,
            self.asks_confidential,
            &record.municipality_code,
            record.fields.organization_id,
        )
    }
}

pub async fn export(
    pool: &PgPool,
    municipality_code: &str,
    reader: Reader<'_>,
) -> ServiceResult<ExportedSheet> {
    let records = live_resources(pool, municipality_code).await?;
    let mut conn = pool.acquire().await?;
    let categories = CategoryIndex::load(&mut conn, Some(municipality_code)).await?;
    let areas = area_names(&mut conn, municipality_code).await?;
    let organizations = organization_names(&mut conn, municipality_code).await?;
    let rows = records
        .iter()
        .map(|record| {
            let category_name = categories.name_of(&record.fields.category).unwrap_or_default();
            export_row(
                record.id,
                &record.fields,
                category_name,
                &areas,
                &organizations,
                reader.shows_location(record),
            )
        })
        .collect();
    Ok(ExportedSheet {
        headers: export_headers(),
        rows,
    })
}
