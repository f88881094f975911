//! The gap map as a sheet and as an SVG bar chart a coordinator can put in front of a 協議体:
//! one bar per area and category, the needs served (green), waiting for consent (grey) and
//! unmatched (red), with the places offered beside it. Japanese labels; no scripts, no
//! external fonts.

use std::fmt::Write;

use tsunagu_runtime::taxonomy;
use tsunagu_tabular::Cell;

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

/// The sheet's rows: names and ids as text, every count a number, so that a spreadsheet's
/// `SUM` over an exported gap map adds them up (text cells count as 0).
pub fn sheet_rows(rows: &[GapRow]) -> Vec<Vec<Cell>> {
    rows.iter()
        .map(|row| {
            vec![
                Cell::Text(row.area_name.clone()),
                Cell::Text(row.area_id.to_string()),
                Cell::Text(category_name(&row.category)),
                Cell::from(row.needs),
                Cell::from(row.awaiting_consent),
                Cell::from(row.proposed),
                Cell::from(row.accepted),
                Cell::from(row.unmatched),
                Cell::from(row.unmatched_no_resource),
                Cell::from(row.unmatched_no_coverage),
                Cell::from(row.unmatched_at_capacity),
                Cell::from(row.unmatched_conditions),
                Cell::from(row.capacity_offered),
                Cell::from(row.capacity_used),
                Cell::from(row.area_issue_count),
                Cell::from(row.on_hold),
                Cell::from(row.completed),
            ]
        })
        .collect()
}

/// The gap map as CSV.
pub fn csv(rows: &[GapRow]) -> Vec<u8> {
    tsunagu_tabular::write_csv_cells(&HEADERS, &sheet_rows(rows))
}

/// The gap map as an .xlsx workbook, counts stored as numbers.
pub fn xlsx(rows: &[GapRow]) -> Result<Vec<u8>, tsunagu_tabular::TabularError> {
    tsunagu_tabular::write_xlsx_cells("見える化", &HEADERS, &sheet_rows(rows))
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
        assert_eq!(sheet_rows(&rows)[0][2], Cell::Text("ゴミ出し".into()));
    }

    /// Counts are numbers in the workbook (a spreadsheet's SUM sees them), read as a
    /// spreadsheet program reads them, not through tabular's text reader.
    #[test]
    fn the_workbook_stores_counts_as_numbers() {
        use calamine::{Data, DataType, Reader, Xlsx};

        let rows = vec![
            GapRow {
                area_id: Uuid::nil(),
                area_name: "西部圏域".into(),
                category: "life.garbage".into(),
                needs: 3,
                proposed: 1,
                unmatched: 2,
                capacity_offered: 1,
                ..GapRow::default()
            },
            GapRow {
                area_id: Uuid::nil(),
                area_name: "東部圏域".into(),
                category: "life.garbage".into(),
                needs: 4,
                accepted: 4,
                ..GapRow::default()
            },
        ];
        let bytes = xlsx(&rows).unwrap();
        let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        let range = workbook.worksheet_range("見える化").unwrap();
        let sheet: Vec<&[Data]> = range.rows().collect();
        assert_eq!(sheet[0][3], Data::String("ニーズ".into()));
        assert_eq!(sheet[1][0], Data::String("西部圏域".into()));
        for (row, needs) in [(1, 3.0), (2, 4.0)] {
            assert_eq!(sheet[row][3], Data::Float(needs), "{:?}", sheet[row]);
            for (col, cell) in sheet[row].iter().enumerate().skip(3) {
                assert!(
                    matches!(cell, Data::Float(_)),
                    "column {} is not a number: {cell:?}",
                    HEADERS[col]
                );
            }
        }
        let total: f64 = sheet[1..].iter().map(|row| row[3].as_f64().unwrap()).sum();
        assert_eq!(total, 7.0);
        // The CSV carries the same counts as plain digits.
        let csv = String::from_utf8(csv(&rows)).unwrap();
        assert!(
            csv.contains("西部圏域,00000000-0000-0000-0000-000000000000,ゴミ出し,3,0,1,0,2,"),
            "{csv}"
        );
    }
}
