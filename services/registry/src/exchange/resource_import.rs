//! Imports a resource sheet: upsert by id, else by external id, else create.

use sqlx::PgPool;
use tsunagu_runtime::error::{ServiceError, ServiceResult};
use tsunagu_runtime::tenant::MunicipalityCode;
use tsunagu_tabular::Sheet;

use super::resource_sheet::{self, Layout};
use super::{ImportReport, RowProblem, area_names, organization_names};
use crate::categories::CategoryIndex;
use crate::history::ChangeAuthor;
use crate::resource::input::RawResource;
use crate::resource::store::{self, Applied};

/// A row applied (what happened, and whether the resource existed before), or its problems
/// as (column, reason).
type RowOutcome = Result<(Applied, bool), Vec<(String, String)>>;

/// Called after each row with (rows done, rows in all), for progress reporting.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

pub async fn import(
    pool: &PgPool,
    municipality: &MunicipalityCode,
    sheet: &Sheet,
    row_offset: usize,
    dry_run: bool,
    author: ChangeAuthor<'_>,
    progress: Progress<'_>,
) -> ServiceResult<ImportReport> {
    let layout = Layout::of(sheet);
    for required in ["資源名", "カテゴリ"] {
        if !layout.has(required) && !layout.has(resource_sheet::ID) {
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
    let categories = CategoryIndex::load(&mut tx, Some(code)).await?;
    let areas = area_names(&mut tx, code).await?;
    let organizations = organization_names(&mut tx, code).await?;
    let mut report = ImportReport {
        ignored_headers: layout.ignored_headers.clone(),
        ..ImportReport::default()
    };
    for (done, row) in sheet.rows.iter().enumerate() {
        let reject = |report: &mut ImportReport, column: String, reason: String| {
            report.rejected.push(RowProblem {
                row: row.number + row_offset,
                column,
                reason,
            })
        };
        sqlx::query("SAVEPOINT import_row").execute(&mut *tx).await?;
        let outcome: ServiceResult<RowOutcome> = async {
            // Before anything reads the row: a cell the API would refuse never reaches the
            // database (a NUL made PostgreSQL fail the whole import).
            let guarded = layout.guard(row);
            if !guarded.is_empty() {
                return Ok(Err(guarded));
            }
            let existing = match layout.id(row) {
                Err(problem) => return Ok(Err(vec![(problem.column, problem.reason)])),
                Ok(Some(id)) => {
                    let Some(record) = store::lock(&mut tx, id).await? else {
                        return Ok(Err(vec![(
                            resource_sheet::ID.into(),
                            format!("ID {id} の地域資源は登録されていません（新しく登録するときはIDを空欄に） / no resource has this id"),
                        )]));
                    };
                    if record.municipality_code != code {
                        return Ok(Err(vec![(
                            resource_sheet::ID.into(),
                            format!("地域資源 {id} は別の市区町村のものです / the resource belongs to another municipality"),
                        )]));
                    }
                    Some(record)
                }
                Ok(None) => match layout.external_id(row) {
                    Some(external_id) => store::lock_by_external_id(&mut tx, code, &external_id).await?,
                    None => None,
                },
            };
            if existing.as_ref().is_some_and(|record| record.deleted_at.is_some()) {
                return Ok(Err(vec![(
                    resource_sheet::ID.into(),
                    "削除済みの地域資源は取り込めません / the resource is deleted".into(),
                )]));
            }
            let mut raw = existing
                .as_ref()
                .map(|record| RawResource::from_fields(&record.fields))
                .unwrap_or_default();
            // Cell problems and field violations are reported together, so one pass over
            // the report fixes the row; a column with a cell problem is not reported twice.
            let mut problems: Vec<(String, String)> = layout
                .overlay(row, &mut raw, &areas, &organizations)
                .into_iter()
                .map(|p| (p.column, p.reason))
                .collect();
            let parsed = raw.parse(&categories);
            let fields = match parsed {
                Ok(fields) if problems.is_empty() => fields,
                Ok(_) => return Ok(Err(problems)),
                Err(ServiceError::InvalidArgument(violations)) => {
                    for violation in violations {
                        let column = layout.column_for_field(&violation.field);
                        if !problems.iter().any(|(reported, _)| *reported == column) {
                            problems.push((column, violation.description));
                        }
                    }
                    return Ok(Err(problems));
                }
                Err(other) => return Err(other),
            };
            let written = match &existing {
                Some(current) => store::apply_change(&mut tx, current, &fields, author).await.map(|(_, applied)| applied),
                None => store::insert(&mut tx, code, &fields, author).await.map(|_| Applied::Changed),
            };
            match written {
                Ok(applied) => Ok(Ok((applied, existing.is_some()))),
                Err(ServiceError::InvalidArgument(violations)) => Ok(Err(violations
                    .into_iter()
                    .map(|v| (layout.column_for_field(&v.field), v.description))
                    .collect())),
                Err(ServiceError::AlreadyExists(reason)) => Ok(Err(vec![("外部ID".into(), reason)])),
                Err(other) => Err(other),
            }
        }
        .await;
        match outcome? {
            Ok((applied, existed)) => {
                sqlx::query("RELEASE SAVEPOINT import_row")
                    .execute(&mut *tx)
                    .await?;
                match (applied, existed) {
                    (Applied::Unchanged, _) => report.unchanged += 1,
                    (Applied::Changed, false) => report.created += 1,
                    (Applied::Changed, true) => report.updated += 1,
                }
            }
            Err(problems) => {
                sqlx::query("ROLLBACK TO SAVEPOINT import_row")
                    .execute(&mut *tx)
                    .await?;
                for (column, reason) in problems {
                    reject(&mut report, column, reason);
                }
            }
        }
        progress(done + 1, sheet.rows.len());
    }
    if dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(report)
}
