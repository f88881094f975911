//! Reading workbooks as Excel users make them (numbers, dates, booleans, errors, several
//! sheets), broken workbooks, and what `write_xlsx` puts in a workbook.

use std::io::Cursor;

use calamine::{Reader, Xlsx};
use rust_xlsxwriter::{ExcelDateTime, Formula, Workbook};
use tsunagu_tabular::{Format, TabularError, read, read_sheet, sheet_names, write_xlsx};

fn workbook_bytes(build: impl FnOnce(&mut Workbook)) -> Vec<u8> {
    let mut workbook = Workbook::new();
    build(&mut workbook);
    workbook.save_to_buffer().unwrap()
}

#[test]
fn numbers_booleans_and_dates_read_as_typed() {
    let bytes = workbook_bytes(|wb| {
        let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
        let japanese_date = rust_xlsxwriter::Format::new().set_num_format("yyyy\"年\"m\"月\"d\"日\"");
        let datetime = rust_xlsxwriter::Format::new().set_num_format("yyyy/m/d h:mm");
        let time = rust_xlsxwriter::Format::new().set_num_format("h:mm");
        let ws = wb.add_worksheet();
        for (col, header) in [
            "件数",
            "割合",
            "大きな数",
            "有効",
            "開始日",
            "和暦風",
            "日時",
            "時刻",
        ]
        .iter()
        .enumerate()
        {
            ws.write_string(0, col as u16, *header).unwrap();
        }
        ws.write_number(1, 0, 3.0).unwrap();
        ws.write_number(1, 1, 0.25).unwrap();
        ws.write_number(1, 2, 1234567890123.0).unwrap();
        ws.write_boolean(1, 3, true).unwrap();
        let day = ExcelDateTime::from_ymd(2024, 4, 1).unwrap();
        ws.write_datetime_with_format(1, 4, &day, &date).unwrap();
        ws.write_datetime_with_format(1, 5, &day, &japanese_date).unwrap();
        let at = ExcelDateTime::from_ymd(2024, 4, 1)
            .unwrap()
            .and_hms(9, 30, 0)
            .unwrap();
        ws.write_datetime_with_format(1, 6, &at, &datetime).unwrap();
        let nine = ExcelDateTime::from_hms(9, 5, 0).unwrap();
        ws.write_datetime_with_format(1, 7, &nine, &time).unwrap();
    });
    let sheet = read(&bytes, Format::Xlsx).unwrap();
    assert_eq!(sheet.rows.len(), 1);
    assert_eq!(sheet.rows[0].number, 2);
    assert_eq!(
        sheet.rows[0].cells,
        [
            "3",
            "0.25",
            "1234567890123",
            "TRUE",
            "2024-04-01",
            "2024-04-01",
            "2024-04-01 09:30",
            "09:05"
        ]
    );
}

#[test]
fn error_cells_name_their_row_and_column() {
    let bytes = workbook_bytes(|wb| {
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "名前").unwrap();
        ws.write_string(0, 1, "人数").unwrap();
        ws.write_string(0, 2, "割合").unwrap();
        ws.write_string(1, 0, "大垣").unwrap();
        ws.write_formula(
            2,
            2,
            Formula::new("=VLOOKUP(A3,A1:B2,2,FALSE)").set_result("#N/A"),
        )
        .unwrap();
    });
    let err = read(&bytes, Format::Xlsx).unwrap_err();
    assert_eq!(
        err,
        TabularError::CellError {
            row: 3,
            column: "C".into(),
            value: "#N/A".into()
        }
    );
    assert_eq!(err.row(), Some(3));
    assert!(err.to_string().contains("3行目のC列"), "{err}");
}

#[test]
fn header_is_the_first_non_empty_row_and_numbers_are_excels() {
    let bytes = workbook_bytes(|wb| {
        let ws = wb.add_worksheet();
        ws.write_string(2, 1, "名前").unwrap();
        ws.write_string(2, 2, "住所").unwrap();
        ws.write_string(3, 1, "A").unwrap();
        ws.write_string(6, 2, "岐阜県").unwrap();
    });
    let sheet = read(&bytes, Format::Xlsx).unwrap();
    // Column indexes are Excel's (A = 0), as in Excel's own CSV export of the sheet.
    assert_eq!(sheet.headers, ["", "名前", "住所"]);
    assert_eq!(sheet.column(&["住所"]), Some(2));
    assert_eq!(sheet.rows.len(), 2);
    assert_eq!(
        (sheet.rows[0].number, sheet.rows[0].cells.clone()),
        (4, vec!["".into(), "A".into(), "".into()])
    );
    assert_eq!(sheet.rows[1].number, 7);
    assert_eq!(sheet.rows[1].cell(2), "岐阜県");
}

#[test]
fn values_beyond_the_last_header_are_rejected() {
    let bytes = workbook_bytes(|wb| {
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "名前").unwrap();
        ws.write_string(1, 0, "大垣").unwrap();
        ws.write_number(5, 3, 1.0).unwrap();
    });
    assert_eq!(
        read(&bytes, Format::Xlsx),
        Err(TabularError::RowTooLong {
            row: 6,
            column: "D".into()
        })
    );
}

