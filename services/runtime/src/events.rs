//! The contract of every domain event: its routing key and JSON payload. Producers and
//! consumers share these types, so a payload change is a compile error on both sides.
//! Events carry ids and codes, never a resident's personal data.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const AREA_CREATED: &str = "area.created";
/// Payload: [`AreaCreated`], with the area's current state (e.g. after an official-list import).
pub const AREA_UPDATED: &str = "area.updated";
pub const ORGANIZATION_CREATED: &str = "organization.created";
pub const RESOURCE_CREATED: &str = "resource.created";
pub const RESOURCE_VERIFIED: &str = "resource.verified";
pub const NEED_SUBMITTED: &str = "need.submitted";
pub const MATCH_PROPOSED: &str = "match.proposed";
pub const NEED_UNMATCHED: &str = "need.unmatched";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AreaCreated {
    pub area_id: Uuid,
    pub kind: String,
    pub code: Option<String>,
    pub name: String,
    pub parent_id: Option<Uuid>,
    pub municipality_code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationCreated {
    pub organization_id: Uuid,
    pub municipality_code: String,
    pub name: String,
    pub kind: String,
    pub area_ids: Vec<Uuid>,
    /// The organisation it belongs to (社協 → 地区社協), if any.
    #[serde(default)]
    pub parent_organization_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceCreated {
    pub resource_id: Uuid,
    pub municipality_code: String,
    pub organization_id: Uuid,
    pub name: String,
    pub category: String,
    pub coverage_area_ids: Vec<Uuid>,
    pub capacity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedSubmitted {
    pub need_id: Uuid,
    pub municipality_code: String,
    pub area_id: Uuid,
    pub category: String,
    pub urgency: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchProposed {
    pub proposal_id: Uuid,
    pub need_id: Uuid,
    pub municipality_code: String,
    pub resource_id: Uuid,
    pub organization_id: Uuid,
    pub category: String,
    pub urgency: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedUnmatched {
    pub need_id: Uuid,
    pub municipality_code: String,
    pub area_id: Uuid,
    pub category: String,
    /// Why no resource was proposed, in words a coordinator reads.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceVerified {
    pub resource_id: Uuid,
    pub municipality_code: String,
}
