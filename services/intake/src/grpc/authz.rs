//! Who may do what in intake (issue 7). Intake holds residents' personal data, so only the
//! municipality's own staff and systems reach it: its administrators, its coordinators and its
//! integrations, each in their own municipality. The prefecture's roles see no resident; a
//! provider sees a resident's contact only for a need whose proposal it accepted, and only
//! as far as the consent allows (`GetSharedContact` checks the consent).
//!
//! A call about one need or resident names it by id: an id outside the caller's municipality
//! and an id that does not exist get the same PERMISSION_DENIED, so a refusal reveals nothing.

use sqlx::PgPool;
use tonic::Request;
use tsunagu_runtime::auth::{Principal, Role, principal_of};
use tsunagu_runtime::error::{ServiceError, ServiceResult};
use uuid::Uuid;

/// A municipality's audit trail is its administrator's.
pub fn on_audit(caller: &Principal, municipality_code: &str) -> ServiceResult<()> {
    tsunagu_runtime::audit::api::may_read(caller, municipality_code)
}

/// The roles that work with a municipality's needs and residents.
pub const STAFF: [Role; 3] = [Role::MunicipalAdmin, Role::Coordinator, Role::Integration];

pub fn caller<T>(request: &Request<T>) -> Result<Principal, tonic::Status> {
    principal_of(request)
}

/// The caller may act in `municipality_code`. An empty or malformed code is left to the
/// handler's validation (it names no tenant, so refusing it reveals nothing either way).
pub fn in_municipality(caller: &Principal, municipality_code: &str) -> ServiceResult<()> {
    let code = municipality_code.trim();
    // A code that is not an official municipality is a validation error, named by the handler
    // (the official list is public: refusing it reveals nothing).
    let names_a_tenant = tsunagu_runtime::MunicipalityCode::parse_known(code).is_ok();
    if !names_a_tenant || caller.acts_in(code, &STAFF) {
        Ok(())
    } else {
        Err(ServiceError::Denied)
    }
}

/// The caller may act on need `id` (a text id that does not parse is left to the handler).
/// Returns the need's municipality, for the audit trail.
pub async fn on_need(pool: &PgPool, caller: &Principal, id: &str) -> ServiceResult<String> {
    let Ok(id) = id.trim().parse::<Uuid>() else {
        return Ok(String::new());
    };
    let owner: Option<String> = sqlx::query_scalar("SELECT municipality_code FROM need WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    match owner {
        Some(code) if caller.acts_in(&code, &STAFF) => Ok(code),
        _ => Err(ServiceError::Denied),
    }
}

/// The caller may read resident `id`; returns the resident's municipality.
pub async fn on_resident(pool: &PgPool, caller: &Principal, id: &str) -> ServiceResult<String> {
    let Ok(id) = id.trim().parse::<Uuid>() else {
        return Ok(String::new());
    };
    let owner: Option<String> = sqlx::query_scalar("SELECT municipality_code FROM resident WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    match owner {
        Some(code) if caller.acts_in(&code, &STAFF) => Ok(code),
        _ => Err(ServiceError::Denied),
    }
}

/// The caller may ask for the contact of need `id`: the municipality's administrators and
/// coordinators, or the provider whose proposal for it was accepted.
pub async fn on_shared_contact(pool: &PgPool, caller: &Principal, id: &str) -> ServiceResult<String> {
    let Ok(id) = id.trim().parse::<Uuid>() else {
        return Ok(String::new());
    };
    let owner: Option<(String, Option<Uuid>)> =
        sqlx::query_as("SELECT municipality_code, accepted_organization_id FROM need WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    let Some((code, accepted_by)) = owner else {
        return Err(ServiceError::Denied);
    };
    let staff = caller.acts_in(&code, &[Role::MunicipalAdmin, Role::Coordinator]);
    let helping_provider = caller.role == Role::Provider
        && caller.organization_id.is_some()
        && caller.organization_id == accepted_by;
    if staff || helping_provider {
        Ok(code)
    } else {
        Err(ServiceError::Denied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, scope: &str) -> Principal {
        Principal {
            key_id: None,
            key_prefix: "p".into(),
            role,
            scope_code: scope.into(),
            organization_id: None,
        }
    }

    #[test]
    fn only_the_municipalitys_staff_act_in_it() {
        for role in STAFF {
            assert!(in_municipality(&principal(role, "212024"), "212024").is_ok());
            assert!(in_municipality(&principal(role, "212024"), "212016").is_err());
        }
        for role in [Role::PrefectureAdmin, Role::PrefectureAnalyst, Role::Provider] {
            let scope = if role.is_prefectural() { "210005" } else { "212024" };
            assert!(
                in_municipality(&principal(role, scope), "212024").is_err(),
                "{role:?}"
            );
        }
        assert!(in_municipality(&Principal::service(), "212016").is_ok());
    }
}
