//! A resource's terms as matching reads them (`ResourceTermsPayload` in `resource.*` events):
//! the schedule flattened to weekly windows, the fee to yen per use, the point coarsened when
//! the location is confidential. Pure, so the flattening is tested on its own.

use chrono::{Datelike, NaiveDate, Timelike};
use tsunagu_runtime::events::{ResourceTermsPayload, WeeklyWindowPayload};

use super::model::{Fee, Gender, ResourceFields};

/// How far ahead schedules are read: four weeks catch every weekly and every monthly rule.
const HORIZON_DAYS: i64 = 28;

/// A confidential point is published to matching only to this grid (about 500 m), as
/// intake does with needs.
const CONFIDENTIAL_GRID_DEGREES: f64 = 0.005;

pub fn terms(fields: &ResourceFields, today: NaiveDate) -> ResourceTermsPayload {
    let coarse = |degrees: f64| (degrees / CONFIDENTIAL_GRID_DEGREES).round() * CONFIDENTIAL_GRID_DEGREES;
    let point = fields
        .location
        .point
        .map(|point| match fields.location.confidential {
            true => (coarse(point.latitude), coarse(point.longitude)),
            false => (point.latitude, point.longitude),
        });
    ResourceTermsPayload {
        latitude: point.map(|(latitude, _)| latitude),
        longitude: point.map(|(_, longitude)| longitude),
        weekly_windows: weekly_windows(fields, today),
        eligibility: fields
            .eligibility
            .iter()
            .map(|e| e.as_str().to_string())
            .collect(),
        fee_yen: match &fields.fee {
            Fee::Unknown => None,
            Fee::Free { .. } => Some(0),
            Fee::Paid { amount_yen, .. } => Some(*amount_yen),
        },
        wheelchair_vehicle: fields.capabilities.wheelchair_vehicle,
        languages: fields.capabilities.languages.clone(),
        helper_genders: fields
            .capabilities
            .helper_genders
            .iter()
            .map(|gender| match gender {
                Gender::Female => "female".to_string(),
                Gender::Male => "male".to_string(),
            })
            .collect(),
    }
}

/// The weekday windows on which the schedule opens in the coming four weeks, merged per
/// weekday and sorted.
fn weekly_windows(fields: &ResourceFields, today: NaiveDate) -> Vec<WeeklyWindowPayload> {
    let last = today + chrono::Duration::days(HORIZON_DAYS - 1);
    let mut windows: Vec<WeeklyWindowPayload> = Vec::new();
    for entry in &fields.schedules {
        for occurrence in entry.occurrences(today, last) {
            let minutes = |time: chrono::NaiveTime| time.hour() * 60 + time.minute();
            let end = match minutes(occurrence.closes_at) {
                // 23:59 stands for the end of the day.
                1439 => 1440,
                end => end,
            };
            windows.push(WeeklyWindowPayload {
                weekday: occurrence.date.weekday().number_from_monday() as u8,
                start_minute: minutes(occurrence.opens_at),
                end_minute: end,
            });
        }
    }
    windows.sort_by_key(|w| (w.weekday, w.start_minute, w.end_minute));
    let mut merged: Vec<WeeklyWindowPayload> = Vec::new();
    for window in windows {
        match merged.last_mut() {
            Some(last) if last.weekday == window.weekday && window.start_minute <= last.end_minute => {
                last.end_minute = last.end_minute.max(window.end_minute);
            }
            _ => merged.push(window),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use tsunagu_calendar::ScheduleEntry;

    fn fields(schedules: &[&str]) -> ResourceFields {
        let mut fields: ResourceFields = serde_json::from_value(serde_json::json!({
            "organization_id": uuid::Uuid::nil(),
            "name": "n", "name_kana": "", "description": "", "category": "life.garbage", "kind": "use",
            "coverage_area_ids": [], "capacity": {"available": 1, "maximum": 1, "unit": ""},
            "fee": {"type": "paid", "amount_yen": 300, "unit": "回"}, "eligibility": ["support1"],
            "min_age": null, "max_age": null,
            "capabilities": {"wheelchair_vehicle": true, "languages": ["en"], "helper_genders": ["female"]},
            "schedules": [], "status": "active", "status_note": "",
            "location": {"address": "", "point": {"latitude": 35.3612, "longitude": 136.6183}, "confidential": true},
            "external_id": null, "url": ""
        }))
        .expect("valid fields");
        fields.schedules = schedules
            .iter()
            .map(|text| ScheduleEntry::parse_japanese(text).expect("a schedule people write"))
            .collect();
        fields
    }

    #[test]
    fn weekly_and_monthly_rules_become_weekday_windows_merged_per_day() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let terms = terms(
            &fields(&[
                "毎週火曜 9:00〜12:00",
                "毎週火曜 11:00〜13:00",
                "毎月第2金曜 13:00〜15:00",
            ]),
            today,
        );
        let windows: Vec<(u8, u32, u32)> = terms
            .weekly_windows
            .iter()
            .map(|w| (w.weekday, w.start_minute, w.end_minute))
            .collect();
        assert_eq!(windows, [(2, 540, 780), (5, 780, 900)]);
    }

    #[test]
    fn fee_capabilities_and_a_coarsened_confidential_point() {
        let terms = terms(&fields(&[]), NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        assert_eq!(terms.fee_yen, Some(300));
        assert_eq!(terms.eligibility, ["support_1"]);
        assert!(terms.wheelchair_vehicle);
        assert_eq!(terms.helper_genders, ["female"]);
        assert!((terms.latitude.unwrap() - 35.36).abs() < 1e-9);
        assert!((terms.longitude.unwrap() - 136.62).abs() < 1e-9);
        assert!(terms.weekly_windows.is_empty());
    }
}
