//! Needs: submission (one, a batch, a stream), reading, listing, editing, watching, and the
//! lifecycle.

use tokio_stream::StreamExt;
use tonic::{Response, Status, Streaming};
use tsunagu_proto::intake::v1 as pb;
use tsunagu_runtime::auth::Principal;
use tsunagu_runtime::error::{ServiceError, ServiceResult, Violations};
use tsunagu_runtime::field_mask::FieldMask;
use tsunagu_runtime::grpc::{Page, parse_id};
use tsunagu_runtime::{MunicipalityCode, taxonomy, text};
use uuid::Uuid;

use super::IntakeApi;
use super::convert::{
    CHANNELS, OUTCOMES, STATUSES, URGENCIES, WireNeed, item_error, need_to_proto, raw_consent, raw_need,
    status_change_to_proto,
};
use crate::audit::{Actor, InTransaction};
use crate::domain::{NeedInput, NewNeed, UPDATABLE};
use crate::lifecycle::Transition;
use crate::need_row::StoredNeed;
use crate::store::{self, Edit, NeedFilter};
use crate::watch::Wake;

/// Most needs one SubmitNeeds call takes.
const MAX_BATCH: usize = 500;

fn parse_submission(request: &pb::SubmitNeedRequest) -> ServiceResult<NewNeed> {
    NewNeed::parse(NeedInput {
        request_id: &request.request_id,
        municipality_code: &request.municipality_code,
        need: raw_need(WireNeed {
            area_id: &request.area_id,
            category: &request.category,
            urgency: request.urgency,
            resident_id: &request.resident_id,
            details: request.details.as_ref(),
            channel: request.channel,
            referrer: request.referrer.as_ref(),
            notes: &request.notes,
        }),
        consent: request.consent.as_ref().map(raw_consent),
        submitted_by: &request.submitted_by,
        draft: request.draft,
    })
}

/// Parses and stores one submission: the shared path of the single call, the batch and the
/// stream.
async fn submit_one(
    api: &IntakeApi,
    request: &pb::SubmitNeedRequest,
    audited: InTransaction<'_>,
) -> ServiceResult<(StoredNeed, bool)> {
    let new = parse_submission(request)?;
    let (need, replayed) = store::submit_need(&api.pool, api.keys(), &new, audited).await?;
    if !replayed {
        api.outbox_wake.notify_one();
    }
    tracing::info!(need_id = %need.row.id, municipality_code = need.row.municipality_code, replayed, "need submitted");
    Ok((need, replayed))
}

pub async fn submit(
    api: &IntakeApi,
    request: pb::SubmitNeedRequest,
    actor: &Actor,
) -> Result<Response<pb::SubmitNeedResponse>, Status> {
    let audited = InTransaction {
        actor,
        method: "SubmitNeed",
    };
    let (need, replayed) = submit_one(api, &request, audited).await?;
    Ok(Response::new(pb::SubmitNeedResponse {
        need: Some(need_to_proto(need, None)),
        replayed,
    }))
}

pub async fn submit_batch(
    api: &IntakeApi,
    request: pb::SubmitNeedsRequest,
    actor: &Actor,
) -> Result<Response<pb::SubmitNeedsResponse>, Status> {
    let audited = InTransaction {
        actor,
        method: "SubmitNeeds",
    };
    if request.needs.len() > MAX_BATCH {
        return Err(ServiceError::invalid(
            "needs",
            format!(
                "一度に送れるニーズは{MAX_BATCH}件までです（{}件） / at most {MAX_BATCH} needs per call",
                request.needs.len()
            ),
        )
        .into());
    }
    let mut results = Vec::with_capacity(request.needs.len());
    for need in &request.needs {
        results.push(match submit_one(api, need, audited).await {
            Ok((need, replayed)) => pb::SubmitNeedResult {
                need: Some(need_to_proto(need, None)),
                replayed,
                error: None,
            },
            Err(error) => pb::SubmitNeedResult {
                need: None,
                replayed: false,
                error: Some(item_error(error)),
            },
        });
    }
    Ok(Response::new(pb::SubmitNeedsResponse { results }))
}

