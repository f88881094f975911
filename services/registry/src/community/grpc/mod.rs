//! The gRPC edge of `tsunagu.registry.v1.CommunityService`: converts proto ↔ domain and
//! nothing else. One module per entity; what they share (masks, list filters, batch ids,
//! history, deletion, enums used by more than one entity) is here.

mod authorize;
mod coordinators;
mod councils;
mod helpers;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use tokio::sync::Notify;
use tonic::service::Routes;
use tonic::{Request, Response, Status};
use tsunagu_proto::common::v1 as common_pb;
use tsunagu_proto::registry::v1 as pb;
use tsunagu_proto::registry::v1::community_service_server::{CommunityService, CommunityServiceServer};
use tsunagu_runtime::MunicipalityCode;
use tsunagu_runtime::error::{ServiceResult, Violations};
use tsunagu_runtime::grpc::{Page, parse_id, timestamp};
use uuid::Uuid;

use authorize::Authorize;
use tsunagu_runtime::audit;
use tsunagu_runtime::auth::principal_of;

use super::common::{self, ContactInput, Layer, MAX_QUERY_CHARS, Weekday, WindowInput};
use super::store::{Entity, ListFilter, Meta};
use crate::contact::{ContactKind, ContactPoint};
use crate::field_mask::FieldMask;
use crate::history::HistoryRow;

/// Adds `CommunityService` to the registry's routes.
pub fn add_routes(routes: Routes, pool: PgPool, outbox_wake: Arc<Notify>) -> Routes {
    let server = CommunityServiceServer::new(CommunityApi {
        pool: pool.clone(),
        outbox_wake,
    });
    routes.add_service(crate::write_audit::Guarded::new(pool, server))
}

pub(super) struct CommunityApi {
    pool: PgPool,
    outbox_wake: Arc<Notify>,
}

impl CommunityApi {
    /// After a commit with an outbox event: the relay publishes it now, not at its next poll.
    fn changed(&self) {
        self.outbox_wake.notify_one();
    }

    /// Puts the helpers a call returned or changed on the audit trail: their records hold
    /// people's names and contact details.
    async fn audit_helpers<'a>(
        &self,
        action: audit::Action,
        helpers: impl IntoIterator<Item = &'a pb::Helper>,
        detail: &str,
    ) -> ServiceResult<()> {
        let objects: Vec<(String, Uuid)> = helpers
            .into_iter()
            .filter_map(|helper| Some((helper.municipality_code.clone(), helper.id.parse().ok()?)))
            .collect();
        audit::record_for_call(&self.pool, action, "helper", &objects, detail).await
    }
}

/// Each RPC checks who may make it (`authorize.rs`), converts its request, calls the entity
/// module's handler and converts back; a `ServiceError` becomes its status (field violations
/// as `google.rpc.BadRequest`).
macro_rules! community_service {
    ($($method:ident($request:ident) -> $response:ident => $handler:path;)+) => {
        #[tonic::async_trait]
        impl CommunityService for CommunityApi {
            $(
                async fn $method(
                    &self,
                    request: Request<pb::$request>,
                ) -> Result<Response<pb::$response>, Status> {
                    let caller = principal_of(&request)?;
                    request.get_ref().authorize(self, &caller).await?;
                    Ok(Response::new($handler(self, request.into_inner()).await?))
                }
            )+
        }
    };
}

