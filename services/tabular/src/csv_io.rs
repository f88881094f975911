//! CSV as Japanese municipal systems and Excel write it, and CSV that Excel in Japan opens
//! correctly.
//!
//! Reading: UTF-8 (BOM or not) or, failing that, Shift_JIS (Windows-31J), which Excel's plain
//! "CSV (コンマ区切り)" and many municipal systems still produce. Quoted fields may hold commas,
//! quotes and newlines. Row numbers follow Excel, which shows every blank line as a row and a
//! quoted multi-line field as one row, so both are counted that way here.
//!
//! Writing: UTF-8 with a BOM (without it, Excel in Japan reads UTF-8 as Shift_JIS and shows
//! mojibake), CRLF line ends, fields quoted only when they must be.

use std::borrow::Cow;

use encoding_rs::SHIFT_JIS;

use crate::cell::{CellValue, Value, number_text};
use crate::error::TabularError;
use crate::formula;
use crate::sheet::{Sheet, SheetBuilder};
use crate::xlsx_io::is_compound_file;

/// The UTF-8 byte order mark Excel writes in front of "CSV UTF-8" and needs to see.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads a CSV file: see the module documentation.
pub(crate) fn read_csv(bytes: &[u8]) -> Result<Sheet, TabularError> {
    // Binary files picked as CSV would decode to pages of mojibake: say what they are instead.
    if bytes.starts_with(b"PK\x03\x04") {
        return Err(TabularError::XlsxNotCsv);
    }
    if is_compound_file(bytes) {
        return Err(TabularError::LegacyOrEncrypted);
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(TabularError::Utf16);
    }
    let (text, lossy) = decode(bytes);
    parse(&text, lossy)
}

/// The text of `bytes`, and whether decoding had to replace anything (then some cell holds
/// U+FFFD and [`parse`] reports its row).
fn decode(bytes: &[u8]) -> (Cow<'_, str>, bool) {
    if let Some(rest) = bytes.strip_prefix(UTF8_BOM) {
        // The BOM says UTF-8: trust it over a guess (as Shift_JIS it would read ｯｻｿ).
        return match std::str::from_utf8(rest) {
            Ok(text) => (Cow::Borrowed(text), false),
            Err(_) => (String::from_utf8_lossy(rest), true),
        };
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (Cow::Borrowed(text), false),
        // Valid multi-byte UTF-8 before the first bad byte means a damaged UTF-8 file: as
        // Shift_JIS it would decode to mojibake, often without any error to report. Shift_JIS
        // Japanese almost never forms valid UTF-8, so its first non-ASCII byte is the failure.
        Err(e) if !bytes[..e.valid_up_to()].is_ascii() => (String::from_utf8_lossy(bytes), true),
        Err(_) => {
            let (text, had_errors) = SHIFT_JIS.decode_without_bom_handling(bytes);
            (text, had_errors)
        }
    }
}

/// Parses decoded text into a sheet. `lossy`: the text holds replacement characters, and the
/// first row holding one is an error.
fn parse(text: &str, lossy: bool) -> Result<Sheet, TabularError> {
    let bytes = text.as_bytes();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = csv::StringRecord::new();
    let mut builder = SheetBuilder::default();
    // The Excel row number of the last record read.
    let mut row = 0;
    // Bytes consumed so far, and where the last record's content (past blank lines) starts.
    let mut end = 0;
    let mut content_start = 0;
    loop {
        let start = end;
        let more = reader.read_record(&mut record).map_err(|e| TabularError::Csv {
            row: row + 1,
            detail: e.to_string(),
        })?;
        if !more {
            break;
        }
        end = usize::try_from(reader.position().byte()).map_or(bytes.len(), |b| b.min(bytes.len()));
        // The csv crate skips blank lines without a trace; Excel shows each as a row.
        let (blank, content) = skip_blank_lines(bytes, start, end);
        row += 1 + blank;
        content_start = content;
        if lossy
            && record
                .iter()
                .any(|cell| cell.contains(char::REPLACEMENT_CHARACTER))
        {
            return Err(TabularError::Undecodable { row });
        }
        builder.push(row, record.iter().map(str::to_owned).collect())?;
    }
    // A quote that never closes swallows the rest of the file into the last cell: the parser
    // accepts that, but the coordinator would lose every row after it without a word.
    if row > 0 && end == bytes.len() && ends_inside_quotes(&bytes[content_start..end]) {
        return Err(TabularError::UnclosedQuote { row });
    }
    if lossy {
        // Unreachable in practice (a replacement character always lands in some cell), but a
        // lossy decode must never pass silently.
        let at = text.find(char::REPLACEMENT_CHARACTER).unwrap_or(0);
        let line = text.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        return Err(TabularError::Undecodable { row: line });
    }
    builder.finish()
}

