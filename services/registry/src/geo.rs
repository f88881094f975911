//! Where an area is: a representative point (WGS84) and a boundary (GeoJSON, RFC 7946).
//! Checked here so that what is stored can be drawn on a map without surprises.

use serde_json::Value;
use tsunagu_runtime::error::{ServiceResult, Violations};

/// A representative point, e.g. the office of a 地域包括支援センター or a town's centre.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GeoPoint {
    pub latitude: f64,
    pub longitude: f64,
}

impl GeoPoint {
    pub fn parse(latitude: f64, longitude: f64) -> Result<GeoPoint, String> {
        if !(latitude.is_finite() && (-90.0..=90.0).contains(&latitude)) {
            return Err(format!(
                "緯度は-90〜90です（入力: {latitude}） / latitude must be within -90..90"
            ));
        }
        if !(longitude.is_finite() && (-180.0..=180.0).contains(&longitude)) {
            return Err(format!(
                "経度は-180〜180です（入力: {longitude}） / longitude must be within -180..180"
            ));
        }
        Ok(GeoPoint { latitude, longitude })
    }
}

/// Where an area is, as far as it is known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AreaPlace {
    pub point: Option<GeoPoint>,
    pub boundary: Option<Value>,
}

impl AreaPlace {
    /// `location` as (latitude, longitude); an empty `boundary_geojson` means none.
    pub fn parse(location: Option<(f64, f64)>, boundary_geojson: &str) -> ServiceResult<AreaPlace> {
        let mut violations = Violations::new();
        let point = location.and_then(|(latitude, longitude)| {
            violations.check("location", GeoPoint::parse(latitude, longitude))
        });
        let boundary = match boundary_geojson.trim() {
            "" => None,
            geojson => violations.check("boundary_geojson", parse_boundary(geojson)),
        };
        violations.into_result()?;
        Ok(AreaPlace { point, boundary })
    }
}

/// Largest boundary accepted, in bytes of GeoJSON: a detailed municipal border fits easily.
pub const MAX_BOUNDARY_BYTES: usize = 2 * 1024 * 1024;

/// Parses a boundary: a GeoJSON `Polygon` or `MultiPolygon` geometry (or a `Feature` holding
/// one), positions as [longitude, latitude] within range, every ring closed with at least
/// four positions. Returns the geometry alone, as it is stored.
pub fn parse_boundary(geojson: &str) -> Result<Value, String> {
    if geojson.len() > MAX_BOUNDARY_BYTES {
        return Err(format!(
            "境界データが大きすぎます（上限 {} MiB） / boundary too large",
            MAX_BOUNDARY_BYTES >> 20
        ));
    }
    let value: Value = serde_json::from_str(geojson)
        .map_err(|error| format!("GeoJSONとして読めません / not JSON: {error}"))?;
    let geometry = match value.get("type").and_then(Value::as_str) {
        Some("Feature") => value.get("geometry").cloned().unwrap_or(Value::Null),
        _ => value,
    };
    let coordinates = geometry
        .get("coordinates")
        .ok_or("coordinates がありません / no coordinates")?;
    match geometry.get("type").and_then(Value::as_str) {
        Some("Polygon") => check_polygon(coordinates, "")?,
        Some("MultiPolygon") => {
            let polygons = coordinates
                .as_array()
                .filter(|p| !p.is_empty())
                .ok_or("MultiPolygon が空です / empty MultiPolygon")?;
            for (index, polygon) in polygons.iter().enumerate() {
                check_polygon(polygon, &format!("polygon {index}: "))?;
            }
        }
        other => {
            return Err(format!(
                "境界は Polygon または MultiPolygon です（入力: {}） / boundary must be a Polygon or MultiPolygon",
                other.unwrap_or("type なし")
            ));
        }
    }
    Ok(geometry)
}

fn check_polygon(polygon: &Value, context: &str) -> Result<(), String> {
    let rings = polygon
        .as_array()
        .filter(|rings| !rings.is_empty())
        .ok_or(format!("{context}リングがありません / a polygon needs rings"))?;
    for (index, ring) in rings.iter().enumerate() {
        let positions = ring.as_array().ok_or(format!(
            "{context}ring {index} が配列ではありません / not an array"
        ))?;
        if positions.len() < 4 {
            return Err(format!(
                "{context}ring {index} は4点以上必要です / a ring needs at least four positions"
            ));
        }
        let points = positions
            .iter()
            .map(|position| {
                let pair = position.as_array().filter(|pair| pair.len() >= 2);
                let number = |i: usize| pair.and_then(|pair| pair[i].as_f64());
                match (number(0), number(1)) {
                    // GeoJSON order: longitude first.
                    (Some(longitude), Some(latitude)) => GeoPoint::parse(latitude, longitude),
                    _ => Err(
                        "座標は [経度, 緯度] の数値です / positions are [longitude, latitude]".to_string(),
                    ),
                }
                .map_err(|reason| format!("{context}ring {index}: {reason}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if points.first() != points.last() {
            return Err(format!(
                "{context}ring {index} が閉じていません（始点と終点が違います） / ring is not closed"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[136.6,35.35],[136.65,35.35],[136.65,35.38],[136.6,35.38],[136.6,35.35]]]}"#;

    #[test]
    fn a_closed_polygon_and_a_feature_holding_one_are_accepted() {
        assert_eq!(parse_boundary(SQUARE).unwrap()["type"], "Polygon");
        let feature = format!(r#"{{"type":"Feature","properties":{{}},"geometry":{SQUARE}}}"#);
        assert_eq!(
            parse_boundary(&feature).unwrap()["type"],
            "Polygon",
            "stored as the geometry"
        );
        let multi = r#"{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]]]}"#;
        assert!(parse_boundary(multi).is_ok());
    }

    #[test]
    fn what_cannot_be_drawn_is_refused_with_a_reason() {
        let open_ring = r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}"#;
        assert!(parse_boundary(open_ring).unwrap_err().contains("閉じていません"));
        let swapped = r#"{"type":"Polygon","coordinates":[[[35,136],[35,137],[36,137],[35,136]]]}"#;
        assert!(
            parse_boundary(swapped).unwrap_err().contains("緯度"),
            "latitude 136 is out of range"
        );
        let point = r#"{"type":"Point","coordinates":[136.6,35.3]}"#;
        assert!(parse_boundary(point).unwrap_err().contains("Polygon"));
        assert!(parse_boundary("{").unwrap_err().contains("JSON"));
        let short = r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}"#;
        assert!(parse_boundary(short).unwrap_err().contains("4点"));
    }

    #[test]
    fn points_must_be_on_the_earth() {
        assert!(GeoPoint::parse(35.36, 136.61).is_ok());
        assert!(GeoPoint::parse(91.0, 0.0).is_err());
        assert!(GeoPoint::parse(0.0, f64::NAN).is_err());
    }
}
