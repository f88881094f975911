//! The guard against formula injection (CSV injection, issue 17): the one place that decides
//! which cells a spreadsheet would evaluate and how they are written and read back.
//!
//! A name a caller chose, such as `=HYPERLINK("http://…","詳細")`, becomes a live formula
//! when a coordinator opens the export in Excel, LibreOffice or Google Sheets. Following the
//! OWASP guidance, a cell that starts with a character those programs take as the start of a
//! formula — `=`, `+`, `-`, `@`, tab, carriage return, and their full-width forms, which Excel
//! in Japan accepts for a formula as well — is written with a leading apostrophe, so it is
//! shown as text. The same in CSV and .xlsx: an .xlsx string cell is not evaluated when
//! opened, but it is once someone edits it or saves the sheet as CSV, and one rule for both
//! formats is one rule to reason about.
//!
//! The scheme is unambiguous, so that reading undoes exactly what writing added
//! (`unescape(escape(x)) == x` for every string):
//!
//! - a cell that starts with a trigger **or with an apostrophe** gets one apostrophe in
//!   front (an apostrophe of the value itself is escaped too, or `'=x` written as is would
//!   read back as `=x`);
//! - a cell read that starts with an apostrophe followed by a trigger or another apostrophe
//!   loses that first apostrophe; any other cell is kept as is (`'0123`, a coordinator's way
//!   of keeping a leading zero in Excel, stays `'0123`).
//!
//! A plain number (`-300`, `+81`, `-0.5`) is **not** escaped: a spreadsheet reads it as the
//! number it is, no formula can hide in digits, and a negative count or amount must stay a
//! number that `SUM` adds up. Anything more (`-1+1`, `-2+3+cmd|…`) is escaped.

use std::borrow::Cow;

/// The characters that make a spreadsheet read a cell as a formula (or, for tab and CR, that
/// hide one behind a blank-looking start).
const TRIGGERS: &[char] = &['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'];

/// What an apostrophe in front of a cell means: "text, not a formula".
const QUOTE: char = '\'';

/// The cell as written to a sheet.
pub(crate) fn escape(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some(QUOTE) => Cow::Owned(format!("{QUOTE}{cell}")),
        Some(first) if TRIGGERS.contains(&first) && !is_plain_number(cell) => {
            Cow::Owned(format!("{QUOTE}{cell}"))
        }
        _ => Cow::Borrowed(cell),
    }
}

/// The cell as read from a sheet: the apostrophe [`escape`] added, taken off again.
pub(crate) fn unescape(cell: String) -> String {
    let mut chars = cell.chars();
    match (chars.next(), chars.next()) {
        (Some(QUOTE), Some(second)) if second == QUOTE || TRIGGERS.contains(&second) => {
            cell[QUOTE.len_utf8()..].to_string()
        }
        _ => cell,
    }
}

/// An optional sign, digits, optionally a decimal point and more digits: `-300`, `+1.5`.
fn is_plain_number(cell: &str) -> bool {
    let unsigned = cell.strip_prefix(['-', '+']).unwrap_or(cell);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && fraction.is_none_or(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_written_as_text_and_read_back() {
        for (cell, written) in [
            (
                r#"=HYPERLINK("http://x","詳細")"#,
                r#"'=HYPERLINK("http://x","詳細")"#,
            ),
            ("+81-584-00-0000", "'+81-584-00-0000"),
            ("-1+1", "'-1+1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tcmd", "'\tcmd"),
            ("\r=1", "'\r=1"),
            ("＝１＋１", "'＝１＋１"),
            ("'=x", "''=x"),
            ("'plain", "''plain"),
            ("''", "'''"),
            ("'", "''"),
        ] {
            assert_eq!(escape(cell), written, "{cell:?}");
            assert_eq!(unescape(written.to_string()), cell, "{written:?}");
        }
    }

    #[test]
    fn ordinary_cells_and_numbers_are_left_alone() {
        for cell in [
            "",
            "大垣市社協",
            "0123",
            "a=b",
            "-300",
            "+300",
            "-0.5",
            "12.75",
            "3",
        ] {
            assert_eq!(escape(cell), cell, "{cell:?}");
            assert_eq!(unescape(cell.to_string()), cell, "{cell:?}");
        }
        for cell in ["-", "-.5", "-5.", "--5", "-5e3", "- 5"] {
            assert_eq!(escape(cell), format!("'{cell}"), "{cell:?}");
        }
        // What a person typed to keep a leading zero in Excel reads as typed.
        assert_eq!(unescape("'0123".to_string()), "'0123");
    }
}