/// Counts the blank lines at the start of `bytes[start..end]` (the bytes the parser consumed
/// for one record) and returns that count with the offset where the record's content starts.
///
/// With CRLF line ends the parser stops after the "\r" that ends a record and consumes its
/// "\n" with the next record: that "\n" is not a blank line.
fn skip_blank_lines(bytes: &[u8], start: usize, end: usize) -> (usize, usize) {
    let mut i = start;
    if i > 0 && i < end && bytes[i - 1] == b'\r' && bytes[i] == b'\n' {
        i += 1;
    }
    let mut blank = 0;
    while i < end {
        match bytes[i] {
            b'\n' => i += 1,
            b'\r' if bytes.get(i + 1) == Some(&b'\n') && i + 1 < end => i += 2,
            b'\r' => i += 1,
            _ => break,
        }
        blank += 1;
    }
    (blank, i)
}

/// Whether one record's raw bytes end inside a quoted field, following the parser's rules: a
/// quote opens a quoted field only at the start of a field, and `""` inside one is a quote.
fn ends_inside_quotes(raw: &[u8]) -> bool {
    #[derive(Clone, Copy)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut state = State::FieldStart;
    for &b in raw {
        state = match (state, b) {
            (State::FieldStart, b'"') => State::Quoted,
            (State::FieldStart | State::Unquoted | State::QuoteInQuoted, b',') => State::FieldStart,
            (State::FieldStart | State::Unquoted, _) => State::Unquoted,
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (State::QuoteInQuoted, b'"') => State::Quoted,
            (State::QuoteInQuoted, _) => State::Unquoted,
        };
    }
    matches!(state, State::Quoted)
}

/// Writes a CSV file: see the module documentation. Numbers are written in their plainest
/// form, which a spreadsheet reads as numbers anyway.
pub(crate) fn write_csv<C: CellValue>(headers: &[&str], rows: &[Vec<C>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * (rows.len() + 1));
    out.extend_from_slice(UTF8_BOM);
    write_record(&mut out, headers.iter().map(|h| Cow::Borrowed(*h)));
    for row in rows {
        write_record(
            &mut out,
            row.iter().map(|cell| match cell.value() {
                Value::Text(text) => Cow::Borrowed(text),
                Value::Number(number) => Cow::Owned(number_text(number)),
            }),
        );
    }
    out
}

