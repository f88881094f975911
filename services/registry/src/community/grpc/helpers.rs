//! `CommunityService`'s helper calls.

use tsunagu_proto::registry::v1 as pb;
use tsunagu_runtime::error::{ServiceResult, Violations};
use tsunagu_runtime::grpc::{Page, parse_id, timestamp};
use tsunagu_runtime::taxonomy;

use tsunagu_runtime::audit::{self, Action};

use super::{
    CommunityApi, ListRequest, batch_ids, contact_inputs, contacts_to_proto, deletion, field_changes,
    history_request, ids_to_strings, list_filter, update_request, weekday_to_proto, windows_from_proto,
};
use crate::community::common::{self, today_in_japan};
use crate::community::helpers::{
    Gender, Helper, HelperInput, HelperKind, HelperStatus, LoadInput, LoadUnit, TrainingInput, UPDATABLE,
};
use crate::community::store::{self, HELPER, Stored};
use crate::exchange::{helper_export, helper_import};
use crate::grpc::exchange::{SheetFile, municipality, problem_to_proto, read_sheet};
use crate::grpc::text_or;

/// Violations of the entity's fields are named by their path in the request.
const PREFIX: &str = "helper.";

pub(super) async fn create(
    api: &CommunityApi,
    request: pb::CreateHelperRequest,
) -> ServiceResult<pb::CreateHelperResponse> {
    let helper = request.helper.unwrap_or_default();
    let mut violations = Violations::new();
    let created_by = common::author(&mut violations, "created_by", &request.created_by);
    let new = violations
        .absorb(Helper::parse_new(&input(&helper), today_in_japan()).map_err(|e| e.prefixed(PREFIX)));
    violations.into_result()?;
    let stored = store::helpers::create(&api.pool, new.expect("checked"), &created_by)
        .await
        .map_err(|e| e.prefixed(PREFIX))?;
    api.changed();
    // Ids and codes only: a helper's name and contact data stay out of the logs.
    tracing::info!(helper_id = %stored.meta.id, municipality_code = stored.meta.municipality_code, "helper created");
    // The change is on the audit trail with its history (`crate::history`).
    Ok(pb::CreateHelperResponse {
        helper: Some(to_proto(stored)),
    })
}

pub(super) async fn get(
    api: &CommunityApi,
    request: pb::GetHelperRequest,
) -> ServiceResult<pb::GetHelperResponse> {
    let id = parse_id("id", &request.id)?;
    let helper = to_proto(store::helpers::get(&api.pool, id).await?);
    api.audit_helpers(Action::ReadPersonalData, [&helper], "").await?;
    Ok(pb::GetHelperResponse { helper: Some(helper) })
}

pub(super) async fn update(
    api: &CommunityApi,
    request: pb::UpdateHelperRequest,
) -> ServiceResult<pb::UpdateHelperResponse> {
    let helper = request.helper.unwrap_or_default();
    let update = update_request(
        "helper.id",
        &helper.id,
        request.update_mask,
        UPDATABLE,
        request.expected_version,
        &request.changed_by,
    )?;
    let input = input(&helper);
    let today = today_in_japan();
    let stored = store::helpers::update(
        &api.pool,
        update.id,
        update.expected_version,
        &update.changed_by,
        |current| current.with_changes(&input, &update.mask, today),
    )
    .await
    .map_err(|e| e.prefixed(PREFIX))?;
    api.changed();
    tracing::info!(helper_id = %stored.meta.id, version = stored.meta.version, "helper updated");
    Ok(pb::UpdateHelperResponse {
        helper: Some(to_proto(stored)),
    })
}

pub(super) async fn delete(
    api: &CommunityApi,
    request: pb::DeleteHelperRequest,
) -> ServiceResult<pb::DeleteHelperResponse> {
    let id = super::delete(
        api,
        &HELPER,
        &request.id,
        &request.reason,
        &request.deleted_by,
        request.expected_version,
    )
    .await?;
    Ok(pb::DeleteHelperResponse {
        helper: Some(to_proto(store::helpers::get(&api.pool, id).await?)),
    })
}

