//! Who may change what in the registry (issue 7). The registry's data — areas,
//! organisations, resources, the taxonomy — is the community's, readable by every key; it is
//! written by the municipality's staff (administrators, coordinators, integrations) and by the
//! prefecture's administrator for the whole prefecture. The official areas (都道府県, 市区町村,
//! 区) are the prefecture administrator's alone. A provider edits its own organisation and its
//! own resources. Helpers' records carry their contact details (personal data): they are read
//! by the same people who may write them, and by the helper's organisation. A resource's
//! confidential location is shown to the same people who may edit the resource
//! (`shows_confidential_location`), on every path that returns it.
//!
//! An object outside the caller's reach and one that does not exist get the same
//! PERMISSION_DENIED. A malformed id is left to the handler's validation.

use sqlx::PgPool;
use tsunagu_runtime::auth::{Principal, Role};
use tsunagu_runtime::error::{ServiceError, ServiceResult};
use uuid::Uuid;

/// The municipality's roles that write its registry data.
const STAFF: [Role; 3] = [Role::MunicipalAdmin, Role::Coordinator, Role::Integration];

fn allow(allowed: bool) -> ServiceResult<()> {
    if allowed {
        Ok(())
    } else {
        Err(ServiceError::Denied)
    }
}

/// Whether a record of `owner` may refer to one of `other` (a resource to its organisation, an
/// organisation to its parent): the same municipality, or the prefecture it lies in (a
/// prefecture-wide body such as the 県社協).
pub fn same_community(owner: &str, other: &str) -> bool {
    if owner == other {
        return true;
    }
    tsunagu_runtime::MunicipalityCode::parse_known(owner)
        .ok()
        .and_then(|code| code.official().map(|entry| entry.prefecture_code()))
        .is_some_and(|prefecture| prefecture.as_str() == other)
}

/// The caller may write the registry data of `municipality_code`.
pub fn may_write(caller: &Principal, municipality_code: &str) -> bool {
    caller.acts_in(municipality_code, &STAFF)
        || (caller.role == Role::PrefectureAdmin && caller.covers(municipality_code))
}

/// A write to `municipality_code` named in the request (a code that is not official is left
/// to the handler's validation).
pub fn writes_in(caller: &Principal, municipality_code: &str) -> ServiceResult<()> {
    let code = municipality_code.trim();
    if tsunagu_runtime::MunicipalityCode::parse_known(code).is_err() {
        return Ok(());
    }
    allow(may_write(caller, code))
}

/// The official areas and the official list: the prefecture's administrator (of the
/// prefecture the code lies in, when there is a code).
pub fn official(caller: &Principal, code: Option<&str>) -> ServiceResult<()> {
    let prefecture_admin = matches!(caller.role, Role::PrefectureAdmin | Role::Service);
    allow(prefecture_admin && code.is_none_or(|code| code.trim().is_empty() || caller.covers(code.trim())))
}

/// Where a registry object belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Area,
    Organization,
    Resource,
    Helper,
    Coordinator,
    Council,
    CouncilMeeting,
}

impl Table {
    fn query(self) -> &'static str {
        match self {
            Table::Area => "SELECT municipality_code, NULL::uuid, kind IN ('prefecture', 'municipality', 'ward') FROM area WHERE id = $1",
            Table::Organization => "SELECT municipality_code, id, false FROM organization WHERE id = $1",
            Table::Resource => "SELECT municipality_code, organization_id, false FROM resource WHERE id = $1",
            Table::Helper => "SELECT municipality_code, organization_id, false FROM helper WHERE id = $1",
            Table::Coordinator => "SELECT municipality_code, NULL::uuid, false FROM coordinator WHERE id = $1",
            Table::Council => "SELECT municipality_code, NULL::uuid, false FROM council WHERE id = $1",
            Table::CouncilMeeting => {
                "SELECT c.municipality_code, NULL::uuid, false FROM council_meeting m JOIN council c ON c.id = m.council_id
                 WHERE m.id = $1"
            }
        }
    }
}

/// What the registry knows of an object's tenancy: its municipality, its organisation (an
/// organisation's own id), and whether it is an official area.
async fn owner(pool: &PgPool, table: Table, id: Uuid) -> ServiceResult<Option<(String, Option<Uuid>, bool)>> {
    Ok(sqlx::query_as(table.query())
        .bind(id)
        .fetch_optional(pool)
        .await?)
}

/// The caller may change object `id` of `table`. `provider_too`: the organisation it belongs
/// to may change it as well (its own organisation record, its own resources).
pub async fn writes_object(
    pool: &PgPool,
    caller: &Principal,
    table: Table,
    id: &str,
    provider_too: bool,
) -> ServiceResult<()> {
    let Ok(id) = id.trim().parse::<Uuid>() else {
        return Ok(());
    };
    let Some((municipality, organization, is_official)) = owner(pool, table, id).await? else {
        // The registry's public records may be said not to exist (the handler says so); a
        // helper's record is personal data, and its absence is not told apart from a refusal.
        return match table {
            Table::Helper => Err(ServiceError::Denied),
            _ => Ok(()),
        };
    };
    if is_official {
        return official(caller, Some(&municipality));
    }
    allow(edits(
        caller,
        &municipality,
        organization.filter(|_| provider_too),
    ))
}

