//! Proto ↔ domain conversions of needs, consents and their vocabularies.

use tonic::Code;
use tsunagu_proto::common::v1 as common_pb;
use tsunagu_proto::intake::v1 as pb;
use tsunagu_runtime::ServiceError;
use tsunagu_runtime::grpc::timestamp;

use crate::consent::{ConsentGiver, ConsentMethod, ConsentRow, RawConsent, Scopes};
use crate::domain::{RawDetails, RawNeed, Urgency};
use crate::lifecycle::{NeedStatus, Outcome};
use crate::need_fields::{Channel, Eligibility, FrequencyUnit, Gender, NeedDetails};
use crate::need_row::StoredNeed;
use crate::store::StatusChangeRow;

/// Pairs of domain values and their proto enums, read both ways.
pub struct Pairs<D: 'static, P: 'static>(pub &'static [(D, P)]);

impl<D: Copy + PartialEq, P: Copy + Into<i32>> Pairs<D, P> {
    /// The domain value of a wire value; `None` for 0 (unspecified) and unknown values.
    pub fn domain(&self, wire: i32) -> Option<D> {
        self.0
            .iter()
            .find(|(_, proto)| (*proto).into() == wire && wire != 0)
            .map(|(domain, _)| *domain)
    }

    pub fn proto(&self, domain: D) -> i32 {
        self.0
            .iter()
            .find(|(d, _)| *d == domain)
            .map_or(0, |(_, proto)| (*proto).into())
    }
}

pub const STATUSES: Pairs<NeedStatus, pb::NeedStatus> = Pairs(&[
    (NeedStatus::Draft, pb::NeedStatus::Draft),
    (NeedStatus::Submitted, pb::NeedStatus::Submitted),
    (NeedStatus::Matching, pb::NeedStatus::Matching),
    (NeedStatus::Proposed, pb::NeedStatus::Proposed),
    (NeedStatus::Accepted, pb::NeedStatus::Accepted),
    (NeedStatus::InProgress, pb::NeedStatus::InProgress),
    (NeedStatus::OnHold, pb::NeedStatus::OnHold),
    (NeedStatus::Completed, pb::NeedStatus::Completed),
    (NeedStatus::Cancelled, pb::NeedStatus::Cancelled),
    (NeedStatus::Failed, pb::NeedStatus::Failed),
    (NeedStatus::EnteredInError, pb::NeedStatus::EnteredInError),
]);

pub const OUTCOMES: Pairs<Outcome, pb::Outcome> = Pairs(&[
    (Outcome::GotHelp, pb::Outcome::GotHelp),
    (Outcome::NoCapacity, pb::Outcome::NoCapacity),
    (Outcome::NotEligible, pb::Outcome::NotEligible),
    (Outcome::CouldNotContact, pb::Outcome::CouldNotContact),
    (Outcome::NoLongerNeeded, pb::Outcome::NoLongerNeeded),
    (Outcome::ReferredElsewhere, pb::Outcome::ReferredElsewhere),
    (Outcome::Declined, pb::Outcome::Declined),
]);

pub const URGENCIES: Pairs<Urgency, pb::Urgency> = Pairs(&[
    (Urgency::Routine, pb::Urgency::Routine),
    (Urgency::Urgent, pb::Urgency::Urgent),
]);

pub const CHANNELS: Pairs<Channel, pb::ReferralChannel> = Pairs(&[
    (
        Channel::CommunitySupportCenter,
        pb::ReferralChannel::CommunitySupportCenter,
    ),
    (Channel::CareManager, pb::ReferralChannel::CareManager),
    (
        Channel::WelfareCommissioner,
        pb::ReferralChannel::WelfareCommissioner,
    ),
    (Channel::Coordinator, pb::ReferralChannel::Coordinator),
    (Channel::Resident, pb::ReferralChannel::Resident),
    (Channel::Family, pb::ReferralChannel::Family),
    (
        Channel::CommunityCareMeeting,
        pb::ReferralChannel::CommunityCareMeeting,
    ),
    (Channel::Survey, pb::ReferralChannel::Survey),
    (Channel::Other, pb::ReferralChannel::Other),
]);

const ELIGIBILITIES: Pairs<Eligibility, pb::Eligibility> = Pairs(&[
    (Eligibility::GeneralElderly, pb::Eligibility::GeneralElderly),
    (Eligibility::ProjectTarget, pb::Eligibility::ProjectTarget),
    (Eligibility::Support1, pb::Eligibility::Support1),
    (Eligibility::Support2, pb::Eligibility::Support2),
    (Eligibility::Care1, pb::Eligibility::Care1),
    (Eligibility::Care2, pb::Eligibility::Care2),
    (Eligibility::Care3, pb::Eligibility::Care3),
    (Eligibility::Care4, pb::Eligibility::Care4),
    (Eligibility::Care5, pb::Eligibility::Care5),
]);

const GENDERS: Pairs<Gender, pb::Gender> = Pairs(&[
    (Gender::Female, pb::Gender::Female),
    (Gender::Male, pb::Gender::Male),
]);

const FREQUENCY_UNITS: Pairs<FrequencyUnit, pb::FrequencyUnit> = Pairs(&[
    (FrequencyUnit::Once, pb::FrequencyUnit::Once),
    (FrequencyUnit::Week, pb::FrequencyUnit::Week),
    (FrequencyUnit::Month, pb::FrequencyUnit::Month),
]);

const GIVERS: Pairs<ConsentGiver, pb::ConsentGiver> = Pairs(&[
    (ConsentGiver::Resident, pb::ConsentGiver::Resident),
    (ConsentGiver::Family, pb::ConsentGiver::Family),
    (ConsentGiver::Guardian, pb::ConsentGiver::Guardian),
]);

const METHODS: Pairs<ConsentMethod, pb::ConsentMethod> = Pairs(&[
    (ConsentMethod::Written, pb::ConsentMethod::Written),
    (ConsentMethod::Verbal, pb::ConsentMethod::Verbal),
    (ConsentMethod::Electronic, pb::ConsentMethod::Electronic),
]);

/// The editable fields of a need as the wire carries them (in SubmitNeedRequest and Need).
pub struct WireNeed<'a> {
    pub area_id: &'a str,
    pub category: &'a str,
    pub urgency: i32,
    pub resident_id: &'a str,
    pub details: Option<&'a pb::NeedDetails>,
    pub channel: i32,
    pub referrer: Option<&'a pb::Referrer>,
    pub notes: &'a str,
}

