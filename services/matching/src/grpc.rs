//! The matching gRPC edge: proposals and their loop, and the municipality's settings of it.

use std::collections::BTreeMap;
use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::Notify;
use tonic::service::Routes;
use tonic::{Request, Response, Status};
use tsunagu_matching_engine::domain::Weights;
use tsunagu_proto::matching::v1 as pb;
use tsunagu_proto::matching::v1::matching_service_server::{MatchingService, MatchingServiceServer};
use tsunagu_runtime::MunicipalityCode;
use tsunagu_runtime::auth::{Principal, principal_of};
use tsunagu_runtime::error::{ServiceError, Violations};
use tsunagu_runtime::grpc::{Page, parse_id, timestamp};
use tsunagu_runtime::text;
use tsunagu_runtime::{audit, db};
use uuid::Uuid;

use crate::gap_store::{self, Layer};
use crate::proposals::{self, PROPOSAL_COLUMNS, ProposalRow, Settings, Status as ProposalStatus};
use crate::{authz, gap_chart, gap_map::GapRow, weights};

pub fn routes(pool: PgPool, outbox_wake: Arc<Notify>) -> Routes {
    Routes::new(MatchingServiceServer::new(MatchingApi { pool, outbox_wake }))
}

struct MatchingApi {
    pool: PgPool,
    outbox_wake: Arc<Notify>,
}

const STATUSES: [(ProposalStatus, pb::ProposalStatus); 7] = [
    (
        ProposalStatus::AwaitingApproval,
        pb::ProposalStatus::AwaitingApproval,
    ),
    (ProposalStatus::Proposed, pb::ProposalStatus::Proposed),
    (ProposalStatus::Accepted, pb::ProposalStatus::Accepted),
    (ProposalStatus::Rejected, pb::ProposalStatus::Rejected),
    (ProposalStatus::Expired, pb::ProposalStatus::Expired),
    (ProposalStatus::Withdrawn, pb::ProposalStatus::Withdrawn),
    (ProposalStatus::Completed, pb::ProposalStatus::Completed),
];

fn proposal_to_proto(row: ProposalRow) -> pb::Proposal {
    let status = ProposalStatus::parse(&row.status)
        .and_then(|status| STATUSES.iter().find(|(domain, _)| *domain == status))
        .map_or(pb::ProposalStatus::Unspecified, |(_, proto)| *proto);
    pb::Proposal {
        id: row.id.to_string(),
        municipality_code: row.municipality_code,
        need_id: row.need_id.to_string(),
        resource_id: row.resource_id.to_string(),
        organization_id: row.organization_id.to_string(),
        category: row.category,
        status: status.into(),
        proposed_at: Some(timestamp(row.proposed_at)),
        sent_at: row.sent_at.map(timestamp),
        expires_at: row.expires_at.map(timestamp),
        approved_by: row.approved_by.unwrap_or_default(),
        responded_by: row.responded_by.unwrap_or_default(),
        responded_at: row.responded_at.map(timestamp),
        reason: row.response_reason.unwrap_or_default(),
        cost: row.cost,
        factors: row
            .factors
            .0
            .into_iter()
            .map(|factor| pb::CostFactor {
                name: factor.name,
                cost: factor.cost,
            })
            .collect(),
    }
}

fn who(raw: &str) -> String {
    text::normalised_non_empty(raw).unwrap_or_else(|| "(不明)".into())
}