community_service! {
    create_helper(CreateHelperRequest) -> CreateHelperResponse => helpers::create;
    get_helper(GetHelperRequest) -> GetHelperResponse => helpers::get;
    update_helper(UpdateHelperRequest) -> UpdateHelperResponse => helpers::update;
    delete_helper(DeleteHelperRequest) -> DeleteHelperResponse => helpers::delete;
    list_helpers(ListHelpersRequest) -> ListHelpersResponse => helpers::list;
    batch_get_helpers(BatchGetHelpersRequest) -> BatchGetHelpersResponse => helpers::batch_get;
    list_helper_history(ListHelperHistoryRequest) -> ListHelperHistoryResponse => helpers::history;
    import_helpers(ImportHelpersRequest) -> ImportHelpersResponse => helpers::import;
    export_helpers(ExportHelpersRequest) -> ExportHelpersResponse => helpers::export;
    create_coordinator(CreateCoordinatorRequest) -> CreateCoordinatorResponse => coordinators::create;
    get_coordinator(GetCoordinatorRequest) -> GetCoordinatorResponse => coordinators::get;
    update_coordinator(UpdateCoordinatorRequest) -> UpdateCoordinatorResponse => coordinators::update;
    delete_coordinator(DeleteCoordinatorRequest) -> DeleteCoordinatorResponse => coordinators::delete;
    list_coordinators(ListCoordinatorsRequest) -> ListCoordinatorsResponse => coordinators::list;
    batch_get_coordinators(BatchGetCoordinatorsRequest) -> BatchGetCoordinatorsResponse => coordinators::batch_get;
    list_coordinator_history(ListCoordinatorHistoryRequest) -> ListCoordinatorHistoryResponse => coordinators::history;
    create_council(CreateCouncilRequest) -> CreateCouncilResponse => councils::create;
    get_council(GetCouncilRequest) -> GetCouncilResponse => councils::get;
    update_council(UpdateCouncilRequest) -> UpdateCouncilResponse => councils::update;
    delete_council(DeleteCouncilRequest) -> DeleteCouncilResponse => councils::delete;
    list_councils(ListCouncilsRequest) -> ListCouncilsResponse => councils::list;
    batch_get_councils(BatchGetCouncilsRequest) -> BatchGetCouncilsResponse => councils::batch_get;
    list_council_history(ListCouncilHistoryRequest) -> ListCouncilHistoryResponse => councils::history;
    add_council_meeting(AddCouncilMeetingRequest) -> AddCouncilMeetingResponse => councils::add_meeting;
    update_council_meeting(UpdateCouncilMeetingRequest) -> UpdateCouncilMeetingResponse => councils::update_meeting;
    list_council_meetings(ListCouncilMeetingsRequest) -> ListCouncilMeetingsResponse => councils::list_meetings;
}

/// The update mask, required and naming updatable fields only.
fn update_mask(mask: Option<prost_types::FieldMask>, updatable: &[&'static str]) -> ServiceResult<FieldMask> {
    FieldMask::parse(&mask.unwrap_or_default().paths, updatable)
}

/// What an `Update*` request says besides the entity: who, and which version.
struct UpdateRequest {
    id: Uuid,
    mask: FieldMask,
    expected_version: i64,
    changed_by: String,
}

fn update_request(
    id_field: &str,
    id: &str,
    mask: Option<prost_types::FieldMask>,
    updatable: &[&'static str],
    expected_version: i64,
    changed_by: &str,
) -> ServiceResult<UpdateRequest> {
    let mut violations = Violations::new();
    let id = violations.absorb(parse_id(id_field, id));
    let mask = violations.absorb(update_mask(mask, updatable));
    let expected_version = common::expected_version(&mut violations, "expected_version", expected_version);
    let changed_by = common::author(&mut violations, "changed_by", changed_by);
    violations.into_result()?;
    Ok(UpdateRequest {
        id: id.expect("checked"),
        mask: mask.expect("checked"),
        expected_version,
        changed_by,
    })
}

/// Soft-deletes after checking the request: id, a reason, who, and the version.
async fn delete(
    api: &CommunityApi,
    entity: &Entity,
    id: &str,
    reason: &str,
    deleted_by: &str,
    expected_version: i64,
) -> ServiceResult<Uuid> {
    let mut violations = Violations::new();
    let id = violations.absorb(parse_id("id", id));
    let reason = common::reason(&mut violations, "reason", reason);
    let deleted_by = common::author(&mut violations, "deleted_by", deleted_by);
    let expected_version = common::expected_version(&mut violations, "expected_version", expected_version);
    violations.into_result()?;
    let id = id.expect("checked");
    entity
        .delete(&api.pool, id, expected_version, &reason, &deleted_by)
        .await?;
    api.changed();
    tracing::info!(entity = entity.kind.as_str(), entity_id = %id, "deleted");
    Ok(id)
}

/// The filters every list takes. A municipality is required unless an area is given.
struct ListRequest<'a> {
    municipality_code: &'a str,
    area_id: &'a str,
    text: &'a str,
    modified_after: Option<prost_types::Timestamp>,
    include_deleted: bool,
}

fn list_filter(violations: &mut Violations, request: ListRequest<'_>) -> ListFilter {
    let municipality_code = match request.municipality_code.trim() {
        "" => {
            if request.area_id.trim().is_empty() {
                violations.add(
                    "municipality_code",
                    "市区町村コードまたは区域（area_id）を指定してください / municipality_code or area_id is required",
                );
            }
            None
        }
        code => violations
            .check("municipality_code", MunicipalityCode::parse_known(code))
            .map(|code| code.as_str().to_string()),
    };
    let area_id = common::optional_id(violations, "area_id", request.area_id);
    let text = match request.text.trim() {
        "" => None,
        text if text.chars().count() > MAX_QUERY_CHARS => {
            violations.add(
                "text",
                format!("検索語は{MAX_QUERY_CHARS}文字以内です / text is too long"),
            );
            None
        }
        text => Some(text.to_string()),
    };
    let modified_after = request
        .modified_after
        .and_then(|at| violations.check("modified_after", to_datetime(at)));
    ListFilter {
        municipality_code,
        area_id,
        text,
        modified_after,
        include_deleted: request.include_deleted,
    }
}

fn to_datetime(at: prost_types::Timestamp) -> Result<DateTime<Utc>, &'static str> {
    u32::try_from(at.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(at.seconds, nanos))
        .ok_or("日時が範囲外です / time out of range")
}

