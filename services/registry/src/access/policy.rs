//! Who may manage which keys. Pure: principals and scopes in, yes or no out.
//!
//! A prefecture admin manages every key of its prefecture: prefecture keys of its own
//! prefecture, and any municipal key of a municipality in it. A municipal admin manages the
//! municipal keys of its own municipality. Nobody else manages keys, but any key may rotate
//! itself (a client replacing its own key without an administrator).

use tsunagu_runtime::auth::{Principal, Role, prefecture_of};

pub fn may_manage(caller: &Principal, role: Role, scope_code: &str) -> bool {
    match caller.role {
        Role::PrefectureAdmin => {
            let same_prefecture = prefecture_of(scope_code) == prefecture_of(&caller.scope_code);
            same_prefecture && (!role.is_prefectural() || scope_code == caller.scope_code)
        }
        Role::MunicipalAdmin => !role.is_prefectural() && scope_code == caller.scope_code,
        _ => false,
    }
}

/// The scopes whose keys the caller may list, when it asks for `scope_code`.
pub fn may_list(caller: &Principal, scope_code: &str) -> bool {
    match caller.role {
        Role::PrefectureAdmin => prefecture_of(scope_code) == prefecture_of(&caller.scope_code),
        Role::MunicipalAdmin => scope_code == caller.scope_code,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, scope: &str) -> Principal {
        Principal {
            key_id: None,
            key_prefix: "p".into(),
            role,
            scope_code: scope.into(),
            organization_id: None,
        }
    }

    #[test]
    fn admins_manage_keys_inside_their_scope_only() {
        let gifu = caller(Role::PrefectureAdmin, "210005");
        assert!(may_manage(&gifu, Role::MunicipalAdmin, "212024"));
        assert!(may_manage(&gifu, Role::PrefectureAnalyst, "210005"));
        assert!(!may_manage(&gifu, Role::MunicipalAdmin, "131016"), "not Tokyo's");
        assert!(!may_manage(&gifu, Role::PrefectureAdmin, "130001"));
        let ogaki = caller(Role::MunicipalAdmin, "212024");
        assert!(may_manage(&ogaki, Role::Coordinator, "212024"));
        assert!(
            !may_manage(&ogaki, Role::Coordinator, "212016"),
            "not Gifu city's"
        );
        assert!(!may_manage(&ogaki, Role::PrefectureAdmin, "210005"));
        for role in [
            Role::Coordinator,
            Role::Provider,
            Role::Integration,
            Role::PrefectureAnalyst,
        ] {
            assert!(!may_manage(&caller(role, "212024"), Role::Coordinator, "212024"));
            assert!(!may_list(&caller(role, "212024"), "212024"));
        }
        assert!(may_list(&gifu, "212024"));
        assert!(!may_list(&ogaki, "212016"));
    }
}
