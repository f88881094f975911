//! `CommunityService`'s coordinator calls.

use tsunagu_proto::registry::v1 as pb;
use tsunagu_runtime::error::{ServiceResult, Violations};
use tsunagu_runtime::grpc::{Page, parse_id, timestamp};

use super::{
    CommunityApi, ListRequest, batch_ids, contact_inputs, contacts_to_proto, date_or_empty, deletion,
    field_changes, history_request, id_or_empty, ids_to_strings, layer_filter, layer_from_proto,
    layer_to_proto, list_filter, update_request,
};
use crate::community::common;
use crate::community::coordinators::{Coordinator, CoordinatorInput, UPDATABLE};
use crate::community::store::{self, COORDINATOR, Stored};

const PREFIX: &str = "coordinator.";

pub(super) async fn create(
    api: &CommunityApi,
    request: pb::CreateCoordinatorRequest,
) -> ServiceResult<pb::CreateCoordinatorResponse> {
    let coordinator = request.coordinator.unwrap_or_default();
    let mut violations = Violations::new();
    let created_by = common::author(&mut violations, "created_by", &request.created_by);
    let new = violations.absorb(Coordinator::parse_new(&input(&coordinator)).map_err(|e| e.prefixed(PREFIX)));
    violations.into_result()?;
    let (municipality_code, coordinator) = new.expect("checked");
    let stored = store::coordinators::create(&api.pool, municipality_code.as_str(), coordinator, &created_by)
        .await
        .map_err(|e| e.prefixed(PREFIX))?;
    api.changed();
    tracing::info!(coordinator_id = %stored.meta.id, municipality_code = stored.meta.municipality_code, "coordinator created");
    Ok(pb::CreateCoordinatorResponse {
        coordinator: Some(to_proto(stored)),
    })
}

pub(super) async fn get(
    api: &CommunityApi,
    request: pb::GetCoordinatorRequest,
) -> ServiceResult<pb::GetCoordinatorResponse> {
    let id = parse_id("id", &request.id)?;
    Ok(pb::GetCoordinatorResponse {
        coordinator: Some(to_proto(store::coordinators::get(&api.pool, id).await?)),
    })
}

pub(super) async fn update(
    api: &CommunityApi,
    request: pb::UpdateCoordinatorRequest,
) -> ServiceResult<pb::UpdateCoordinatorResponse> {
    let coordinator = request.coordinator.unwrap_or_default();
    let update = update_request(
        "coordinator.id",
        &coordinator.id,
        request.update_mask,
        UPDATABLE,
        request.expected_version,
        &request.changed_by,
    )?;
    let input = input(&coordinator);
    let stored = store::coordinators::update(
        &api.pool,
        update.id,
        update.expected_version,
        &update.changed_by,
        |current| current.with_changes(&input, &update.mask),
    )
    .await
    .map_err(|e| e.prefixed(PREFIX))?;
    api.changed();
    tracing::info!(coordinator_id = %stored.meta.id, version = stored.meta.version, "coordinator updated");
    Ok(pb::UpdateCoordinatorResponse {
        coordinator: Some(to_proto(stored)),
    })
}

pub(super) async fn delete(
    api: &CommunityApi,
    request: pb::DeleteCoordinatorRequest,
) -> ServiceResult<pb::DeleteCoordinatorResponse> {
    let id = super::delete(
        api,
        &COORDINATOR,
        &request.id,
        &request.reason,
        &request.deleted_by,
        request.expected_version,
    )
    .await?;
    Ok(pb::DeleteCoordinatorResponse {
        coordinator: Some(to_proto(store::coordinators::get(&api.pool, id).await?)),
    })
}

pub(super) async fn list(
    api: &CommunityApi,
    request: pb::ListCoordinatorsRequest,
) -> ServiceResult<pb::ListCoordinatorsResponse> {
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
    let coordinators = store::coordinators::CoordinatorFilter {
        layer: layer_filter(&mut violations, request.layer),
        organization_id: common::optional_id(&mut violations, "organization_id", &request.organization_id),
        active_on: common::optional_date(&mut violations, "active_on", &request.active_on),
    };
    let page = violations.absorb(Page::from_request(request.page));
    violations.into_result()?;
    let page = page.expect("checked");
    let rows = store::coordinators::list(&api.pool, &filter, &coordinators, page).await?;
    let next_page_token = page.next_token_after(&rows, |row| row.meta.id);
    Ok(pb::ListCoordinatorsResponse {
        coordinators: rows.into_iter().map(to_proto).collect(),
        next_page_token,
    })
}

pub(super) async fn batch_get(
    api: &CommunityApi,
    request: pb::BatchGetCoordinatorsRequest,
) -> ServiceResult<pb::BatchGetCoordinatorsResponse> {
    let ids = batch_ids(&request.ids)?;
    let coordinators = store::coordinators::batch_get(&api.pool, &ids).await?;
    Ok(pb::BatchGetCoordinatorsResponse {
        coordinators: coordinators.into_iter().map(to_proto).collect(),
    })
}

pub(super) async fn history(
    api: &CommunityApi,
    request: pb::ListCoordinatorHistoryRequest,
) -> ServiceResult<pb::ListCoordinatorHistoryResponse> {
    let (id, page) = history_request(&request.id, request.page)?;
    let rows = COORDINATOR.history(&api.pool, id, page).await?;
    let (changes, next_page_token) = field_changes(rows, page);
    Ok(pb::ListCoordinatorHistoryResponse {
        changes,
        next_page_token,
    })
}

fn input(coordinator: &pb::Coordinator) -> CoordinatorInput<'_> {
    CoordinatorInput {
        municipality_code: &coordinator.municipality_code,
        name: &coordinator.name,
        name_kana: &coordinator.name_kana,
        layer: layer_from_proto(coordinator.layer),
        area_ids: &coordinator.area_ids,
        organization_id: &coordinator.organization_id,
        employer_organization_id: &coordinator.employer_organization_id,
        contact_points: contact_inputs(&coordinator.contact_points),
        active_from: &coordinator.active_from,
        active_until: &coordinator.active_until,
    }
}

fn to_proto(stored: Stored<Coordinator>) -> pb::Coordinator {
    let deletion = deletion(&stored.meta);
    let Stored { meta, state } = stored;
    pb::Coordinator {
        id: meta.id.to_string(),
        municipality_code: meta.municipality_code,
        name: state.name,
        name_kana: state.name_kana,
        layer: layer_to_proto(state.layer),
        area_ids: ids_to_strings(&state.area_ids),
        organization_id: id_or_empty(state.organization_id),
        employer_organization_id: id_or_empty(state.employer_organization_id),
        contact_points: contacts_to_proto(state.contact_points),
        active_from: date_or_empty(state.active_from),
        active_until: date_or_empty(state.active_until),
        version: meta.version,
        created_at: Some(timestamp(meta.created_at)),
        updated_at: Some(timestamp(meta.updated_at)),
        deletion,
    }
}