/// The caller may edit a record of `municipality_code`: the municipality's staff, the
/// prefecture's administrator, or — for a record of `organization` — that organisation itself.
fn edits(caller: &Principal, municipality_code: &str, organization: Option<Uuid>) -> bool {
    let own_organization =
        caller.role == Role::Provider && organization.is_some() && caller.organization_id == organization;
    may_write(caller, municipality_code) || own_organization
}

/// **The one decision** about a resource's confidential location (a shelter's, a home's address
/// and point): whether `caller`, having asked for it (`asked`: the FULL view, a sheet with
/// confidential addresses, the change history), is shown the location of a resource of
/// `municipality_code` run by `organization_id`. Those who may edit the resource see it — the
/// municipality's staff, the prefecture's administrator covering it, the resource's own
/// organisation; everyone else gets the record with its location withheld. Every path that
/// returns a resource or its fields asks this, per record.
pub fn shows_confidential_location(
    caller: &Principal,
    asked: bool,
    municipality_code: &str,
    organization_id: Uuid,
) -> bool {
    asked && edits(caller, municipality_code, Some(organization_id))
}

/// The caller may create an area under `parent_id`: the parent's municipality decides (a
/// daily-life area under a city is the city's staff's to create, though the city itself is an
/// official area).
pub async fn creates_area_under(pool: &PgPool, caller: &Principal, parent_id: &str) -> ServiceResult<()> {
    let Ok(id) = parent_id.trim().parse::<Uuid>() else {
        return Ok(());
    };
    match owner(pool, Table::Area, id).await? {
        Some((municipality, _, _)) => allow(may_write(caller, &municipality)),
        None => Ok(()),
    }
}

/// A resource created for `organization_id` in `municipality_code`: the municipality's
/// writers, or the organisation itself.
pub fn creates_resource(
    caller: &Principal,
    municipality_code: &str,
    organization_id: &str,
) -> ServiceResult<()> {
    let own = caller.role == Role::Provider
        && caller.organization_id.map(|own| own.to_string()).as_deref() == Some(organization_id.trim());
    if own {
        return Ok(());
    }
    writes_in(caller, municipality_code)
}

/// The caller may read helper `id`'s record (contact details included).
pub async fn reads_helper(pool: &PgPool, caller: &Principal, id: &str) -> ServiceResult<()> {
    writes_object(pool, caller, Table::Helper, id, true).await
}

/// The caller may list helpers filtered as asked: by its own organisation (a provider), or in
/// a municipality (or an area of one) it may write.
pub async fn lists_helpers(
    pool: &PgPool,
    caller: &Principal,
    municipality_code: &str,
    area_id: &str,
    organization_id: &str,
) -> ServiceResult<()> {
    let own_organization = caller.role == Role::Provider
        && caller.organization_id.map(|own| own.to_string()).as_deref() == Some(organization_id.trim());
    if own_organization {
        return Ok(());
    }
    if !municipality_code.trim().is_empty() {
        return writes_in(caller, municipality_code);
    }
    writes_object(pool, caller, Table::Area, area_id, false).await
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
    fn writers_are_the_municipalitys_staff_and_the_prefectures_admin() {
        assert!(may_write(&principal(Role::Coordinator, "212024"), "212024"));
        assert!(!may_write(&principal(Role::Coordinator, "212024"), "212016"));
        assert!(may_write(&principal(Role::PrefectureAdmin, "210005"), "212016"));
        assert!(!may_write(&principal(Role::PrefectureAdmin, "210005"), "131016"));
        assert!(!may_write(
            &principal(Role::PrefectureAnalyst, "210005"),
            "212024"
        ));
        assert!(official(&principal(Role::PrefectureAdmin, "210005"), Some("212024")).is_ok());
        assert!(official(&principal(Role::MunicipalAdmin, "212024"), Some("212024")).is_err());
        assert!(
            writes_in(&principal(Role::Coordinator, "212024"), "999997").is_ok(),
            "left to validation"
        );
    }

    #[test]
    fn confidential_locations_are_shown_to_those_who_edit_the_resource_and_asked() {
        let organization = Uuid::now_v7();
        let provider = |own: Uuid| Principal {
            organization_id: Some(own),
            ..principal(Role::Provider, "212024")
        };
        let shows =
            |caller: &Principal, asked| shows_confidential_location(caller, asked, "212024", organization);
        assert!(shows(&principal(Role::Coordinator, "212024"), true));
        assert!(
            !shows(&principal(Role::Coordinator, "212024"), false),
            "not asked"
        );
        assert!(!shows(&principal(Role::Coordinator, "212016"), true));
        assert!(shows(&principal(Role::PrefectureAdmin, "210005"), true));
        assert!(!shows(&principal(Role::PrefectureAdmin, "130001"), true));
        assert!(!shows(&principal(Role::PrefectureAnalyst, "210005"), true));
        assert!(shows(&provider(organization), true));
        assert!(!shows(&provider(Uuid::now_v7()), true));
    }
}
