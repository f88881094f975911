//! What of a need leaves intake, and when: the one place that decides an event's payload.
//!
//! Matching (and through it the providers) sees a need's ids and matching-relevant fields
//! only when the consent in force allows sharing the need; otherwise it learns that a need of
//! this category exists in this area (for the gap map) and nothing about whom it is for.
//! Personal data, private notes and the referrer never leave.

use sqlx::PgConnection;
use tsunagu_runtime::error::ServiceResult;
use tsunagu_runtime::events::{self, NeedDetailsPayload, NeedSubmitted, NeedWithdrawn, WeeklyWindowPayload};
use tsunagu_runtime::outbox;

use crate::consent::ConsentRow;
use crate::need_fields::NeedDetails;
use crate::need_row::NeedRow;

/// The need as matching may see it under `consent`.
pub fn matching_view(row: &NeedRow, consent: Option<&ConsentRow>) -> NeedSubmitted {
    let shared = consent.is_some_and(|consent| consent.share_need);
    let details = row.details();
    NeedSubmitted {
        need_id: row.id,
        municipality_code: row.municipality_code.clone(),
        area_id: row.area_id,
        category: row.category.clone(),
        urgency: row.urgency.clone(),
        resident_id: row.resident_id.filter(|_| shared),
        version: row.version,
        shared,
        details: (shared && !details.is_empty()).then(|| payload(&details)),
    }
}

fn payload(details: &NeedDetails) -> NeedDetailsPayload {
    let requirements = &details.requirements;
    NeedDetailsPayload {
        latitude: details.location.map(|l| l.latitude),
        longitude: details.location.map(|l| l.longitude),
        time_windows: details
            .time_windows
            .iter()
            .map(|w| WeeklyWindowPayload {
                weekday: w.weekday,
                start_minute: w.start_minute,
                end_minute: w.end_minute,
            })
            .collect(),
        frequency_times: details.frequency.map(|f| f.times),
        frequency_per: details.frequency.map(|f| f.per.as_str().to_string()),
        start_date: details.start_date,
        deadline: details.deadline,
        eligibility: details.eligibility.map(|e| e.as_str().to_string()),
        max_fee_yen: details.max_fee_yen,
        wheelchair_vehicle: requirements.wheelchair_vehicle,
        helper_gender: requirements.helper_gender.map(|g| g.as_str().to_string()),
        helper_gender_required: requirements.helper_gender_required,
        languages: requirements.languages.clone(),
        preferred_helper_id: requirements.preferred_helper_id,
    }
}

/// `need.submitted` in the caller's transaction.
pub async fn announce_submitted(
    tx: &mut PgConnection,
    row: &NeedRow,
    consent: Option<&ConsentRow>,
) -> ServiceResult<()> {
    let event = matching_view(row, consent);
    outbox::enqueue(tx, events::NEED_SUBMITTED, &row.municipality_code, &event).await?;
    Ok(())
}

/// `need.updated`: the need's state after an edit, or a consent that now allows sharing.
pub async fn announce_updated(
    tx: &mut PgConnection,
    row: &NeedRow,
    consent: Option<&ConsentRow>,
) -> ServiceResult<()> {
    let event = matching_view(row, consent);
    outbox::enqueue(tx, events::NEED_UPDATED, &row.municipality_code, &event).await?;
    Ok(())
}

/// `need.withdrawn`: the need must no longer be matched or shared.
pub async fn announce_withdrawn(tx: &mut PgConnection, row: &NeedRow, reason: &str) -> ServiceResult<()> {
    let event = NeedWithdrawn {
        need_id: row.id,
        municipality_code: row.municipality_code.clone(),
        version: row.version,
        reason: reason.to_string(),
    };
    outbox::enqueue(tx, events::NEED_WITHDRAWN, &row.municipality_code, &event).await?;
    Ok(())
}
