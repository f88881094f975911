//! Imports an organisation sheet: upsert by ID, else by 外部ID, else create. Rows may name a
//! parent created or renamed by a row above them.

use sqlx::{PgConnection, PgPool};
use tsunagu_runtime::error::{ServiceError, ServiceResult};
use tsunagu_runtime::tenant::MunicipalityCode;
use tsunagu_tabular::{Row, Sheet};

use super::common::{
    EXTERNAL_ID, ID, Layout, ORGANIZATION_MESSAGE, RowDone, RowOutcome, add_violations, begin_row, end_row,
    problem,
};
use super::organization_sheet::{self, COLUMNS, KIND, NAME};
use super::resource_import::Progress;
use super::resource_sheet::{AreaNames, OrganizationNames};
use super::{ImportReport, area_names, organization_names};
use crate::history::ChangeAuthor;
use crate::organization::input::RawOrganization;
use crate::organization::store;

pub async fn import(
    pool: &PgPool,
    municipality: &MunicipalityCode,
    sheet: &Sheet,
    row_offset: usize,
    dry_run: bool,
    author: ChangeAuthor<'_>,
    progress: Progress<'_>,
) -> ServiceResult<ImportReport> {
    let layout = Layout::of(sheet, COLUMNS);
    for required in [NAME, KIND] {
        if !layout.has(required) && !layout.has(ID) {
            return Err(ServiceError::invalid(
                "content",
                format!(
                    "見出し「{required}」の列がありません（1行目に見出しを置いてください） / the sheet has no {required} column"
                ),
            ));
        }
    }
    let code = municipality.as_str();
    let mut tx = pool.begin().await?;
    let areas = area_names(&mut tx, code).await?;
    let mut organizations = organization_names(&mut tx, code).await?;
    let mut report = ImportReport {
        ignored_headers: layout.ignored_headers.clone(),
        ..ImportReport::default()
    };
    for (done, row) in sheet.rows.iter().enumerate() {
        begin_row(&mut tx).await?;
        let outcome = import_row(&mut tx, code, &layout, row, &areas, &mut organizations, author).await?;
        end_row(&mut tx, &mut report, row.number + row_offset, outcome).await?;
        progress(done + 1, sheet.rows.len());
    }
    if dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(report)
}

async fn import_row(
    tx: &mut PgConnection,
    code: &str,
    layout: &Layout,
    row: &Row,
    areas: &AreaNames,
    organizations: &mut OrganizationNames,
    author: ChangeAuthor<'_>,
) -> ServiceResult<RowOutcome> {
    // Before anything reads the row: a cell the API would refuse never reaches the database.
    let guarded = layout.guard(ORGANIZATION_MESSAGE, row);
    if !guarded.is_empty() {
        return Ok(Err(guarded));
    }
    let existing = match layout.id(row) {
        Err(cell) => return Ok(Err(vec![(cell.column, cell.reason)])),
        Ok(Some(id)) => match store::lock(tx, id).await? {
            None => {
                return Ok(Err(vec![problem(
                    ID,
                    format!(
                        "ID {id} の団体は登録されていません（新しく登録するときはIDを空欄に） / no organization has this id"
                    ),
                )]));
            }
            Some(found) if found.municipality_code != code => {
                return Ok(Err(vec![problem(
                    ID,
                    format!(
                        "団体 {id} は別の市区町村のものです / the organization belongs to another municipality"
                    ),
                )]));
            }
            Some(found) => Some(found),
        },
        Ok(None) => match layout.external_id(row) {
            Some(external_id) => store::lock_by_external_id(tx, code, &external_id).await?,
            None => None,
        },
    };
    if existing.as_ref().is_some_and(|found| found.deleted_at.is_some()) {
        return Ok(Err(vec![problem(
            ID,
            "削除済みの団体は取り込めません / the organization is deleted",
        )]));
    }
    let mut raw = existing
        .as_ref()
        .map(|found| RawOrganization::from_fields(&found.fields()))
        .unwrap_or_default();
    // Cell problems and field violations are reported together, so one pass over the report
    // fixes the row.
    let problems: Vec<(String, String)> =
        organization_sheet::overlay(layout, row, &mut raw, areas, organizations)
            .into_iter()
            .map(|cell| (cell.column, cell.reason))
            .collect();
    let fields = match raw.parse() {
        Ok(fields) if problems.is_empty() => fields,
        Ok(_) => return Ok(Err(problems)),
        Err(error) => return add_violations(problems, error, layout).map(Err),
    };
    let written = match &existing {
        Some(current) => store::apply_change(tx, current, &fields, author)
            .await
            .map(|changed| {
                (
                    current.id,
                    changed.map_or(RowDone::Unchanged, |_| RowDone::Updated),
                )
            }),
        None => store::insert(tx, code, &fields, author)
            .await
            .map(|created| (created.id, RowDone::Created)),
    };
    match written {
        Ok((id, done)) => {
            organizations.set(id, &fields.name);
            Ok(Ok(done))
        }
        Err(ServiceError::AlreadyExists(reason)) => Ok(Err(vec![problem(EXTERNAL_ID, reason)])),
        Err(error) => add_violations(Vec::new(), error, layout).map(Err),
    }
}