/// Up to [`crate::batch::MAX_BATCH`] ids, each checked.
fn batch_ids(ids: &[String]) -> ServiceResult<Vec<Uuid>> {
    crate::batch::parse_ids(ids)
}

/// A history request: the entity's id and the page.
fn history_request(id: &str, page: Option<common_pb::PageRequest>) -> ServiceResult<(Uuid, Page)> {
    let mut violations = Violations::new();
    let id = violations.absorb(parse_id("id", id));
    let page = violations.absorb(Page::from_request(page));
    violations.into_result()?;
    Ok((id.expect("checked"), page.expect("checked")))
}

fn field_changes(rows: Vec<HistoryRow>, page: Page) -> (Vec<pb::FieldChange>, String) {
    let next_page_token = page.next_token_after(&rows, |row| row.id);
    let json = |value: Option<serde_json::Value>| value.map(|value| value.to_string()).unwrap_or_default();
    let changes = rows
        .into_iter()
        .map(|row| pb::FieldChange {
            version: row.version,
            field: row.field,
            old_value_json: json(row.old_value),
            new_value_json: json(row.new_value),
            changed_by: row.changed_by,
            changed_at: Some(timestamp(row.changed_at)),
            reason: row.reason,
        })
        .collect();
    (changes, next_page_token)
}

fn deletion(meta: &Meta) -> Option<pb::Deletion> {
    meta.deletion.as_ref().map(|deletion| pb::Deletion {
        deleted_at: Some(timestamp(deletion.deleted_at)),
        reason: deletion.reason.clone(),
        deleted_by: deletion.deleted_by.clone(),
    })
}

fn id_or_empty(id: Option<Uuid>) -> String {
    id.map(|id| id.to_string()).unwrap_or_default()
}

fn ids_to_strings(ids: &[Uuid]) -> Vec<String> {
    ids.iter().map(ToString::to_string).collect()
}

fn date_or_empty(date: Option<NaiveDate>) -> String {
    date.map(|date| date.to_string()).unwrap_or_default()
}

