//! `CommunityService`'s council and meeting calls.

use tsunagu_proto::registry::v1 as pb;
use tsunagu_runtime::error::{ServiceResult, Violations};
use tsunagu_runtime::grpc::{Page, parse_id, timestamp};

use super::{
    CommunityApi, ListRequest, batch_ids, date_or_empty, deletion, field_changes, history_request,
    id_or_empty, ids_to_strings, layer_filter, layer_from_proto, layer_to_proto, list_filter, update_request,
};
use crate::community::common::{self, today_in_japan};
use crate::community::councils::{
    Council, CouncilInput, MEETING_UPDATABLE, Meeting, MeetingInput, MemberInput, UPDATABLE,
};
use crate::community::store::councils::{CouncilRecord, MeetingRecord};
use crate::community::store::{self, COUNCIL, Stored};

const PREFIX: &str = "council.";
const MEETING_PREFIX: &str = "meeting.";

pub(super) async fn create(
    api: &CommunityApi,
    request: pb::CreateCouncilRequest,
) -> ServiceResult<pb::CreateCouncilResponse> {
    let council = request.council.unwrap_or_default();
    let mut violations = Violations::new();
    let created_by = common::author(&mut violations, "created_by", &request.created_by);
    let new = violations.absorb(Council::parse_new(&input(&council)).map_err(|e| e.prefixed(PREFIX)));
    violations.into_result()?;
    let (municipality_code, council) = new.expect("checked");
    let record = store::councils::create(&api.pool, municipality_code.as_str(), council, &created_by)
        .await
        .map_err(|e| e.prefixed(PREFIX))?;
    api.changed();
    tracing::info!(council_id = %record.stored.meta.id, municipality_code = record.stored.meta.municipality_code, "council created");
    Ok(pb::CreateCouncilResponse {
        council: Some(to_proto(record)),
    })
}

pub(super) async fn get(
    api: &CommunityApi,
    request: pb::GetCouncilRequest,
) -> ServiceResult<pb::GetCouncilResponse> {
    let id = parse_id("id", &request.id)?;
    Ok(pb::GetCouncilResponse {
        council: Some(to_proto(store::councils::get(&api.pool, id).await?)),
    })
}

pub(super) async fn update(
    api: &CommunityApi,
    request: pb::UpdateCouncilRequest,
) -> ServiceResult<pb::UpdateCouncilResponse> {
    let council = request.council.unwrap_or_default();
    let update = update_request(
        "council.id",
        &council.id,
        request.update_mask,
        UPDATABLE,
        request.expected_version,
        &request.changed_by,
    )?;
    let input = input(&council);
    let record = store::councils::update(
        &api.pool,
        update.id,
        update.expected_version,
        &update.changed_by,
        |current| current.with_changes(&input, &update.mask),
    )
    .await
    .map_err(|e| e.prefixed(PREFIX))?;
    api.changed();
    tracing::info!(council_id = %record.stored.meta.id, version = record.stored.meta.version, "council updated");
    Ok(pb::UpdateCouncilResponse {
        council: Some(to_proto(record)),
    })
}

pub(super) async fn delete(
    api: &CommunityApi,
    request: pb::DeleteCouncilRequest,
) -> ServiceResult<pb::DeleteCouncilResponse> {
    let id = super::delete(
        api,
        &COUNCIL,
        &request.id,
        &request.reason,
        &request.deleted_by,
        request.expected_version,
    )
    .await?;
    Ok(pb::DeleteCouncilResponse {
        council: Some(to_proto(store::councils::get(&api.pool, id).await?)),
    })
}

pub(super) async fn list(
    api: &CommunityApi,
    request: pb::ListCouncilsRequest,
) -> ServiceResult<pb::ListCouncilsResponse> {
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
    let councils = store::councils::CouncilFilter {
        layer: layer_filter(&mut violations, request.layer),
    };
    let page = violations.absorb(Page::from_request(request.page));
    violations.into_result()?;
    let page = page.expect("checked");
    let rows = store::councils::list(&api.pool, &filter, &councils, page).await?;
    let next_page_token = page.next_token_after(&rows, |row| row.stored.meta.id);
    Ok(pb::ListCouncilsResponse {
        councils: rows.into_iter().map(to_proto).collect(),
        next_page_token,
    })
}

pub(super) async fn batch_get(
    api: &CommunityApi,
    request: pb::BatchGetCouncilsRequest,
) -> ServiceResult<pb::BatchGetCouncilsResponse> {
    let ids = batch_ids(&request.ids)?;
    let councils = store::councils::batch_get(&api.pool, &ids).await?;
    Ok(pb::BatchGetCouncilsResponse {
        councils: councils.into_iter().map(to_proto).collect(),
    })
}

pub(super) async fn history(
    api: &CommunityApi,
    request: pb::ListCouncilHistoryRequest,
) -> ServiceResult<pb::ListCouncilHistoryResponse> {
    let (id, page) = history_request(&request.id, request.page)?;
    let rows = COUNCIL.history(&api.pool, id, page).await?;
    let (changes, next_page_token) = field_changes(rows, page);
    Ok(pb::ListCouncilHistoryResponse {
        changes,
        next_page_token,
    })
}