pub(super) async fn list(
    api: &CommunityApi,
    request: pb::ListHelpersRequest,
) -> ServiceResult<pb::ListHelpersResponse> {
    let mut violations = Violations::new();
    let filter = list_filter(
        &mut violations,
        ListRequest {
            municipality_code: &request.municipality_code,
            area_id: &request.area_id,
            text: &request.text,
            modified_after: request.modified_after,
            include_deleted: request.include_deleted,
        },
    );
    let organization_id = common::optional_id(&mut violations, "organization_id", &request.organization_id);
    let status = match pb::HelperStatus::try_from(request.status) {
        Ok(pb::HelperStatus::Unspecified) => None,
        Ok(status) => status_from_proto(status.into()),
        Err(_) => {
            violations.add("status", "担い手の状態の値が不正です / unknown status");
            None
        }
    };
    let skill = match request.skill.trim() {
        "" => None,
        skill => match taxonomy::resolve_bundled(skill) {
            Some(category) => Some(category.code.clone()),
            None => {
                violations.add(
                    "skill",
                    format!("「{skill}」は生活支援の分類にありません / not a category of the taxonomy"),
                );
                None
            }
        },
    };
    let page = violations.absorb(Page::from_request(request.page));
    violations.into_result()?;
    let page = page.expect("checked");
    let helpers = store::helpers::HelperFilter {
        organization_id,
        status,
        skill,
    };
    let rows = store::helpers::list(&api.pool, &filter, &helpers, page).await?;
    let next_page_token = page.next_token_after(&rows, |row| row.meta.id);
    let helpers: Vec<pb::Helper> = rows.into_iter().map(to_proto).collect();
    api.audit_helpers(Action::ReadPersonalData, &helpers, "list")
        .await?;
    Ok(pb::ListHelpersResponse {
        helpers,
        next_page_token,
    })
}

pub(super) async fn batch_get(
    api: &CommunityApi,
    request: pb::BatchGetHelpersRequest,
) -> ServiceResult<pb::BatchGetHelpersResponse> {
    let ids = batch_ids(&request.ids)?;
    let helpers = store::helpers::batch_get(&api.pool, &ids).await?;
    let helpers: Vec<pb::Helper> = helpers.into_iter().map(to_proto).collect();
    api.audit_helpers(Action::ReadPersonalData, &helpers, "batch")
        .await?;
    Ok(pb::BatchGetHelpersResponse { helpers })
}

pub(super) async fn history(
    api: &CommunityApi,
    request: pb::ListHelperHistoryRequest,
) -> ServiceResult<pb::ListHelperHistoryResponse> {
    let (id, page) = history_request(&request.id, request.page)?;
    let rows = HELPER.history(&api.pool, id, page).await?;
    // A helper's history holds its earlier contact details.
    let helper = to_proto(store::helpers::get(&api.pool, id).await?);
    api.audit_helpers(Action::ReadPersonalData, [&helper], "history")
        .await?;
    let (changes, next_page_token) = field_changes(rows, page);
    Ok(pb::ListHelperHistoryResponse {
        changes,
        next_page_token,
    })
}

pub(super) async fn import(
    api: &CommunityApi,
    request: pb::ImportHelpersRequest,
) -> ServiceResult<pb::ImportHelpersResponse> {
    let municipality = municipality(&request.municipality_code)?;
    let sheet = read_sheet(&request.content, request.format, &request.sheet_name)?;
    let imported_by = text_or(&request.imported_by, "(一括取り込み)");
    let report = helper_import::import(
        &api.pool,
        &municipality,
        &sheet,
        request.row_offset as usize,
        request.dry_run,
        &imported_by,
        &|_, _| {},
    )
    .await?;
    if !request.dry_run {
        api.changed();
    }
    tracing::info!(
        municipality_code = municipality.as_str(),
        rows = sheet.rows.len(),
        created = report.created,
        updated = report.updated,
        unchanged = report.unchanged,
        rejected_rows = report.rejected.len(),
        dry_run = request.dry_run,
        "helpers imported"
    );
    Ok(pb::ImportHelpersResponse {
        created: report.created,
        updated: report.updated,
        unchanged: report.unchanged,
        rejected: report.rejected.into_iter().map(problem_to_proto).collect(),
        ignored_headers: report.ignored_headers,
        dry_run: request.dry_run,
    })
}

pub(super) async fn export(
    api: &CommunityApi,
    request: pb::ExportHelpersRequest,
) -> ServiceResult<pb::ExportHelpersResponse> {
    let municipality = municipality(&request.municipality_code)?;
    let sheet =
        helper_export::export(&api.pool, municipality.as_str(), request.include_contact_points).await?;
    let file = SheetFile::write(&sheet, "担い手", municipality.as_str(), request.format)?;
    // One entry for the sheet: every helper of the municipality, contacts if asked for.
    audit::record_for_call(
        &api.pool,
        Action::ReadPersonalData,
        "helper_sheet",
        &[(municipality.as_str().to_string(), uuid::Uuid::now_v7())],
        &format!(
            "rows={} contact_points={}",
            file.row_count, request.include_contact_points
        ),
    )
    .await?;
    Ok(pb::ExportHelpersResponse {
        content: file.content,
        file_name: file.file_name,
        content_type: file.content_type.into(),
        row_count: file.row_count,
    })
}

