//! What is written comes back unchanged, in both formats: the headers and every cell, whatever
//! a coordinator's list holds.

use tsunagu_tabular::{Format, Sheet, read, write_csv, write_xlsx};

const HEADERS: &[&str] = &[
    "法人番号",
    "団体名",
    "ﾌﾘｶﾞﾅ",
    "電話番号",
    "郵便番号",
    "備考",
    "URL",
    "空欄あり",
    "Emoji 🍙",
];

fn rows() -> Vec<Vec<String>> {
    let rows: Vec<Vec<&str>> = vec![
        vec![
            "0123456789012",
            "特定非営利活動法人 つなぐ",
            "ﾂﾅｸﾞ",
            "090-1234-5678",
            "0500012",
            "見守り、配食, 送迎",
            "https://example.jp/?a=1&b=2",
            "",
            "😀👨‍👩‍👧",
        ],
        vec![
            "1234567890123456789",
            "髙橋商店（①丁目）",
            "ﾀｶﾊｼ ｼｮｳﾃﾝ",
            "+81 584-00-0000",
            "00123",
            "彼は\"はい\"と言った\n2行目\r\n3行目",
            "",
            "",
            "",
        ],
        vec![
            "",
            "  前後に空白  ",
            "",
            "0",
            "1.50",
            "=SUM(A1:A3)",
            "#N/A",
            "TRUE",
            "2024/04/01",
        ],
        vec![
            "'0123",
            "タブ\tと制御\u{7}文字",
            "",
            "",
            "",
            "\"",
            ",",
            "1e5",
            "_x0041_",
        ],
        vec!["", "", "", "", "", "", "", "", "最後の列だけ"],
    ];
    rows.into_iter()
        .map(|r| r.into_iter().map(str::to_owned).collect())
        .collect()
}

fn check(sheet: &Sheet, rows: &[Vec<String>]) {
    assert_eq!(sheet.headers, HEADERS);
    let read: Vec<&Vec<String>> = sheet.rows.iter().map(|r| &r.cells).collect();
    let written: Vec<&Vec<String>> = rows.iter().collect();
    assert_eq!(read, written);
    let numbers: Vec<usize> = sheet.rows.iter().map(|r| r.number).collect();
    assert_eq!(numbers, (2..2 + rows.len()).collect::<Vec<_>>());
}

#[test]
fn csv_round_trip() {
    let rows = rows();
    let bytes = write_csv(HEADERS, &rows);
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    assert_eq!(Format::detect(&bytes), Format::Csv);
    check(&read(&bytes, Format::Csv).unwrap(), &rows);
}

#[test]
fn xlsx_round_trip() {
    let rows = rows();
    let bytes = write_xlsx("団体一覧", HEADERS, &rows).unwrap();
    assert_eq!(Format::detect(&bytes), Format::Xlsx);
    check(&read(&bytes, Format::Xlsx).unwrap(), &rows);
}

#[test]
fn csv_and_xlsx_read_the_same() {
    let rows = rows();
    let csv = read(&write_csv(HEADERS, &rows), Format::Csv).unwrap();
    let xlsx = read(&write_xlsx("一覧", HEADERS, &rows).unwrap(), Format::Xlsx).unwrap();
    assert_eq!(csv, xlsx);
}

#[test]
fn blank_rows_are_skipped_but_counted() {
    let rows: Vec<Vec<String>> = vec![
        vec!["a".into(), "1".into()],
        vec!["".into(), "".into()],
        vec!["b".into(), "2".into()],
    ];
    for bytes in [
        write_csv(&["x", "y"], &rows),
        write_xlsx("s", &["x", "y"], &rows).unwrap(),
    ] {
        let sheet = read(&bytes, Format::detect(&bytes)).unwrap();
        let numbers: Vec<usize> = sheet.rows.iter().map(|r| r.number).collect();
        assert_eq!(numbers, [2, 4]);
        assert_eq!(sheet.rows[1].cells, ["b", "2"]);
    }
}

#[test]
fn headers_only() {
    for bytes in [
        write_csv(&["名前"], &[]),
        write_xlsx("s", &["名前"], &[]).unwrap(),
    ] {
        let sheet = read(&bytes, Format::detect(&bytes)).unwrap();
        assert_eq!(sheet.headers, ["名前"]);
        assert!(sheet.rows.is_empty());
    }
}
