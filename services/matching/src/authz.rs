//! Who may do what in matching (issue 7): a municipality's staff work with its proposals and
//! settings; a provider sees and answers the proposals addressed to its organisation, in
//! whichever municipality the need is; the prefecture's roles see the gap map of their
//! prefecture and its municipalities (aggregates, no proposal). A proposal outside the
//! caller's reach and one that does not exist get the same PERMISSION_DENIED.

use sqlx::PgPool;
use tsunagu_runtime::auth::{Principal, Role, prefecture_of};
use tsunagu_runtime::error::{ServiceError, ServiceResult};
use uuid::Uuid;

/// The roles that work with a municipality's proposals.
pub const STAFF: [Role; 3] = [Role::MunicipalAdmin, Role::Coordinator, Role::Integration];

/// What a proposal call may do with the proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProposalAction {
    /// A coordinator approves before the provider sees it.
    Approve,
    /// The provider (or the municipality's staff on its behalf) accepts or rejects.
    Answer,
}

pub async fn on_proposal(
    pool: &PgPool,
    caller: &Principal,
    id: Uuid,
    action: ProposalAction,
) -> ServiceResult<()> {
    let owner: Option<(String, Uuid)> =
        sqlx::query_as("SELECT municipality_code, organization_id FROM proposal WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    let Some((municipality, organization)) = owner else {
        return Err(ServiceError::Denied);
    };
    let staff = caller.acts_in(&municipality, &[Role::MunicipalAdmin, Role::Coordinator]);
    let addressee = caller.role == Role::Provider && caller.organization_id == Some(organization);
    let allowed = match action {
        ProposalAction::Approve => staff,
        ProposalAction::Answer => staff || addressee,
    };
    if allowed {
        Ok(())
    } else {
        Err(ServiceError::Denied)
    }
}

/// Which proposals of `municipality_code` the caller may list: all of them (staff), or only
/// its organisation's (a provider: the filter is forced). `None`: none.
pub fn listable(caller: &Principal, municipality_code: &str) -> Option<Listing> {
    if caller.acts_in(municipality_code, &STAFF) {
        return Some(Listing::All);
    }
    match (caller.role, caller.organization_id) {
        (Role::Provider, Some(organization)) => Some(Listing::OfOrganization(organization)),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    All,
    OfOrganization(Uuid),
}

/// The gap map of `code` (a municipality or a prefecture): aggregates only, for the
/// municipality's staff and the prefecture's roles.
pub fn may_see_gap_map(caller: &Principal, code: &str, is_prefecture: bool) -> bool {
    if caller.role == Role::Service {
        return true;
    }
    if caller.role.is_prefectural() {
        return prefecture_of(code) == prefecture_of(&caller.scope_code);
    }
    !is_prefecture && caller.acts_in(code, &STAFF)
}

/// A municipality's matching settings: read by its staff and the prefecture's roles, changed
/// by its administrator or the prefecture's.
pub fn may_read_settings(caller: &Principal, code: &str) -> bool {
    caller.acts_in(code, &STAFF) || (caller.role.is_prefectural() && caller.covers(code))
}

pub fn may_change_settings(caller: &Principal, code: &str) -> bool {
    caller.acts_in(code, &[Role::MunicipalAdmin])
        || (caller.role == Role::PrefectureAdmin && caller.covers(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, scope: &str, organization: Option<Uuid>) -> Principal {
        Principal {
            key_id: None,
            key_prefix: "p".into(),
            role,
            scope_code: scope.into(),
            organization_id: organization,
        }
    }

    #[test]
    fn providers_list_only_their_own_and_prefectures_see_aggregates_only() {
        let org = Uuid::now_v7();
        let provider = principal(Role::Provider, "212024", Some(org));
        assert_eq!(listable(&provider, "212016"), Some(Listing::OfOrganization(org)));
        let coordinator = principal(Role::Coordinator, "212024", None);
        assert_eq!(listable(&coordinator, "212024"), Some(Listing::All));
        assert_eq!(listable(&coordinator, "212016"), None);
        let analyst = principal(Role::PrefectureAnalyst, "210005", None);
        assert_eq!(listable(&analyst, "212024"), None);
        assert!(may_see_gap_map(&analyst, "210005", true));
        assert!(may_see_gap_map(&analyst, "212024", false));
        assert!(!may_see_gap_map(&analyst, "130001", true));
        assert!(!may_see_gap_map(&coordinator, "210005", true));
        assert!(!may_see_gap_map(&provider, "212024", false));
        assert!(may_change_settings(
            &principal(Role::PrefectureAdmin, "210005", None),
            "212024"
        ));
        assert!(!may_change_settings(&coordinator, "212024"));
        assert!(may_read_settings(&coordinator, "212024"));
    }
}
