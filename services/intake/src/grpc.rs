//! The intake gRPC edge: converts proto ↔ domain and nothing else.

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::Notify;
use tonic::service::Routes;
use tonic::{Request, Response, Status};
use tsunagu_proto::intake::v1 as pb;
use tsunagu_proto::intake::v1::intake_service_server::{IntakeService, IntakeServiceServer};
use tsunagu_runtime::error::{FieldViolation, ServiceError, Violations};
use tsunagu_runtime::grpc::{Page, parse_id, timestamp};
use tsunagu_runtime::{MunicipalityCode, text};

use crate::area_issues::{self, AreaIssueFilter, AreaIssueInput, AreaIssueRow, NewAreaIssue, Source};
use crate::domain::{NeedInput, NewNeed, Urgency};
use crate::lifecycle::{NeedStatus, Outcome, Transition};
use crate::residents::{self, PersonalData, PersonalInput, Resident};
use crate::sealing::Keyring;
use crate::store::{self, NeedRow};

pub fn routes(pool: PgPool, outbox_wake: Arc<Notify>, keys: Option<Arc<Keyring>>) -> Routes {
    Routes::new(IntakeServiceServer::new(IntakeApi {
        pool,
        outbox_wake,
        keys,
    }))
}

struct IntakeApi {
    pool: PgPool,
    outbox_wake: Arc<Notify>,
    /// `None` when no key is configured: needs are accepted, personal data is refused.
    keys: Option<Arc<Keyring>>,
}

#[tonic::async_trait]
impl IntakeService for IntakeApi {
    async fn submit_need(
        &self,
        request: Request<pb::SubmitNeedRequest>,
    ) -> Result<Response<pb::SubmitNeedResponse>, Status> {
        let request = request.into_inner();
        let urgency = match pb::Urgency::try_from(request.urgency) {
            Ok(pb::Urgency::Urgent) => Some(Urgency::Urgent),
            Ok(pb::Urgency::Routine) => Some(Urgency::Routine),
            Ok(pb::Urgency::Unspecified) | Err(_) => None,
        };
        let new = NewNeed::parse(NeedInput {
            request_id: &request.request_id,
            municipality_code: &request.municipality_code,
            area_id: &request.area_id,
            category: &request.category,
            urgency,
            resident_id: &request.resident_id,
        })?;
        let (need, replayed) = store::submit_need(&self.pool, &new).await?;
        if !replayed {
            self.outbox_wake.notify_one();
        }
        tracing::info!(need_id = %need.id, municipality_code = need.municipality_code, replayed, "need submitted");
        Ok(Response::new(pb::SubmitNeedResponse {
            need: Some(need_to_proto(need)),
            replayed,
        }))
    }

    async fn get_need(
        &self,
        request: Request<pb::GetNeedRequest>,
    ) -> Result<Response<pb::GetNeedResponse>, Status> {
        let id = parse_id("id", &request.get_ref().id)?;
        let need = store::get_need(&self.pool, id).await?;
        Ok(Response::new(pb::GetNeedResponse {
            need: Some(need_to_proto(need)),
        }))
    }

