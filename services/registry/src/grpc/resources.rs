//! Resource RPCs: proto ↔ domain conversion and the calls into `crate::resource`.

use std::collections::BTreeMap;

use sqlx::PgPool;
use tonic::Status;
use tsunagu_proto::common::v1::GeoPoint as PbGeoPoint;
use tsunagu_proto::registry::v1 as pb;
use tsunagu_runtime::auth::Principal;
use tsunagu_runtime::error::{ServiceError, ServiceResult, Violations};
use tsunagu_runtime::grpc::{Page, parse_id, timestamp};
use tsunagu_runtime::tenant::MunicipalityCode;
use uuid::Uuid;

use super::text_or;
use crate::authz;
use crate::categories::CategoryIndex;
use crate::field_mask::FieldMask;
use crate::history;
use crate::history::{ChangeAuthor, EntityKind, HistoryRow};
use crate::resource::input::{RawCapabilities, RawCapacity, RawFee, RawLocation, RawResource, RawSchedule};
use crate::resource::model::{Eligibility, Fee, Gender, ResourceFields, ResourceKind, ResourceStatus};
use crate::resource::store::{self as resource_store, ResourceFilter, ResourceRecord};
use crate::resource::{self, UPDATABLE};

pub async fn create(
    pool: &PgPool,
    caller: &Principal,
    request: pb::CreateResourceRequest,
) -> Result<pb::Resource, Status> {
    let Some(given) = request.resource else {
        return Err(
            ServiceError::invalid("resource", "resource を指定してください / resource is required").into(),
        );
    };
    let municipality_code = given.municipality_code.clone();
    let raw = raw_from_proto(given);
    let created_by = text_or(&request.created_by, "(不明)");
    let author = ChangeAuthor {
        changed_by: &created_by,
        reason: "",
    };
    let record = resource::create(pool, &municipality_code, &raw, author)
        .await
        .map_err(|error| error.prefixed("resource."))?;
    tracing::info!(resource_id = %record.id, category = record.fields.category, municipality_code = record.municipality_code, "resource created");
    Ok(to_proto_one(pool, record, Reader::full(caller)).await?)
}

pub async fn update(
    pool: &PgPool,
    caller: &Principal,
    request: pb::UpdateResourceRequest,
) -> Result<pb::Resource, Status> {
    let Some(given) = request.resource else {
        return Err(
            ServiceError::invalid("resource", "resource を指定してください / resource is required").into(),
        );
    };
    let paths = request.update_mask.map(|mask| mask.paths).unwrap_or_default();
    let mut violations = Violations::new();
    let id = violations.absorb(parse_id("resource.id", &given.id));
    let mask = violations.absorb(FieldMask::parse(&paths, UPDATABLE));
    violations.into_result()?;
    let changed_by = text_or(&request.changed_by, "(不明)");
    let reason = tsunagu_runtime::text::nfkc(&request.reason).trim().to_string();
    let author = ChangeAuthor {
        changed_by: &changed_by,
        reason: &reason,
    };
    let record = resource::update(
        pool,
        id.expect("checked"),
        raw_from_proto(given),
        &mask.expect("checked"),
        request.expected_version,
        author,
    )
    .await
    .map_err(|error| error.prefixed("resource."))?;
    tracing::info!(resource_id = %record.id, version = record.version, "resource updated");
    Ok(to_proto_one(pool, record, Reader::full(caller)).await?)
}

pub async fn delete(
    pool: &PgPool,
    caller: &Principal,
    request: pb::DeleteResourceRequest,
) -> Result<pb::Resource, Status> {
    let mut violations = Violations::new();
    let id = violations.absorb(parse_id("id", &request.id));
    let reason = tsunagu_runtime::text::normalised_non_empty(&request.reason);
    if reason.is_none() {
        violations.add(
            "reason",
            "削除の理由を入力してください（例: 事業終了のため） / reason is required",
        );
    }
    violations.into_result()?;
    let deleted_by = text_or(&request.deleted_by, "(不明)");
    let reason = reason.expect("checked");
    let author = ChangeAuthor {
        changed_by: &deleted_by,
        reason: &reason,
    };
    let record = resource_store::delete(pool, id.expect("checked"), request.expected_version, author).await?;
    tracing::info!(resource_id = %record.id, "resource deleted");
    Ok(to_proto_one(pool, record, Reader::full(caller)).await?)
}

