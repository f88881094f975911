//! The matching gRPC edge.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tonic::service::Routes;
use tonic::{Request, Response, Status};
use tsunagu_proto::matching::v1 as pb;
use tsunagu_proto::matching::v1::matching_service_server::{MatchingService, MatchingServiceServer};
use tsunagu_runtime::MunicipalityCode;
use tsunagu_runtime::error::{ServiceError, Violations};
use tsunagu_runtime::grpc::{Page, timestamp};
use uuid::Uuid;

pub fn routes(pool: PgPool) -> Routes {
    Routes::new(MatchingServiceServer::new(MatchingApi { pool }))
}

struct MatchingApi {
    pool: PgPool,
}

#[derive(sqlx::FromRow)]
struct ProposalRow {
    id: Uuid,
    municipality_code: String,
    need_id: Uuid,
    resource_id: Uuid,
    organization_id: Uuid,
    category: String,
    proposed_at: DateTime<Utc>,
}

#[tonic::async_trait]
impl MatchingService for MatchingApi {
    async fn list_proposals(
        &self,
        request: Request<pb::ListProposalsRequest>,
    ) -> Result<Response<pb::ListProposalsResponse>, Status> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        let municipality = violations.check(
            "municipality_code",
            MunicipalityCode::parse_known(&request.municipality_code),
        );
        let need_id = match request.need_id.trim() {
            "" => None,
            raw => violations.check(
                "need_id",
                raw.parse::<Uuid>().map_err(|_| "IDの形式が不正です / not a UUID"),
            ),
        };
        violations.into_result()?;
        let municipality = municipality.expect("checked");
        let page = Page::from_request(request.page)?;

        let rows: Vec<ProposalRow> = sqlx::query_as(
            "SELECT id, municipality_code, need_id, resource_id, organization_id, category, proposed_at
             FROM proposal
             WHERE municipality_code = $1 AND ($2::uuid IS NULL OR need_id = $2)
               AND ($3::uuid IS NULL OR id > $3)
             ORDER BY id LIMIT $4",
        )
        .bind(municipality.as_str())
        .bind(need_id)
        .bind(page.after)
        .bind(i64::from(page.size))
        .fetch_all(&self.pool)
        .await
        .map_err(ServiceError::from)?;

        let next_page_token = page.next_token_after(&rows, |row| row.id);
        let proposals = rows
            .into_iter()
            .map(|row| pb::Proposal {
                id: row.id.to_string(),
                municipality_code: row.municipality_code,
                need_id: row.need_id.to_string(),
                resource_id: row.resource_id.to_string(),
                organization_id: row.organization_id.to_string(),
                category: row.category,
                status: pb::ProposalStatus::Proposed.into(),
                proposed_at: Some(timestamp(row.proposed_at)),
            })
            .collect();
        Ok(Response::new(pb::ListProposalsResponse {
            proposals,
            next_page_token,
        }))
    }
}
