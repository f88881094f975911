//! Imports a helper sheet: upsert by ID, else by 外部ID, else create. A row that changes a
//! helper's 状態 follows the onboarding rules (prospective → trained → active ⇄ inactive);
//! an illegal step is a problem of the row's 状態.

use chrono::NaiveDate;
use sqlx::{PgConnection, PgPool};
use tsunagu_runtime::error::{ServiceError, ServiceResult};
use tsunagu_runtime::tenant::MunicipalityCode;
use tsunagu_tabular::{Row, Sheet};

use super::common::{
    EXTERNAL_ID, HELPER_MESSAGE, ID, Layout, RowDone, RowOutcome, add_violations, begin_row, end_row, problem,
};
use super::helper_sheet::{self, COLUMNS, HelperCells, NAME, ORGANIZATION_ID, ORGANIZATION_NAME, STATUS};
use super::resource_import::Progress;
use super::resource_sheet::{AreaNames, OrganizationNames};
use super::{ImportReport, area_names, organization_names};
use crate::community::common::today_in_japan;
use crate::community::helpers::{Helper, UPDATABLE};
use crate::community::store::helpers as store;
use crate::field_mask::FieldMask;

/// What every row of one import shares.
struct Context<'a> {
    code: &'a str,
    layout: Layout,
    areas: AreaNames,
    organizations: OrganizationNames,
    imported_by: &'a str,
    today: NaiveDate,
}

pub async fn import(
    pool: &PgPool,
    municipality: &MunicipalityCode,
    sheet: &Sheet,
    row_offset: usize,
    dry_run: bool,
    imported_by: &str,
    progress: Progress<'_>,
) -> ServiceResult<ImportReport> {
    let layout = Layout::of(sheet, COLUMNS);
    if !layout.has(ID) {
        let organization = layout.has(ORGANIZATION_ID) || layout.has(ORGANIZATION_NAME);
        for (required, present) in [(NAME, layout.has(NAME)), (ORGANIZATION_NAME, organization)] {
            if !present {
                return Err(ServiceError::invalid(
                    "content",
                    format!(
                        "見出し「{required}」の列がありません（1行目に見出しを置いてください） / the sheet has no {required} column"
                    ),
                ));
            }
        }
    }
    let code = municipality.as_str();
    let mut tx = pool.begin().await?;
    let context = Context {
        code,
        areas: area_names(&mut tx, code).await?,
        organizations: organization_names(&mut tx, code).await?,
        imported_by,
        today: today_in_japan(),
        layout,
    };
    let mut report = ImportReport {
        ignored_headers: context.layout.ignored_headers.clone(),
        ..ImportReport::default()
    };
    for (done, row) in sheet.rows.iter().enumerate() {
        begin_row(&mut tx).await?;
        let outcome = import_row(&mut tx, &context, row).await?;
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

async fn import_row(tx: &mut PgConnection, context: &Context<'_>, row: &Row) -> ServiceResult<RowOutcome> {
    let Context { code, layout, .. } = context;
    // Before anything reads the row: a cell the API would refuse never reaches the database.
    let guarded = layout.guard(HELPER_MESSAGE, row);
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
                        "ID {id} の担い手は登録されていません（新しく登録するときはIDを空欄に） / no helper has this id"
                    ),
                )]));
            }
            Some(found) if found.meta.municipality_code != *code => {
                return Ok(Err(vec![problem(
                    ID,
                    format!(
                        "担い手 {id} は別の市区町村のものです / the helper belongs to another municipality"
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
    if existing
        .as_ref()
        .is_some_and(|found| found.meta.deletion.is_some())
    {
        return Ok(Err(vec![problem(
            ID,
            "削除済みの担い手は取り込めません / the helper is deleted",
        )]));
    }
    let mut cells = existing
        .as_ref()
        .map_or_else(HelperCells::new_helper, |found| HelperCells::of(&found.state));
    let (cell_problems, fields) =
        helper_sheet::overlay(layout, row, &mut cells, &context.areas, &context.organizations);
    let problems: Vec<(String, String)> = cell_problems
        .into_iter()
        .map(|cell| (cell.column, cell.reason))
        .collect();
    let input = cells.input();
    let parsed = match &existing {
        None => Helper::parse_new(&input, context.today),
        Some(_) if fields.is_empty() => return Ok(Ok(RowDone::Unchanged)),
        Some(current) => {
            let paths: Vec<String> = fields.iter().map(ToString::to_string).collect();
            let mask = FieldMask::parse(&paths, UPDATABLE)?;
            current.state.with_changes(&input, &mask, context.today)
        }
    };
    let helper = match parsed {
        Ok(helper) if problems.is_empty() => helper,
        Ok(_) => return Ok(Err(problems)),
        Err(ServiceError::FailedPrecondition(reason)) => {
            let mut problems = problems;
            if !problems.iter().any(|(column, _)| column == STATUS) {
                problems.push(problem(STATUS, reason));
            }
            return Ok(Err(problems));
        }
        Err(error) => return add_violations(problems, error, layout).map(Err),
    };
    let written = match &existing {
        Some(current) => store::apply_change(tx, current, &helper, context.imported_by)
            .await
            .map(|changed| changed.map_or(RowDone::Unchanged, |_| RowDone::Updated)),
        None => match store::insert(tx, &helper, context.imported_by).await {
            Ok(created) if created.meta.municipality_code != *code => {
                return Ok(Err(vec![problem(
                    &layout.column_for_field("organization_id"),
                    format!(
                        "所属団体は市区町村 {} の団体です（取り込み先は {code}） / the organisation belongs to another municipality",
                        created.meta.municipality_code
                    ),
                )]));
            }
            Ok(_) => Ok(RowDone::Created),
            Err(error) => Err(error),
        },
    };
    match written {
        Ok(done) => Ok(Ok(done)),
        Err(ServiceError::AlreadyExists(reason)) => Ok(Err(vec![problem(EXTERNAL_ID, reason)])),
        Err(error) => add_violations(Vec::new(), error, layout).map(Err),
    }
}