fn input(helper: &pb::Helper) -> HelperInput<'_> {
    HelperInput {
        organization_id: &helper.organization_id,
        name: &helper.name,
        name_kana: &helper.name_kana,
        kind: match pb::HelperKind::try_from(helper.kind) {
            Ok(pb::HelperKind::Individual) => Some(HelperKind::Individual),
            Ok(pb::HelperKind::Group) => Some(HelperKind::Group),
            Ok(pb::HelperKind::Unspecified) | Err(_) => None,
        },
        skills: &helper.skills,
        area_ids: &helper.area_ids,
        availability: windows_from_proto(&helper.availability),
        monthly_load: helper.monthly_load.as_ref().map(|load| LoadInput {
            amount: load.amount,
            unit: match pb::MonthlyLoadUnit::try_from(load.unit) {
                Ok(pb::MonthlyLoadUnit::Hours) => Some(LoadUnit::Hours),
                Ok(pb::MonthlyLoadUnit::Visits) => Some(LoadUnit::Visits),
                Ok(pb::MonthlyLoadUnit::Unspecified) | Err(_) => None,
            },
        }),
        gender: match helper.gender.map(pb::HelperGender::try_from) {
            None => Ok(None),
            Some(Ok(pb::HelperGender::Female)) => Ok(Some(Gender::Female)),
            Some(Ok(pb::HelperGender::Male)) => Ok(Some(Gender::Male)),
            Some(Ok(pb::HelperGender::Other)) => Ok(Some(Gender::Other)),
            Some(Ok(pb::HelperGender::Unspecified) | Err(_)) => Err(()),
        },
        languages: &helper.languages,
        training_records: helper
            .training_records
            .iter()
            .map(|record| TrainingInput {
                course_name: &record.course_name,
                completed_on: &record.completed_on,
                hours: record.hours,
                organiser: &record.organiser,
            })
            .collect(),
        contact_points: contact_inputs(&helper.contact_points),
        status: status_from_proto(helper.status),
        external_id: &helper.external_id,
    }
}

fn status_from_proto(status: i32) -> Option<HelperStatus> {
    match pb::HelperStatus::try_from(status).ok()? {
        pb::HelperStatus::Prospective => Some(HelperStatus::Prospective),
        pb::HelperStatus::Trained => Some(HelperStatus::Trained),
        pb::HelperStatus::Active => Some(HelperStatus::Active),
        pb::HelperStatus::Inactive => Some(HelperStatus::Inactive),
        pb::HelperStatus::Unspecified => None,
    }
}

fn to_proto(stored: Stored<Helper>) -> pb::Helper {
    let deletion = deletion(&stored.meta);
    let Stored { meta, state } = stored;
    pb::Helper {
        id: meta.id.to_string(),
        municipality_code: meta.municipality_code,
        organization_id: state.organization_id.to_string(),
        name: state.name,
        name_kana: state.name_kana,
        kind: match state.kind {
            HelperKind::Individual => pb::HelperKind::Individual,
            HelperKind::Group => pb::HelperKind::Group,
        }
        .into(),
        skills: state.skills,
        area_ids: ids_to_strings(&state.area_ids),
        availability: state
            .availability
            .into_iter()
            .map(|window| tsunagu_proto::common::v1::TimeWindow {
                weekday: weekday_to_proto(window.weekday),
                start_minute: window.start_minute,
                end_minute: window.end_minute,
            })
            .collect(),
        monthly_load: state.monthly_load.map(|load| pb::MonthlyLoad {
            amount: load.amount,
            unit: match load.unit {
                LoadUnit::Hours => pb::MonthlyLoadUnit::Hours,
                LoadUnit::Visits => pb::MonthlyLoadUnit::Visits,
            }
            .into(),
        }),
        gender: state.gender.map(|gender| {
            match gender {
                Gender::Female => pb::HelperGender::Female,
                Gender::Male => pb::HelperGender::Male,
                Gender::Other => pb::HelperGender::Other,
            }
            .into()
        }),
        languages: state.languages,
        training_records: state
            .training_records
            .into_iter()
            .map(|record| pb::TrainingRecord {
                course_name: record.course_name,
                completed_on: record.completed_on.to_string(),
                hours: record.hours,
                organiser: record.organiser,
            })
            .collect(),
        contact_points: contacts_to_proto(state.contact_points),
        status: match state.status {
            HelperStatus::Prospective => pb::HelperStatus::Prospective,
            HelperStatus::Trained => pb::HelperStatus::Trained,
            HelperStatus::Active => pb::HelperStatus::Active,
            HelperStatus::Inactive => pb::HelperStatus::Inactive,
        }
        .into(),
        version: meta.version,
        created_at: Some(timestamp(meta.created_at)),
        updated_at: Some(timestamp(meta.updated_at)),
        deletion,
        external_id: state.external_id.unwrap_or_default(),
    }
}