pub async fn get(
    pool: &PgPool,
    caller: &Principal,
    request: pb::GetResourceRequest,
) -> Result<pb::Resource, Status> {
    let id = parse_id("id", &request.id)?;
    let record = resource_store::get(pool, id).await?;
    let reader = Reader::asking(caller, request.view);
    // One resource asked for in full by someone who may not see it is refused outright, as
    // it always was; lists and batches withhold the location record by record instead.
    if reader.asked_full && !reader.shows_location(&record) {
        return Err(ServiceError::Denied.into());
    }
    Ok(to_proto_one(pool, record, reader).await?)
}

pub async fn batch_get(
    pool: &PgPool,
    caller: &Principal,
    request: pb::BatchGetResourcesRequest,
) -> Result<Vec<pb::Resource>, Status> {
    let ids = crate::batch::parse_ids(&request.ids)?;
    let records = resource_store::batch_get(pool, &ids).await?;
    Ok(to_proto_many(pool, records, Reader::asking(caller, request.view)).await?)
}

pub async fn list(
    pool: &PgPool,
    caller: &Principal,
    request: pb::ListResourcesRequest,
) -> Result<pb::ListResourcesResponse, Status> {
    let mut violations = Violations::new();
    let municipality_code = match request.municipality_code.trim() {
        "" => None,
        code => violations.check("municipality_code", MunicipalityCode::parse_known(code)),
    };
    let area_id = match request.area_id.trim() {
        "" => None,
        id => violations.absorb(parse_id("area_id", id)),
    };
    if request.municipality_code.trim().is_empty() && request.area_id.trim().is_empty() {
        violations.add(
            "municipality_code",
            "municipality_code か area_id のどちらかを指定してください / give municipality_code or area_id",
        );
    }
    let organization_id = match request.organization_id.trim() {
        "" => None,
        id => violations.absorb(parse_id("organization_id", id)),
    };
    let eligibility = match request.eligibility {
        0 => None,
        value => violations.check(
            "eligibility",
            eligibility_from_proto(value).ok_or("不明な区分です / unknown value"),
        ),
    };
    let kind = match request.kind {
        0 => None,
        value => violations.check(
            "kind",
            kind_from_proto(value).ok_or("不明な種類です / unknown value"),
        ),
    };
    let statuses: Vec<ResourceStatus> = request
        .statuses
        .iter()
        .enumerate()
        .filter_map(|(index, value)| {
            violations.check(
                &format!("statuses[{index}]"),
                status_from_proto(*value).ok_or("不明な状態です / unknown value"),
            )
        })
        .collect();
    let modified_after = request.modified_after.and_then(|at| {
        violations.check(
            "modified_after",
            chrono::DateTime::from_timestamp(at.seconds, at.nanos.max(0) as u32)
                .ok_or("日時が範囲外です / time out of range"),
        )
    });
    let page = violations.absorb(Page::from_request(request.page));
    let categories = {
        let mut conn = pool.acquire().await.map_err(ServiceError::from)?;
        CategoryIndex::load(
            &mut conn,
            municipality_code.as_ref().map(MunicipalityCode::as_str),
        )
        .await
        .map_err(ServiceError::from)?
    };
    let category_codes = match request.category.trim() {
        "" => None,
        category => violations
            .check("category", categories.resolve(category))
            .map(|entry| categories.with_descendants(&entry.code)),
    };
    violations.into_result()?;
    let text = tsunagu_runtime::text::normalised_non_empty(&request.text);
    let filter = ResourceFilter {
        municipality_code: municipality_code.map(|code| code.as_str().to_string()),
        area_id,
        categories: category_codes,
        eligibility,
        statuses: (!statuses.is_empty()).then_some(statuses),
        kind,
        text,
        modified_after,
        include_deleted: request.include_deleted,
        organization_id,
    };
    let page = page.expect("checked");
    let records = resource_store::list(pool, &filter, page).await?;
    let next_page_token = page.next_token_after(&records, |record| record.id);
    Ok(pb::ListResourcesResponse {
        resources: to_proto_many(pool, records, Reader::asking(caller, request.view)).await?,
        next_page_token,
    })
}

pub async fn history(
    pool: &PgPool,
    caller: &Principal,
    request: pb::ListResourceHistoryRequest,
) -> Result<pb::ListResourceHistoryResponse, Status> {
    let mut violations = Violations::new();
    let id = violations.absorb(parse_id("resource_id", &request.resource_id));
    let page = violations.absorb(Page::from_request(request.page));
    violations.into_result()?;
    let (id, page) = (id.expect("checked"), page.expect("checked"));
    let record = resource_store::get(pool, id).await?;
    // The history holds every location the resource had: it is read as if in full.
    let withhold = !Reader::full(caller).shows_location(&record)
        && (record.fields.location.confidential
            || resource_store::location_ever_confidential(pool, id).await?);
    let rows = history::list(pool, EntityKind::Resource, id, page).await?;
    let next_page_token = page.next_token_after(&rows, |row| row.id);
    Ok(pb::ListResourceHistoryResponse {
        changes: rows
            .into_iter()
            .map(|row| if withhold { withhold_locations(row) } else { row })
            .map(change_to_proto)
            .collect(),
        next_page_token,
    })
}

