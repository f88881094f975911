//! Typed cells: a number is stored as a number in .xlsx (a spreadsheet's SUM counts it) and
//! read back as its plainest text; text cells stay text, guarded as ever.

use calamine::{Data, Reader, Xlsx};
use tsunagu_tabular::{Cell, Format, read, write_csv_cells, write_xlsx_cells};

fn rows() -> Vec<Vec<Cell>> {
    vec![
        vec![Cell::from("西部圏域"), Cell::from(3_i64), Cell::from("0123")],
        vec![Cell::from("=1+1"), Cell::from(-2_i64), Cell::from(0.5)],
    ]
}

#[test]
fn numbers_are_numbers_in_xlsx_and_text_stays_text() {
    let bytes = write_xlsx_cells("集計", &["区域", "件数", "コード"], &rows()).unwrap();
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.clone())).unwrap();
    let range = workbook.worksheet_range("集計").unwrap();
    let cells: Vec<Vec<Data>> = range.rows().map(<[Data]>::to_vec).collect();
    assert_eq!(cells[1][1], Data::Float(3.0));
    assert_eq!(cells[2][1], Data::Float(-2.0));
    assert_eq!(cells[2][2], Data::Float(0.5));
    assert_eq!(cells[1][2], Data::String("0123".into()));
    assert_eq!(cells[2][0], Data::String("'=1+1".into()));

    let sheet = read(&bytes, Format::Xlsx).unwrap();
    assert_eq!(sheet.rows[0].cells, ["西部圏域", "3", "0123"]);
    assert_eq!(sheet.rows[1].cells, ["=1+1", "-2", "0.5"]);
}

#[test]
fn numbers_are_plain_digits_in_csv() {
    let bytes = write_csv_cells(&["区域", "件数", "コード"], &rows());
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("西部圏域,3,0123\r\n'=1+1,-2,0.5\r\n"), "{text:?}");
    let sheet = read(&bytes, Format::Csv).unwrap();
    assert_eq!(sheet.rows[1].cells, ["=1+1", "-2", "0.5"]);
}