pub async fn import_stream(
    api: &IntakeApi,
    caller: &Principal,
    mut stream: Streaming<pb::SubmitNeedRequest>,
    actor: &Actor,
) -> Result<Response<pb::ImportNeedStreamResponse>, Status> {
    let audited = InTransaction {
        actor,
        method: "ImportNeedStream",
    };
    let mut report = pb::ImportNeedStreamResponse::default();
    let mut index = 0u32;
    // Each need commits as it arrives: a stream that breaks off keeps what it delivered.
    while let Some(item) = stream.next().await {
        let request = item.map_err(|status| undecodable_item(status, index, &report))?;
        // Each item is checked by the request guard's rules (a client stream's items pass the
        // guard undecoded), then a need of a municipality the caller may not act in is
        // refused on its own.
        let outcome = match tsunagu_runtime::request_guard::check_item(&request)
            .and_then(|()| super::authz::in_municipality(caller, &request.municipality_code))
        {
            Ok(()) => submit_one(api, &request, audited).await,
            Err(refused) => Err(refused),
        };
        match outcome {
            Ok((_, true)) => report.replayed += 1,
            Ok((_, false)) => report.accepted += 1,
            Err(error) => report.rejected.push(pb::StreamRejection {
                index,
                request_id: request.request_id.clone(),
                error: Some(item_error(error)),
            }),
        }
        index += 1;
    }
    tracing::info!(
        accepted = report.accepted,
        replayed = report.replayed,
        rejected = report.rejected.len(),
        "need stream imported"
    );
    Ok(Response::new(report))
}

/// tonic answers an item it cannot decode with INTERNAL; it is the caller's error. What the
/// stream delivered before it stays accepted, and the answer says how far it got.
fn undecodable_item(status: Status, index: u32, report: &pb::ImportNeedStreamResponse) -> Status {
    if status.code() != tonic::Code::Internal {
        return status;
    }
    Status::invalid_argument(format!(
        "{index} 件目を読み取れません（それまでの {} 件は受け付け済み、{} 件は再送分）/ item {index} could not be decoded; the {} before it were accepted ({} replayed): {}",
        report.accepted,
        report.replayed,
        report.accepted,
        report.replayed,
        status.message()
    ))
}

/// The notes to show: opened for NEED_VIEW_FULL, none otherwise.
fn private_part(api: &IntakeApi, need: &StoredNeed, view: i32) -> ServiceResult<Option<String>> {
    if view == pb::NeedView::Full as i32 {
        store::open_notes(api.keys(), &need.row).map(Some)
    } else {
        Ok(None)
    }
}

pub async fn get(
    api: &IntakeApi,
    request: pb::GetNeedRequest,
) -> Result<Response<pb::GetNeedResponse>, Status> {
    let id = parse_id("id", &request.id)?;
    let need = store::get_need(&api.pool, id).await?;
    let private = private_part(api, &need, request.view)?;
    Ok(Response::new(pb::GetNeedResponse {
        need: Some(need_to_proto(need, private)),
    }))
}

fn optional_timestamp(t: &Option<prost_types::Timestamp>) -> Option<chrono::DateTime<chrono::Utc>> {
    t.as_ref()
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
}

pub async fn list(
    api: &IntakeApi,
    request: pb::ListNeedsRequest,
) -> Result<Response<pb::ListNeedsResponse>, Status> {
    let mut violations = Violations::new();
    let code = violations.check(
        "municipality_code",
        MunicipalityCode::parse_known(&request.municipality_code),
    );
    let area_ids: Vec<Uuid> = request
        .area_ids
        .iter()
        .enumerate()
        .filter_map(|(index, id)| violations.absorb(parse_id(&format!("area_ids[{index}]"), id)))
        .collect();
    let mut statuses = Vec::new();
    for (index, wire) in request.statuses.iter().enumerate() {
        match STATUSES.domain(*wire) {
            Some(status) => statuses.push(status.as_str()),
            None => violations.add(format!("statuses[{index}]"), "不明な状態です / unknown status"),
        }
    }
    let resident_id = match request.resident_id.trim() {
        "" => None,
        id => violations.absorb(parse_id("resident_id", id)),
    };
    let page = violations.absorb(Page::from_request(request.page));
    violations.into_result()?;
    let categories = request
        .categories
        .iter()
        .filter_map(|category| text::normalised_non_empty(category))
        .map(|category| taxonomy::resolve_bundled(&category).map_or(category, |entry| entry.code.clone()))
        .collect();
    let filter = NeedFilter {
        area_ids,
        categories,
        statuses,
        urgency: URGENCIES.domain(request.urgency).map(|u| u.as_str()),
        resident_id,
        channel: CHANNELS.domain(request.channel).map(|c| c.as_str()),
        submitted_after: optional_timestamp(&request.submitted_after),
        submitted_before: optional_timestamp(&request.submitted_before),
    };
    let page = page.expect("checked");
    let needs = store::list_needs(&api.pool, code.expect("checked").as_str(), &filter, page).await?;
    let next_page_token = page.next_token_after(&needs, |need| need.row.id);
    Ok(Response::new(pb::ListNeedsResponse {
        needs: needs.into_iter().map(|need| need_to_proto(need, None)).collect(),
        next_page_token,
    }))
}

