//! GeoJSON area boundaries (`services/registry/src/geo.rs`, compiled in here by path: the
//! module is private to the registry crate, and pulling the whole registry in would build its
//! database and gRPC layers for nothing). What it accepts must be a Polygon or MultiPolygon
//! whose positions are all in range.
#![no_main]

#[allow(dead_code)]
#[path = "../../services/registry/src/geo.rs"]
mod geo;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A representative point from the first 16 bytes, as a request could carry any double.
    if let (Some(latitude), Some(longitude)) = (data.get(..8), data.get(8..16)) {
        let latitude = f64::from_le_bytes(latitude.try_into().unwrap());
        let longitude = f64::from_le_bytes(longitude.try_into().unwrap());
        if let Ok(point) = geo::GeoPoint::parse(latitude, longitude) {
            assert!((-90.0..=90.0).contains(&point.latitude));
            assert!((-180.0..=180.0).contains(&point.longitude));
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(geometry) = geo::parse_boundary(text) {
        let kind = geometry.get("type").and_then(|t| t.as_str());
        assert!(matches!(kind, Some("Polygon" | "MultiPolygon")), "{kind:?}");
        // What is stored must serialise.
        serde_json::to_string(&geometry).unwrap();
    }
    let _ = geo::AreaPlace::parse(None, text);
});
