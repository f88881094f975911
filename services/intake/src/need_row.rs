//! A need as stored: the row, its columns, and the way back to the domain's [`NeedContent`].

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use crate::consent::ConsentRow;
use crate::domain::{NeedContent, Urgency};
use crate::lifecycle::NeedStatus;
use crate::need_fields::{
    Channel, CoarseLocation, Eligibility, Frequency, FrequencyUnit, NeedDetails, Referrer, Requirements,
    WantedWindow,
};
use crate::sealing::Sealed;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NeedRow {
    pub id: Uuid,
    pub municipality_code: String,
    pub area_id: Uuid,
    pub category: String,
    pub urgency: String,
    pub status: String,
    pub submitted_at: DateTime<Utc>,
    pub request_fingerprint: String,
    pub version: i64,
    pub outcome: Option<String>,
    pub status_reason: String,
    pub status_changed_at: DateTime<Utc>,
    pub resident_id: Option<Uuid>,
    pub location_lat: Option<f64>,
    pub location_lon: Option<f64>,
    pub time_windows: Json<Vec<WantedWindow>>,
    pub frequency_times: Option<i32>,
    pub frequency_per: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub deadline: Option<NaiveDate>,
    pub eligibility: Option<String>,
    pub max_fee_yen: Option<i32>,
    pub requirements: Json<Requirements>,
    pub channel: Option<String>,
    pub referrer_name: String,
    pub referrer_organization_id: Option<Uuid>,
    pub referrer_contact: String,
    pub notes_key_id: Option<String>,
    pub notes_nonce: Option<Vec<u8>>,
    pub notes_sealed: Option<Vec<u8>>,
    pub submitted_by: String,
    pub follow_up_due_at: Option<DateTime<Utc>>,
}

pub const NEED_COLUMNS: &str = "id, municipality_code, area_id, category, urgency, status, submitted_at,
     request_fingerprint, version, outcome, status_reason, status_changed_at, resident_id, location_lat,
     location_lon, time_windows, frequency_times, frequency_per, start_date, deadline, eligibility,
     max_fee_yen, requirements, channel, referrer_name, referrer_organization_id, referrer_contact,
     notes_key_id, notes_nonce, notes_sealed, submitted_by, follow_up_due_at";

/// A need with the consent in force, as most calls answer it.
#[derive(Debug, Clone)]
pub struct StoredNeed {
    pub row: NeedRow,
    pub consent: Option<ConsentRow>,
}

impl NeedRow {
    pub fn status(&self) -> NeedStatus {
        NeedStatus::parse(&self.status).expect("the CHECK constraint admits known statuses only")
    }

    pub fn details(&self) -> NeedDetails {
        let frequency = match (
            self.frequency_times,
            self.frequency_per.as_deref().and_then(FrequencyUnit::parse),
        ) {
            (Some(times), Some(per)) => Frequency::new(u32::try_from(times).unwrap_or(1), per).ok(),
            _ => None,
        };
        NeedDetails {
            location: self
                .location_lat
                .zip(self.location_lon)
                .map(|(latitude, longitude)| CoarseLocation { latitude, longitude }),
            time_windows: self.time_windows.0.clone(),
            frequency,
            start_date: self.start_date,
            deadline: self.deadline,
            eligibility: self.eligibility.as_deref().and_then(Eligibility::parse),
            max_fee_yen: self.max_fee_yen.and_then(|fee| u32::try_from(fee).ok()),
            requirements: self.requirements.0.clone(),
        }
    }

    pub fn channel(&self) -> Option<Channel> {
        self.channel.as_deref().and_then(Channel::parse)
    }

    pub fn referrer(&self) -> Referrer {
        Referrer {
            name: self.referrer_name.clone(),
            organization_id: self.referrer_organization_id,
            contact: self.referrer_contact.clone(),
        }
    }

    /// The sealed notes, if the need has any.
    pub fn sealed_notes(&self) -> Option<Sealed> {
        Some(Sealed {
            key_id: self.notes_key_id.clone()?,
            nonce: self.notes_nonce.clone()?,
            ciphertext: self.notes_sealed.clone()?,
        })
    }

    /// The content, with `notes` as opened by the caller (the row holds them sealed).
    pub fn content(&self, notes: String) -> NeedContent {
        NeedContent {
            area_id: self.area_id,
            category: self.category.clone(),
            urgency: Urgency::parse(&self.urgency),
            resident_id: self.resident_id,
            details: self.details(),
            channel: self.channel(),
            referrer: self.referrer(),
            notes,
        }
    }
}

/// The row's identity, bound into the seal of its notes: notes copied to another row do not
/// open.
pub fn notes_associated_data(need_id: Uuid, municipality_code: &str) -> Vec<u8> {
    format!("need-notes:{need_id}:{municipality_code}").into_bytes()
}