#[tonic::async_trait]
impl MatchingService for MatchingApi {
    async fn list_proposals(
        &self,
        request: Request<pb::ListProposalsRequest>,
    ) -> Result<Response<pb::ListProposalsResponse>, Status> {
        let caller = principal_of(&request)?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        let municipality = violations.check(
            "municipality_code",
            MunicipalityCode::parse_known(&request.municipality_code),
        );
        let need_id = match request.need_id.trim() {
            "" => None,
            raw => violations.absorb(parse_id("need_id", raw)),
        };
        let organization_id = match request.organization_id.trim() {
            "" => None,
            raw => violations.absorb(parse_id("organization_id", raw)),
        };
        let mut statuses = Vec::new();
        for (index, wire) in request.statuses.iter().enumerate() {
            match STATUSES
                .iter()
                .find(|(_, proto)| *proto as i32 == *wire && *wire != 0)
            {
                Some((domain, _)) => statuses.push(domain.as_str()),
                None => violations.add(format!("statuses[{index}]"), "不明な状態です / unknown status"),
            }
        }
        let page = violations.absorb(Page::from_request(request.page));
        violations.into_result()?;
        let (municipality, page) = (municipality.expect("checked"), page.expect("checked"));
        // A provider lists only the proposals addressed to it, whatever filter it sent.
        let organization_id = match authz::listable(&caller, municipality.as_str()) {
            Some(authz::Listing::All) => organization_id,
            Some(authz::Listing::OfOrganization(own)) => match organization_id {
                Some(asked) if asked != own => return Err(ServiceError::Denied.into()),
                _ => Some(own),
            },
            None => return Err(ServiceError::Denied.into()),
        };
        let rows: Vec<ProposalRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {PROPOSAL_COLUMNS} FROM proposal
             WHERE municipality_code = $1 AND ($2::uuid IS NULL OR need_id = $2)
               AND ($3::uuid IS NULL OR organization_id = $3)
               AND (cardinality($4::text[]) = 0 OR status = ANY($4))
               AND ($5::uuid IS NULL OR id > $5)
             ORDER BY id LIMIT $6"
        )))
        .bind(municipality.as_str())
        .bind(need_id)
        .bind(organization_id)
        .bind(&statuses)
        .bind(page.after)
        .bind(i64::from(page.size))
        .fetch_all(&self.pool)
        .await
        .map_err(ServiceError::from)?;
        let next_page_token = page.next_token_after(&rows, |row| row.id);
        Ok(Response::new(pb::ListProposalsResponse {
            proposals: rows.into_iter().map(proposal_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn approve_proposal(
        &self,
        request: Request<pb::ApproveProposalRequest>,
    ) -> Result<Response<pb::ApproveProposalResponse>, Status> {
        let caller = principal_of(&request)?;
        let request = request.into_inner();
        let id = parse_id("proposal_id", &request.proposal_id)?;
        authz::on_proposal(&self.pool, &caller, id, authz::ProposalAction::Approve).await?;
        // Answering moves the need on and may place it with another provider, of any
        // municipality: the service's own work across borders, once the caller is admitted.
        let row = db::as_tenant(db::EVERY_TENANT, async {
            let mut tx = self.pool.begin().await.map_err(ServiceError::from)?;
            let answered = proposals::approve(&mut tx, id, &who(&request.approved_by)).await?;
            audit_answer(&mut tx, id, "approved").await?;
            tx.commit().await.map_err(ServiceError::from)?;
            Ok::<_, ServiceError>(answered)
        })
        .await?;
        self.outbox_wake.notify_one();
        tracing::info!(proposal_id = %id, "proposal approved");
        Ok(Response::new(pb::ApproveProposalResponse {
            proposal: Some(proposal_to_proto(row)),
        }))
    }

    async fn accept_proposal(
        &self,
        request: Request<pb::AcceptProposalRequest>,
    ) -> Result<Response<pb::AcceptProposalResponse>, Status> {
        let caller = principal_of(&request)?;
        let request = request.into_inner();
        let id = parse_id("proposal_id", &request.proposal_id)?;
        authz::on_proposal(&self.pool, &caller, id, authz::ProposalAction::Answer).await?;
        // Answering moves the need on and may place it with another provider, of any
        // municipality: the service's own work across borders, once the caller is admitted.
        let row = db::as_tenant(db::EVERY_TENANT, async {
            let mut tx = self.pool.begin().await.map_err(ServiceError::from)?;
            let answered = proposals::accept(&mut tx, id, &who(&request.responded_by)).await?;
            audit_answer(&mut tx, id, "accepted").await?;
            tx.commit().await.map_err(ServiceError::from)?;
            Ok::<_, ServiceError>(answered)
        })
        .await?;
        self.outbox_wake.notify_one();
        tracing::info!(proposal_id = %id, "proposal accepted");
        Ok(Response::new(pb::AcceptProposalResponse {
            proposal: Some(proposal_to_proto(row)),
        }))
    }

    async fn reject_proposal(
        &self,
        request: Request<pb::RejectProposalRequest>,
    ) -> Result<Response<pb::RejectProposalResponse>, Status> {
        let caller = principal_of(&request)?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        let id = violations.absorb(parse_id("proposal_id", &request.proposal_id));
        let reason = text::nfkc(&request.reason).trim().to_string();
        if reason.is_empty() {
            violations.add(
                "reason",
                "お断りの理由を入力してください（例: 担い手が見つからない） / a reason is required",
            );
        }
        violations.into_result()?;
        let id: Uuid = id.expect("checked");
        authz::on_proposal(&self.pool, &caller, id, authz::ProposalAction::Answer).await?;
        // Answering moves the need on and may place it with another provider, of any
        // municipality: the service's own work across borders, once the caller is admitted.
        let (row, next) = db::as_tenant(db::EVERY_TENANT, async {
            let mut tx = self.pool.begin().await.map_err(ServiceError::from)?;
            let answered = proposals::reject(&mut tx, id, &reason, &who(&request.responded_by)).await?;
            audit_answer(&mut tx, id, "rejected").await?;
            tx.commit().await.map_err(ServiceError::from)?;
            Ok::<_, ServiceError>(answered)
        })
        .await?;
        self.outbox_wake.notify_one();
        tracing::info!(proposal_id = %id, rematched = next.is_some(), "proposal rejected");
        Ok(Response::new(pb::RejectProposalResponse {
            proposal: Some(proposal_to_proto(row)),
            next: next.map(proposal_to_proto),
        }))
    }

    async fn get_gap_map(
        &self,
        request: Request<pb::GetGapMapRequest>,
    ) -> Result<Response<pb::GetGapMapResponse>, Status> {
        let caller = principal_of(&request)?;
        let map = gap_map_of(&self.pool, &caller, request.get_ref()).await?;
        Ok(Response::new(pb::GetGapMapResponse {
            rows: map.rows.into_iter().map(gap_row_to_proto).collect(),
            municipality_codes: map.municipality_codes,
        }))
    }

    async fn export_gap_map(
        &self,
        request: Request<pb::ExportGapMapRequest>,
    ) -> Result<Response<pb::ExportGapMapResponse>, Status> {
        let caller = principal_of(&request)?;
        let request = request.into_inner();
        let wanted = request.map.unwrap_or_default();
        let map = gap_map_of(&self.pool, &caller, &wanted).await?;
        let date = chrono::Local::now().format("%Y%m%d");
        let (content, extension, content_type) = if request.format == pb::GapMapFormat::Csv as i32 {
            (gap_chart::csv(&map.rows), "csv", "text/csv; charset=utf-8")
        } else {
            let content = gap_chart::xlsx(&map.rows)
                .map_err(|error| ServiceError::Internal(anyhow::anyhow!("{error}")))?;
            (
                content,
                "xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )
        };
        Ok(Response::new(pb::ExportGapMapResponse {
            content,
            file_name: format!("見える化_{}_{date}.{extension}", wanted.code.trim()),
            content_type: content_type.into(),
        }))
    }

    async fn render_gap_map_svg(
        &self,
        request: Request<pb::GetGapMapRequest>,
    ) -> Result<Response<pb::RenderGapMapSvgResponse>, Status> {
        let caller = principal_of(&request)?;
        let map = gap_map_of(&self.pool, &caller, request.get_ref()).await?;
        let title = format!(
            "ニーズと地域資源の見える化（{}）",
            map.municipality_codes.join("・")
        );
        Ok(Response::new(pb::RenderGapMapSvgResponse {
            svg: gap_chart::svg(&title, &map.rows),
        }))
    }

    async fn get_matching_settings(
        &self,
        request: Request<pb::GetMatchingSettingsRequest>,
    ) -> Result<Response<pb::MatchingSettings>, Status> {
        let caller = principal_of(&request)?;
        let code = MunicipalityCode::parse_known(&request.get_ref().municipality_code)
            .map_err(|error| ServiceError::invalid("municipality_code", error.to_string()))?;
        if !authz::may_read_settings(&caller, code.as_str()) {
            return Err(ServiceError::Denied.into());
        }
        let mut conn = self.pool.acquire().await.map_err(ServiceError::from)?;
        let settings = proposals::settings(&mut conn, code.as_str())
            .await
            .map_err(ServiceError::from)?;
        let weights = weights::load(&mut conn, code.as_str())
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(settings_to_proto(
            code.as_str(),
            settings,
            &weights,
        )))
    }

    async fn set_matching_settings(
        &self,
        request: Request<pb::MatchingSettings>,
    ) -> Result<Response<pb::MatchingSettings>, Status> {
        let caller = principal_of(&request)?;
        let actor = audit::Actor::of(&request, &caller);
        let request = request.into_inner();
        let code = MunicipalityCode::parse_known(&request.municipality_code)
            .map_err(|error| ServiceError::invalid("municipality_code", error.to_string()))?;
        if !authz::may_change_settings(&caller, code.as_str()) {
            return Err(ServiceError::Denied.into());
        }
        let ttl = match request.proposal_ttl_seconds {
            0 => proposals::DEFAULT_TTL_SECONDS,
            seconds => i32::try_from(seconds).map_err(|_| {
                ServiceError::invalid(
                    "proposal_ttl_seconds",
                    "回答期限が長すぎます / proposal_ttl_seconds is too large",
                )
            })?,
        };
        let settings = Settings {
            require_approval: request.require_approval,
            proposal_ttl_seconds: ttl,
        };
        let changed: BTreeMap<String, i64> = request.weights.into_iter().collect();
        let in_force = weights::with_changes(&changed).map_err(|problems| {
            let mut violations = Violations::new();
            for (name, problem) in problems {
                violations.add(format!("weights[{name}]"), problem);
            }
            violations.into_result().expect_err("at least one problem")
        })?;
        let mut tx = self.pool.begin().await.map_err(ServiceError::from)?;
        proposals::save_settings(&mut tx, code.as_str(), settings)
            .await
            .map_err(ServiceError::from)?;
        weights::save_changes(&mut tx, code.as_str(), &changed)
            .await
            .map_err(ServiceError::from)?;
        audit::record_in(
            &mut tx,
            &actor,
            audit::Event {
                municipality_code: code.as_str(),
                action: audit::Action::Change,
                method: "SetMatchingSettings",
                object_kind: "settings",
                object_id: None,
                detail: format!(
                    "require_approval={} proposal_ttl_seconds={} weights={}",
                    settings.require_approval,
                    settings.proposal_ttl_seconds,
                    changed.keys().cloned().collect::<Vec<_>>().join(",")
                ),
            },
        )
        .await?;
        tx.commit().await.map_err(ServiceError::from)?;
        Ok(Response::new(settings_to_proto(
            code.as_str(),
            settings,
            &in_force,
        )))
    }
}

/// Loads the map a request asks for, filtered to its category if it names one.
async fn gap_map_of(
    pool: &PgPool,
    caller: &Principal,
    request: &pb::GetGapMapRequest,
) -> Result<gap_store::Map, Status> {
    let code = MunicipalityCode::parse_known(&request.code)
        .map_err(|error| ServiceError::invalid("code", error.to_string()))?;
    let is_prefecture = code.official().is_some_and(|entry| entry.is_prefecture());
    if !authz::may_see_gap_map(caller, code.as_str(), is_prefecture) {
        return Err(ServiceError::Denied.into());
    }
    let layer = match pb::GapMapLayer::try_from(request.layer) {
        Ok(pb::GapMapLayer::Municipality) => Some(Layer::Municipality),
        Ok(pb::GapMapLayer::DailyLifeArea) => Some(Layer::DailyLifeArea),
        _ => None,
    };
    let mut map = gap_store::load(pool, code.as_str(), layer)
        .await
        .map_err(ServiceError::from)?;
    if let Some(category) = text::normalised_non_empty(&request.category) {
        let code = known_category(pool, &category).await?;
        map.rows.retain(|row| row.category == code);
    }
    Ok(map)
}

/// A category the gap map can be filtered by: a bundled one (by code, name, reading or alias),
/// or a municipality's own (by code). An unknown one is refused: an empty map would say that
/// nobody in the area needs it.
async fn known_category(pool: &PgPool, category: &str) -> Result<String, Status> {
    if let Some(entry) = tsunagu_runtime::taxonomy::resolve_bundled(category) {
        return Ok(entry.code.clone());
    }
    let municipal: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM category WHERE code = $1)")
        .bind(category)
        .fetch_one(pool)
        .await
        .map_err(ServiceError::from)?;
    if municipal {
        Ok(category.to_string())
    } else {
        Err(ServiceError::invalid(
            "category",
            format!(
                "「{category}」というカテゴリはありません。ListCategories で一覧を確認してください / unknown category"
            ),
        )
        .into())
    }
}

fn count(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

fn gap_row_to_proto(row: GapRow) -> pb::GapMapRow {
    pb::GapMapRow {
        area_id: row.area_id.to_string(),
        area_name: row.area_name,
        category: row.category,
        needs: count(row.needs),
        awaiting_consent: count(row.awaiting_consent),
        proposed: count(row.proposed),
        accepted: count(row.accepted),
        unmatched: count(row.unmatched),
        unmatched_no_resource: count(row.unmatched_no_resource),
        unmatched_no_coverage: count(row.unmatched_no_coverage),
        unmatched_at_capacity: count(row.unmatched_at_capacity),
        capacity_offered: count(row.capacity_offered),
        capacity_used: count(row.capacity_used),
        area_issue_count: count(row.area_issue_count),
        unmatched_conditions: count(row.unmatched_conditions),
        completed: count(row.completed),
        on_hold: count(row.on_hold),
    }
}

fn settings_to_proto(code: &str, settings: Settings, in_force: &Weights) -> pb::MatchingSettings {
    pb::MatchingSettings {
        municipality_code: code.to_string(),
        require_approval: settings.require_approval,
        proposal_ttl_seconds: u32::try_from(settings.proposal_ttl_seconds).unwrap_or(0),
        weights: weights::NAMES
            .iter()
            .filter_map(|name| weights::get(in_force, name).map(|value| (name.to_string(), value)))
            .collect(),
    }
}

/// Puts an answer to proposal `id` on the audit trail of the need's municipality, in the
/// answer's transaction, as the call being handled (the auth layer's `audit::Call`).
async fn audit_answer(tx: &mut sqlx::PgConnection, id: Uuid, detail: &str) -> Result<(), ServiceError> {
    let Some(call) = audit::current_call() else {
        return Ok(());
    };
    let municipality: String = sqlx::query_scalar("SELECT municipality_code FROM proposal WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    audit::record_objects_in(
        tx,
        &call,
        audit::Action::Change,
        "proposal",
        &[(municipality, id)],
        detail,
    )
    .await
}
