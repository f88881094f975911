//! Every write to the registry is on the audit trail (issue 17), by construction rather than by
//! a line in each handler — which is how `CreateArea`, `VerifyResource`, `SetFreshnessPeriod`
//! and `CreateCategory` came to leave none: the trail was written as a side effect of the
//! field history (`history::record`), and those four change nothing that keeps field history.
//!
//! Two halves:
//! - [`changed`] is the one recording point: a store that changes something puts each object
//!   it changed on record here, inside its own transaction (on record exactly when it
//!   commits). The field history calls it for every versioned entity.
//! - [`Guarded`] is the gRPC edge of `RegistryService`, `CommunityService` and
//!   `AccessService`. Every method not in [`READ_ONLY`] is a write; a write that succeeded
//!   without recording any object (an import whose every row was refused or unchanged, or a
//!   new write whose store records nothing) is put on record as a call of its method, so no
//!   write is ever missing from the trail. A new method is a write until it is named here as a read.
//!   `tests/tests/system/registry_audit.rs` takes every method from the descriptor set and
//!   calls every write.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use sqlx::{PgConnection, PgPool};
use tonic::codegen::{BoxFuture, Context, Poll, Service, http};
use tonic::server::NamedService;
use tsunagu_runtime::audit::{self, Action, Event};
use tsunagu_runtime::auth::Principal;
use tsunagu_runtime::error::ServiceResult;
use uuid::Uuid;

/// The methods that change nothing (`service/method`, as in the request path). Everything
/// else is a write and audited.
pub const READ_ONLY: &[&str] = &[
    "tsunagu.registry.v1.RegistryService/GetArea",
    "tsunagu.registry.v1.RegistryService/BatchGetAreas",
    "tsunagu.registry.v1.RegistryService/ListAreaHistory",
    "tsunagu.registry.v1.RegistryService/ListAreas",
    "tsunagu.registry.v1.RegistryService/ListAncestors",
    "tsunagu.registry.v1.RegistryService/ListDescendants",
    "tsunagu.registry.v1.RegistryService/CheckAreaContains",
    "tsunagu.registry.v1.RegistryService/SearchAreas",
    "tsunagu.registry.v1.RegistryService/GetOrganization",
    "tsunagu.registry.v1.RegistryService/ListOrganizations",
    "tsunagu.registry.v1.RegistryService/BatchGetOrganizations",
    "tsunagu.registry.v1.RegistryService/ListOrganizationHistory",
    "tsunagu.registry.v1.RegistryService/GetResource",
    "tsunagu.registry.v1.RegistryService/ListResources",
    "tsunagu.registry.v1.RegistryService/ListStaleResources",
    "tsunagu.registry.v1.RegistryService/GetFreshnessPeriod",
    "tsunagu.registry.v1.RegistryService/BatchGetResources",
    "tsunagu.registry.v1.RegistryService/ListResourceHistory",
    "tsunagu.registry.v1.RegistryService/ListCategories",
    "tsunagu.registry.v1.RegistryService/ExportResources",
    "tsunagu.registry.v1.RegistryService/ExportResourcesHsds",
    "tsunagu.registry.v1.RegistryService/ExportOrganizations",
    "tsunagu.registry.v1.CommunityService/GetHelper",
    "tsunagu.registry.v1.CommunityService/ListHelpers",
    "tsunagu.registry.v1.CommunityService/BatchGetHelpers",
    "tsunagu.registry.v1.CommunityService/ListHelperHistory",
    "tsunagu.registry.v1.CommunityService/ExportHelpers",
    "tsunagu.registry.v1.CommunityService/GetCoordinator",
    "tsunagu.registry.v1.CommunityService/ListCoordinators",
    "tsunagu.registry.v1.CommunityService/BatchGetCoordinators",
    "tsunagu.registry.v1.CommunityService/ListCoordinatorHistory",
    "tsunagu.registry.v1.CommunityService/GetCouncil",
    "tsunagu.registry.v1.CommunityService/ListCouncils",
    "tsunagu.registry.v1.CommunityService/BatchGetCouncils",
    "tsunagu.registry.v1.CommunityService/ListCouncilHistory",
    "tsunagu.registry.v1.CommunityService/ListCouncilMeetings",
    "tsunagu.access.v1.AccessService/ListApiKeys",
    "tsunagu.access.v1.AccessService/IntrospectApiKey",
];

/// The object kind of an entry that records a write call as a whole.
pub const CALL_KIND: &str = "call";

tokio::task_local! {
    /// How many objects the write being handled has put on record.
    static RECORDED: Arc<AtomicUsize>;
}