pub(super) async fn add_meeting(
    api: &CommunityApi,
    request: pb::AddCouncilMeetingRequest,
) -> ServiceResult<pb::AddCouncilMeetingResponse> {
    let meeting = request.meeting.unwrap_or_default();
    let mut violations = Violations::new();
    let council_id = violations.absorb(parse_id("council_id", &request.council_id));
    let expected_version =
        common::expected_version(&mut violations, "expected_version", request.expected_version);
    let recorded_by = common::author(&mut violations, "recorded_by", &request.recorded_by);
    let new = violations.absorb(
        Meeting::parse_new(&meeting_input(&meeting), today_in_japan())
            .map_err(|e| e.prefixed(MEETING_PREFIX)),
    );
    violations.into_result()?;
    let (meeting, council) = store::councils::add_meeting(
        &api.pool,
        council_id.expect("checked"),
        expected_version,
        &recorded_by,
        new.expect("checked"),
    )
    .await?;
    api.changed();
    tracing::info!(council_id = %meeting.council_id, meeting_id = %meeting.id, "council meeting recorded");
    Ok(pb::AddCouncilMeetingResponse {
        meeting: Some(meeting_to_proto(meeting)),
        council: Some(to_proto(council)),
    })
}

pub(super) async fn update_meeting(
    api: &CommunityApi,
    request: pb::UpdateCouncilMeetingRequest,
) -> ServiceResult<pb::UpdateCouncilMeetingResponse> {
    let meeting = request.meeting.unwrap_or_default();
    let update = update_request(
        "meeting.id",
        &meeting.id,
        request.update_mask,
        MEETING_UPDATABLE,
        request.expected_version,
        &request.changed_by,
    )?;
    let input = meeting_input(&meeting);
    let today = today_in_japan();
    let (meeting, council) = store::councils::update_meeting(
        &api.pool,
        update.id,
        update.expected_version,
        &update.changed_by,
        |current| {
            current
                .with_changes(&input, &update.mask, today)
                .map_err(|e| e.prefixed(MEETING_PREFIX))
        },
    )
    .await?;
    api.changed();
    tracing::info!(council_id = %meeting.council_id, meeting_id = %meeting.id, "council meeting corrected");
    Ok(pb::UpdateCouncilMeetingResponse {
        meeting: Some(meeting_to_proto(meeting)),
        council: Some(to_proto(council)),
    })
}

pub(super) async fn list_meetings(
    api: &CommunityApi,
    request: pb::ListCouncilMeetingsRequest,
) -> ServiceResult<pb::ListCouncilMeetingsResponse> {
    let mut violations = Violations::new();
    let council_id = violations.absorb(parse_id("council_id", &request.council_id));
    let page = violations.absorb(Page::from_request(request.page));
    violations.into_result()?;
    let page = page.expect("checked");
    let rows = store::councils::list_meetings(&api.pool, council_id.expect("checked"), page).await?;
    let next_page_token = page.next_token_after(&rows, |row| row.id);
    Ok(pb::ListCouncilMeetingsResponse {
        meetings: rows.into_iter().map(meeting_to_proto).collect(),
        next_page_token,
    })
}

fn input(council: &pb::Council) -> CouncilInput<'_> {
    CouncilInput {
        municipality_code: &council.municipality_code,
        name: &council.name,
        name_kana: &council.name_kana,
        layer: layer_from_proto(council.layer),
        area_id: &council.area_id,
        organization_id: &council.organization_id,
        member_organization_ids: &council.member_organization_ids,
        members: council
            .members
            .iter()
            .map(|member| MemberInput {
                name: &member.name,
                role: &member.role,
                coordinator_id: &member.coordinator_id,
                organization_id: &member.organization_id,
            })
            .collect(),
    }
}

fn meeting_input(meeting: &pb::CouncilMeeting) -> MeetingInput<'_> {
    MeetingInput {
        held_on: &meeting.held_on,
        agenda_items: &meeting.agenda_items,
        decisions: &meeting.decisions,
        attendees_count: meeting.attendees_count,
        notes: &meeting.notes,
    }
}

fn to_proto(record: CouncilRecord) -> pb::Council {
    let deletion = deletion(&record.stored.meta);
    let Stored { meta, state } = record.stored;
    pb::Council {
        id: meta.id.to_string(),
        municipality_code: meta.municipality_code,
        name: state.name,
        name_kana: state.name_kana,
        layer: layer_to_proto(state.layer),
        area_id: id_or_empty(state.area_id),
        organization_id: id_or_empty(state.organization_id),
        member_organization_ids: ids_to_strings(&state.member_organization_ids),
        members: state
            .members
            .into_iter()
            .map(|member| pb::CouncilMember {
                name: member.name,
                role: member.role,
                coordinator_id: id_or_empty(member.coordinator_id),
                organization_id: id_or_empty(member.organization_id),
            })
            .collect(),
        last_held_on: date_or_empty(record.last_held_on),
        version: meta.version,
        created_at: Some(timestamp(meta.created_at)),
        updated_at: Some(timestamp(meta.updated_at)),
        deletion,
    }
}

fn meeting_to_proto(record: MeetingRecord) -> pb::CouncilMeeting {
    pb::CouncilMeeting {
        id: record.id.to_string(),
        council_id: record.council_id.to_string(),
        held_on: record.meeting.held_on.to_string(),
        agenda_items: record.meeting.agenda_items,
        decisions: record.meeting.decisions,
        attendees_count: record.meeting.attendees_count,
        notes: record.meeting.notes,
        recorded_by: record.recorded_by,
        created_at: Some(timestamp(record.created_at)),
        updated_at: Some(timestamp(record.updated_at)),
    }
}
