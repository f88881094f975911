//! Import and export of resources, organisations and helpers as coordinators keep them (CSV
//! and Excel), of resources as Open Referral HSDS JSON, and from the 自治体標準オープンデータセット
//! 「介護サービス事業所一覧」.
//!
//! An import is all-or-nothing per row, never per file: a row with any problem is reported
//! (row, column, reason) and left out, the valid rows are applied, and a row is never half
//! written (each runs inside its own savepoint). A dry run does everything, then rolls back.

pub mod care_providers;
pub mod common;
pub mod helper_export;
pub mod helper_import;
pub mod helper_sheet;
pub mod hsds;
pub mod organization_export;
pub mod organization_import;
pub mod organization_sheet;
pub mod resource_export;
pub mod resource_import;
pub mod resource_sheet;

use sqlx::PgConnection;
use uuid::Uuid;

use resource_sheet::{AreaForNames, AreaNames, OrganizationNames};

/// A rejected row: where (row number as Excel shows it, column header) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub row: usize,
    pub column: String,
    pub reason: String,
}

/// Counts of what an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub created: u32,
    pub updated: u32,
    pub unchanged: u32,
    pub rejected: Vec<RowProblem>,
    /// Headers the importer did not recognise; their columns were not read.
    pub ignored_headers: Vec<String>,
}

/// The areas a municipality's sheet may name: its own (by name), any official area (by
/// code), and whatever its resources already cover.
pub async fn area_names(conn: &mut PgConnection, municipality_code: &str) -> sqlx::Result<AreaNames> {
    let rows: Vec<(Uuid, String, Option<String>, String)> = sqlx::query_as(
        "SELECT id, name, code, municipality_code FROM area
         WHERE municipality_code = $1 OR code IS NOT NULL
            OR id IN (SELECT c.area_id FROM resource_coverage c JOIN resource r ON r.id = c.resource_id
                      WHERE r.municipality_code = $1)",
    )
    .bind(municipality_code)
    .fetch_all(&mut *conn)
    .await?;
    let areas: Vec<AreaForNames> = rows
        .into_iter()
        .map(|(id, name, code, municipality_code)| AreaForNames {
            id,
            name,
            code,
            municipality_code,
        })
        .collect();
    Ok(AreaNames::new(municipality_code, &areas))
}

/// Organisations a municipality's sheet may name: its own, and those that run its resources.
pub async fn organization_names(
    conn: &mut PgConnection,
    municipality_code: &str,
) -> sqlx::Result<OrganizationNames> {
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, name FROM organization
         WHERE deleted_at IS NULL AND (municipality_code = $1
            OR id IN (SELECT organization_id FROM resource WHERE municipality_code = $1))",
    )
    .bind(municipality_code)
    .fetch_all(&mut *conn)
    .await?;
    Ok(OrganizationNames::new(&rows))
}
