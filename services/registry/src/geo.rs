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
        match self_intersection(&points) {
            Ok(None) => {}
            Ok(Some((a, b))) => {
                return Err(format!(
                    "{context}ring {index} の辺 {a} と辺 {b} が交差しています（8の字のような境界は面積が定まりません） / ring {index} crosses itself (edges {a} and {b})"
                ));
            }
            Err(TooComplex) => {
                return Err(format!(
                    "{context}ring {index} は複雑すぎて検査できません。頂点を減らしてください / ring {index} is too complex to check"
                ));
            }
        }
    }
    Ok(())
}

/// A ring whose edges cross each other too often to be checked within the budget.
struct TooComplex;

/// Pairs of edges looked at most: a municipal border of 100,000 vertices needs a few
/// million; only a ring drawn to defeat the grid needs more.
const MAX_EDGE_PAIRS: usize = 20_000_000;

/// Places of edges in grid cells at most (an edge is in every cell its bounding box touches):
/// a border's short edges take one to four cells each; long edges across the whole ring, all
/// crossing, would take the square of their number (found while fuzzing, issue 17). 4 million
/// places are 32 MB.
const MAX_GRID_ENTRIES: usize = 4_000_000;

/// Two edges of a closed ring that cross or overlap, other than neighbours meeting at their
/// shared vertex: a self-intersecting boundary (a bow tie) has no well-defined inside, so
/// "does this area contain that point" has no answer. Edges are bucketed in a grid over the
/// ring's bounding box, so that a border of many thousand vertices costs about n·√n
/// comparisons, not n².
fn self_intersection(points: &[GeoPoint]) -> Result<Option<(usize, usize)>, TooComplex> {
    let xy: Vec<(f64, f64)> = points.iter().map(|p| (p.longitude, p.latitude)).collect();
    let edges: Vec<usize> = (0..xy.len() - 1).filter(|&i| xy[i] != xy[i + 1]).collect();
    if edges.len() < 3 {
        return Ok(None);
    }
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &(x, y) in &xy {
        min_x = min_x.min(x);
        min_y = min_y.min(y);
        max_x = max_x.max(x);
        max_y = max_y.max(y);
    }
    let side = (edges.len() as f64).sqrt().ceil().max(1.0) as usize;
    let cell_of = |value: f64, min: f64, max: f64| -> usize {
        if max <= min {
            return 0;
        }
        (((value - min) / (max - min)) * side as f64)
            .floor()
            .clamp(0.0, (side - 1) as f64) as usize
    };
    let mut cells: Vec<Vec<usize>> = vec![Vec::new(); side * side];
    // The first cell (lowest index) of each edge's span: two edges are compared in the first
    // cell they share only, so no pair is compared twice and nothing remembers pairs.
    let mut firsts: Vec<(usize, usize)> = Vec::with_capacity(edges.len());
    let mut entries = 0usize;
    for (slot, &i) in edges.iter().enumerate() {
        let (a, b) = (xy[i], xy[i + 1]);
        let (x0, x1) = (
            cell_of(a.0.min(b.0), min_x, max_x),
            cell_of(a.0.max(b.0), min_x, max_x),
        );
        let (y0, y1) = (
            cell_of(a.1.min(b.1), min_y, max_y),
            cell_of(a.1.max(b.1), min_y, max_y),
        );
        entries += (x1 - x0 + 1) * (y1 - y0 + 1);
        if entries > MAX_GRID_ENTRIES {
            return Err(TooComplex);
        }
        firsts.push((x0, y0));
        for cx in x0..=x1 {
            for cy in y0..=y1 {
                cells[cy * side + cx].push(slot);
            }
        }
    }
    let last = xy.len() - 2;
    let neighbours = |i: usize, j: usize| j == i + 1 || (i == 0 && j == last);
    let mut budget = MAX_EDGE_PAIRS;
    for (index, cell) in cells.iter().enumerate() {
        for (k, &first) in cell.iter().enumerate() {
            for &second in &cell[k + 1..] {
                budget = budget.checked_sub(1).ok_or(TooComplex)?;
                let (i, j) = (edges[first.min(second)], edges[first.max(second)]);
                let shared_first =
                    firsts[first].1.max(firsts[second].1) * side + firsts[first].0.max(firsts[second].0);
                if neighbours(i, j) || shared_first != index {
                    continue;
                }
                if segments_meet(xy[i], xy[i + 1], xy[j], xy[j + 1]) {
                    return Ok(Some((i, j)));
                }
            }
        }
    }
    Ok(None)
}

