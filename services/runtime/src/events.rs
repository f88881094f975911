//! The contract of every domain event: its routing key and JSON payload. Producers and
//! consumers share these types, so a payload change is a compile error on both sides.
//! Events carry ids and codes, never a resident's personal data.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const AREA_CREATED: &str = "area.created";
/// Payload: [`AreaCreated`], with the area's current state (e.g. after an official-list import).
pub const AREA_UPDATED: &str = "area.updated";
/// Payload: [`RegistryChange`]. Matching keeps the area: proposals may refer to it.
pub const AREA_DELETED: &str = "area.deleted";
pub const ORGANIZATION_CREATED: &str = "organization.created";
/// Payload: [`ResourceChanged`].
pub const RESOURCE_CREATED: &str = "resource.created";
pub const RESOURCE_VERIFIED: &str = "resource.verified";
pub const RESOURCE_UPDATED: &str = "resource.updated";
pub const RESOURCE_DELETED: &str = "resource.deleted";
/// Payload: [`ResourceVerificationOverdue`]: nobody has verified the resource within its
/// municipality's freshness period. Sent once per stale spell; verifying it starts a new one.
pub const RESOURCE_VERIFICATION_OVERDUE: &str = "resource.verification_overdue";
/// Payload: [`RegistryChange`].
pub const ORGANIZATION_UPDATED: &str = "organization.updated";
pub const ORGANIZATION_DELETED: &str = "organization.deleted";
/// Payload: [`CategoryCreated`]: a municipality added a category of its own.
pub const CATEGORY_CREATED: &str = "category.created";
pub const HELPER_CREATED: &str = "helper.created";
pub const HELPER_UPDATED: &str = "helper.updated";
pub const HELPER_DELETED: &str = "helper.deleted";
pub const COORDINATOR_CREATED: &str = "coordinator.created";
pub const COORDINATOR_UPDATED: &str = "coordinator.updated";
pub const COORDINATOR_DELETED: &str = "coordinator.deleted";
pub const COUNCIL_CREATED: &str = "council.created";
pub const COUNCIL_UPDATED: &str = "council.updated";
pub const COUNCIL_DELETED: &str = "council.deleted";
/// Payload: [`NeedSubmitted`]. Published when a need is submitted (not while it is a draft).
pub const NEED_SUBMITTED: &str = "need.submitted";
/// Payload: [`NeedSubmitted`], the need's state after an edit or a consent that allows sharing.
pub const NEED_UPDATED: &str = "need.updated";
/// Payload: [`NeedWithdrawn`]: the need must no longer be matched or shared (consent
/// withdrawn or narrowed, cancelled, failed, entered in error).
pub const NEED_WITHDRAWN: &str = "need.withdrawn";
/// Payload: [`NeedStatusChanged`].
pub const NEED_STATUS_CHANGED: &str = "need.status_changed";
/// Payload: [`NeedFollowUpDue`]: an open need nobody has moved for the follow-up period.
pub const NEED_FOLLOW_UP_DUE: &str = "need.follow_up_due";
/// Payload: [`AreaIssueRecorded`]: needs known in aggregate (地域課題), for the gap map.
pub const AREA_ISSUE_RECORDED: &str = "area_issue.recorded";
/// Payload: [`MatchProposed`]: sent to the provider.
pub const MATCH_PROPOSED: &str = "match.proposed";
/// Payload: [`MatchProposed`]: waiting for a coordinator's approval before the provider sees it.
pub const MATCH_PENDING_APPROVAL: &str = "match.pending_approval";
/// Payload: [`MatchAnswered`]. The reason a provider typed stays in matching (ListProposals).
pub const MATCH_ACCEPTED: &str = "match.accepted";
pub const MATCH_REJECTED: &str = "match.rejected";
pub const MATCH_EXPIRED: &str = "match.expired";
/// Payload: [`MatchAnswered`]: the need left matching (consent withdrawn, cancelled …) while
/// the provider had the proposal; it must not act on it.
pub const MATCH_WITHDRAWN: &str = "match.withdrawn";
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