pub fn raw_need(wire: WireNeed<'_>) -> RawNeed {
    let referrer = wire.referrer.cloned().unwrap_or_default();
    RawNeed {
        area_id: wire.area_id.to_string(),
        category: wire.category.to_string(),
        urgency: URGENCIES.domain(wire.urgency),
        resident_id: wire.resident_id.to_string(),
        details: wire.details.map(raw_details).unwrap_or_default(),
        channel: CHANNELS.domain(wire.channel),
        referrer_name: referrer.name,
        referrer_organization_id: referrer.organization_id,
        referrer_contact: referrer.contact,
        notes: wire.notes.to_string(),
    }
}

fn raw_details(details: &pb::NeedDetails) -> RawDetails {
    let requirements = details.requirements.clone().unwrap_or_default();
    RawDetails {
        location: details.location.as_ref().map(|p| (p.latitude, p.longitude)),
        time_windows: details
            .time_windows
            .iter()
            .map(|w| (u8::try_from(w.weekday).unwrap_or(0), w.start_minute, w.end_minute))
            .collect(),
        frequency: details
            .frequency
            .as_ref()
            .map(|f| (f.times, FREQUENCY_UNITS.domain(f.per))),
        start_date: details.start_date.clone(),
        deadline: details.deadline.clone(),
        eligibility: ELIGIBILITIES.domain(details.eligibility),
        max_fee_yen: details.max_fee_yen,
        wheelchair_vehicle: requirements.wheelchair_vehicle,
        helper_gender: GENDERS.domain(requirements.helper_gender),
        helper_gender_required: requirements.helper_gender_required,
        languages: requirements.languages,
        preferred_helper_id: requirements.preferred_helper_id,
    }
}