/// Puts object `id` (`None`: an object without an id, such as a municipality's setting) of
/// `kind` in `municipality_code`, changed by the current call, on the audit trail, in the
/// caller's transaction. The registry's own work (the official list at start, the sweep) is no
/// call and records nothing.
pub async fn changed(
    tx: &mut PgConnection,
    kind: &'static str,
    municipality_code: &str,
    id: Option<Uuid>,
    detail: &str,
) -> ServiceResult<()> {
    let Some(call) = audit::current_call() else {
        return Ok(());
    };
    let event = Event {
        municipality_code,
        action: Action::Change,
        method: static_name(&call.method),
        object_kind: kind,
        object_id: id,
        detail: detail.to_string(),
    };
    audit::record_in(tx, &call.actor, event).await?;
    // Outside the edge (a call the guard does not wrap) there is nothing to count.
    let _ = RECORDED.try_with(|recorded| recorded.fetch_add(1, Ordering::Relaxed));
    Ok(())
}

/// Puts many objects of `kind` (`(municipality, id)`), changed by the current call, on the
/// audit trail in one statement, in the caller's transaction. Each goes on its municipality's
/// trail where the caller's tenant reaches it (the trail has the tenant wall of every table),
/// else on the caller's own (a prefecture's administrator importing the national list).
pub async fn changed_many(
    tx: &mut PgConnection,
    kind: &'static str,
    objects: &[(String, Uuid)],
    detail: &str,
) -> ServiceResult<()> {
    let Some(call) = audit::current_call() else {
        return Ok(());
    };
    if objects.is_empty() {
        return Ok(());
    }
    let codes: Vec<&str> = objects.iter().map(|(code, _)| code.as_str()).collect();
    let trails: Vec<String> = sqlx::query_scalar(
        "SELECT CASE WHEN tenant_reaches(code) THEN code
                     ELSE coalesce(nullif(current_setting('tsunagu.tenant', true), ''), code) END
         FROM unnest($1::text[]) WITH ORDINALITY AS c (code, n) ORDER BY n",
    )
    .bind(&codes)
    .fetch_all(&mut *tx)
    .await?;
    let on_trails: Vec<(String, Uuid)> = trails
        .into_iter()
        .zip(objects.iter().map(|(_, id)| *id))
        .collect();
    audit::record_objects_in(tx, &call, Action::Change, kind, &on_trails, detail).await?;
    let _ = RECORDED.try_with(|recorded| recorded.fetch_add(objects.len(), Ordering::Relaxed));
    Ok(())
}

/// A method's name as `&'static str`, as the audit API's `Event` takes it. The names are those
/// of the services' methods that were called, so the set stays small.
fn static_name(name: &str) -> &'static str {
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.insert(leaked);
    leaked
}

/// Whether the request path (`/package.Service/Method`) names a write.
pub fn is_write(path: &str) -> bool {
    !READ_ONLY.contains(&path.trim_start_matches('/'))
}

/// A service of the registry with its writes guarded: see the module's documentation.
#[derive(Clone)]
pub struct Guarded<S> {
    inner: S,
    pool: PgPool,
}

impl<S> Guarded<S> {
    pub fn new(pool: PgPool, inner: S) -> Guarded<S> {
        Guarded { inner, pool }
    }
}

impl<S: NamedService> NamedService for Guarded<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<http::Request<B>> for Guarded<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The service that was polled ready handles this call; a clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if !is_write(request.uri().path()) {
            return Box::pin(inner.call(request));
        }
        let pool = self.pool.clone();
        let scope = request
            .extensions()
            .get::<Principal>()
            .map(|caller| caller.scope_code.clone())
            .unwrap_or_default();
        Box::pin(async move {
            let recorded = Arc::new(AtomicUsize::new(0));
            let response = RECORDED.scope(recorded.clone(), inner.call(request)).await?;
            if succeeded(&response) && recorded.load(Ordering::Relaxed) == 0 {
                record_call(&pool, &scope).await;
            }
            Ok(response)
        })
    }
}

/// Whether a unary call succeeded: an error is answered "trailers-only", its status in the
/// headers.
fn succeeded(response: &http::Response<tonic::body::Body>) -> bool {
    response
        .headers()
        .get("grpc-status")
        .is_none_or(|status| status.as_bytes() == b"0")
}

/// A write that recorded no object, on record as a call in the caller's scope. Its change has
/// committed, and the answer is the caller's: a failure to record is logged, not returned.
async fn record_call(pool: &PgPool, scope: &str) {
    let recorded = async {
        let mut connection = pool.acquire().await?;
        changed(&mut connection, CALL_KIND, scope, None, "").await
    };
    if let Err(error) = recorded.await {
        tracing::error!(%error, "a write could not be put on the audit trail");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_methods_are_reads() {
        assert!(!is_write("/tsunagu.registry.v1.RegistryService/GetArea"));
        assert!(is_write("/tsunagu.registry.v1.RegistryService/CreateArea"));
        assert!(
            is_write("/tsunagu.registry.v1.RegistryService/SomeNewMethod"),
            "unknown is a write"
        );
        assert!(std::ptr::eq(static_name("CreateArea"), static_name("CreateArea")));
    }
}
