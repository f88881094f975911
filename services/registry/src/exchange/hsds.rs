//! Open Referral HSDS 3.x JSON of a municipality's resources: organizations, each with its
//! services; a service carries its service areas, schedules (RRULE parts), cost options,
//! capacities, eligibility, languages, taxonomy attributes and `assured_date` (the verified
//! date, apart from `last_modified`). Confidential addresses are never exported.
//!
//! The output validates against the HSDS 3.x compiled `organization.json` schema (the system
//! test `resource_exchange_limits::hsds_export_validates_against_the_hsds_3_schema`): every
//! object the schema gives an `id` has one — a UUID, as the schema's format says, derived
//! from the resource's or category's own so the same export gives the same ids each time —,
//! required strings are present, and a value the registry does not know is left out rather
//! than written as `null`, which the schema's types refuse.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sqlx::PgPool;
use tsunagu_runtime::error::ServiceResult;
use uuid::Uuid;

use super::resource_export::{Reader, live_resources};
use crate::categories::CategoryIndex;
use crate::resource::model::{Fee, ResourceStatus};
use crate::resource::store::ResourceRecord;

const TAXONOMY: &str = "tsunagu-life-support";

/// A stable UUID for a part of an exported object that has no id of its own (a service's
/// location, its cost option, a schedule): `base` (the resource's id, or [`NAMESPACE`] for a
/// category) mixed with the part's name by FNV-1a, as a version 8 (custom) UUID. Another
/// export of the same data gives the same ids, so a consumer can match records up.
fn derived_id(base: Uuid, part: &str) -> Uuid {
    let mut hash: u128 = 0x6c62272e07bb014262b821756295c58d;
    for byte in part.bytes() {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(0x0000000001000000000000000000013B);
    }
    let mixed = (base.as_u128() ^ hash).to_be_bytes();
    uuid::Builder::from_custom_bytes(mixed).into_uuid()
}

/// The base of the ids of taxonomy terms (categories have codes, not UUIDs).
const NAMESPACE: Uuid = Uuid::from_u128(0x7473756e_6167_7500_8000_746178306e6d);

fn taxonomy_term_id(code: &str) -> Uuid {
    derived_id(NAMESPACE, &format!("taxonomy_term:{code}"))
}

