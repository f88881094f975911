//! Import and export RPCs: sheets in and out, HSDS out.

use sqlx::PgPool;
use tonic::Status;
use tsunagu_proto::registry::v1 as pb;
use tsunagu_runtime::ServiceError;
use tsunagu_runtime::auth::Principal;
use tsunagu_runtime::tenant::MunicipalityCode;
use tsunagu_tabular::Format;

use super::text_or;
use crate::exchange::care_providers::{self, CareProviderImport};
use crate::exchange::resource_export::ExportedSheet;
use crate::exchange::{
    ImportReport, RowProblem, hsds, organization_export, organization_import, resource_export,
    resource_import,
};
use crate::history::ChangeAuthor;

pub(crate) fn municipality(code: &str) -> Result<MunicipalityCode, ServiceError> {
    MunicipalityCode::parse_known(code)
        .map_err(|error| ServiceError::invalid("municipality_code", error.to_string()))
}

/// Reads the uploaded sheet; a file that is not a readable sheet is INVALID_ARGUMENT on
/// `content`, with the row where reading failed.
pub fn read_sheet(
    content: &[u8],
    format: i32,
    sheet_name: &str,
) -> Result<tsunagu_tabular::Sheet, ServiceError> {
    if content.is_empty() {
        return Err(ServiceError::invalid(
            "content",
            "ファイルが空です / the file is empty",
        ));
    }
    let format = match pb::SheetFormat::try_from(format) {
        Ok(pb::SheetFormat::Csv) => Format::Csv,
        Ok(pb::SheetFormat::Xlsx) => Format::Xlsx,
        _ => Format::detect(content),
    };
    let read = match (format, sheet_name.trim()) {
        (Format::Xlsx, name) if !name.is_empty() => tsunagu_tabular::read_sheet(content, name),
        _ => tsunagu_tabular::read(content, format),
    };
    read.map_err(|error| ServiceError::invalid("content", error.to_string()))
}

pub async fn import_resources(
    pool: &PgPool,
    request: pb::ImportResourcesRequest,
) -> Result<pb::ImportResourcesResponse, Status> {
    let municipality = municipality(&request.municipality_code)?;
    let sheet = read_sheet(&request.content, request.format, &request.sheet_name)?;
    let imported_by = text_or(&request.imported_by, "(一括取り込み)");
    let author = ChangeAuthor {
        changed_by: &imported_by,
        reason: "一括取り込み / import",
    };
    let report = resource_import::import(
        pool,
        &municipality,
        &sheet,
        request.row_offset as usize,
        request.dry_run,
        author,
        &|_, _| {},
    )
    .await?;
    tracing::info!(
        municipality_code = municipality.as_str(),
        rows = sheet.rows.len(),
        created = report.created,
        updated = report.updated,
        unchanged = report.unchanged,
        rejected_rows = report.rejected.len(),
        dry_run = request.dry_run,
        "resources imported"
    );
    Ok(report_to_proto(report, request.dry_run))
}

fn report_to_proto(report: ImportReport, dry_run: bool) -> pb::ImportResourcesResponse {
    pb::ImportResourcesResponse {
        created: report.created,
        updated: report.updated,
        unchanged: report.unchanged,
        rejected: report.rejected.into_iter().map(problem_to_proto).collect(),
        ignored_headers: report.ignored_headers,
        dry_run,
    }
}

pub async fn export_resources(
    pool: &PgPool,
    caller: &Principal,
    request: pb::ExportResourcesRequest,
) -> Result<pb::ExportResourcesResponse, Status> {
    let municipality = municipality(&request.municipality_code)?;
    let reader = resource_export::Reader {
        caller,
        asks_confidential: request.include_confidential,
    };
    let sheet = resource_export::export(pool, municipality.as_str(), reader).await?;
    let file = SheetFile::write(&sheet, "地域資源", municipality.as_str(), request.format)?;
    Ok(pb::ExportResourcesResponse {
        content: file.content,
        file_name: file.file_name,
        content_type: file.content_type.into(),
        row_count: file.row_count,
    })
}

/// An exported sheet as a file: its bytes, name (「地域資源_212024_20261122.xlsx」) and type.
pub(crate) struct SheetFile {
    pub content: Vec<u8>,
    pub file_name: String,
    pub content_type: &'static str,
    pub row_count: u32,
}

impl SheetFile {
    /// CSV when `format` says so, else XLSX with one worksheet named `title`.
    pub fn write(
        sheet: &ExportedSheet,
        title: &str,
        municipality_code: &str,
        format: i32,
    ) -> Result<SheetFile, ServiceError> {
        let date = chrono::Utc::now()
            .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).expect("JST"))
            .format("%Y%m%d");
        let base_name = format!("{title}_{municipality_code}_{date}");
        let (content, file_name, content_type) = match pb::SheetFormat::try_from(format) {
            Ok(pb::SheetFormat::Csv) => (
                tsunagu_tabular::write_csv(&sheet.headers, &sheet.rows),
                format!("{base_name}.csv"),
                "text/csv; charset=utf-8",
            ),
            _ => (
                tsunagu_tabular::write_xlsx(title, &sheet.headers, &sheet.rows).map_err(|error| {
                    ServiceError::Internal(anyhow::anyhow!("writing the export failed: {error}"))
                })?,
                format!("{base_name}.xlsx"),
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
        };
        Ok(SheetFile {
            content,
            file_name,
            content_type,
            row_count: u32::try_from(sheet.rows.len()).unwrap_or(u32::MAX),
        })
    }
}