/// What a location looks like to someone who may not see it (as `Location.redacted` in the
/// proto).
fn withheld_location() -> serde_json::Value {
    serde_json::json!({"confidential": true, "redacted": true})
}

/// A history row of a resource whose location the caller may not see, with every location in
/// it withheld: a `location` change, and the location inside the whole-record snapshot of a
/// creation or deletion. Every one, not only those marked confidential: an address made
/// confidential later was public, and the same, before.
fn withhold_locations(mut row: HistoryRow) -> HistoryRow {
    let withhold = |value: &mut Option<serde_json::Value>, whole: bool| match value {
        Some(serde_json::Value::Object(snapshot)) if whole => {
            if let Some(location) = snapshot.get_mut("location") {
                *location = withheld_location();
            }
        }
        Some(value) if !whole => *value = withheld_location(),
        _ => {}
    };
    if row.field.starts_with("location") {
        withhold(&mut row.old_value, false);
        withhold(&mut row.new_value, false);
    } else if row.field == history::WHOLE_ENTITY {
        withhold(&mut row.old_value, true);
        withhold(&mut row.new_value, true);
    }
    row
}

pub fn change_to_proto(row: HistoryRow) -> pb::FieldChange {
    let json = |value: Option<serde_json::Value>| value.map(|v| v.to_string()).unwrap_or_default();
    pb::FieldChange {
        version: row.version,
        field: row.field,
        old_value_json: json(row.old_value),
        new_value_json: json(row.new_value),
        changed_by: row.changed_by,
        changed_at: Some(timestamp(row.changed_at)),
        reason: row.reason,
    }
}

pub async fn verify(
    pool: &PgPool,
    caller: &Principal,
    id: Uuid,
    verified_by: &str,
) -> ServiceResult<pb::Resource> {
    let record = resource_store::verify(pool, id, verified_by).await?;
    to_proto_one(pool, record, Reader::public(caller)).await
}

/// Who reads resources and whether they asked for the full view (`ResourceView`): the only
/// way from a record to its proto, so the confidential location is decided record by record,
/// by `authz::shows_confidential_location`, and never by the request alone.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    caller: &'a Principal,
    asked_full: bool,
}

