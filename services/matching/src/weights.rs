//! Each municipality's cost weights: the engine's defaults, with what the municipality
//! changed (stored as a JSON object of the changed fields, set through SetMatchingSettings).

use std::collections::BTreeMap;

use sqlx::PgConnection;
use sqlx::types::Json;
use tsunagu_matching_engine::domain::Weights;

/// The weights by name, as they are stored and shown.
pub const NAMES: [&str; 9] = [
    "per_km",
    "per_percent_unscheduled",
    "min_schedule_percent",
    "unfamiliar_helper",
    "gender_preference_missed",
    "unknown_fee",
    "per_percent_load",
    "routine_unmatched",
    "urgent_unmatched",
];

pub fn get(weights: &Weights, name: &str) -> Option<i64> {
    Some(match name {
        "per_km" => weights.per_km,
        "per_percent_unscheduled" => weights.per_percent_unscheduled,
        "min_schedule_percent" => i64::from(weights.min_schedule_percent),
        "unfamiliar_helper" => weights.unfamiliar_helper,
        "gender_preference_missed" => weights.gender_preference_missed,
        "unknown_fee" => weights.unknown_fee,
        "per_percent_load" => weights.per_percent_load,
        "routine_unmatched" => weights.routine_unmatched,
        "urgent_unmatched" => weights.urgent_unmatched,
        _ => return None,
    })
}

/// The largest weight a municipality may set: a hundred million times the unit, far beyond
/// any sensible preference (the defaults are 5 to 1,000,000), and small enough that the
/// engine's costs — a weight times kilometres or percent, summed over a plan — stay far
/// from overflowing an i64.
pub const MAX_WEIGHT: i64 = 100_000_000;

/// Sets one weight; `Err` says what is wrong with the value, in a coordinator's words.
pub fn set(weights: &mut Weights, name: &str, value: i64) -> Result<(), String> {
    if value < 0 {
        return Err(format!("{name} は0以上です / must not be negative"));
    }
    if value > MAX_WEIGHT {
        return Err(format!(
            "{name} は 100,000,000 以下にしてください / must be at most 100,000,000"
        ));
    }
    match name {
        "per_km" => weights.per_km = value,
        "per_percent_unscheduled" => weights.per_percent_unscheduled = value,
        "min_schedule_percent" if value <= 100 => weights.min_schedule_percent = value as u32,
        "min_schedule_percent" => return Err("min_schedule_percent は0〜100です / must be 0..100".into()),
        "unfamiliar_helper" => weights.unfamiliar_helper = value,
        "gender_preference_missed" => weights.gender_preference_missed = value,
        "unknown_fee" => weights.unknown_fee = value,
        "per_percent_load" => weights.per_percent_load = value,
        "routine_unmatched" => weights.routine_unmatched = value,
        "urgent_unmatched" => weights.urgent_unmatched = value,
        _ => {
            return Err(format!(
                "重み {name} はありません / unknown weight (known: {})",
                NAMES.join(", ")
            ));
        }
    }
    Ok(())
}

/// The weights with `changed` applied over the defaults; names it does not know are refused.
pub fn with_changes(changed: &BTreeMap<String, i64>) -> Result<Weights, Vec<(String, String)>> {
    let mut weights = Weights::default();
    let problems: Vec<(String, String)> = changed
        .iter()
        .filter_map(|(name, value)| set(&mut weights, name, *value).err().map(|e| (name.clone(), e)))
        .collect();
    if problems.is_empty() {
        Ok(weights)
    } else {
        Err(problems)
    }
}

pub async fn changes(
    conn: &mut PgConnection,
    municipality_code: &str,
) -> sqlx::Result<BTreeMap<String, i64>> {
    let stored: Option<Json<BTreeMap<String, i64>>> =
        sqlx::query_scalar("SELECT weights FROM municipality_settings WHERE municipality_code = $1")
            .bind(municipality_code)
            .fetch_optional(conn)
            .await?;
    Ok(stored.map(|json| json.0).unwrap_or_default())
}

/// Replaces the municipality's changed weights (its other settings must exist: saved first).
pub async fn save_changes(
    conn: &mut PgConnection,
    municipality_code: &str,
    changed: &BTreeMap<String, i64>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE municipality_settings SET weights = $2 WHERE municipality_code = $1")
        .bind(municipality_code)
        .bind(Json(changed))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn load(conn: &mut PgConnection, municipality_code: &str) -> sqlx::Result<Weights> {
    let changed = changes(conn, municipality_code).await?;
    // Stored values were checked when they were set; one that no longer fits is ignored.
    let mut weights = Weights::default();
    for (name, value) in &changed {
        if let Err(problem) = set(&mut weights, name, *value) {
            tracing::warn!(municipality_code, name, problem, "stored weight ignored");
        }
    }
    Ok(weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_weight_beyond_the_maximum_is_refused() {
        let mut weights = Weights::default();
        assert!(set(&mut weights, "per_km", i64::MAX).is_err());
        assert!(set(&mut weights, "per_km", MAX_WEIGHT + 1).is_err());
        assert!(set(&mut weights, "per_km", MAX_WEIGHT).is_ok());
        assert_eq!(weights.per_km, MAX_WEIGHT);
    }

    #[test]
    fn changes_apply_over_the_defaults_and_bad_ones_are_named() {
        let changed = BTreeMap::from([
            ("per_km".to_string(), 250),
            ("min_schedule_percent".to_string(), 80),
        ]);
        let weights = with_changes(&changed).unwrap();
        assert_eq!(weights.per_km, 250);
        assert_eq!(weights.min_schedule_percent, 80);
        assert_eq!(weights.urgent_unmatched, Weights::default().urgent_unmatched);
        let bad = BTreeMap::from([("per_mile".to_string(), 1), ("unknown_fee".to_string(), -1)]);
        let problems = with_changes(&bad).unwrap_err();
        assert_eq!(problems.len(), 2);
        assert!(NAMES.iter().all(|name| get(&Weights::default(), name).is_some()));
    }
}