/// A need as matching may see it: ids and matching-relevant fields, never personal data,
/// notes or the referrer. Without the resident's consent to share the need (`shared` false),
/// the resident's id and the details are withheld: matching counts the need (gap map) but
/// proposes it to nobody.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedSubmitted {
    pub need_id: Uuid,
    pub municipality_code: String,
    pub area_id: Uuid,
    pub category: String,
    pub urgency: String,
    /// The resident's pseudonymous id, if the need names one; never personal data.
    #[serde(default)]
    pub resident_id: Option<Uuid>,
    /// The need's version this describes: a consumer drops an older one than it holds.
    /// 0 in events written before versions were sent.
    #[serde(default)]
    pub version: i64,
    /// Whether the consent allows proposing the need to providers. Events written before
    /// consent existed carry none and were shared.
    #[serde(default = "shared_by_default")]
    pub shared: bool,
    #[serde(default)]
    pub details: Option<NeedDetailsPayload>,
}

fn shared_by_default() -> bool {
    true
}

/// What matching weighs (see `tsunagu.intake.v1.NeedDetails`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NeedDetailsPayload {
    /// A point on a grid of about 500 m, never the address.
    #[serde(default)]
    pub latitude: Option<f64>,
    #[serde(default)]
    pub longitude: Option<f64>,
    /// Weekly windows: weekday 1 = Monday … 7 = Sunday, minutes after local midnight.
    #[serde(default)]
    pub time_windows: Vec<WeeklyWindowPayload>,
    /// e.g. 2 per "week"; "once" for a one-off.
    #[serde(default)]
    pub frequency_times: Option<u32>,
    #[serde(default)]
    pub frequency_per: Option<String>,
    #[serde(default)]
    pub start_date: Option<chrono::NaiveDate>,
    #[serde(default)]
    pub deadline: Option<chrono::NaiveDate>,
    /// As resources store it: general_elderly, project_target, support_1 … care_5.
    #[serde(default)]
    pub eligibility: Option<String>,
    /// None: any fee; Some(0): free only.
    #[serde(default)]
    pub max_fee_yen: Option<u32>,
    #[serde(default)]
    pub wheelchair_vehicle: bool,
    /// female or male.
    #[serde(default)]
    pub helper_gender: Option<String>,
    #[serde(default)]
    pub helper_gender_required: bool,
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default)]
    pub preferred_helper_id: Option<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyWindowPayload {
    pub weekday: u8,
    pub start_minute: u32,
    pub end_minute: u32,
}

/// A need leaves matching: nothing more may be proposed or shared for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedWithdrawn {
    pub need_id: Uuid,
    pub municipality_code: String,
    pub version: i64,
    /// consent_withdrawn, consent_narrowed, cancelled, failed or entered_in_error.
    pub reason: String,
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
    /// The need's area, so that subscribers can choose by area; absent in events written
    /// before it was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedUnmatched {
    pub need_id: Uuid,
    pub municipality_code: String,
    pub area_id: Uuid,
    pub category: String,
    /// Why no resource was proposed, in words a coordinator reads.
    pub reason: String,
    /// routine or urgent (an urgent need nobody can serve is told at once, even at night);
    /// absent in events written before it was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urgency: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceVerified {
    pub resource_id: Uuid,
    pub municipality_code: String,
}

/// A resource is due for re-verification: its last verification (its creation, if it was
/// never verified) is older than its municipality's freshness period. Ids and codes only —
/// whom to ask, and since when; the provider's details stay in the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceVerificationOverdue {
    pub resource_id: Uuid,
    pub municipality_code: String,
    /// The provider to ask.
    pub organization_id: Uuid,
    /// The taxonomy code.
    pub category: String,
    /// None if the resource was never verified (it is overdue counted from its creation).
    pub last_verified_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The municipality's freshness period when the resource became overdue.
    pub freshness_days: i32,
}

/// A registry entity changed: ids, version and the municipality only. Consumers that need
/// the detail fetch it over gRPC; the version lets them drop an event older than what they
/// already hold (events of one entity may arrive out of order after a redelivery).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryChange {
    pub entity_id: Uuid,
    pub municipality_code: String,
    pub version: i64,
    /// A helper's organisation (helper.* only), so that matching can tell which resources a
    /// helper the resident knows works through. Absent in events written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<Uuid>,
}

