//! Sheet imports of needs and area issues: each good row committed on its own, each bad row
//! reported (row, column, reason), nothing of a bad row written.

use std::collections::HashMap;

use tonic::{Response, Status};
use tsunagu_proto::intake::v1 as pb;
use tsunagu_runtime::error::ServiceError;
use tsunagu_runtime::{MunicipalityCode, text};
use tsunagu_tabular::{Format, Sheet};

use super::IntakeApi;
use crate::sheet_rows::{self, AREA_ISSUE_COLUMNS, Layout, NEED_COLUMNS, RowProblem};
use crate::{area_issues, store};

/// Sheets up to 64 MiB, like the registry's: tonic's 4 MiB default refuses a long list.
pub const MAX_SHEET_BYTES: usize = 64 * 1024 * 1024;

fn read_sheet(content: &[u8], format: i32, sheet_name: &str) -> Result<Sheet, ServiceError> {
    let format = match pb::SheetFormat::try_from(format) {
        Ok(pb::SheetFormat::Csv) => Format::Csv,
        Ok(pb::SheetFormat::Xlsx) => Format::Xlsx,
        _ => Format::detect(content),
    };
    let read = match (format, sheet_name.trim()) {
        (Format::Xlsx, name) if !name.is_empty() => tsunagu_tabular::read_sheet(content, name),
        _ => tsunagu_tabular::read(content, format),
    };
    read.map_err(|error| {
        ServiceError::invalid(
            "content",
            format!("表を読めません: {error} / the sheet cannot be read"),
        )
    })
}

struct Common {
    municipality: MunicipalityCode,
    sheet: Sheet,
    imported_by: String,
}

fn common(
    municipality_code: &str,
    content: &[u8],
    format: i32,
    sheet_name: &str,
    imported_by: &str,
) -> Result<Common, Status> {
    let mut violations = tsunagu_runtime::error::Violations::new();
    let municipality = violations.check(
        "municipality_code",
        MunicipalityCode::parse_known(municipality_code),
    );
    let sheet = violations.absorb(read_sheet(content, format, sheet_name));
    violations.into_result()?;
    Ok(Common {
        municipality: municipality.expect("checked"),
        sheet: sheet.expect("checked"),
        imported_by: text::normalised_non_empty(imported_by).unwrap_or_else(|| "(取込)".into()),
    })
}

fn layout_of(sheet: &Sheet, columns: &'static [sheet_rows::Column]) -> Result<Layout, Status> {
    Layout::of(sheet, columns).map_err(|reason| Status::from(ServiceError::invalid("content", reason)))
}

fn report(
    created: u32,
    unchanged: u32,
    problems: Vec<RowProblem>,
    layout: Layout,
    dry_run: bool,
    offset: u32,
) -> pb::ImportSheetResponse {
    pb::ImportSheetResponse {
        created,
        unchanged,
        rejected: problems
            .into_iter()
            .map(|p| pb::RowProblem {
                row: p.row + offset,
                column: p.column,
                reason: p.reason,
            })
            .collect(),
        ignored_headers: layout.ignored_headers,
        dry_run,
    }
}

pub async fn import_needs(
    api: &IntakeApi,
    request: pb::ImportNeedsSheetRequest,
    actor: &crate::audit::Actor,
) -> Result<Response<pb::ImportSheetResponse>, Status> {
    let Common {
        municipality,
        sheet,
        imported_by,
    } = common(
        &request.municipality_code,
        &request.content,
        request.format,
        &request.sheet_name,
        &request.imported_by,
    )?;
    let layout = layout_of(&sheet, NEED_COLUMNS)?;
    let (mut created, mut unchanged, mut problems) = (0, 0, Vec::new());
    let mut parsed = Vec::new();
    for row in &sheet.rows {
        match sheet_rows::need_row(&layout, row, municipality.as_str(), &imported_by) {
            Ok(need) => parsed.push((row, need)),
            Err(row_problems) => problems.extend(row_problems),
        }
    }
    if request.dry_run {
        // What the real import would do with each request id, without writing.
        let ids: Vec<String> = parsed.iter().map(|(_, need)| need.request_id.clone()).collect();
        let earlier: HashMap<String, String> =
            store::fingerprints(&api.pool, municipality.as_str(), &ids).await?;
        for (row, need) in &parsed {
            let fingerprint = match store::resolved(&api.pool, need).await {
                Ok(resolved) => resolved.fingerprint(),
                Err(error) => {
                    problems.extend(sheet_rows::row_error(&layout, row, error));
                    continue;
                }
            };
            match earlier.get(&need.request_id) {
                None => created += 1,
                Some(earlier) if *earlier == fingerprint => unchanged += 1,
                Some(_) => problems.push(RowProblem {
                    row: row.number as u32,
                    column: sheet_rows::REQUEST_ID.into(),
                    reason: format!("受付番号 {:?} は別の内容のニーズで使用済みです / request id already used for other content", need.request_id),
                }),
            }
        }
    } else {
        for (row, need) in &parsed {
            let audited = crate::audit::InTransaction {
                actor,
                method: "ImportNeedsSheet",
            };
            match store::submit_need(&api.pool, api.keys(), need, audited).await {
                Ok((_, true)) => unchanged += 1,
                Ok((_, false)) => created += 1,
                Err(error) => problems.extend(sheet_rows::row_error(&layout, row, error)),
            }
        }
        if created > 0 {
            api.outbox_wake.notify_one();
        }
    }
    problems.sort_by_key(|p| p.row);
    tracing::info!(
        created,
        unchanged,
        rejected = problems.len(),
        dry_run = request.dry_run,
        "needs sheet imported"
    );
    Ok(Response::new(report(
        created,
        unchanged,
        problems,
        layout,
        request.dry_run,
        request.row_offset,
    )))
}

pub async fn import_area_issues(
    api: &IntakeApi,
    request: pb::ImportAreaIssuesSheetRequest,
) -> Result<Response<pb::ImportSheetResponse>, Status> {
    let Common {
        municipality,
        sheet,
        imported_by,
    } = common(
        &request.municipality_code,
        &request.content,
        request.format,
        &request.sheet_name,
        &request.imported_by,
    )?;
    let layout = layout_of(&sheet, AREA_ISSUE_COLUMNS)?;
    let (mut created, mut unchanged, mut problems) = (0, 0, Vec::new());
    for row in &sheet.rows {
        let issue = match sheet_rows::area_issue_row(&layout, row, municipality.as_str()) {
            Ok(issue) => issue,
            Err(row_problems) => {
                problems.extend(row_problems);
                continue;
            }
        };
        if request.dry_run {
            // The rows the import would refuse for their area or category are named too.
            match area_issues::check(&api.pool, &issue).await {
                Ok(()) => created += 1,
                Err(error) => problems.extend(sheet_rows::row_error(&layout, row, error)),
            }
            continue;
        }
        match area_issues::record(&api.pool, &issue, &imported_by).await {
            Ok((_, true)) => unchanged += 1,
            Ok((_, false)) => created += 1,
            Err(error) => problems.extend(sheet_rows::row_error(&layout, row, error)),
        }
    }
    tracing::info!(
        created,
        unchanged,
        rejected = problems.len(),
        dry_run = request.dry_run,
        "area issues sheet imported"
    );
    Ok(Response::new(report(
        created,
        unchanged,
        problems,
        layout,
        request.dry_run,
        request.row_offset,
    )))
}
