//! The gap map as a sheet and as an SVG bar chart a coordinator can put in front of a 協議体:
//! one bar per area and category, the needs served (green), waiting for consent (grey) and
//! unmatched (red), with the places offered beside it. Japanese labels; no scripts, no
//! external fonts.

use std::fmt::Write;

use tsunagu_runtime::taxonomy;

use crate::gap_map::GapRow;

/// The category as coordinators name it.
pub fn category_name(code: &str) -> String {
    taxonomy::resolve_bundled(code).map_or_else(|| code.to_string(), |entry| entry.name.clone())
}

pub const HEADERS: [&str; 17] = [
    "区域",
    "区域ID",
    "カテゴリ",
    "ニーズ",
    "同意待ち",
    "提案中",
    "受諾",
    "マッチせず",
    "うち資源なし",
    "うち区域外",
    "うち満員・辞退",
    "うち条件不一致",
    "受け入れ枠",
    "使用中",
    "地域課題（人数）",
    "保留",
    "支援完了",
];

pub fn sheet_rows(rows: &[GapRow]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|row| {
            vec![
                row.area_name.clone(),
                row.area_id.to_string(),
                category_name(&row.category),
                row.needs.to_string(),
                row.awaiting_consent.to_string(),
                row.proposed.to_string(),
                row.accepted.to_string(),
                row.unmatched.to_string(),
                row.unmatched_no_resource.to_string(),
                row.unmatched_no_coverage.to_string(),
                row.unmatched_at_capacity.to_string(),
                row.unmatched_conditions.to_string(),
                row.capacity_offered.to_string(),
                row.capacity_used.to_string(),
                row.area_issue_count.to_string(),
                row.on_hold.to_string(),
                row.completed.to_string(),
            ]
        })
        .collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Most bars drawn; the rows with the most unmatched needs first.
const MAX_BARS: usize = 40;

pub fn svg(title: &str, rows: &[GapRow]) -> String {
    let mut shown: Vec<&GapRow> = rows
        .iter()
        .filter(|row| row.needs > 0 || row.area_issue_count > 0)
        .collect();
    shown.sort_by(|a, b| (b.unmatched, b.needs, &a.area_name).cmp(&(a.unmatched, a.needs, &b.area_name)));
    shown.truncate(MAX_BARS);
    let scale_max = shown
        .iter()
        .map(|row| row.needs.max(row.capacity_offered))
        .max()
        .unwrap_or(1)
        .max(1);
    let (label_width, bar_width, row_height, top) = (260.0, 520.0, 26.0, 70.0);
    let height = top + row_height * shown.len() as f64 + 40.0;
    let width = label_width + bar_width + 120.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="'Noto Sans JP','Hiragino Sans','Yu Gothic',sans-serif" font-size="13">"#
    );
    let _ = write!(out, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = write!(
        out,
        r#"<text x="16" y="28" font-size="18" font-weight="bold">{}</text>"#,
        escape(title)
    );
    let legend = [
        ("#2e7d32", "提案・受諾"),
        ("#9e9e9e", "同意待ち・保留"),
        ("#c62828", "マッチせず"),
        ("#1565c0", "受け入れ枠"),
    ];
    for (index, (colour, label)) in legend.iter().enumerate() {
        let x = 16.0 + 150.0 * index as f64;
        let _ = write!(
            out,
            r#"<rect x="{x}" y="40" width="12" height="12" fill="{colour}"/><text x="{}" y="51">{label}</text>"#,
            x + 18.0
        );
    }
    for (index, row) in shown.iter().enumerate() {
        let y = top + row_height * index as f64;
        let label = format!("{} / {}", row.area_name, category_name(&row.category));
        let _ = write!(out, r#"<text x="16" y="{}">{}</text>"#, y + 16.0, escape(&label));
        let unit = bar_width / scale_max as f64;
        let segments = [
            (row.proposed + row.accepted, "#2e7d32"),
            (row.awaiting_consent + row.on_hold, "#9e9e9e"),
            (row.unmatched, "#c62828"),
        ];
        let mut x = label_width;
        for (count, colour) in segments {
            if count > 0 {
                let w = count as f64 * unit;
                let _ = write!(
                    out,
                    r#"<rect x="{x:.1}" y="{}" width="{w:.1}" height="14" fill="{colour}"/>"#,
                    y + 4.0
                );
                x += w;
            }
        }
        // The places offered, as a blue tick, and the figures at the end.
        let tick = label_width + row.capacity_offered as f64 * unit;
        let _ = write!(
            out,
            r##"<rect x="{tick:.1}" y="{}" width="2" height="20" fill="#1565c0"/>"##,
            y + 1.0
        );
        let _ = write!(
            out,
            r#"<text x="{}" y="{}">{} 件 / 未 {}</text>"#,
            label_width + bar_width + 10.0,
            y + 16.0,
            row.needs,
            row.unmatched
        );
    }
    if shown.is_empty() {
        let _ = write!(
            out,
            r#"<text x="16" y="{}">ニーズの記録はまだありません</text>"#,
            top + 16.0
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn the_chart_is_well_formed_svg_with_escaped_japanese_labels() {
        let rows = vec![GapRow {
            area_id: Uuid::nil(),
            area_name: "西部圏域 <北>".into(),
            category: "life.garbage".into(),
            needs: 3,
            proposed: 1,
            unmatched: 2,
            capacity_offered: 1,
            ..GapRow::default()
        }];
        let svg = svg("大垣市のニーズと地域資源", &rows);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("西部圏域 &lt;北&gt; / ゴミ出し"), "{svg}");
        assert!(svg.contains("#c62828"));
        assert_eq!(sheet_rows(&rows)[0][2], "ゴミ出し");
    }
}
