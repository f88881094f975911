//! Who is calling, and what their role lets them reach: the tenancy model of issue 7.
//!
//! A prefecture runs one Tsunagu for its municipalities. Every key belongs to a scope — the
//! prefecture's code (`210005`) or a municipality's (`212024`) — and carries one role. The
//! prefecture's roles see and manage what is shared across the prefecture but no resident's
//! personal data; a municipality's roles act inside that municipality only; a provider acts
//! for its own organisation. Services talk to each other as `Service`.

use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The operator: the prefecture's registry, keys, settings and aggregates.
    PrefectureAdmin,
    /// Aggregates and the registry's public data, read only.
    PrefectureAnalyst,
    /// Everything of one municipality, its residents' data included.
    MunicipalAdmin,
    /// A 生活支援コーディネーター of one municipality.
    Coordinator,
    /// An organisation that provides resources: its own resources and proposals.
    Provider,
    /// A municipality's own system.
    Integration,
    /// Another Tsunagu service.
    Service,
}

impl Role {
    pub const KEYED: [Role; 6] = [
        Role::PrefectureAdmin,
        Role::PrefectureAnalyst,
        Role::MunicipalAdmin,
        Role::Coordinator,
        Role::Provider,
        Role::Integration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::PrefectureAdmin => "prefecture_admin",
            Role::PrefectureAnalyst => "prefecture_analyst",
            Role::MunicipalAdmin => "municipal_admin",
            Role::Coordinator => "coordinator",
            Role::Provider => "provider",
            Role::Integration => "integration",
            Role::Service => "service",
        }
    }

    pub fn parse(stored: &str) -> Option<Role> {
        Role::KEYED.into_iter().find(|role| role.as_str() == stored)
    }

    /// As a coordinator reads it.
    pub fn label(self) -> &'static str {
        match self {
            Role::PrefectureAdmin => "都道府県管理者",
            Role::PrefectureAnalyst => "都道府県分析担当",
            Role::MunicipalAdmin => "市区町村管理者",
            Role::Coordinator => "生活支援コーディネーター",
            Role::Provider => "提供団体",
            Role::Integration => "市区町村システム連携",
            Role::Service => "内部サービス",
        }
    }

    /// The role on the wire (`tsunagu.access.v1.Role`); `None` for an unspecified one.
    pub fn from_proto(value: i32) -> Option<Role> {
        use tsunagu_proto::access::v1::Role as Wire;
        Some(match Wire::try_from(value).ok()? {
            Wire::PrefectureAdmin => Role::PrefectureAdmin,
            Wire::PrefectureAnalyst => Role::PrefectureAnalyst,
            Wire::MunicipalAdmin => Role::MunicipalAdmin,
            Wire::Coordinator => Role::Coordinator,
            Wire::Provider => Role::Provider,
            Wire::Integration => Role::Integration,
            Wire::Unspecified => return None,
        })
    }

    /// The role on the wire; another service's has no key and no wire value.
    pub fn to_proto(self) -> tsunagu_proto::access::v1::Role {
        use tsunagu_proto::access::v1::Role as Wire;
        match self {
            Role::PrefectureAdmin => Wire::PrefectureAdmin,
            Role::PrefectureAnalyst => Wire::PrefectureAnalyst,
            Role::MunicipalAdmin => Wire::MunicipalAdmin,
            Role::Coordinator => Wire::Coordinator,
            Role::Provider => Wire::Provider,
            Role::Integration => Wire::Integration,
            Role::Service => Wire::Unspecified,
        }
    }

    /// Whether the role's scope is a prefecture (else a municipality).
    pub fn is_prefectural(self) -> bool {
        matches!(self, Role::PrefectureAdmin | Role::PrefectureAnalyst)
    }
}

/// The authenticated caller of one request (in the request's extensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The API key's id; `None` for another service.
    pub key_id: Option<Uuid>,
    /// The key's public prefix, for logs and the audit trail.
    pub key_prefix: String,
    pub role: Role,
    /// The prefecture's or the municipality's 全国地方公共団体コード (empty for a service).
    pub scope_code: String,
    /// The provider's organisation.
    pub organization_id: Option<Uuid>,
}

impl Principal {
    pub fn service() -> Principal {
        Principal {
            key_id: None,
            key_prefix: "service".into(),
            role: Role::Service,
            scope_code: String::new(),
            organization_id: None,
        }
    }

    /// Who did it, for history rows and the audit trail: the role and the key's prefix.
    pub fn actor(&self) -> String {
        format!("{}:{}", self.role.as_str(), self.key_prefix)
    }

    /// Whether the caller acts inside `municipality_code` with one of the municipality's
    /// roles (`roles`). Another service acts everywhere.
    pub fn acts_in(&self, municipality_code: &str, roles: &[Role]) -> bool {
        self.role == Role::Service || (roles.contains(&self.role) && self.scope_code == municipality_code)
    }

    /// Whether the caller's scope contains `municipality_code`: its own municipality, or the
    /// prefecture it belongs to (the first two digits of a 全国地方公共団体コード name the
    /// prefecture).
    pub fn covers(&self, municipality_code: &str) -> bool {
        if self.role == Role::Service {
            return true;
        }
        if self.role.is_prefectural() {
            return prefecture_of(municipality_code) == prefecture_of(&self.scope_code);
        }
        self.scope_code == municipality_code
    }
}

/// The two digits of a 全国地方公共団体コード that name its prefecture.
pub fn prefecture_of(code: &str) -> &str {
    code.get(..2).unwrap_or(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, scope: &str) -> Principal {
        Principal {
            key_id: Some(Uuid::nil()),
            key_prefix: "abc".into(),
            role,
            scope_code: scope.into(),
            organization_id: None,
        }
    }

    #[test]
    fn municipal_roles_act_in_their_municipality_only() {
        let coordinator = principal(Role::Coordinator, "212024");
        assert!(coordinator.acts_in("212024", &[Role::Coordinator]));
        assert!(!coordinator.acts_in("212016", &[Role::Coordinator]));
        assert!(!coordinator.acts_in("212024", &[Role::MunicipalAdmin]));
        assert!(Principal::service().acts_in("212016", &[]));
    }

    #[test]
    fn prefecture_roles_cover_their_prefecture_and_never_act_as_municipal_roles() {
        let admin = principal(Role::PrefectureAdmin, "210005");
        assert!(admin.covers("212024"));
        assert!(!admin.covers("131016"), "Tokyo is another prefecture");
        assert!(!admin.acts_in("212024", &[Role::MunicipalAdmin, Role::Coordinator]));
        for role in Role::KEYED {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
    }
}