/// Appends one CSV record and its CRLF. Written by hand rather than with `csv::Writer`, whose
/// I/O errors cannot happen on a `Vec` but would still have to be handled.
fn write_record<'a>(out: &mut Vec<u8>, cells: impl ExactSizeIterator<Item = Cow<'a, str>>) {
    let count = cells.len();
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let cell = formula::escape(&cell);
        // A lone empty field is quoted, or the record would be a blank line, which readers skip.
        if cell.contains([',', '"', '\r', '\n']) || (count == 1 && cell.is_empty()) {
            out.push(b'"');
            for (i, part) in cell.split('"').enumerate() {
                if i > 0 {
                    out.extend_from_slice(b"\"\"");
                }
                out.extend_from_slice(part.as_bytes());
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(cell.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::Row;

    fn row(number: usize, cells: &[&str]) -> Row {
        Row {
            number,
            cells: cells.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn read(text: &str) -> Result<Sheet, TabularError> {
        read_csv(text.as_bytes())
    }

    #[test]
    fn quoted_fields_hold_commas_quotes_and_newlines() {
        let s = read("名前,備考\n\"大垣市社協, 本所\",\"「見守り」\"\"訪問\"\"\n毎週\"\n").unwrap();
        assert_eq!(s.headers, ["名前", "備考"]);
        assert_eq!(
            s.rows,
            vec![row(2, &["大垣市社協, 本所", "「見守り」\"訪問\"\n毎週"])]
        );
    }

    #[test]
    fn blank_lines_keep_row_numbers_with_any_line_end() {
        for nl in ["\n", "\r\n"] {
            let text = [
                "", "a,b", "1,2", "", "", "3,4", "\"x", "y\",z", ",", "5,6", "", "",
            ]
            .join(nl);
            // The header is on row 2 here: the blank first line is row 1, as in Excel.
            let s = read(&text).unwrap();
            assert_eq!(s.headers, ["a", "b"], "{nl:?}");
            assert_eq!(
                s.rows,
                vec![
                    row(3, &["1", "2"]),
                    row(6, &["3", "4"]),
                    row(7, &[&format!("x{nl}y"), "z"]),
                    row(9, &["5", "6"])
                ],
                "{nl:?}"
            );
        }
    }

    #[test]
    fn old_mac_line_ends() {
        let s = read("a,b\r1,2\r\r3,4").unwrap();
        assert_eq!(s.rows, vec![row(2, &["1", "2"]), row(4, &["3", "4"])]);
    }

    #[test]
    fn crlf_never_leaves_a_carriage_return_in_a_cell() {
        let s = read("a,b\r\n1,2\r\n3,\r\n").unwrap();
        assert_eq!(s.headers, ["a", "b"]);
        assert_eq!(s.rows, vec![row(2, &["1", "2"]), row(3, &["3", ""])]);
    }

    #[test]
    fn cells_are_not_trimmed() {
        let s = read("a,b\n  x  ,\u{3000}y\n").unwrap();
        assert_eq!(s.rows, vec![row(2, &["  x  ", "\u{3000}y"])]);
    }

    #[test]
    fn short_rows_stay_short_and_long_rows_fail() {
        let s = read("a,b,c\n1\n").unwrap();
        assert_eq!(s.rows[0].cells, ["1"]);
        assert_eq!(s.rows[0].cell(2), "");
        assert_eq!(
            read("a,b\n1,2\n1,2,3\n"),
            Err(TabularError::RowTooLong {
                row: 3,
                column: "C".into()
            })
        );
        // Empty padding beyond the header is not data.
        assert_eq!(read("a,b,,\n1,2,,\n").unwrap().rows, vec![row(2, &["1", "2"])]);
    }

    #[test]
    fn utf8_with_bom() {
        let mut bytes = UTF8_BOM.to_vec();
        bytes.extend_from_slice("法人番号,名称\n0123456789012,ＮＰＯ法人\n".as_bytes());
        let s = read_csv(&bytes).unwrap();
        assert_eq!(s.headers, ["法人番号", "名称"]);
        assert_eq!(s.column(&["法人番号"]), Some(0));
        assert_eq!(s.rows, vec![row(2, &["0123456789012", "ＮＰＯ法人"])]);
    }

    #[test]
    fn shift_jis() {
        let text = "名称,住所,備考\r\n髙橋商店,岐阜県大垣市①丁目,10:00～12:00 ｶﾀｶﾅ\r\n";
        let (bytes, _, unmappable) = SHIFT_JIS.encode(text);
        assert!(!unmappable);
        assert!(std::str::from_utf8(&bytes).is_err());
        let s = read_csv(&bytes).unwrap();
        assert_eq!(s.headers, ["名称", "住所", "備考"]);
        assert_eq!(
            s.rows,
            vec![row(2, &["髙橋商店", "岐阜県大垣市①丁目", "10:00～12:00 ｶﾀｶﾅ"])]
        );
    }

    #[test]
    fn undecodable_bytes_name_their_row() {
        // Shift_JIS with a byte no Shift_JIS text contains.
        let mut bytes = SHIFT_JIS.encode("名称,住所\r\n大垣,岐阜\r\n").0.into_owned();
        bytes.extend_from_slice(b"x\xFD,y\r\n");
        assert_eq!(read_csv(&bytes), Err(TabularError::Undecodable { row: 3 }));
        // Damaged UTF-8 is not mistaken for Shift_JIS.
        let mut bytes = "名称,住所\n大垣,岐阜\n\n".as_bytes().to_vec();
        bytes.extend_from_slice(b"\xE5\xA4,y\n");
        assert_eq!(read_csv(&bytes), Err(TabularError::Undecodable { row: 4 }));
        // A BOM promises UTF-8.
        let mut bytes = UTF8_BOM.to_vec();
        bytes.extend_from_slice(b"a\n\x96\xBC\n");
        assert_eq!(read_csv(&bytes), Err(TabularError::Undecodable { row: 2 }));
    }

    #[test]
    fn unclosed_quote_is_reported() {
        assert_eq!(
            read("a,b\n1,2\n3,\"4\n5,6\n"),
            Err(TabularError::UnclosedQuote { row: 3 })
        );
        // A quote inside an unquoted field is just a character.
        assert_eq!(read("a,b\n1,2\"").unwrap().rows, vec![row(2, &["1", "2\""])]);
        assert_eq!(
            read("a,b\n1,\"2\"\"\"").unwrap().rows,
            vec![row(2, &["1", "2\""])]
        );
    }

    #[test]
    fn binary_and_empty_inputs() {
        assert_eq!(read_csv(b""), Err(TabularError::NoHeaders));
        assert_eq!(read_csv(b"\r\n\r\n,,\r\n"), Err(TabularError::NoHeaders));
        assert_eq!(read_csv(UTF8_BOM), Err(TabularError::NoHeaders));
        assert_eq!(read_csv(b"PK\x03\x04\x14\x00"), Err(TabularError::XlsxNotCsv));
        assert_eq!(
            read_csv(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00"),
            Err(TabularError::LegacyOrEncrypted)
        );
        assert_eq!(read_csv(b"\xFF\xFEa\x00"), Err(TabularError::Utf16));
    }

    #[test]
    fn duplicate_headers() {
        assert_eq!(
            read("名前,住所,名前\n"),
            Err(TabularError::DuplicateHeaders {
                row: 1,
                names: vec!["名前".into()]
            })
        );
    }

    #[test]
    fn writes_bom_crlf_and_minimal_quotes() {
        let out = write_csv::<String>(
            &["名前", "備考"],
            &[
                vec!["a,b".into(), "say \"hi\"".into()],
                vec!["x\ny".into(), "".into()],
                vec!["".into()],
            ],
        );
        assert_eq!(
            out,
            "\u{FEFF}名前,備考\r\n\"a,b\",\"say \"\"hi\"\"\"\r\n\"x\ny\",\r\n\"\"\r\n".as_bytes()
        );
    }
}