/// None for unspecified and unknown values: both are refused where a layer is required.
fn layer_from_proto(layer: i32) -> Option<Layer> {
    match pb::CoordinationLayer::try_from(layer).ok()? {
        pb::CoordinationLayer::First => Some(Layer::First),
        pb::CoordinationLayer::Second => Some(Layer::Second),
        pb::CoordinationLayer::Third => Some(Layer::Third),
        pb::CoordinationLayer::Unspecified => None,
    }
}

fn layer_to_proto(layer: Layer) -> i32 {
    match layer {
        Layer::First => pb::CoordinationLayer::First,
        Layer::Second => pb::CoordinationLayer::Second,
        Layer::Third => pb::CoordinationLayer::Third,
    }
    .into()
}

/// A layer filter: unspecified means any layer; an unknown value is a violation.
fn layer_filter(violations: &mut Violations, layer: i32) -> Option<Layer> {
    match pb::CoordinationLayer::try_from(layer) {
        Ok(pb::CoordinationLayer::Unspecified) => None,
        Ok(_) => layer_from_proto(layer),
        Err(_) => {
            violations.add("layer", "層の値が不正です / unknown layer");
            None
        }
    }
}

fn weekday_from_proto(weekday: i32) -> Option<Weekday> {
    match common_pb::Weekday::try_from(weekday).ok()? {
        common_pb::Weekday::Monday => Some(Weekday::Monday),
        common_pb::Weekday::Tuesday => Some(Weekday::Tuesday),
        common_pb::Weekday::Wednesday => Some(Weekday::Wednesday),
        common_pb::Weekday::Thursday => Some(Weekday::Thursday),
        common_pb::Weekday::Friday => Some(Weekday::Friday),
        common_pb::Weekday::Saturday => Some(Weekday::Saturday),
        common_pb::Weekday::Sunday => Some(Weekday::Sunday),
        common_pb::Weekday::Unspecified => None,
    }
}

fn weekday_to_proto(weekday: Weekday) -> i32 {
    match weekday {
        Weekday::Monday => common_pb::Weekday::Monday,
        Weekday::Tuesday => common_pb::Weekday::Tuesday,
        Weekday::Wednesday => common_pb::Weekday::Wednesday,
        Weekday::Thursday => common_pb::Weekday::Thursday,
        Weekday::Friday => common_pb::Weekday::Friday,
        Weekday::Saturday => common_pb::Weekday::Saturday,
        Weekday::Sunday => common_pb::Weekday::Sunday,
    }
    .into()
}

fn windows_from_proto(windows: &[common_pb::TimeWindow]) -> Vec<WindowInput> {
    windows
        .iter()
        .map(|window| WindowInput {
            weekday: weekday_from_proto(window.weekday),
            start_minute: window.start_minute,
            end_minute: window.end_minute,
        })
        .collect()
}

fn contact_inputs(points: &[pb::ContactPoint]) -> Vec<ContactInput<'_>> {
    points
        .iter()
        .map(|point| {
            let kind = match pb::ContactKind::try_from(point.kind) {
                Ok(pb::ContactKind::Phone) => Some(ContactKind::Phone),
                Ok(pb::ContactKind::Fax) => Some(ContactKind::Fax),
                Ok(pb::ContactKind::Email) => Some(ContactKind::Email),
                Ok(pb::ContactKind::Url) => Some(ContactKind::Url),
                Ok(pb::ContactKind::Address) => Some(ContactKind::Address),
                Ok(pb::ContactKind::Unspecified) | Err(_) => None,
            };
            (kind, point.value.as_str(), point.label.as_str())
        })
        .collect()
}

fn contacts_to_proto(points: Vec<ContactPoint>) -> Vec<pb::ContactPoint> {
    points
        .into_iter()
        .map(|point| {
            let kind = match point.kind {
                ContactKind::Phone => pb::ContactKind::Phone,
                ContactKind::Fax => pb::ContactKind::Fax,
                ContactKind::Email => pb::ContactKind::Email,
                ContactKind::Url => pb::ContactKind::Url,
                ContactKind::Address => pb::ContactKind::Address,
            };
            pb::ContactPoint {
                kind: kind.into(),
                value: point.value,
                label: point.label,
            }
        })
        .collect()
}