impl<'a> Reader<'a> {
    /// As the request's `view` asks.
    pub fn asking(caller: &'a Principal, view: i32) -> Reader<'a> {
        Reader {
            caller,
            asked_full: pb::ResourceView::try_from(view) == Ok(pb::ResourceView::Full),
        }
    }

    /// A write's answer: the full record, for those who may see it.
    pub fn full(caller: &'a Principal) -> Reader<'a> {
        Reader {
            caller,
            asked_full: true,
        }
    }

    pub fn public(caller: &'a Principal) -> Reader<'a> {
        Reader {
            caller,
            asked_full: false,
        }
    }

    fn shows_location(&self, record: &ResourceRecord) -> bool {
        authz::shows_confidential_location(
            self.caller,
            self.asked_full,
            &record.municipality_code,
            record.fields.organization_id,
        )
    }
}

async fn to_proto_one(
    pool: &PgPool,
    record: ResourceRecord,
    reader: Reader<'_>,
) -> ServiceResult<pb::Resource> {
    let mut resources = to_proto_many(pool, vec![record], reader).await?;
    Ok(resources.remove(0))
}

/// Converts records, naming each one's category from the taxonomy its municipality sees and
/// showing each one's confidential location only if `reader` may see it.
pub async fn to_proto_many(
    pool: &PgPool,
    records: Vec<ResourceRecord>,
    reader: Reader<'_>,
) -> ServiceResult<Vec<pb::Resource>> {
    let mut indexes: BTreeMap<String, CategoryIndex> = BTreeMap::new();
    let mut conn = pool.acquire().await?;
    for record in &records {
        if !indexes.contains_key(&record.municipality_code) {
            let index = CategoryIndex::load(&mut conn, Some(&record.municipality_code)).await?;
            indexes.insert(record.municipality_code.clone(), index);
        }
    }
    Ok(records
        .into_iter()
        .map(|record| {
            let category_name = indexes
                .get(&record.municipality_code)
                .and_then(|index| index.name_of(&record.fields.category))
                .unwrap_or_default()
                .to_string();
            let shows_location = reader.shows_location(&record);
            record_to_proto(record, shows_location, category_name)
        })
        .collect())
}

fn record_to_proto(record: ResourceRecord, shows_location: bool, category_name: String) -> pb::Resource {
    let capacity_updated_at = record.capacity_updated_at;
    let ResourceFields {
        organization_id,
        name,
        name_kana,
        description,
        category,
        kind,
        coverage_area_ids,
        capacity,
        fee,
        eligibility,
        min_age,
        max_age,
        capabilities,
        schedules,
        status,
        status_note,
        location,
        external_id,
        url,
    } = record.fields.0;
    let redacted = location.confidential && !shows_location;
    pb::Resource {
        id: record.id.to_string(),
        municipality_code: record.municipality_code,
        organization_id: organization_id.to_string(),
        name,
        category,
        coverage_area_ids: coverage_area_ids.iter().map(Uuid::to_string).collect(),
        created_at: Some(timestamp(record.created_at)),
        updated_at: Some(timestamp(record.updated_at)),
        verified_at: record.verified_at.map(timestamp),
        verified_by: record.verified_by.unwrap_or_default(),
        name_kana,
        description,
        kind: kind_to_proto(kind) as i32,
        schedules: schedules
            .iter()
            .map(|entry| pb::Schedule {
                rrule: entry.rrule.to_string(),
                opens_at: entry.opens_at.format("%H:%M").to_string(),
                closes_at: entry.closes_at.format("%H:%M").to_string(),
                valid_from: entry.valid_from.map(|d| d.to_string()).unwrap_or_default(),
                valid_to: entry.valid_to.map(|d| d.to_string()).unwrap_or_default(),
                except_holidays: entry.except_holidays,
                include_holidays: entry.include_holidays,
                description: entry.description.clone(),
                text: entry.to_japanese(),
            })
            .collect(),
        fee: match fee {
            Fee::Unknown => None,
            Fee::Free { description } => Some(pb::Fee {
                free: true,
                description,
                ..pb::Fee::default()
            }),
            Fee::Paid {
                amount_yen,
                unit,
                description,
            } => Some(pb::Fee {
                free: false,
                amount_yen,
                unit,
                description,
            }),
        },
        eligibility: eligibility
            .into_iter()
            .map(|e| eligibility_to_proto(e) as i32)
            .collect(),
        min_age: min_age.unwrap_or(0),
        max_age: max_age.unwrap_or(0),
        capabilities: Some(pb::Capabilities {
            wheelchair_vehicle: capabilities.wheelchair_vehicle,
            languages: capabilities.languages,
            helper_genders: capabilities
                .helper_genders
                .into_iter()
                .map(|g| gender_to_proto(g) as i32)
                .collect(),
        }),
        status: status_to_proto(status) as i32,
        status_note,
        location: Some(if redacted {
            pb::Location {
                confidential: true,
                redacted: true,
                ..pb::Location::default()
            }
        } else {
            pb::Location {
                address: location.address,
                point: location.point.map(|p| PbGeoPoint {
                    latitude: p.latitude,
                    longitude: p.longitude,
                }),
                confidential: location.confidential,
                redacted: false,
            }
        }),
        external_id: external_id.unwrap_or_default(),
        version: record.version,
        deletion: record.deleted_at.map(|deleted_at| pb::Deletion {
            deleted_at: Some(timestamp(deleted_at)),
            reason: record.deleted_reason.unwrap_or_default(),
            deleted_by: record.deleted_by.unwrap_or_default(),
        }),
        category_name,
        url,
        capacity: Some(pb::Capacity {
            available: capacity.available,
            maximum: capacity.maximum,
            unit: capacity.unit,
            updated_at: Some(timestamp(capacity_updated_at)),
        }),
    }
}

/// The raw form of a proto resource; output-only fields are ignored.
pub fn raw_from_proto(resource: pb::Resource) -> RawResource {
    let capacity = resource.capacity.unwrap_or_default();
    let capabilities = resource.capabilities.unwrap_or_default();
    let location = resource.location.unwrap_or_default();
    RawResource {
        organization_id: resource.organization_id,
        name: resource.name,
        name_kana: resource.name_kana,
        description: resource.description,
        category: resource.category,
        kind: kind_from_proto(resource.kind),
        coverage_area_ids: resource.coverage_area_ids,
        capacity: RawCapacity {
            available: capacity.available,
            maximum: capacity.maximum,
            unit: capacity.unit,
        },
        fee: resource.fee.map(|fee| RawFee {
            free: fee.free,
            amount_yen: fee.amount_yen,
            unit: fee.unit,
            description: fee.description,
        }),
        eligibility: resource
            .eligibility
            .into_iter()
            .map(eligibility_from_proto)
            .collect(),
        min_age: resource.min_age,
        max_age: resource.max_age,
        capabilities: RawCapabilities {
            wheelchair_vehicle: capabilities.wheelchair_vehicle,
            languages: capabilities.languages,
            helper_genders: capabilities
                .helper_genders
                .into_iter()
                .map(gender_from_proto)
                .collect(),
        },
        schedules: resource
            .schedules
            .into_iter()
            .map(|s| RawSchedule {
                rrule: s.rrule,
                opens_at: s.opens_at,
                closes_at: s.closes_at,
                valid_from: s.valid_from,
                valid_to: s.valid_to,
                except_holidays: s.except_holidays,
                include_holidays: s.include_holidays,
                description: s.description,
                text: s.text,
            })
            .collect(),
        status: status_from_proto(resource.status),
        status_note: resource.status_note,
        location: RawLocation {
            address: location.address,
            point: location.point.map(|p| (p.latitude, p.longitude)),
            confidential: location.confidential,
        },
        external_id: resource.external_id,
        url: resource.url,
    }
}

fn kind_from_proto(value: i32) -> Option<ResourceKind> {
    match pb::ResourceKind::try_from(value).ok()? {
        pb::ResourceKind::Unspecified => None,
        pb::ResourceKind::Use => Some(ResourceKind::Use),
        pb::ResourceKind::Participate => Some(ResourceKind::Participate),
        pb::ResourceKind::Place => Some(ResourceKind::Place),
    }
}

fn kind_to_proto(kind: ResourceKind) -> pb::ResourceKind {
    match kind {
        ResourceKind::Use => pb::ResourceKind::Use,
        ResourceKind::Participate => pb::ResourceKind::Participate,
        ResourceKind::Place => pb::ResourceKind::Place,
    }
}

fn status_from_proto(value: i32) -> Option<ResourceStatus> {
    match pb::ResourceStatus::try_from(value).ok()? {
        pb::ResourceStatus::Unspecified => None,
        pb::ResourceStatus::Active => Some(ResourceStatus::Active),
        pb::ResourceStatus::Inactive => Some(ResourceStatus::Inactive),
        pb::ResourceStatus::TemporarilyClosed => Some(ResourceStatus::TemporarilyClosed),
        pb::ResourceStatus::Defunct => Some(ResourceStatus::Defunct),
    }
}

fn status_to_proto(status: ResourceStatus) -> pb::ResourceStatus {
    match status {
        ResourceStatus::Active => pb::ResourceStatus::Active,
        ResourceStatus::Inactive => pb::ResourceStatus::Inactive,
        ResourceStatus::TemporarilyClosed => pb::ResourceStatus::TemporarilyClosed,
        ResourceStatus::Defunct => pb::ResourceStatus::Defunct,
    }
}

const ELIGIBILITY_PAIRS: [(Eligibility, pb::Eligibility); 9] = [
    (Eligibility::GeneralElderly, pb::Eligibility::GeneralElderly),
    (Eligibility::ProjectTarget, pb::Eligibility::ProjectTarget),
    (Eligibility::Support1, pb::Eligibility::Support1),
    (Eligibility::Support2, pb::Eligibility::Support2),
    (Eligibility::Care1, pb::Eligibility::Care1),
    (Eligibility::Care2, pb::Eligibility::Care2),
    (Eligibility::Care3, pb::Eligibility::Care3),
    (Eligibility::Care4, pb::Eligibility::Care4),
    (Eligibility::Care5, pb::Eligibility::Care5),
];

fn eligibility_from_proto(value: i32) -> Option<Eligibility> {
    ELIGIBILITY_PAIRS
        .iter()
        .find(|(_, proto)| *proto as i32 == value)
        .map(|(domain, _)| *domain)
}

fn eligibility_to_proto(eligibility: Eligibility) -> pb::Eligibility {
    ELIGIBILITY_PAIRS
        .iter()
        .find(|(domain, _)| *domain == eligibility)
        .map(|(_, proto)| *proto)
        .expect("every eligibility has a proto value")
}

fn gender_from_proto(value: i32) -> Option<Gender> {
    match pb::Gender::try_from(value).ok()? {
        pb::Gender::Unspecified => None,
        pb::Gender::Female => Some(Gender::Female),
        pb::Gender::Male => Some(Gender::Male),
    }
}

fn gender_to_proto(gender: Gender) -> pb::Gender {
    match gender {
        Gender::Female => pb::Gender::Female,
        Gender::Male => pb::Gender::Male,
    }
}
