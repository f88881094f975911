//! Residents (利用者): registration with their personal data sealed, and reading it back.

use tonic::{Response, Status};
use tsunagu_proto::intake::v1 as pb;
use tsunagu_runtime::MunicipalityCode;
use tsunagu_runtime::error::Violations;
use tsunagu_runtime::grpc::{parse_id, timestamp};
use tsunagu_runtime::text;

use super::IntakeApi;
use crate::residents::{self, PersonalData, PersonalInput, Resident};

pub async fn register(
    api: &IntakeApi,
    request: pb::RegisterResidentRequest,
) -> Result<Response<pb::RegisterResidentResponse>, Status> {
    let mut violations = Violations::new();
    let code = violations.check(
        "municipality_code",
        MunicipalityCode::parse_known(&request.municipality_code),
    );
    let request_id = request.request_id.trim().to_string();
    if request_id.is_empty() || request_id.chars().count() > 128 {
        violations.add(
            "request_id",
            "リクエストIDは1〜128文字です / request_id must be 1–128 characters",
        );
    }
    let given = request.personal.unwrap_or_default();
    let personal = PersonalData::parse(
        PersonalInput {
            name: &given.name,
            name_kana: &given.name_kana,
            address: &given.address,
            phone: &given.phone,
            birth_date: &given.birth_date,
            care_level: &given.care_level,
            notes: &given.notes,
        },
        &mut violations,
    );
    violations.into_result()?;
    let registered_by = text::normalised_non_empty(&request.registered_by).unwrap_or_else(|| "(不明)".into());
    let (resident, replayed) = residents::register(
        &api.pool,
        api.keys(),
        &code.expect("checked"),
        &request_id,
        &personal.expect("checked"),
        &registered_by,
    )
    .await?;
    // Ids only: personal data never reaches a log.
    tracing::info!(resident_id = %resident.id, replayed, duplicates = resident.possible_duplicates.len(), "resident registered");
    Ok(Response::new(pb::RegisterResidentResponse {
        resident: Some(resident_to_proto(resident)),
        replayed,
    }))
}

pub async fn get(
    api: &IntakeApi,
    request: pb::GetResidentRequest,
) -> Result<Response<pb::GetResidentResponse>, Status> {
    let id = parse_id("id", &request.id)?;
    let resident = residents::get(&api.pool, api.keys(), id).await?;
    Ok(Response::new(pb::GetResidentResponse {
        resident: Some(resident_to_proto(resident)),
    }))
}

fn resident_to_proto(resident: Resident) -> pb::Resident {
    let personal = resident.personal;
    pb::Resident {
        id: resident.id.to_string(),
        municipality_code: resident.municipality_code,
        personal: Some(pb::PersonalData {
            name: personal.name,
            name_kana: personal.name_kana,
            address: personal.address,
            phone: personal.phone,
            birth_date: personal
                .birth_date
                .map(|date| date.to_string())
                .unwrap_or_default(),
            care_level: personal.care_level,
            notes: personal.notes,
        }),
        possible_duplicate_ids: resident
            .possible_duplicates
            .iter()
            .map(ToString::to_string)
            .collect(),
        registered_at: Some(timestamp(resident.created_at)),
    }
}
