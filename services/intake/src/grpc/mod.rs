//! The intake gRPC edge: converts proto ↔ domain and nothing else. One module per group of
//! calls; this one checks who may make each call (`authz`) and routes it to its handler.

mod area_issues;
mod authz;
mod consents;
mod convert;
mod needs;
mod residents;
mod sheets;

use std::pin::Pin;
use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_stream::Stream;
use tonic::service::Routes;
use tonic::{Request, Response, Status, Streaming};
use tsunagu_proto::intake::v1 as pb;
use tsunagu_proto::intake::v1::intake_service_server::{IntakeService, IntakeServiceServer};

use crate::sealing::Keyring;
use crate::watch::Changes;

/// What every handler may use.
pub struct IntakeApi {
    pub pool: PgPool,
    pub outbox_wake: Arc<Notify>,
    /// `None` when no key is configured: needs are accepted, personal data and notes refused.
    pub keys: Option<Arc<Keyring>>,
    pub changes: Changes,
    /// Open needs unmoved for this many days are due for follow-up.
    pub follow_up_days: u32,
}

impl IntakeApi {
    pub fn keys(&self) -> Option<&Keyring> {
        self.keys.as_deref()
    }
}

pub fn routes(api: IntakeApi) -> Routes {
    Routes::new(
        IntakeServiceServer::new(api)
            .max_decoding_message_size(sheets::MAX_SHEET_BYTES)
            .max_encoding_message_size(sheets::MAX_SHEET_BYTES),
    )
}

type Reply<T> = Result<Response<T>, Status>;

pub type IntakeWatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchNeedResponse, Status>> + Send>>;

#[tonic::async_trait]
impl IntakeService for IntakeApi {
    async fn submit_need(&self, request: Request<pb::SubmitNeedRequest>) -> Reply<pb::SubmitNeedResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        authz::in_municipality(&caller, &request.municipality_code)?;
        needs::submit(self, request).await
    }

    async fn submit_needs(&self, request: Request<pb::SubmitNeedsRequest>) -> Reply<pb::SubmitNeedsResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        for need in &request.needs {
            authz::in_municipality(&caller, &need.municipality_code)?;
        }
        needs::submit_batch(self, request).await
    }

    async fn import_need_stream(
        &self,
        request: Request<Streaming<pb::SubmitNeedRequest>>,
    ) -> Reply<pb::ImportNeedStreamResponse> {
        let caller = authz::caller(&request)?;
        needs::import_stream(self, &caller, request.into_inner()).await
    }

    async fn import_needs_sheet(
        &self,
        request: Request<pb::ImportNeedsSheetRequest>,
    ) -> Reply<pb::ImportSheetResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        authz::in_municipality(&caller, &request.municipality_code)?;
        sheets::import_needs(self, request).await
    }

    async fn import_area_issues_sheet(
        &self,
        request: Request<pb::ImportAreaIssuesSheetRequest>,
    ) -> Reply<pb::ImportSheetResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        authz::in_municipality(&caller, &request.municipality_code)?;
        sheets::import_area_issues(self, request).await
    }

    async fn get_need(&self, request: Request<pb::GetNeedRequest>) -> Reply<pb::GetNeedResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        authz::on_need(&self.pool, &caller, &request.id).await?;
        needs::get(self, request).await
    }

    async fn list_needs(&self, request: Request<pb::ListNeedsRequest>) -> Reply<pb::ListNeedsResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        authz::in_municipality(&caller, &request.municipality_code)?;
        needs::list(self, request).await
    }

    async fn update_need(&self, request: Request<pb::UpdateNeedRequest>) -> Reply<pb::UpdateNeedResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        let id = request
            .need
            .as_ref()
            .map(|need| need.id.as_str())
            .unwrap_or_default();
        authz::on_need(&self.pool, &caller, id).await?;
        needs::update(self, request).await
    }

    type WatchNeedStream = IntakeWatchStream;

    async fn watch_need(&self, request: Request<pb::WatchNeedRequest>) -> Reply<Self::WatchNeedStream> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        authz::on_need(&self.pool, &caller, &request.need_id).await?;
        needs::watch(self, request).await
    }

    async fn record_consent(
        &self,
        request: Request<pb::RecordConsentRequest>,
    ) -> Reply<pb::RecordConsentResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        authz::on_need(&self.pool, &caller, &request.need_id).await?;
        consents::record(self, request).await
    }

    async fn withdraw_consent(
        &self,
        request: Request<pb::WithdrawConsentRequest>,
    ) -> Reply<pb::WithdrawConsentResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        authz::on_need(&self.pool, &caller, &request.need_id).await?;
        consents::withdraw(self, request).await
    }

    async fn list_consents(
        &self,
        request: Request<pb::ListConsentsRequest>,
    ) -> Reply<pb::ListConsentsResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        authz::on_need(&self.pool, &caller, &request.need_id).await?;
        consents::list(self, request).await
    }

    async fn get_shared_contact(
        &self,
        request: Request<pb::GetSharedContactRequest>,
    ) -> Reply<pb::GetSharedContactResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        authz::on_shared_contact(&self.pool, &caller, &request.need_id).await?;
        consents::shared_contact(self, request).await
    }

    async fn transition_need(
        &self,
        request: Request<pb::TransitionNeedRequest>,
    ) -> Reply<pb::TransitionNeedResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        authz::on_need(&self.pool, &caller, &request.need_id).await?;
        needs::transition(self, request).await
    }

    async fn list_need_history(
        &self,
        request: Request<pb::ListNeedHistoryRequest>,
    ) -> Reply<pb::ListNeedHistoryResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        authz::on_need(&self.pool, &caller, &request.need_id).await?;
        needs::history(self, request).await
    }

    async fn list_needs_for_follow_up(
        &self,
        request: Request<pb::ListNeedsForFollowUpRequest>,
    ) -> Reply<pb::ListNeedsForFollowUpResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        authz::in_municipality(&caller, &request.municipality_code)?;
        needs::follow_up(self, request).await
    }

    async fn register_resident(
        &self,
        request: Request<pb::RegisterResidentRequest>,
    ) -> Reply<pb::RegisterResidentResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        authz::in_municipality(&caller, &request.municipality_code)?;
        residents::register(self, request).await
    }

    async fn get_resident(&self, request: Request<pb::GetResidentRequest>) -> Reply<pb::GetResidentResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        authz::on_resident(&self.pool, &caller, &request.id).await?;
        residents::get(self, request).await
    }

    async fn record_area_issue(
        &self,
        request: Request<pb::RecordAreaIssueRequest>,
    ) -> Reply<pb::RecordAreaIssueResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        let municipality = request
            .issue
            .as_ref()
            .map(|issue| issue.municipality_code.as_str())
            .unwrap_or_default();
        authz::in_municipality(&caller, municipality)?;
        area_issues::record(self, request).await
    }

    async fn list_area_issues(
        &self,
        request: Request<pb::ListAreaIssuesRequest>,
    ) -> Reply<pb::ListAreaIssuesResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        authz::in_municipality(&caller, &request.municipality_code)?;
        area_issues::list(self, request).await
    }
}
