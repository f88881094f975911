//! Exports a municipality's organisations as the sheet `organization_import` reads.

use sqlx::PgPool;
use tsunagu_runtime::error::ServiceResult;
use tsunagu_runtime::grpc::Page;
use uuid::Uuid;

use super::organization_sheet::{export_headers, export_row};
use super::resource_export::ExportedSheet;
use super::{area_names, organization_names};
use crate::organization::store::{self, OrganizationFilter, OrganizationRow};

/// Every live organisation of the municipality, oldest first.
pub async fn live_organizations(
    pool: &PgPool,
    municipality_code: &str,
) -> ServiceResult<Vec<OrganizationRow>> {
    let filter = OrganizationFilter {
        municipality_code: Some(municipality_code.to_string()),
        ..OrganizationFilter::default()
    };
    let mut rows = Vec::new();
    let mut after: Option<Uuid> = None;
    loop {
        let page = Page { size: 1000, after };
        let batch = store::list(pool, &filter, page).await?;
        let full = batch.len() == page.size as usize;
        after = batch.last().map(|row| row.id);
        rows.extend(batch);
        if !full {
            return Ok(rows);
        }
    }
}

pub async fn export(pool: &PgPool, municipality_code: &str) -> ServiceResult<ExportedSheet> {
    let organizations = live_organizations(pool, municipality_code).await?;
    let mut conn = pool.acquire().await?;
    let areas = area_names(&mut conn, municipality_code).await?;
    let names = organization_names(&mut conn, municipality_code).await?;
    Ok(ExportedSheet {
        headers: export_headers(),
        rows: organizations
            .iter()
            .map(|organization| export_row(organization, &areas, &names))
            .collect(),
    })
}