pub fn raw_consent(consent: &pb::ConsentInput) -> RawConsent {
    let mut scopes = Scopes::default();
    let mut unknown_scope = false;
    for scope in &consent.scopes {
        match pb::ConsentScope::try_from(*scope) {
            Ok(pb::ConsentScope::ShareNeedWithProviders) => scopes.share_need = true,
            Ok(pb::ConsentScope::ShareContactAfterAcceptance) => scopes.share_contact = true,
            _ => unknown_scope = true,
        }
    }
    // A timestamp chrono cannot hold, or with nanoseconds outside 0–999,999,999, is no time:
    // it is reported, not dropped (dropping it would record the consent as given now).
    let consented_at = consent.consented_at.as_ref().map(|t| {
        u32::try_from(t.nanos)
            .ok()
            .filter(|nanos| *nanos < 1_000_000_000)
            .and_then(|nanos| chrono::DateTime::from_timestamp(t.seconds, nanos))
    });
    RawConsent {
        given_by: GIVERS.domain(consent.given_by),
        method: METHODS.domain(consent.method),
        scopes,
        unknown_scope,
        consented_at: consented_at.flatten(),
        unreadable_time: consented_at.is_some_and(|at| at.is_none()),
    }
}

fn details_to_proto(details: &NeedDetails) -> pb::NeedDetails {
    let requirements = &details.requirements;
    pb::NeedDetails {
        location: details.location.map(|l| common_pb::GeoPoint {
            latitude: l.latitude,
            longitude: l.longitude,
        }),
        time_windows: details
            .time_windows
            .iter()
            .map(|w| common_pb::TimeWindow {
                weekday: i32::from(w.weekday),
                start_minute: w.start_minute,
                end_minute: w.end_minute,
            })
            .collect(),
        frequency: details.frequency.map(|f| pb::Frequency {
            times: f.times,
            per: FREQUENCY_UNITS.proto(f.per),
        }),
        start_date: details.start_date.map(|d| d.to_string()).unwrap_or_default(),
        deadline: details.deadline.map(|d| d.to_string()).unwrap_or_default(),
        eligibility: details.eligibility.map_or(0, |e| ELIGIBILITIES.proto(e)),
        max_fee_yen: details.max_fee_yen,
        requirements: Some(pb::NeedRequirements {
            wheelchair_vehicle: requirements.wheelchair_vehicle,
            helper_gender: requirements.helper_gender.map_or(0, |g| GENDERS.proto(g)),
            helper_gender_required: requirements.helper_gender_required,
            languages: requirements.languages.clone(),
            preferred_helper_id: requirements
                .preferred_helper_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
        }),
    }
}

pub fn status_to_proto(stored: &str) -> i32 {
    NeedStatus::parse(stored).map_or(0, |status| STATUSES.proto(status))
}

pub fn outcome_to_proto(stored: Option<&str>) -> i32 {
    stored
        .and_then(Outcome::parse)
        .map_or(0, |outcome| OUTCOMES.proto(outcome))
}

