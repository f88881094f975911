//! Consent: recording, withdrawing and listing it, and the contact details it may release.

use tonic::{Response, Status};
use tsunagu_proto::intake::v1 as pb;
use tsunagu_runtime::error::{ServiceError, Violations};
use tsunagu_runtime::grpc::parse_id;
use tsunagu_runtime::text;

use super::IntakeApi;
use super::convert::{consent_to_proto, need_to_proto, raw_consent};
use crate::consent::ConsentInput;
use crate::{residents, store};

pub async fn record(
    api: &IntakeApi,
    request: pb::RecordConsentRequest,
) -> Result<Response<pb::RecordConsentResponse>, Status> {
    let mut violations = Violations::new();
    let id = violations.absorb(parse_id("need_id", &request.need_id));
    let consent = match &request.consent {
        Some(consent) => ConsentInput::parse(&raw_consent(consent), "consent.", &mut violations),
        None => {
            violations.add("consent", "同意の内容を指定してください / consent is required");
            None
        }
    };
    violations.into_result()?;
    let recorded_by = text::normalised_non_empty(&request.recorded_by).unwrap_or_else(|| "(不明)".into());
    let (consent, need) = store::record_consent(
        &api.pool,
        id.expect("checked"),
        &consent.expect("checked"),
        &recorded_by,
    )
    .await?;
    api.outbox_wake.notify_one();
    tracing::info!(need_id = %need.row.id, share_need = consent.share_need, share_contact = consent.share_contact, "consent recorded");
    Ok(Response::new(pb::RecordConsentResponse {
        consent: Some(consent_to_proto(consent)),
        need: Some(need_to_proto(need, None)),
    }))
}

pub async fn withdraw(
    api: &IntakeApi,
    request: pb::WithdrawConsentRequest,
) -> Result<Response<pb::WithdrawConsentResponse>, Status> {
    let mut violations = Violations::new();
    let id = violations.absorb(parse_id("need_id", &request.need_id));
    let reason = text::nfkc(&request.reason).trim().to_string();
    if reason.is_empty() {
        violations.add("reason", "撤回の理由を入力してください / a reason is required");
    }
    violations.into_result()?;
    let withdrawn_by = text::normalised_non_empty(&request.withdrawn_by).unwrap_or_else(|| "(不明)".into());
    let (consent, need) =
        store::withdraw_consent(&api.pool, id.expect("checked"), &withdrawn_by, &reason).await?;
    api.outbox_wake.notify_one();
    tracing::info!(need_id = %need.row.id, "consent withdrawn");
    Ok(Response::new(pb::WithdrawConsentResponse {
        consent: Some(consent_to_proto(consent)),
        need: Some(need_to_proto(need, None)),
    }))
}

pub async fn list(
    api: &IntakeApi,
    request: pb::ListConsentsRequest,
) -> Result<Response<pb::ListConsentsResponse>, Status> {
    let id = parse_id("need_id", &request.need_id)?;
    let consents = store::consents(&api.pool, id).await?;
    Ok(Response::new(pb::ListConsentsResponse {
        consents: consents.into_iter().map(consent_to_proto).collect(),
    }))
}

pub async fn shared_contact(
    api: &IntakeApi,
    request: pb::GetSharedContactRequest,
) -> Result<Response<pb::GetSharedContactResponse>, Status> {
    let mut violations = Violations::new();
    let id = violations.absorb(parse_id("need_id", &request.need_id));
    let organization_id = match request.organization_id.trim() {
        "" => None,
        raw => violations.absorb(parse_id("organization_id", raw)),
    };
    violations.into_result()?;
    if api.keys.is_none() {
        return Err(ServiceError::FailedPrecondition(
            "個人情報を開く鍵が設定されていません / no encryption key is configured".into(),
        )
        .into());
    }
    let resident_id = store::contact_disclosure(&api.pool, id.expect("checked"), organization_id).await?;
    let resident = residents::get(&api.pool, api.keys(), resident_id).await?;
    // Ids only in the log: which need's contact went to which organisation.
    tracing::info!(need_id = %request.need_id, organization_id = %request.organization_id, "contact details shared");
    let personal = resident.personal;
    Ok(Response::new(pb::GetSharedContactResponse {
        resident_id: resident.id.to_string(),
        name: personal.name,
        name_kana: personal.name_kana,
        phone: personal.phone,
        address: personal.address,
    }))
}
