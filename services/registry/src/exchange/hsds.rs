//! Open Referral HSDS 3.x JSON of a municipality's resources: organizations, each with its
//! services; a service carries its service areas, schedules (RRULE parts), cost options,
//! capacities, eligibility, languages, taxonomy attributes and `assured_date` (the verified
//! date, apart from `last_modified`). Confidential addresses are never exported.

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
    let service_count = records.len();
    let json = Value::Array(
        organizations
            .into_iter()
            .map(|(id, name, kind, corporate_number)| {
                let services: Vec<Value> = records
                    .iter()
                    .filter(|r| r.fields.organization_id == id)
                    .map(|r| service(r, reader.shows_location(r), &categories, &areas))
                    .collect();
                json!({
                    "id": id,
                    "name": name,
                    "legal_status": kind,
                    "tax_id": corporate_number,
                    "services": services,
                })
            })
            .collect(),
    );
    Ok((json, service_count))
}

fn service(
    record: &ResourceRecord,
    shows_confidential_location: bool,
    categories: &CategoryIndex,
    areas: &BTreeMap<Uuid, (String, Option<String>, Option<Value>)>,
) -> Value {
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
        .map(|entry| {
            let mut schedule = serde_json::Map::new();
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
            schedule.insert("timezone".into(), "Asia/Tokyo".into());
            Value::Object(schedule)
        })
        .collect();
    let cost_options: Vec<Value> = match &fields.fee {
        Fee::Unknown => vec![],
        Fee::Free { description } => {
            vec![json!({"amount": 0, "currency": "JPY", "option": "無料", "amount_description": description})]
        }
        Fee::Paid {
            amount_yen,
            unit,
            description,
        } => vec![json!({
            "amount": amount_yen, "currency": "JPY", "option": unit, "amount_description": description,
        })],
    };
    let location = (!fields.location.confidential || shows_confidential_location).then(|| {
        json!({
            "location_type": "physical",
            "addresses": if fields.location.address.is_empty() { vec![] } else {
                vec![json!({"address_1": fields.location.address, "country": "JP", "address_type": "physical"})]
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
        json!({"taxonomy_term": {
            "id": entry.code, "code": entry.code, "name": entry.name,
            "parent_id": entry.parent_code, "taxonomy": TAXONOMY,
        }})
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
        "service_at_locations": location.map(|l| vec![json!({"location": l})]).unwrap_or_default(),
    })
}
