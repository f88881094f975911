//! The intake gRPC edge: converts proto ↔ domain and nothing else. One module per group of
//! calls; this one checks who may make each call (`authz`) and routes it to its handler.

mod area_issues;
mod audit;
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

use crate::audit::{Action, Actor, Event};
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

fn id_of(text: &str) -> Option<uuid::Uuid> {
    text.parse().ok()
}

impl IntakeApi {
    /// Puts what a successful call did on record (`crate::audit`).
    async fn audit(&self, actor: &Actor, event: Event<'_>) -> Result<(), Status> {
        crate::audit::record(&self.pool, actor, event)
            .await
            .map_err(Status::from)
    }
}

pub type IntakeWatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchNeedResponse, Status>> + Send>>;

#[tonic::async_trait]
impl IntakeService for IntakeApi {
    async fn submit_need(&self, request: Request<pb::SubmitNeedRequest>) -> Reply<pb::SubmitNeedResponse> {
        let caller = authz::caller(&request)?;
        let actor = Actor::of(&request, &caller);
        let request = request.into_inner();
        authz::in_municipality(&caller, &request.municipality_code)?;
        // Audited in the need's own transaction (`store::submit_need`).
        needs::submit(self, request, &actor).await
    }

    async fn submit_needs(&self, request: Request<pb::SubmitNeedsRequest>) -> Reply<pb::SubmitNeedsResponse> {
        let caller = authz::caller(&request)?;
        let actor = Actor::of(&request, &caller);
        let request = request.into_inner();
        for need in &request.needs {
            authz::in_municipality(&caller, &need.municipality_code)?;
        }
        needs::submit_batch(self, request, &actor).await
    }

    async fn import_need_stream(
        &self,
        request: Request<Streaming<pb::SubmitNeedRequest>>,
    ) -> Reply<pb::ImportNeedStreamResponse> {
        let caller = authz::caller(&request)?;
        let actor = Actor::of(&request, &caller);
        needs::import_stream(self, &caller, request.into_inner(), &actor).await
    }

    async fn import_needs_sheet(
        &self,
        request: Request<pb::ImportNeedsSheetRequest>,
    ) -> Reply<pb::ImportSheetResponse> {
        let caller = authz::caller(&request)?;
        let actor = Actor::of(&request, &caller);
        let request = request.into_inner();
        authz::in_municipality(&caller, &request.municipality_code)?;
        // Each row's need is audited in its own transaction.
        sheets::import_needs(self, request, &actor).await
    }

    async fn import_area_issues_sheet(
        &self,
        request: Request<pb::ImportAreaIssuesSheetRequest>,
    ) -> Reply<pb::ImportSheetResponse> {
        let caller = authz::caller(&request)?;
        let actor = Actor::of(&request, &caller);
        let request = request.into_inner();
        authz::in_municipality(&caller, &request.municipality_code)?;
        let (municipality, dry_run) = (request.municipality_code.trim().to_string(), request.dry_run);
        let reply = sheets::import_area_issues(self, request).await?;
        if !dry_run {
            self.audit(
                &actor,
                Event {
                    municipality_code: &municipality,
                    action: Action::Change,
                    method: "ImportAreaIssuesSheet",
                    object_kind: "area_issue",
                    object_id: None,
                    detail: format!(
                        "created={} unchanged={} rejected={}",
                        reply.get_ref().created,
                        reply.get_ref().unchanged,
                        reply.get_ref().rejected.len()
                    ),
                },
            )
            .await?;
        }
        Ok(reply)
    }

    async fn get_need(&self, request: Request<pb::GetNeedRequest>) -> Reply<pb::GetNeedResponse> {
        let caller = authz::caller(&request)?;
        let actor = Actor::of(&request, &caller);
        let request = request.into_inner();
        let municipality = authz::on_need(&self.pool, &caller, &request.id).await?;
        let full = request.view == pb::NeedView::Full as i32;
        let need_id = id_of(&request.id);
        let reply = needs::get(self, request).await?;
        // The private notes and the referrer's contact are personal data: on record.
        if full {
            self.audit(
                &actor,
                Event {
                    municipality_code: &municipality,
                    action: Action::ReadPersonalData,
                    method: "GetNeed",
                    object_kind: "need",
                    object_id: need_id,
                    detail: "view=FULL".into(),
                },
            )
            .await?;
        }
        Ok(reply)
    }