pub async fn update(
    api: &IntakeApi,
    request: pb::UpdateNeedRequest,
) -> Result<Response<pb::UpdateNeedResponse>, Status> {
    let need = request.need.unwrap_or_default();
    let mut violations = Violations::new();
    let id = violations.absorb(parse_id("need.id", &need.id));
    let paths = request.update_mask.map(|mask| mask.paths).unwrap_or_default();
    let mask = violations.absorb(FieldMask::parse(&paths, UPDATABLE));
    violations.into_result()?;
    let raw = raw_need(WireNeed {
        area_id: &need.area_id,
        category: &need.category,
        urgency: need.urgency,
        resident_id: &need.resident_id,
        details: need.details.as_ref(),
        channel: need.channel,
        referrer: need.referrer.as_ref(),
        notes: &need.notes,
    });
    let changed_by = text::normalised_non_empty(&request.changed_by).unwrap_or_else(|| "(不明)".into());
    let reason = text::nfkc(&request.reason).trim().to_string();
    let mask = mask.expect("checked");
    let updated = store::update_need(
        &api.pool,
        api.keys(),
        id.expect("checked"),
        Edit {
            raw: &raw,
            mask: &mask,
            expected_version: request.expected_version,
            changed_by: &changed_by,
            reason: &reason,
        },
    )
    .await
    .map_err(|error| error.prefixed("need."))?;
    api.outbox_wake.notify_one();
    tracing::info!(need_id = %updated.row.id, version = updated.row.version, "need updated");
    let private = mask
        .contains("notes")
        .then(|| store::open_notes(api.keys(), &updated.row))
        .transpose()?;
    Ok(Response::new(pb::UpdateNeedResponse {
        need: Some(need_to_proto(updated, private)),
    }))
}

pub async fn watch(
    api: &IntakeApi,
    request: pb::WatchNeedRequest,
) -> Result<Response<super::IntakeWatchStream>, Status> {
    let mut violations = Violations::new();
    let id = violations.absorb(parse_id("need_id", &request.need_id));
    // Versions start at 1; a negative one is a client's mistake, not "from the start".
    if request.after_version < 0 {
        violations.add(
            "after_version",
            "after_version は0以上で指定してください（0: 今のニーズから） / after_version must be 0 or more (0: the need as it is now)",
        );
    }
    violations.into_result()?;
    let id = id.expect("checked");
    // Subscribed before the first read: a change between the two is not missed.
    let mut subscription = api.changes.subscribe(id);
    let now = store::get_need(&api.pool, id).await?;
    let pool = api.pool.clone();
    let (sender, receiver) = tokio::sync::mpsc::channel(16);
    // 0 asks for the need as it is now first: its current version is the one not yet seen.
    let mut seen = match request.after_version {
        0 => now.row.version - 1,
        after => after,
    };
    // The watch outlives the call: it keeps the caller's tenant (row-level security).
    let scope = tsunagu_runtime::db::current_scope();
    tokio::spawn(tsunagu_runtime::db::as_scope(scope, async move {
        loop {
            // Live or resumed, a watcher gets the same messages: every version after the last
            // one it saw, each as it was made.
            match store::versions_since(&pool, id, seen).await {
                Ok(versions) => {
                    for version in versions {
                        seen = version.need.row.version;
                        if sender.send(Ok(version_to_proto(version))).await.is_err() {
                            return;
                        }
                    }
                }
                Err(error) => {
                    let _ = sender.send(Err(Status::from(error))).await;
                    return;
                }
            }
            tokio::select! {
                _ = sender.closed() => return,
                wake = subscription.next() => match wake {
                    Wake::Check => {}
                    Wake::Stop => return,
                },
            }
        }
    }));
    let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
    Ok(Response::new(Box::pin(stream)))
}

