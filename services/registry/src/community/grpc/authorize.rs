//! Who may make each `CommunityService` call (`crate::authz`): helpers' records carry contact
//! details, so reading them is limited like writing; coordinators and 協議体 are the
//! municipality's public record, read by every key and written by its staff.

use tsunagu_proto::registry::v1 as pb;
use tsunagu_runtime::auth::{BoxFuture, Principal};
use tsunagu_runtime::error::ServiceResult;

use super::CommunityApi;
use crate::authz::{self, Table};

pub(super) trait Authorize {
    fn authorize<'a>(
        &'a self,
        api: &'a CommunityApi,
        caller: &'a Principal,
    ) -> BoxFuture<'a, ServiceResult<()>>;
}

/// Requests anyone with a key may make.
macro_rules! open_to_every_key {
    ($($request:ident),+) => {
        $(impl Authorize for pb::$request {
            fn authorize<'a>(&'a self, _: &'a CommunityApi, _: &'a Principal) -> BoxFuture<'a, ServiceResult<()>> {
                Box::pin(async { Ok(()) })
            }
        })+
    };
}

open_to_every_key!(
    GetCoordinatorRequest,
    ListCoordinatorsRequest,
    BatchGetCoordinatorsRequest,
    ListCoordinatorHistoryRequest,
    GetCouncilRequest,
    ListCouncilsRequest,
    BatchGetCouncilsRequest,
    ListCouncilHistoryRequest,
    ListCouncilMeetingsRequest
);

/// Requests about one object, named by `$id`, that the caller must be able to write.
macro_rules! writes_object {
    ($($request:ident => $table:expr, provider: $provider:expr, |$r:ident| $id:expr;)+) => {
        $(impl Authorize for pb::$request {
            fn authorize<'a>(&'a self, api: &'a CommunityApi, caller: &'a Principal) -> BoxFuture<'a, ServiceResult<()>> {
                Box::pin(async move {
                    let $r = self;
                    authz::writes_object(&api.pool, caller, $table, &$id, $provider).await
                })
            }
        })+
    };
}

writes_object! {
    CreateHelperRequest => Table::Organization, provider: true,
        |r| r.helper.as_ref().map(|h| h.organization_id.clone()).unwrap_or_default();
    GetHelperRequest => Table::Helper, provider: true, |r| r.id.clone();
    UpdateHelperRequest => Table::Helper, provider: true,
        |r| r.helper.as_ref().map(|h| h.id.clone()).unwrap_or_default();
    DeleteHelperRequest => Table::Helper, provider: true, |r| r.id.clone();
    ListHelperHistoryRequest => Table::Helper, provider: true, |r| r.id.clone();
    UpdateCoordinatorRequest => Table::Coordinator, provider: false,
        |r| r.coordinator.as_ref().map(|c| c.id.clone()).unwrap_or_default();
    DeleteCoordinatorRequest => Table::Coordinator, provider: false, |r| r.id.clone();
    UpdateCouncilRequest => Table::Council, provider: false,
        |r| r.council.as_ref().map(|c| c.id.clone()).unwrap_or_default();
    DeleteCouncilRequest => Table::Council, provider: false, |r| r.id.clone();
    AddCouncilMeetingRequest => Table::Council, provider: false, |r| r.council_id.clone();
    UpdateCouncilMeetingRequest => Table::CouncilMeeting, provider: false,
        |r| r.meeting.as_ref().map(|m| m.id.clone()).unwrap_or_default();
}

/// Requests naming the municipality they write in.
macro_rules! writes_in {
    ($($request:ident, |$r:ident| $code:expr;)+) => {
        $(impl Authorize for pb::$request {
            fn authorize<'a>(&'a self, _: &'a CommunityApi, caller: &'a Principal) -> BoxFuture<'a, ServiceResult<()>> {
                Box::pin(async move {
                    let $r = self;
                    authz::writes_in(caller, &$code)
                })
            }
        })+
    };
}

writes_in! {
    ImportHelpersRequest, |r| r.municipality_code.clone();
    ExportHelpersRequest, |r| r.municipality_code.clone();
    CreateCoordinatorRequest, |r| r.coordinator.as_ref().map(|c| c.municipality_code.clone()).unwrap_or_default();
    CreateCouncilRequest, |r| r.council.as_ref().map(|c| c.municipality_code.clone()).unwrap_or_default();
}

impl Authorize for pb::ListHelpersRequest {
    fn authorize<'a>(
        &'a self,
        api: &'a CommunityApi,
        caller: &'a Principal,
    ) -> BoxFuture<'a, ServiceResult<()>> {
        Box::pin(async move {
            authz::lists_helpers(
                &api.pool,
                caller,
                &self.municipality_code,
                &self.area_id,
                &self.organization_id,
            )
            .await
        })
    }
}

impl Authorize for pb::BatchGetHelpersRequest {
    fn authorize<'a>(
        &'a self,
        api: &'a CommunityApi,
        caller: &'a Principal,
    ) -> BoxFuture<'a, ServiceResult<()>> {
        Box::pin(async move {
            for id in &self.ids {
                authz::reads_helper(&api.pool, caller, id).await?;
            }
            Ok(())
        })
    }
}