/// Removes every `null` member of every object: HSDS leaves unknown values out, and its
/// schema's types (string, number) refuse `null`.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .filter(|(_, member)| !member.is_null())
                .map(|(key, member)| (key, without_nulls(member)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

pub async fn export(
    pool: &PgPool,
    municipality_code: &str,
    reader: Reader<'_>,
) -> ServiceResult<(Value, usize)> {
    let records = live_resources(pool, municipality_code).await?;
    let mut conn = pool.acquire().await?;
    let categories = CategoryIndex::load(&mut conn, Some(municipality_code)).await?;
    let organization_ids: Vec<Uuid> = records.iter().map(|r| r.fields.organization_id).collect();
    let organizations: Vec<(Uuid, String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, name, kind, corporate_number FROM organization WHERE id = ANY($1) ORDER BY id",
    )
    .bind(&organization_ids)
    .fetch_all(&mut *conn)
    .await?;
    let area_ids: Vec<Uuid> = records
        .iter()
        .flat_map(|r| r.fields.coverage_area_ids.iter().copied())
        .collect();
    let areas: BTreeMap<Uuid, (String, Option<String>, Option<Value>)> =
        sqlx::query_as::<_, (Uuid, String, Option<String>, Option<Value>)>(
            "SELECT id, name, code, boundary FROM area WHERE id = ANY($1)",
        )
        .bind(&area_ids)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|(id, name, code, boundary)| (id, (name, code, boundary)))
        .collect();
    // The city and prefecture every address of the municipality is in (HSDS requires both).
    let (city, prefecture): (Option<String>, Option<String>) = sqlx::query_as(
        "SELECT m.name, p.name FROM area m LEFT JOIN area p ON p.id = m.parent_id WHERE m.code = $1",
    )
    .bind(municipality_code)
    .fetch_optional(&mut *conn)
    .await?
    .unwrap_or_default();
    let place = Place {
        city: city.unwrap_or_default(),
        prefecture: prefecture.unwrap_or_default(),
    };
    let service_count = records.len();
    let json = Value::Array(
        organizations
            .into_iter()
            .map(|(id, name, kind, corporate_number)| {
                let services: Vec<Value> = records
                    .iter()
                    .filter(|r| r.fields.organization_id == id)
                    .map(|r| service(r, reader.shows_location(r), &categories, &areas, &place))
                    .collect();
                // HSDS requires a description; the registry keeps none for an organisation,
                // so it says what kind of organisation it is.
                let kind_label = crate::organization::kind_label(&kind).unwrap_or(&kind);
                without_nulls(json!({
                    "id": id,
                    "name": name,
                    "description": kind_label,
                    "legal_status": kind,
                    "tax_id": corporate_number,
                    "services": services,
                }))
            })
            .collect(),
    );
    Ok((json, service_count))
}

/// Where the municipality's addresses are.
struct Place {
    city: String,
    prefecture: String,
}

fn service(
    record: &ResourceRecord,
    shows_confidential_location: bool,
    categories: &CategoryIndex,
    areas: &BTreeMap<Uuid, (String, Option<String>, Option<Value>)>,
    place: &Place,
) -> Value {
    let part_id = |part: &str| derived_id(record.id, part);
    let fields = &record.fields;
    let status = match fields.status {
        ResourceStatus::Active => "active",
        ResourceStatus::Inactive => "inactive",
        ResourceStatus::TemporarilyClosed => "temporarily closed",
        ResourceStatus::Defunct => "defunct",
    };
    let service_areas: Vec<Value> = fields
        .coverage_area_ids
        .iter()
        .map(|id| {
            let (name, code, boundary) = areas.get(id).cloned().unwrap_or_default();
            json!({
                "id": id,
                "name": name,
                "extent": boundary.map(|b| b.to_string()),
                "extent_type": "geojson",
                "uri": code.map(|code| format!("urn:jp:lg-code:{code}")),
            })
        })
        .collect();
    let schedules: Vec<Value> = fields
        .schedules
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let mut schedule = serde_json::Map::new();
            schedule.insert("id".into(), json!(part_id(&format!("schedule:{index}"))));
            for part in entry.rrule.to_string().split(';') {
                if let Some((key, value)) = part.split_once('=') {
                    let key = match key {
                        "FREQ" => "freq",
                        "INTERVAL" => "interval",
                        "BYDAY" => "byday",
                        "BYMONTHDAY" => "bymonthday",
                        "UNTIL" => "until",
                        "COUNT" => "count",
                        "WKST" => "wkst",
                        _ => continue,
                    };
                    let value = match key {
                        "interval" | "count" => value.parse::<u64>().map(Value::from).unwrap_or(Value::Null),
                        _ => Value::from(value),
                    };
                    schedule.insert(key.into(), value);
                }
            }
            schedule.insert(
                "opens_at".into(),
                entry.opens_at.format("%H:%M").to_string().into(),
            );
            schedule.insert(
                "closes_at".into(),
                entry.closes_at.format("%H:%M").to_string().into(),
            );
            schedule.insert("valid_from".into(), json!(entry.valid_from));
            schedule.insert("valid_to".into(), json!(entry.valid_to));
            schedule.insert("description".into(), entry.to_japanese().into());
            schedule.insert("notes".into(), entry.description.clone().into());
            // HSDS 3 gives the time zone as an offset from UTC in hours: Japan's, all year.
            schedule.insert("timezone".into(), 9.into());
            Value::Object(schedule)
        })
        .collect();
    let cost_options: Vec<Value> = match &fields.fee {
        Fee::Unknown => vec![],
        Fee::Free { description } => {
            vec![json!({
                "id": part_id("cost_option"), "amount": 0, "currency": "JPY", "option": "無料",
                "amount_description": description,
            })]
        }
        Fee::Paid {
            amount_yen,
            unit,
            description,
        } => vec![json!({
            "id": part_id("cost_option"), "amount": amount_yen, "currency": "JPY", "option": unit, "amount_description": description,
        })],
    };
    let location = (!fields.location.confidential || shows_confidential_location).then(|| {
        json!({
            "id": part_id("location"),
            "location_type": "physical",
            "addresses": if fields.location.address.is_empty() { vec![] } else {
                // The registry keeps an address as one line, without a postal code: HSDS
                // requires the member, so it is empty rather than guessed.
                vec![json!({
                    "id": part_id("address"),
                    "address_1": fields.location.address,
                    "city": place.city,
                    "state_province": place.prefecture,
                    "postal_code": "",
                    "country": "JP",
                    "address_type": "physical",
                })]
            },
            "latitude": fields.location.point.map(|p| p.latitude),
            "longitude": fields.location.point.map(|p| p.longitude),
        })
    });
    let taxonomy_terms: Vec<Value> = std::iter::successors(Some(fields.category.clone()), |code| {
        categories
            .entries()
            .iter()
            .find(|entry| entry.code == *code)
            .and_then(|entry| entry.parent_code.clone())
    })
    .filter_map(|code| categories.entries().iter().find(|entry| entry.code == code))
    .map(|entry| {
        json!({
            "id": part_id(&format!("attribute:{}", entry.code)),
            "link_id": record.id,
            "link_type": "service",
            "link_entity": "service",
            "taxonomy_term": {
                "id": taxonomy_term_id(&entry.code),
                "code": entry.code,
                "name": entry.name,
                "description": if entry.description.is_empty() { &entry.name } else { &entry.description },
                "parent_id": entry.parent_code.as_deref().map(taxonomy_term_id),
                "taxonomy": TAXONOMY,
            },
        })
    })
    .collect();
    json!({
        "id": record.id,
        "name": fields.name,
        "alternate_name": fields.name_kana,
        "description": fields.description,
        "url": fields.url,
        "status": status,
        "eligibility_description": fields.eligibility.iter().map(|e| e.label()).collect::<Vec<_>>().join("、"),
        "minimum_age": fields.min_age,
        "maximum_age": fields.max_age,
        "assured_date": record.verified_at.map(|at| at.date_naive()),
        "assurer_email": record.verified_by,
        "last_modified": record.updated_at,
        "service_areas": service_areas,
        "schedules": schedules,
        "cost_options": cost_options,
        "capacities": [{
            "available": fields.capacity.available,
            "maximum": (fields.capacity.maximum > 0).then_some(fields.capacity.maximum),
            "unit": {"name": fields.capacity.unit},
            "updated": record.capacity_updated_at,
        }],
        "languages": fields.capabilities.languages.iter().map(|code| json!({"code": code})).collect::<Vec<_>>(),
        "attributes": taxonomy_terms,
        "service_at_locations": location
            .map(|l| vec![json!({"id": part_id("service_at_location"), "location": l})])
            .unwrap_or_default(),
    })
}