pub async fn import_organizations(
    pool: &PgPool,
    request: pb::ImportOrganizationsRequest,
) -> Result<pb::ImportOrganizationsResponse, Status> {
    let municipality = municipality(&request.municipality_code)?;
    let sheet = read_sheet(&request.content, request.format, &request.sheet_name)?;
    let imported_by = text_or(&request.imported_by, "(一括取り込み)");
    let author = ChangeAuthor {
        changed_by: &imported_by,
        reason: "一括取り込み / import",
    };
    let report = organization_import::import(
        pool,
        &municipality,
        &sheet,
        request.row_offset as usize,
        request.dry_run,
        author,
        &|_, _| {},
    )
    .await?;
    tracing::info!(
        municipality_code = municipality.as_str(),
        rows = sheet.rows.len(),
        created = report.created,
        updated = report.updated,
        unchanged = report.unchanged,
        rejected_rows = report.rejected.len(),
        dry_run = request.dry_run,
        "organizations imported"
    );
    Ok(pb::ImportOrganizationsResponse {
        created: report.created,
        updated: report.updated,
        unchanged: report.unchanged,
        rejected: report.rejected.into_iter().map(problem_to_proto).collect(),
        ignored_headers: report.ignored_headers,
        dry_run: request.dry_run,
    })
}

pub async fn export_organizations(
    pool: &PgPool,
    request: pb::ExportOrganizationsRequest,
) -> Result<pb::ExportOrganizationsResponse, Status> {
    let municipality = municipality(&request.municipality_code)?;
    let sheet = organization_export::export(pool, municipality.as_str()).await?;
    let file = SheetFile::write(&sheet, "団体", municipality.as_str(), request.format)?;
    Ok(pb::ExportOrganizationsResponse {
        content: file.content,
        file_name: file.file_name,
        content_type: file.content_type.into(),
        row_count: file.row_count,
    })
}

pub async fn export_hsds(
    pool: &PgPool,
    caller: &Principal,
    request: pb::ExportResourcesHsdsRequest,
) -> Result<pb::ExportResourcesHsdsResponse, Status> {
    let municipality = municipality(&request.municipality_code)?;
    // HSDS is the registry's open data: it asks for no confidential location, whoever calls.
    let reader = resource_export::Reader {
        caller,
        asks_confidential: false,
    };
    let (json, service_count) = hsds::export(pool, municipality.as_str(), reader).await?;
    Ok(pb::ExportResourcesHsdsResponse {
        json: serde_json::to_string_pretty(&json).map_err(|error| ServiceError::Internal(error.into()))?,
        service_count: u32::try_from(service_count).unwrap_or(u32::MAX),
    })
}

pub(crate) fn problem_to_proto(problem: RowProblem) -> pb::RowProblem {
    pb::RowProblem {
        row: u32::try_from(problem.row).unwrap_or(u32::MAX),
        column: problem.column,
        reason: problem.reason,
    }
}

pub async fn import_care_providers(
    pool: &PgPool,
    request: pb::ImportCareProvidersRequest,
) -> Result<pb::ImportCareProvidersResponse, Status> {
    let municipality = municipality(&request.municipality_code)?;
    let mut violations = tsunagu_runtime::error::Violations::new();
    let coverage: Vec<uuid::Uuid> = request
        .coverage_area_ids
        .iter()
        .enumerate()
        .filter_map(|(index, id)| {
            violations.absorb(tsunagu_runtime::grpc::parse_id(
                &format!("coverage_area_ids[{index}]"),
                id,
            ))
        })
        .collect();
    violations.into_result()?;
    let sheet = read_sheet(&request.content, pb::SheetFormat::Csv.into(), "")?;
    let imported_by = text_or(&request.imported_by, "(介護サービス事業所一覧)");
    let options = CareProviderImport {
        municipality: &municipality,
        coverage_area_ids: &coverage,
        dry_run: request.dry_run,
        author: ChangeAuthor {
            changed_by: &imported_by,
            reason: "介護サービス事業所一覧の取り込み / care provider list import",
        },
    };
    let report = care_providers::import(pool, &sheet, options).await?;
    tracing::info!(
        municipality_code = municipality.as_str(),
        rows = sheet.rows.len(),
        organizations_created = report.organizations_created,
        resources_created = report.resources_created,
        rejected_rows = report.rejected.len(),
        dry_run = request.dry_run,
        "care providers imported"
    );
    Ok(pb::ImportCareProvidersResponse {
        organizations_created: report.organizations_created,
        organizations_updated: report.organizations_updated,
        resources_created: report.resources_created,
        resources_updated: report.resources_updated,
        unchanged: report.unchanged,
        rejected: report.rejected.into_iter().map(problem_to_proto).collect(),
        dry_run: request.dry_run,
    })
}
