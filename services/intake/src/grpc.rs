//! The intake gRPC edge: converts proto ↔ domain and nothing else.

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::Notify;
use tonic::service::Routes;
use tonic::{Request, Response, Status};
use tsunagu_proto::intake::v1 as pb;
use tsunagu_proto::intake::v1::intake_service_server::{IntakeService, IntakeServiceServer};
use tsunagu_runtime::grpc::{parse_id, timestamp};

use crate::domain::{NeedInput, NewNeed, Urgency};
use crate::store::{self, NeedRow};

pub fn routes(pool: PgPool, outbox_wake: Arc<Notify>) -> Routes {
    Routes::new(IntakeServiceServer::new(IntakeApi { pool, outbox_wake }))
}

struct IntakeApi {
    pool: PgPool,
    outbox_wake: Arc<Notify>,
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
        status: pb::NeedStatus::Submitted.into(),
        submitted_at: Some(timestamp(need.submitted_at)),
    }
}