/// A resource's state as matching needs it, after a create, update or delete. Carries the
/// version so matching applies only the newest state it has seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceChanged {
    pub resource_id: Uuid,
    pub municipality_code: String,
    /// 0 in events written before versions existed; any later version replaces it.
    #[serde(default)]
    pub version: i64,
    pub organization_id: Uuid,
    /// Taxonomy code, e.g. `life.garbage`.
    pub category: String,
    pub coverage_area_ids: Vec<Uuid>,
    /// The most needs it takes on at once (the capacity's maximum).
    pub capacity: u32,
    /// False when the resource is deleted, inactive, temporarily closed or defunct: matching
    /// proposes it to no new need.
    #[serde(default = "accepting_by_default")]
    pub accepting: bool,
    /// What matching checks and weighs beyond category, coverage and capacity; absent in
    /// events written before matching used them (the resource then fits every need).
    #[serde(default)]
    pub terms: Option<ResourceTermsPayload>,
}

/// A resource's terms as matching uses them: where, when, for whom, at what fee, with what.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ResourceTermsPayload {
    /// The resource's point; a confidential one only to about 500 m, like a need's.
    #[serde(default)]
    pub latitude: Option<f64>,
    #[serde(default)]
    pub longitude: Option<f64>,
    /// When it is open or serves, as weekly windows over the coming four weeks (a rule that
    /// falls on a weekday in that time, e.g. 第2火曜, counts as that weekday). Empty: not stated.
    #[serde(default)]
    pub weekly_windows: Vec<WeeklyWindowPayload>,
    /// Eligibility it accepts (general_elderly, support_1 …); empty: everyone.
    #[serde(default)]
    pub eligibility: Vec<String>,
    /// The fee per use in yen: Some(0) free, None not known.
    #[serde(default)]
    pub fee_yen: Option<u32>,
    #[serde(default)]
    pub wheelchair_vehicle: bool,
    #[serde(default)]
    pub languages: Vec<String>,
    /// female, male: the genders of its helpers.
    #[serde(default)]
    pub helper_genders: Vec<String>,
}

fn accepting_by_default() -> bool {
    true
}

/// A municipality's own category: services that resolve categories (intake, matching) learn
/// the code and the Japanese name people will use for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryCreated {
    pub code: String,
    pub municipality_code: String,
    pub parent_code: String,
    pub name: String,
}

/// A need moved in its lifecycle (domain.md §8). Ids, statuses and the outcome only: the
/// reason is free text a coordinator typed and stays in intake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedStatusChanged {
    pub need_id: Uuid,
    pub municipality_code: String,
    pub version: i64,
    pub from: String,
    pub to: String,
    /// Set when the need was closed (completed, cancelled, failed).
    pub outcome: Option<String>,
}

/// An open need has not moved for the municipality's follow-up period (domain.md §9:
/// "referrals that never get a status").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedFollowUpDue {
    pub need_id: Uuid,
    pub municipality_code: String,
    pub status: String,
    /// When its status last changed.
    pub idle_since: chrono::DateTime<chrono::Utc>,
}

/// An area issue (地域課題) was recorded: how many residents of an area need what, from which
/// source, over which period. Counts and codes only; the notes stay in intake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AreaIssueRecorded {
    pub area_issue_id: Uuid,
    pub municipality_code: String,
    /// needs_survey, community_care_meeting, care_plan_review or remark.
    pub source: String,
    pub area_id: Uuid,
    pub category: String,
    pub count: u32,
    pub estimated: bool,
    pub period_from: chrono::NaiveDate,
    pub period_to: chrono::NaiveDate,
}

/// A proposal was answered (accepted or rejected) or expired unanswered. Ids only: the reason
/// the provider gave is free text and stays in matching.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchAnswered {
    pub proposal_id: Uuid,
    pub need_id: Uuid,
    pub municipality_code: String,
    pub resource_id: Uuid,
    pub organization_id: Uuid,
    pub category: String,
    /// Why matching took a proposal back (`match.withdrawn` only): need_withdrawn,
    /// need_changed, need_on_hold or resource_changed. A code, never free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal: Option<String>,
}