/// One version as a watcher sees it: the need as of that version, and the status change when
/// the version was one.
fn version_to_proto(version: store::NeedVersion) -> pb::WatchNeedResponse {
    pb::WatchNeedResponse {
        need: Some(need_to_proto(version.need, None)),
        status_change: version.status_change.map(status_change_to_proto),
    }
}

pub async fn transition(
    api: &IntakeApi,
    request: pb::TransitionNeedRequest,
) -> Result<Response<pb::TransitionNeedResponse>, Status> {
    let mut violations = Violations::new();
    let id = violations.absorb(parse_id("need_id", &request.need_id));
    let to = STATUSES.domain(request.to);
    if to.is_none() {
        violations.add(
            "to",
            "移す先の状態を指定してください / the target status is required",
        );
    }
    let outcome = match request.outcome {
        0 => None,
        value => violations.check(
            "outcome",
            OUTCOMES.domain(value).ok_or("不明な結果です / unknown outcome"),
        ),
    };
    violations.into_result()?;
    let transition = Transition {
        to: to.expect("checked"),
        reason: text::nfkc(&request.reason).trim().to_string(),
        outcome,
    };
    let changed_by = text::normalised_non_empty(&request.changed_by).unwrap_or_else(|| "(不明)".into());
    let need = store::transition(
        &api.pool,
        id.expect("checked"),
        &transition,
        request.expected_version,
        &changed_by,
    )
    .await?;
    api.outbox_wake.notify_one();
    tracing::info!(need_id = %need.row.id, status = need.row.status, version = need.row.version, "need moved");
    Ok(Response::new(pb::TransitionNeedResponse {
        need: Some(need_to_proto(need, None)),
    }))
}

pub async fn history(
    api: &IntakeApi,
    request: pb::ListNeedHistoryRequest,
) -> Result<Response<pb::ListNeedHistoryResponse>, Status> {
    let mut violations = Violations::new();
    let id = violations.absorb(parse_id("need_id", &request.need_id));
    let page = violations.absorb(Page::from_request(request.page));
    violations.into_result()?;
    let (id, page) = (id.expect("checked"), page.expect("checked"));
    let rows = store::history(&api.pool, id, page).await?;
    let next_page_token = page.next_token_after(&rows, |row| row.id);
    // Edits come whole on the first page only.
    let edits = if page.after.is_none() {
        store::edits(&api.pool, id).await?
    } else {
        Vec::new()
    };
    Ok(Response::new(pb::ListNeedHistoryResponse {
        changes: rows.into_iter().map(status_change_to_proto).collect(),
        next_page_token,
        edits: edits
            .into_iter()
            .map(|edit| pb::NeedEdit {
                version: edit.version,
                fields: edit.fields,
                changed_by: edit.changed_by,
                reason: edit.reason,
                changed_at: Some(tsunagu_runtime::grpc::timestamp(edit.changed_at)),
            })
            .collect(),
    }))
}

pub async fn follow_up(
    api: &IntakeApi,
    request: pb::ListNeedsForFollowUpRequest,
) -> Result<Response<pb::ListNeedsForFollowUpResponse>, Status> {
    let mut violations = Violations::new();
    let code = violations.check(
        "municipality_code",
        MunicipalityCode::parse_known(&request.municipality_code),
    );
    let page = violations.absorb(Page::from_request(request.page));
    if request.idle_days > 3650 {
        violations.add("idle_days", "3650日以内で指定してください / at most 3650 days");
    }
    violations.into_result()?;
    let idle_days = match request.idle_days {
        0 => api.follow_up_days,
        days => days,
    };
    let idle_since = chrono::Utc::now() - chrono::TimeDelta::days(i64::from(idle_days));
    let page = page.expect("checked");
    let needs = store::idle_needs(&api.pool, code.expect("checked").as_str(), idle_since, page).await?;
    let next_page_token = page.next_token_after(&needs, |need| need.row.id);
    Ok(Response::new(pb::ListNeedsForFollowUpResponse {
        needs: needs.into_iter().map(|need| need_to_proto(need, None)).collect(),
        next_page_token,
    }))
}
