//! Exports a municipality's helpers as the sheet `helper_import` reads.

use sqlx::PgPool;
use tsunagu_runtime::error::ServiceResult;
use tsunagu_runtime::grpc::Page;
use uuid::Uuid;

use super::helper_sheet::{export_headers, export_row};
use super::resource_export::ExportedSheet;
use super::{area_names, organization_names};
use crate::community::helpers::Helper;
use crate::community::store::helpers::{self as store, HelperFilter};
use crate::community::store::{ListFilter, Stored};

/// Every live helper of the municipality, oldest first.
pub async fn live_helpers(pool: &PgPool, municipality_code: &str) -> ServiceResult<Vec<Stored<Helper>>> {
    let filter = ListFilter {
        municipality_code: Some(municipality_code.to_string()),
        ..ListFilter::default()
    };
    let mut helpers = Vec::new();
    let mut after: Option<Uuid> = None;
    loop {
        let page = Page { size: 1000, after };
        let batch = store::list(pool, &filter, &HelperFilter::default(), page).await?;
        let full = batch.len() == page.size as usize;
        after = batch.last().map(|helper| helper.meta.id);
        helpers.extend(batch);
        if !full {
            return Ok(helpers);
        }
    }
}

/// `include_contact_points`: write the helpers' phone numbers and e-mail addresses (personal
/// data); without it their columns are left out, and an import of the sheet keeps them.
pub async fn export(
    pool: &PgPool,
    municipality_code: &str,
    include_contact_points: bool,
) -> ServiceResult<ExportedSheet> {
    let helpers = live_helpers(pool, municipality_code).await?;
    let mut conn = pool.acquire().await?;
    let areas = area_names(&mut conn, municipality_code).await?;
    let organizations = organization_names(&mut conn, municipality_code).await?;
    Ok(ExportedSheet {
        headers: export_headers(include_contact_points),
        rows: helpers
            .iter()
            .map(|helper| export_row(helper, &areas, &organizations, include_contact_points))
            .collect(),
    })
}