/// Whether segments ab and cd share any point (crossing, touching or overlapping).
fn segments_meet(a: (f64, f64), b: (f64, f64), c: (f64, f64), d: (f64, f64)) -> bool {
    let orientation = |p: (f64, f64), q: (f64, f64), r: (f64, f64)| {
        let value = (q.1 - p.1) * (r.0 - q.0) - (q.0 - p.0) * (r.1 - q.1);
        if value > 0.0 {
            1
        } else if value < 0.0 {
            -1
        } else {
            0
        }
    };
    let on_segment = |p: (f64, f64), q: (f64, f64), r: (f64, f64)| {
        q.0 <= p.0.max(r.0) && q.0 >= p.0.min(r.0) && q.1 <= p.1.max(r.1) && q.1 >= p.1.min(r.1)
    };
    let (o1, o2, o3, o4) = (
        orientation(a, b, c),
        orientation(a, b, d),
        orientation(c, d, a),
        orientation(c, d, b),
    );
    (o1 != o2 && o3 != o4)
        || (o1 == 0 && on_segment(a, c, b))
        || (o2 == 0 && on_segment(a, d, b))
        || (o3 == 0 && on_segment(c, a, d))
        || (o4 == 0 && on_segment(c, b, d))
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
    fn a_ring_that_crosses_itself_is_refused_and_a_detailed_border_is_not() {
        let bow_tie = r#"{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}"#;
        assert!(parse_boundary(bow_tie).unwrap_err().contains("交差"));
        let spike_back = r#"{"type":"Polygon","coordinates":[[[0,0],[2,0],[2,2],[1,0],[0,2],[0,0]]]}"#;
        assert!(parse_boundary(spike_back).unwrap_err().contains("交差"));
        // A border of 20,000 vertices (a circle) is checked quickly and accepted.
        let n = 20_000;
        let ring: Vec<String> = (0..=n)
            .map(|k| {
                let angle = std::f64::consts::TAU * (k % n) as f64 / n as f64;
                format!("[{},{}]", 136.6 + 0.05 * angle.cos(), 35.36 + 0.05 * angle.sin())
            })
            .collect();
        let circle = format!(r#"{{"type":"Polygon","coordinates":[[{}]]}}"#, ring.join(","));
        let started = std::time::Instant::now();
        assert!(parse_boundary(&circle).is_ok());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    /// A ring as `{"type":"Polygon",…}` from (longitude, latitude) pairs, closed.
    fn polygon(mut points: Vec<(f64, f64)>) -> String {
        points.push(points[0]);
        let ring: Vec<String> = points.iter().map(|(x, y)| format!("[{x},{y}]")).collect();
        format!(r#"{{"type":"Polygon","coordinates":[[{}]]}}"#, ring.join(","))
    }

    #[test]
    fn rings_drawn_to_defeat_the_grid_are_answered_quickly() {
        // Found while fuzzing (issue 17: inputs written for the geo_boundary target, which
        // libFuzzer's small inputs do not reach; times under AddressSanitizer). Long edges back
        // and forth across the ring, every edge in every cell: 8,000 vertices took 1.4 GB, 10 s.
        let star = polygon(
            (0..8_000)
                .map(|k| {
                    if k % 2 == 0 {
                        (0.0, 0.0)
                    } else {
                        (1.0, 1.0 - k as f64 * 1e-9)
                    }
                })
                .collect(),
        );
        // A fine sawtooth in one cell of the grid, far from the ring's other corners: every
        // pair of its 10,000 edges compared and remembered (1.1 GB, over two minutes).
        let n = 10_000;
        let mut saw: Vec<(f64, f64)> = (0..=n)
            .map(|k| (k as f64 * 1e-7, if k % 2 == 0 { 0.0 } else { 1e-6 }))
            .collect();
        saw.extend([(100.0, 50.0), (0.0, 50.0)]);
        for ring in [star, polygon(saw)] {
            let started = std::time::Instant::now();
            assert!(parse_boundary(&ring).is_err());
            // A few seconds in a debug build on a busy machine; well under one optimised.
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "{:?}",
                started.elapsed()
            );
        }
    }

    #[test]
    fn points_must_be_on_the_earth() {
        assert!(GeoPoint::parse(35.36, 136.61).is_ok());
        assert!(GeoPoint::parse(91.0, 0.0).is_err());
        assert!(GeoPoint::parse(0.0, f64::NAN).is_err());
    }
}