    async fn list_needs(&self, request: Request<pb::ListNeedsRequest>) -> Reply<pb::ListNeedsResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        authz::in_municipality(&caller, &request.municipality_code)?;
        needs::list(self, request).await
    }

    async fn update_need(&self, request: Request<pb::UpdateNeedRequest>) -> Reply<pb::UpdateNeedResponse> {
        let caller = authz::caller(&request)?;
        let actor = Actor::of(&request, &caller);
        let request = request.into_inner();
        let id = request
            .need
            .as_ref()
            .map(|need| need.id.clone())
            .unwrap_or_default();
        let municipality = authz::on_need(&self.pool, &caller, &id).await?;
        let paths = request
            .update_mask
            .as_ref()
            .map(|mask| mask.paths.join(","))
            .unwrap_or_default();
        let reply = needs::update(self, request).await?;
        self.audit(
            &actor,
            Event {
                municipality_code: &municipality,
                action: Action::Change,
                method: "UpdateNeed",
                object_kind: "need",
                object_id: id_of(&id),
                detail: format!("fields={paths}"),
            },
        )
        .await?;
        Ok(reply)
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
        let actor = Actor::of(&request, &caller);
        let request = request.into_inner();
        let municipality = authz::on_need(&self.pool, &caller, &request.need_id).await?;
        let need_id = id_of(&request.need_id);
        let reply = consents::record(self, request).await?;
        self.audit(
            &actor,
            Event {
                municipality_code: &municipality,
                action: Action::Change,
                method: "RecordConsent",
                object_kind: "need",
                object_id: need_id,
                detail: "consent recorded".into(),
            },
        )
        .await?;
        Ok(reply)
    }

    async fn withdraw_consent(
        &self,
        request: Request<pb::WithdrawConsentRequest>,
    ) -> Reply<pb::WithdrawConsentResponse> {
        let caller = authz::caller(&request)?;
        let actor = Actor::of(&request, &caller);
        let request = request.into_inner();
        let municipality = authz::on_need(&self.pool, &caller, &request.need_id).await?;
        let need_id = id_of(&request.need_id);
        let reply = consents::withdraw(self, request).await?;
        self.audit(
            &actor,
            Event {
                municipality_code: &municipality,
                action: Action::Change,
                method: "WithdrawConsent",
                object_kind: "need",
                object_id: need_id,
                detail: "consent withdrawn".into(),
            },
        )
        .await?;
        Ok(reply)
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
        let actor = Actor::of(&request, &caller);
        let request = request.into_inner();
        let municipality = authz::on_shared_contact(&self.pool, &caller, &request.need_id).await?;
        let need_id = id_of(&request.need_id);
        let reply = consents::shared_contact(self, request).await?;
        self.audit(
            &actor,
            Event {
                municipality_code: &municipality,
                action: Action::ReadPersonalData,
                method: "GetSharedContact",
                object_kind: "contact",
                object_id: need_id,
                detail: String::new(),
            },
        )
        .await?;
        Ok(reply)
    }

    async fn transition_need(
        &self,
        request: Request<pb::TransitionNeedRequest>,
    ) -> Reply<pb::TransitionNeedResponse> {
        let caller = authz::caller(&request)?;
        let actor = Actor::of(&request, &caller);
        let request = request.into_inner();
        let municipality = authz::on_need(&self.pool, &caller, &request.need_id).await?;
        let need_id = id_of(&request.need_id);
        let reply = needs::transition(self, request).await?;
        let to = reply
            .get_ref()
            .need
            .as_ref()
            .map(|need| need.status().as_str_name())
            .unwrap_or_default();
        self.audit(
            &actor,
            Event {
                municipality_code: &municipality,
                action: Action::Change,
                method: "TransitionNeed",
                object_kind: "need",
                object_id: need_id,
                detail: format!("to={to}"),
            },
        )
        .await?;
        Ok(reply)
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
        let actor = Actor::of(&request, &caller);
        let request = request.into_inner();
        authz::in_municipality(&caller, &request.municipality_code)?;
        let municipality = request.municipality_code.trim().to_string();
        let reply = residents::register(self, request).await?;
        let resident_id = reply
            .get_ref()
            .resident
            .as_ref()
            .and_then(|resident| id_of(&resident.id));
        self.audit(
            &actor,
            Event {
                municipality_code: &municipality,
                action: Action::Change,
                method: "RegisterResident",
                object_kind: "resident",
                object_id: resident_id,
                detail: String::new(),
            },
        )
        .await?;
        Ok(reply)
    }

    async fn get_resident(&self, request: Request<pb::GetResidentRequest>) -> Reply<pb::GetResidentResponse> {
        let caller = authz::caller(&request)?;
        let actor = Actor::of(&request, &caller);
        let request = request.into_inner();
        let municipality = authz::on_resident(&self.pool, &caller, &request.id).await?;
        let resident_id = id_of(&request.id);
        let reply = residents::get(self, request).await?;
        self.audit(
            &actor,
            Event {
                municipality_code: &municipality,
                action: Action::ReadPersonalData,
                method: "GetResident",
                object_kind: "resident",
                object_id: resident_id,
                detail: String::new(),
            },
        )
        .await?;
        Ok(reply)
    }

    async fn record_area_issue(
        &self,
        request: Request<pb::RecordAreaIssueRequest>,
    ) -> Reply<pb::RecordAreaIssueResponse> {
        let caller = authz::caller(&request)?;
        let actor = Actor::of(&request, &caller);
        let request = request.into_inner();
        let municipality = request
            .issue
            .as_ref()
            .map(|issue| issue.municipality_code.as_str())
            .unwrap_or_default();
        authz::in_municipality(&caller, municipality)?;
        let municipality = municipality.trim().to_string();
        let reply = area_issues::record(self, request).await?;
        let issue_id = reply.get_ref().issue.as_ref().and_then(|issue| id_of(&issue.id));
        self.audit(
            &actor,
            Event {
                municipality_code: &municipality,
                action: Action::Change,
                method: "RecordAreaIssue",
                object_kind: "area_issue",
                object_id: issue_id,
                detail: String::new(),
            },
        )
        .await?;
        Ok(reply)
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

    async fn list_audit_entries(
        &self,
        request: Request<pb::ListAuditEntriesRequest>,
    ) -> Reply<pb::ListAuditEntriesResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        authz::on_audit(&caller, &request.municipality_code)?;
        audit::list(self, request).await
    }

    async fn export_audit_entries(
        &self,
        request: Request<pb::ListAuditEntriesRequest>,
    ) -> Reply<pb::ExportAuditEntriesResponse> {
        let caller = authz::caller(&request)?;
        let request = request.into_inner();
        authz::on_audit(&caller, &request.municipality_code)?;
        audit::export(self, request).await
    }
}
