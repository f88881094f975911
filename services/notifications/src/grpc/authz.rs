//! Who may read and manage what (issue 7), checked before any query; row-level security
//! (migrations 101, 102) holds the same line in the database.

use tsunagu_runtime::auth::{Principal, Role};
use tsunagu_runtime::error::ServiceError;

use crate::message::Audience;

const STAFF: [Role; 2] = [Role::MunicipalAdmin, Role::Coordinator];

/// Whose in-app notifications the caller may read: an organisation reads its own; a
/// municipality's administrators and coordinators read their coordinators' inbox and, of an
/// organisation's, those about their municipality's needs (returned as the filter).
pub fn inbox_filter(caller: &Principal, audience: &Audience) -> Result<Option<String>, ServiceError> {
    if caller.role == Role::Service {
        return Ok(None);
    }
    match audience {
        Audience::Organization(id) => {
            let own = caller.role == Role::Provider
                && caller.organization_id.map(|own| own.to_string()).as_deref() == Some(id.as_str());
            if own {
                Ok(None)
            } else if STAFF.contains(&caller.role) {
                Ok(Some(caller.scope_code.clone()))
            } else {
                Err(ServiceError::Denied)
            }
        }
        Audience::Coordinators(code) if caller.acts_in(code, &STAFF) => Ok(None),
        Audience::Coordinators(_) => Err(ServiceError::Denied),
        Audience::Municipality(_) | Audience::Need(_) => Err(ServiceError::invalid(
            "recipient",
            "受信箱（アプリ内通知）は事業主体とコーディネーターにだけあります。市区町村のシステムや代理の受け手には購読（CreateSubscription）で届けます / only organisations and coordinators have an in-app inbox",
        )),
    }
}

/// The municipality a subscription to `audience` belongs to, if the caller may make or
/// remove it: a provider its own organisation's; a municipality's staff its coordinators' and
/// its needs' proxies'; its administrators and its own systems the municipality's feed.
pub fn subscription_municipality(
    caller: &Principal,
    audience: &Audience,
    requested_municipality: &str,
) -> Result<String, ServiceError> {
    let municipality = match audience {
        Audience::Organization(_) => caller.scope_code.clone(),
        Audience::Coordinators(code) | Audience::Municipality(code) => code.clone(),
        Audience::Need(_) => requested_municipality.to_string(),
    };
    if caller.role == Role::Service {
        return Ok(municipality);
    }
    let allowed = match audience {
        Audience::Organization(id) => {
            caller.role == Role::Provider
                && caller.organization_id.map(|own| own.to_string()).as_deref() == Some(id.as_str())
        }
        Audience::Coordinators(code) => caller.acts_in(code, &STAFF),
        Audience::Municipality(code) => caller.acts_in(code, &[Role::MunicipalAdmin, Role::Integration]),
        Audience::Need(_) => caller.acts_in(
            &municipality,
            &[Role::MunicipalAdmin, Role::Coordinator, Role::Integration],
        ),
    };
    if allowed {
        Ok(municipality)
    } else {
        Err(ServiceError::Denied)
    }
}

/// Whether the caller may read a municipality's delivery log and replay its dead letters:
/// its administrators and coordinators, and the prefecture's administrators (the operators).
pub fn may_operate_deliveries(caller: &Principal, municipality_code: &str) -> Result<(), ServiceError> {
    let operator = caller.role == Role::PrefectureAdmin && caller.covers(municipality_code);
    if operator || caller.acts_in(municipality_code, &STAFF) {
        Ok(())
    } else {
        Err(ServiceError::Denied)
    }
}

/// The scope a caller's `PutTemplate` writes, if it may: a prefecture's administrator (the
/// operator) its own prefecture's versions — never what another prefecture's recipients get
/// — and another service the deployment's. A municipality's version is rendered where one
/// exists (`templates::scope`), but the request has no field to name the municipality, so
/// nobody writes one through the API yet.
pub fn template_scope(caller: &Principal) -> Result<String, ServiceError> {
    match caller.role {
        Role::PrefectureAdmin => Ok(caller.scope_code.clone()),
        Role::Service => Ok(crate::templates::scope::DEPLOYMENT.to_string()),
        _ => Err(ServiceError::Denied),
    }
}