    async fn register_resident(
        &self,
        request: Request<pb::RegisterResidentRequest>,
    ) -> Result<Response<pb::RegisterResidentResponse>, Status> {
        let request = request.into_inner();
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
        let registered_by =
            text::normalised_non_empty(&request.registered_by).unwrap_or_else(|| "(不明)".into());
        let (resident, replayed) = residents::register(
            &self.pool,
            self.keys.as_deref(),
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

    async fn get_resident(
        &self,
        request: Request<pb::GetResidentRequest>,
    ) -> Result<Response<pb::GetResidentResponse>, Status> {
        let id = parse_id("id", &request.get_ref().id)?;
        let resident = residents::get(&self.pool, self.keys.as_deref(), id).await?;
        Ok(Response::new(pb::GetResidentResponse {
            resident: Some(resident_to_proto(resident)),
        }))
    }

    async fn record_area_issue(
        &self,
        request: Request<pb::RecordAreaIssueRequest>,
    ) -> Result<Response<pb::RecordAreaIssueResponse>, Status> {
        let request = request.into_inner();
        let issue = request.issue.unwrap_or_default();
        let source = SOURCE_PAIRS
            .iter()
            .find(|(_, proto)| *proto as i32 == issue.source && *proto != pb::AreaIssueSource::Unspecified)
            .map(|(domain, _)| *domain);
        let new = NewAreaIssue::parse(AreaIssueInput {
            request_id: &request.request_id,
            municipality_code: &issue.municipality_code,
            source,
            area_id: &issue.area_id,
            category: &issue.category,
            count: issue.count,
            estimated: issue.estimated,
            period_from: &issue.period_from,
            period_to: &issue.period_to,
            notes: &issue.notes,
        })
        .map_err(|error| {
            // Fields of the nested issue are named by their path; request_id is top-level.
            match error {
                ServiceError::InvalidArgument(violations) => ServiceError::InvalidArgument(
                    violations
                        .into_iter()
                        .map(|v| {
                            let field = if v.field == "request_id" {
                                v.field
                            } else {
                                format!("issue.{}", v.field)
                            };
                            FieldViolation::new(field, v.description)
                        })
                        .collect(),
                ),
                other => other,
            }
        })?;
        let recorded_by = text::normalised_non_empty(&request.recorded_by).unwrap_or_else(|| "(不明)".into());
        let (row, replayed) = area_issues::record(&self.pool, &new, &recorded_by).await?;
        tracing::info!(area_issue_id = %row.id, replayed, "area issue recorded");
        Ok(Response::new(pb::RecordAreaIssueResponse {
            issue: Some(area_issue_to_proto(row)),
            replayed,
        }))
    }

    async fn list_area_issues(
        &self,
        request: Request<pb::ListAreaIssuesRequest>,
    ) -> Result<Response<pb::ListAreaIssuesResponse>, Status> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        let code = violations.check(
            "municipality_code",
            MunicipalityCode::parse_known(&request.municipality_code),
        );
        let area_id = match request.area_id.trim() {
            "" => None,
            id => violations.absorb(parse_id("area_id", id)),
        };
        let mut date = |field: &str, raw: &str| match raw.trim() {
            "" => None,
            raw => violations.check(
                field,
                chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                    .map_err(|_| "日付は YYYY-MM-DD で入力してください / date must be YYYY-MM-DD"),
            ),
        };
        let from = date("period_from", &request.period_from);
        let to = date("period_to", &request.period_to);
        let page = violations.absorb(Page::from_request(request.page));
        violations.into_result()?;
        let category = text::normalised_non_empty(&request.category).map(|category| {
            tsunagu_runtime::taxonomy::resolve_bundled(&category).map_or(category, |entry| entry.code.clone())
        });
        let filter = AreaIssueFilter {
            area_id,
            category,
            from,
            to,
        };
        let page = page.expect("checked");
        let rows = area_issues::list(&self.pool, code.expect("checked").as_str(), &filter, page).await?;
        let next_page_token = page.next_token_after(&rows, |row| row.id);
        Ok(Response::new(pb::ListAreaIssuesResponse {
            issues: rows.into_iter().map(area_issue_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn transition_need(
        &self,
        request: Request<pb::TransitionNeedRequest>,
    ) -> Result<Response<pb::TransitionNeedResponse>, Status> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        let id = violations.absorb(parse_id("need_id", &request.need_id));
        let to = STATUS_PAIRS
            .iter()
            .find(|(_, proto)| *proto as i32 == request.to && *proto != pb::NeedStatus::Unspecified)
            .map(|(domain, _)| *domain);
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
                OUTCOME_PAIRS
                    .iter()
                    .find(|(_, proto)| *proto as i32 == value)
                    .map(|(domain, _)| *domain)
                    .ok_or("不明な結果です / unknown outcome"),
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
            &self.pool,
            id.expect("checked"),
            &transition,
            request.expected_version,
            &changed_by,
        )
        .await?;
        self.outbox_wake.notify_one();
        tracing::info!(need_id = %need.id, status = need.status, version = need.version, "need moved");
        Ok(Response::new(pb::TransitionNeedResponse {
            need: Some(need_to_proto(need)),
        }))
    }

    async fn list_need_history(
        &self,
        request: Request<pb::ListNeedHistoryRequest>,
    ) -> Result<Response<pb::ListNeedHistoryResponse>, Status> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        let id = violations.absorb(parse_id("need_id", &request.need_id));
        let page = violations.absorb(Page::from_request(request.page));
        violations.into_result()?;
        let page = page.expect("checked");
        let rows = store::history(&self.pool, id.expect("checked"), page).await?;
        let next_page_token = page.next_token_after(&rows, |row| row.id);
        Ok(Response::new(pb::ListNeedHistoryResponse {
            changes: rows
                .into_iter()
                .map(|row| pb::StatusChange {
                    version: row.version,
                    from: row
                        .from_status
                        .as_deref()
                        .map_or(pb::NeedStatus::Unspecified, status_to_proto)
                        .into(),
                    to: status_to_proto(&row.status).into(),
                    reason: row.reason,
                    outcome: outcome_to_proto(row.outcome.as_deref()).into(),
                    changed_by: row.changed_by,
                    changed_at: Some(timestamp(row.changed_at)),
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn list_needs_for_follow_up(
        &self,
        request: Request<pb::ListNeedsForFollowUpRequest>,
    ) -> Result<Response<pb::ListNeedsForFollowUpResponse>, Status> {
        let request = request.into_inner();
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
            0 => DEFAULT_IDLE_DAYS,
            days => days,
        };
        let idle_since = chrono::Utc::now() - chrono::TimeDelta::days(i64::from(idle_days));
        let page = page.expect("checked");
        let needs = store::idle_needs(&self.pool, code.expect("checked").as_str(), idle_since, page).await?;
        let next_page_token = page.next_token_after(&needs, |need| need.id);
        Ok(Response::new(pb::ListNeedsForFollowUpResponse {
            needs: needs.into_iter().map(need_to_proto).collect(),
            next_page_token,
        }))
    }
}

const STATUS_PAIRS: [(NeedStatus, pb::NeedStatus); 11] = [
    (NeedStatus::Draft, pb::NeedStatus::Draft),
    (NeedStatus::Submitted, pb::NeedStatus::Submitted),
    (NeedStatus::Matching, pb::NeedStatus::Matching),
    (NeedStatus::Proposed, pb::NeedStatus::Proposed),
    (NeedStatus::Accepted, pb::NeedStatus::Accepted),
    (NeedStatus::InProgress, pb::NeedStatus::InProgress),
    (NeedStatus::OnHold, pb::NeedStatus::OnHold),
    (NeedStatus::Completed, pb::NeedStatus::Completed),
    (NeedStatus::Cancelled, pb::NeedStatus::Cancelled),
    (NeedStatus::Failed, pb::NeedStatus::Failed),
    (NeedStatus::EnteredInError, pb::NeedStatus::EnteredInError),
];

const OUTCOME_PAIRS: [(Outcome, pb::Outcome); 7] = [
    (Outcome::GotHelp, pb::Outcome::GotHelp),
    (Outcome::NoCapacity, pb::Outcome::NoCapacity),
    (Outcome::NotEligible, pb::Outcome::NotEligible),
    (Outcome::CouldNotContact, pb::Outcome::CouldNotContact),
    (Outcome::NoLongerNeeded, pb::Outcome::NoLongerNeeded),
    (Outcome::ReferredElsewhere, pb::Outcome::ReferredElsewhere),
    (Outcome::Declined, pb::Outcome::Declined),
];

fn status_to_proto(stored: &str) -> pb::NeedStatus {
    NeedStatus::parse(stored)
        .and_then(|status| STATUS_PAIRS.iter().find(|(domain, _)| *domain == status))
        .map_or(pb::NeedStatus::Unspecified, |(_, proto)| *proto)
}

fn outcome_to_proto(stored: Option<&str>) -> pb::Outcome {
    stored
        .and_then(Outcome::parse)
        .and_then(|outcome| OUTCOME_PAIRS.iter().find(|(domain, _)| *domain == outcome))
        .map_or(pb::Outcome::Unspecified, |(_, proto)| *proto)
}

/// Default of `ListNeedsForFollowUp`: two weeks without any movement.
const DEFAULT_IDLE_DAYS: u32 = 14;

const SOURCE_PAIRS: [(Source, pb::AreaIssueSource); 4] = [
    (Source::NeedsSurvey, pb::AreaIssueSource::NeedsSurvey),
    (
        Source::CommunityCareMeeting,
        pb::AreaIssueSource::CommunityCareMeeting,
    ),
    (Source::CarePlanReview, pb::AreaIssueSource::CarePlanReview),
    (Source::Remark, pb::AreaIssueSource::Remark),
];

fn area_issue_to_proto(row: AreaIssueRow) -> pb::AreaIssue {
    let source = Source::parse(&row.source)
        .and_then(|source| SOURCE_PAIRS.iter().find(|(domain, _)| *domain == source))
        .map_or(pb::AreaIssueSource::Unspecified, |(_, proto)| *proto);
    pb::AreaIssue {
        id: row.id.to_string(),
        municipality_code: row.municipality_code,
        source: source.into(),
        area_id: row.area_id.to_string(),
        category: row.category,
        count: u32::try_from(row.count).unwrap_or(0),
        estimated: row.estimated,
        period_from: row.period_from.to_string(),
        period_to: row.period_to.to_string(),
        notes: row.notes,
        recorded_by: row.recorded_by,
        recorded_at: Some(timestamp(row.recorded_at)),
    }
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

fn need_to_proto(need: NeedRow) -> pb::Need {
    let urgency = match Urgency::parse(&need.urgency) {
        Urgency::Routine => pb::Urgency::Routine,
        Urgency::Urgent => pb::Urgency::Urgent,
    };
    pb::Need {
        id: need.id.to_string(),
        municipality_code: need.municipality_code,
        area_id: need.area_id.to_string(),
        category: need.category,
        urgency: urgency.into(),
        status: status_to_proto(&need.status).into(),
        submitted_at: Some(timestamp(need.submitted_at)),
        version: need.version,
        outcome: outcome_to_proto(need.outcome.as_deref()).into(),
        status_reason: need.status_reason,
        status_changed_at: Some(timestamp(need.status_changed_at)),
        resident_id: need.resident_id.map(|id| id.to_string()).unwrap_or_default(),
    }
}
