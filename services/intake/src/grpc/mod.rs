//! The intake gRPC edge: converts proto ↔ domain and nothing else. One module per group of
//! calls; this one only routes each call to its handler.

mod area_issues;
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
        needs::submit(self, request.into_inner()).await
    }

    async fn submit_needs(&self, request: Request<pb::SubmitNeedsRequest>) -> Reply<pb::SubmitNeedsResponse> {
        needs::submit_batch(self, request.into_inner()).await
    }

    async fn import_need_stream(
        &self,
        request: Request<Streaming<pb::SubmitNeedRequest>>,
    ) -> Reply<pb::ImportNeedStreamResponse> {
        needs::import_stream(self, request.into_inner()).await
    }

    async fn import_needs_sheet(
        &self,
        request: Request<pb::ImportNeedsSheetRequest>,
    ) -> Reply<pb::ImportSheetResponse> {
        sheets::import_needs(self, request.into_inner()).await
    }

    async fn import_area_issues_sheet(
        &self,
        request: Request<pb::ImportAreaIssuesSheetRequest>,
    ) -> Reply<pb::ImportSheetResponse> {
        sheets::import_area_issues(self, request.into_inner()).await
    }

    async fn get_need(&self, request: Request<pb::GetNeedRequest>) -> Reply<pb::GetNeedResponse> {
        needs::get(self, request.into_inner()).await
    }

    async fn list_needs(&self, request: Request<pb::ListNeedsRequest>) -> Reply<pb::ListNeedsResponse> {
        needs::list(self, request.into_inner()).await
    }

    async fn update_need(&self, request: Request<pb::UpdateNeedRequest>) -> Reply<pb::UpdateNeedResponse> {
        needs::update(self, request.into_inner()).await
    }

    type WatchNeedStream = IntakeWatchStream;

    async fn watch_need(&self, request: Request<pb::WatchNeedRequest>) -> Reply<Self::WatchNeedStream> {
        needs::watch(self, request.into_inner()).await
    }

    async fn record_consent(
        &self,
        request: Request<pb::RecordConsentRequest>,
    ) -> Reply<pb::RecordConsentResponse> {
        consents::record(self, request.into_inner()).await
    }

    async fn withdraw_consent(
        &self,
        request: Request<pb::WithdrawConsentRequest>,
    ) -> Reply<pb::WithdrawConsentResponse> {
        consents::withdraw(self, request.into_inner()).await
    }

    async fn list_consents(
        &self,
        request: Request<pb::ListConsentsRequest>,
    ) -> Reply<pb::ListConsentsResponse> {
        consents::list(self, request.into_inner()).await
    }

    async fn get_shared_contact(
        &self,
        request: Request<pb::GetSharedContactRequest>,
    ) -> Reply<pb::GetSharedContactResponse> {
        consents::shared_contact(self, request.into_inner()).await
    }

    async fn transition_need(
        &self,
        request: Request<pb::TransitionNeedRequest>,
    ) -> Reply<pb::TransitionNeedResponse> {
        needs::transition(self, request.into_inner()).await
    }

    async fn list_need_history(
        &self,
        request: Request<pb::ListNeedHistoryRequest>,
    ) -> Reply<pb::ListNeedHistoryResponse> {
        needs::history(self, request.into_inner()).await
    }

    async fn list_needs_for_follow_up(
        &self,
        request: Request<pb::ListNeedsForFollowUpRequest>,
    ) -> Reply<pb::ListNeedsForFollowUpResponse> {
        needs::follow_up(self, request.into_inner()).await
    }

    async fn register_resident(
        &self,
        request: Request<pb::RegisterResidentRequest>,
    ) -> Reply<pb::RegisterResidentResponse> {
        residents::register(self, request.into_inner()).await
    }

    async fn get_resident(&self, request: Request<pb::GetResidentRequest>) -> Reply<pb::GetResidentResponse> {
        residents::get(self, request.into_inner()).await
    }

    async fn record_area_issue(
        &self,
        request: Request<pb::RecordAreaIssueRequest>,
    ) -> Reply<pb::RecordAreaIssueResponse> {
        area_issues::record(self, request.into_inner()).await
    }

    async fn list_area_issues(
        &self,
        request: Request<pb::ListAreaIssuesRequest>,
    ) -> Reply<pb::ListAreaIssuesResponse> {
        area_issues::list(self, request.into_inner()).await
    }
}