#[test]
fn duplicate_headers_are_rejected() {
    let bytes = workbook_bytes(|wb| {
        let ws = wb.add_worksheet();
        for (col, header) in ["名前", "URL", "住所", "ＵＲＬ"].iter().enumerate() {
            ws.write_string(0, col as u16, *header).unwrap();
        }
    });
    assert_eq!(
        read(&bytes, Format::Xlsx),
        Err(TabularError::DuplicateHeaders {
            row: 1,
            names: vec!["URL".into(), "ＵＲＬ".into()]
        })
    );
}

#[test]
fn empty_workbook_has_no_headers() {
    let bytes = workbook_bytes(|wb| {
        wb.add_worksheet();
    });
    assert_eq!(read(&bytes, Format::Xlsx), Err(TabularError::NoHeaders));
}

#[test]
fn sheets_by_name_and_the_first_visible_one() {
    let bytes = workbook_bytes(|wb| {
        let hidden = wb.add_worksheet();
        hidden.set_name("作業用").unwrap();
        hidden.write_string(0, 0, "非表示").unwrap();
        hidden.set_hidden(true);
        let list = wb.add_worksheet();
        list.set_name("名簿").unwrap();
        list.write_string(0, 0, "名前").unwrap();
        list.set_active(true);
        let other = wb.add_worksheet();
        other.set_name("2024年度").unwrap();
        other.write_string(0, 0, "年度").unwrap();
    });
    assert_eq!(sheet_names(&bytes).unwrap(), ["作業用", "名簿", "2024年度"]);
    assert_eq!(read(&bytes, Format::Xlsx).unwrap().headers, ["名前"]);
    assert_eq!(read_sheet(&bytes, "2024年度").unwrap().headers, ["年度"]);
    assert_eq!(read_sheet(&bytes, "作業用").unwrap().headers, ["非表示"]);
    assert_eq!(
        read_sheet(&bytes, "ない"),
        Err(TabularError::SheetNotFound {
            name: "ない".into()
        })
    );
}

#[test]
fn garbage_gives_clean_errors() {
    for bytes in [
        &b""[..],
        b"not a workbook",
        b"PK\x03\x04",
        b"PK\x03\x04\x14\x00\x00\x00garbage",
        "名前,住所\n".as_bytes(),
    ] {
        let err = read(bytes, Format::Xlsx).unwrap_err();
        assert!(matches!(err, TabularError::NotXlsx { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("Excelファイル（.xlsx）として読み取れません / ")
        );
    }
    let legacy = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00\x00\x00";
    assert_eq!(read(legacy, Format::Xlsx), Err(TabularError::LegacyOrEncrypted));
    assert!(sheet_names(b"garbage").is_err());
}

#[test]
fn damaged_workbooks_never_panic() {
    let rows: Vec<Vec<String>> = (0..50)
        .map(|i| vec![format!("{i:04}"), "大垣市".into()])
        .collect();
    let good = write_xlsx("名簿", &["番号", "市"], &rows).unwrap();
    // Truncated uploads.
    for len in (0..good.len()).step_by(97) {
        let _ = read(&good[..len], Format::Xlsx);
    }
    // Flipped bytes, spread over the whole file (deterministic, no RNG crate needed).
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..300 {
        let mut bad = good.clone();
        for _ in 0..4 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state % bad.len() as u64) as usize;
            bad[at] ^= (state >> 32) as u8 | 1;
        }
        let _ = read(&bad, Format::Xlsx);
    }
}

#[test]
fn written_cells_are_text_with_a_bold_header() {
    let rows = vec![vec!["0123".to_string(), "1234567890123".to_string()]];
    let bytes = write_xlsx("名簿", &["コード", "法人番号"], &rows).unwrap();
    let mut workbook = Xlsx::new(Cursor::new(&bytes)).unwrap();
    let range = workbook.worksheet_range("名簿").unwrap();
    assert_eq!(
        range.get_value((1, 0)),
        Some(&calamine::Data::String("0123".into()))
    );
    assert_eq!(
        range.get_value((1, 1)),
        Some(&calamine::Data::String("1234567890123".into()))
    );
    let styles = workbook.worksheet_style("名簿").unwrap();
    let header = styles.get((0, 0)).unwrap();
    assert!(header.font.as_ref().is_some_and(|f| f.is_bold()));
    assert_eq!(
        header.number_format.as_ref().map(|f| f.format_code.as_str()),
        Some("@")
    );
    let cell = styles.get((1, 1)).unwrap();
    assert!(!cell.font.as_ref().is_some_and(|f| f.is_bold()));
    assert_eq!(
        cell.number_format.as_ref().map(|f| f.format_code.as_str()),
        Some("@")
    );
}

#[test]
fn sheet_names_are_made_acceptable() {
    let bytes = write_xlsx("2024/04 [案]", &["a"], &[]).unwrap();
    assert_eq!(sheet_names(&bytes).unwrap(), ["2024／04 ［案］"]);
    let long = "あ".repeat(40);
    let bytes = write_xlsx(&long, &["a"], &[]).unwrap();
    assert_eq!(sheet_names(&bytes).unwrap(), ["あ".repeat(31)]);
}

#[test]
fn overlong_cells_are_refused_with_their_position() {
    let rows = vec![vec!["ok".to_string()], vec!["あ".repeat(32_768)]];
    assert_eq!(
        write_xlsx("s", &["備考"], &rows),
        Err(TabularError::CellTooLong {
            row: 3,
            column: "A".into()
        })
    );
    assert!(write_xlsx("s", &["備考"], &[vec!["あ".repeat(32_767)]]).is_ok());
}