/// The need on the wire. `private` carries the opened notes when the caller may see them
/// (NEED_VIEW_FULL); otherwise notes and the referrer's contact are left out.
pub fn need_to_proto(stored: StoredNeed, private: Option<String>) -> pb::Need {
    let StoredNeed { row: need, consent } = stored;
    let full = private.is_some();
    let details = need.details();
    let channel = need.channel().map_or(0, |c| CHANNELS.proto(c));
    let referrer = pb::Referrer {
        name: need.referrer_name.clone(),
        organization_id: need
            .referrer_organization_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        contact: if full {
            need.referrer_contact.clone()
        } else {
            String::new()
        },
    };
    pb::Need {
        id: need.id.to_string(),
        municipality_code: need.municipality_code,
        area_id: need.area_id.to_string(),
        category: need.category,
        urgency: URGENCIES.proto(Urgency::parse(&need.urgency)),
        status: status_to_proto(&need.status),
        submitted_at: Some(timestamp(need.submitted_at)),
        version: need.version,
        outcome: outcome_to_proto(need.outcome.as_deref()),
        status_reason: need.status_reason,
        status_changed_at: Some(timestamp(need.status_changed_at)),
        resident_id: need.resident_id.map(|id| id.to_string()).unwrap_or_default(),
        details: Some(details_to_proto(&details)),
        channel,
        referrer: Some(referrer),
        notes: private.unwrap_or_default(),
        consent: consent.map(consent_to_proto),
        follow_up_due_at: need.follow_up_due_at.map(timestamp),
        submitted_by: need.submitted_by,
    }
}

pub fn consent_to_proto(consent: ConsentRow) -> pb::Consent {
    let mut scopes = Vec::new();
    if consent.share_need {
        scopes.push(pb::ConsentScope::ShareNeedWithProviders as i32);
    }
    if consent.share_contact {
        scopes.push(pb::ConsentScope::ShareContactAfterAcceptance as i32);
    }
    pb::Consent {
        id: consent.id.to_string(),
        need_id: consent.need_id.to_string(),
        given_by: ConsentGiver::parse(&consent.given_by).map_or(0, |g| GIVERS.proto(g)),
        method: ConsentMethod::parse(&consent.method).map_or(0, |m| METHODS.proto(m)),
        scopes,
        consented_at: Some(timestamp(consent.consented_at)),
        recorded_by: consent.recorded_by,
        recorded_at: Some(timestamp(consent.recorded_at)),
        withdrawn_at: consent.withdrawn_at.map(timestamp),
        withdrawn_by: consent.withdrawn_by.unwrap_or_default(),
        withdrawal_reason: consent.withdrawal_reason.unwrap_or_default(),
    }
}

pub fn status_change_to_proto(row: StatusChangeRow) -> pb::StatusChange {
    pb::StatusChange {
        version: row.version,
        from: row.from_status.as_deref().map_or(0, status_to_proto),
        to: status_to_proto(&row.status),
        reason: row.reason,
        outcome: outcome_to_proto(row.outcome.as_deref()),
        changed_by: row.changed_by,
        changed_at: Some(timestamp(row.changed_at)),
    }
}

/// One refused item of a batch or stream, as the single call would have refused it.
pub fn item_error(error: ServiceError) -> pb::ItemError {
    let field_violations = match &error {
        ServiceError::InvalidArgument(violations) => violations
            .iter()
            .map(|v| pb::FieldViolation {
                field: v.field.clone(),
                description: v.description.clone(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let status = tonic::Status::from(error);
    pb::ItemError {
        code: code_name(status.code()).to_string(),
        message: status.message().to_string(),
        field_violations,
    }
}

fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64, nanos: i32) -> RawConsent {
        raw_consent(&pb::ConsentInput {
            consented_at: Some(prost_types::Timestamp { seconds, nanos }),
            ..Default::default()
        })
    }

    #[test]
    fn a_consent_time_that_is_no_time_is_reported_not_dropped() {
        let read = at(1_767_225_600, 0);
        assert!(!read.unreadable_time);
        assert_eq!(read.consented_at.unwrap().timestamp(), 1_767_225_600);
        for (seconds, nanos) in [(i64::MAX, 0), (1_767_225_600, -1), (1_767_225_600, 2_000_000_000)] {
            let unreadable = at(seconds, nanos);
            assert!(unreadable.unreadable_time, "{seconds}.{nanos}");
            assert!(unreadable.consented_at.is_none());
        }
        assert!(!raw_consent(&pb::ConsentInput::default()).unreadable_time);
    }
}
