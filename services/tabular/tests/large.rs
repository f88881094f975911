//! A municipality-sized list (20,000 rows) reads correctly and, in release builds, fast.

use std::time::{Duration, Instant};

use tsunagu_tabular::{Format, read, write_csv, write_xlsx};

const HEADERS: &[&str] = &["法人番号", "団体名", "住所", "電話番号", "備考", "更新日"];

fn rows(count: usize) -> Vec<Vec<String>> {
    (0..count)
        .map(|i| {
            vec![
                format!("{:013}", i * 7919),
                format!("特定非営利活動法人 つなぐ{i}"),
                format!("岐阜県大垣市丸の内{}丁目{}番", i % 9 + 1, i % 40 + 1),
                format!("0584-{:02}-{:04}", i % 100, i % 10_000),
                if i % 3 == 0 {
                    format!("見守り, 配食\n第{}水曜", i % 4 + 1)
                } else {
                    String::new()
                },
                "2024-04-01".to_owned(),
            ]
        })
        .collect()
}

fn time_read(bytes: &[u8], format: Format, expected: &[Vec<String>]) -> Duration {
    let start = Instant::now();
    let sheet = read(bytes, format).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(sheet.rows.len(), expected.len());
    assert_eq!(sheet.rows.last().map(|r| r.number), Some(expected.len() + 1));
    assert!(
        sheet
            .rows
            .iter()
            .zip(expected)
            .all(|(row, cells)| row.cells == *cells)
    );
    elapsed
}

#[test]
fn twenty_thousand_rows() {
    let rows = rows(20_000);
    let csv = write_csv(HEADERS, &rows);
    let xlsx = write_xlsx("名簿", HEADERS, &rows).unwrap();
    let csv_time = time_read(&csv, Format::Csv, &rows);
    let xlsx_time = time_read(&xlsx, Format::Xlsx, &rows);
    eprintln!("20,000 rows: csv {csv_time:?}, xlsx {xlsx_time:?}");
    // Debug builds of this crate are too slow to time meaningfully.
    if !cfg!(debug_assertions) {
        assert!(csv_time < Duration::from_secs(1), "csv took {csv_time:?}");
        assert!(xlsx_time < Duration::from_secs(1), "xlsx took {xlsx_time:?}");
    }
}
