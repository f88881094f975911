//! A sheet as read: its headers and its data rows, each with the row number Excel shows.
//!
//! Both readers (CSV and xlsx) feed the same [`SheetBuilder`], so the rules about the header
//! row, blank rows, duplicate headers and cells beyond the last header are the same whichever
//! format a coordinator happened to save in.

use std::collections::HashMap;

use crate::error::TabularError;
use crate::formula;

/// A sheet: the header row and the non-blank data rows below it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sheet {
    /// The header cells as written (not trimmed or normalised), left to right. Empty header
    /// cells at the right end are dropped; empty ones in the middle are kept so that indexes
    /// stay aligned with the columns.
    pub headers: Vec<String>,
    /// The data rows, top to bottom; rows whose cells are all empty are left out.
    pub rows: Vec<Row>,
}

/// One data row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    /// The row number a coordinator sees in Excel: the header is row 1 and the first data row
    /// is 2 when the sheet starts at the top; skipped blank rows are counted too, so error
    /// reports point at the right line.
    pub number: usize,
    /// The cells as typed, one per column up to the last header at most. CSV rows may be
    /// shorter than the header (use [`Row::cell`]); xlsx rows always have one cell per header.
    pub cells: Vec<String>,
}

impl Sheet {
    /// The index of the first header matching one of `names`, tried in order, so that callers
    /// can list a preferred name followed by its aliases.
    ///
    /// Coordinators type headers by hand, so they are compared loosely: surrounding whitespace,
    /// BOMs, spaces (ASCII and full-width) and ASCII case are ignored, and full-width ASCII is
    /// read as half-width ("ＵＲＬ" matches "url", " 法人 番号 " matches "法人番号"). Empty names
    /// match nothing.
    pub fn column(&self, names: &[&str]) -> Option<usize> {
        let headers: Vec<String> = self.headers.iter().map(|h| normalize_header(h)).collect();
        names
            .iter()
            .map(|name| normalize_header(name))
            .filter(|n| !n.is_empty())
            .find_map(|name| headers.iter().position(|h| *h == name))
    }
}

impl Row {
    /// The cell at `index`, or "" when the row is shorter: a short CSV row means its trailing
    /// cells are empty, not that the row is malformed.
    pub fn cell(&self, index: usize) -> &str {
        self.cells.get(index).map_or("", String::as_str)
    }
}

/// The key headers are compared by: see [`Sheet::column`].
pub(crate) fn normalize_header(header: &str) -> String {
    let mut key = String::with_capacity(header.len());
    for ch in header.chars() {
        let ch = match ch {
            // Full-width ASCII (Ｕ, ＲＬ, ０-９, （）...) → half-width: the offset is fixed.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(ch as u32 - 0xFEE0).unwrap_or(ch),
            _ => ch,
        };
        // Any whitespace, so the full-width space U+3000 too.
        if ch == '\u{FEFF}' || ch.is_whitespace() {
            continue;
        }
        key.push(ch.to_ascii_lowercase());
    }
    key
}

/// Excel's column letters for a 0-based column index: 0 → "A", 25 → "Z", 26 → "AA".
pub(crate) fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

/// The most cells a sheet may hold, counting the empty ones rows are padded with: 10 million
/// (20,000 rows of 500 columns). Lists kept by hand are far smaller; files that are not are
/// refused before they take gigabytes.
pub(crate) const MAX_CELLS: usize = 10_000_000;

/// Turns raw rows (with their Excel row numbers) into a [`Sheet`], applying the rules shared by
/// both formats: the first non-blank row is the header, blank rows are skipped (their numbers
/// are simply not used), header names must be unique, and no value may stand right of the last
/// header.
#[derive(Debug)]
pub(crate) struct SheetBuilder {
    header: Option<Vec<String>>,
    rows: Vec<Row>,
    /// Cells kept so far, against `limit`.
    cells: usize,
    limit: usize,
}

impl Default for SheetBuilder {
    fn default() -> Self {
        Self {
            header: None,
            rows: Vec::new(),
            cells: 0,
            limit: MAX_CELLS,
        }
    }
}

impl SheetBuilder {
    /// The number of headers once the header row has been seen, else 0.
    pub(crate) fn width(&self) -> usize {
        self.header.as_ref().map_or(0, Vec::len)
    }

    /// Adds the row Excel numbers `number`.
    pub(crate) fn push(&mut self, number: usize, cells: Vec<String>) -> Result<(), TabularError> {
        if cells.iter().all(String::is_empty) {
            return Ok(());
        }
        // Both readers come through here: the one place the formula guard is undone.
        let mut cells: Vec<String> = cells.into_iter().map(formula::unescape).collect();
        self.cells += cells.len();
        if self.cells > self.limit {
            return Err(TabularError::TooManyCells {
                row: number,
                limit: self.limit,
            });
        }
        let Some(header) = &self.header else {
            // Trailing empty header cells are formatting, not columns (Excel pads CSV exports
            // to the widest row); dropping them lets data rows carry the same padding.
            let used = cells.iter().rposition(|c| !c.is_empty()).map_or(0, |i| i + 1);
            cells.truncate(used);
            check_unique(number, &cells)?;
            self.header = Some(cells);
            return Ok(());
        };
        let width = header.len();
        if cells.len() > width {
            if let Some(extra) = cells[width..].iter().position(|c| !c.is_empty()) {
                return Err(TabularError::RowTooLong {
                    row: number,
                    column: column_letter(width + extra),
                });
            }
            cells.truncate(width);
        }
        self.rows.push(Row { number, cells });
        Ok(())
    }

    /// The sheet, or [`TabularError::NoHeaders`] when every row was blank.
    pub(crate) fn finish(self) -> Result<Sheet, TabularError> {
        let headers = self.header.ok_or(TabularError::NoHeaders)?;
        Ok(Sheet {
            headers,
            rows: self.rows,
        })
    }
}

/// Rejects headers that [`Sheet::column`] could not tell apart. Empty headers are exempt: they
/// cannot be looked up by name anyway, and a blank column in the middle of a sheet is common.
fn check_unique(row: usize, headers: &[String]) -> Result<(), TabularError> {
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(headers.len());
    let mut duplicated = vec![false; headers.len()];
    for (i, header) in headers.iter().enumerate() {
        let key = normalize_header(header);
        if key.is_empty() {
            continue;
        }
        if let Some(&first) = seen.get(&key) {
            duplicated[first] = true;
            duplicated[i] = true;
        } else {
            seen.insert(key, i);
        }
    }
    let mut names: Vec<String> = Vec::new();
    for (header, _) in headers.iter().zip(&duplicated).filter(|(_, dup)| **dup) {
        if !names.contains(header) {
            names.push(header.clone());
        }
    }
    if names.is_empty() {
        Ok(())
    } else {
        Err(TabularError::DuplicateHeaders { row, names })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(headers: &[&str]) -> Sheet {
        Sheet {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: vec![],
        }
    }

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn column_matches_loosely() {
        let s = sheet(&[
            "名前",
            " 法人番号 ",
            "ＵＲＬ",
            "\u{FEFF}Phone Number",
            "電話　番号",
        ]);
        assert_eq!(s.column(&["法人番号"]), Some(1));
        assert_eq!(s.column(&["url"]), Some(2));
        assert_eq!(s.column(&["URL"]), Some(2));
        assert_eq!(s.column(&["phonenumber"]), Some(3));
        assert_eq!(s.column(&["PHONE NUMBER"]), Some(3));
        assert_eq!(s.column(&["電話番号"]), Some(4));
        assert_eq!(s.column(&["住所"]), None);
        assert_eq!(s.column(&[""]), None);
    }

    #[test]
    fn column_prefers_names_in_the_order_given() {
        let s = sheet(&["ホームページ", "URL"]);
        assert_eq!(s.column(&["url", "ホームページ"]), Some(1));
        assert_eq!(s.column(&["住所", "ホームページ"]), Some(0));
    }

    #[test]
    fn cell_is_empty_past_the_end() {
        let row = Row {
            number: 2,
            cells: strings(&["a"]),
        };
        assert_eq!(row.cell(0), "a");
        assert_eq!(row.cell(5), "");
    }

    #[test]
    fn column_letters() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
        assert_eq!(column_letter(16383), "XFD");
    }

    #[test]
    fn builder_skips_blank_rows_and_trailing_padding() {
        let mut b = SheetBuilder::default();
        b.push(1, strings(&["", ""])).unwrap();
        b.push(2, strings(&["a", "b", "", ""])).unwrap();
        assert_eq!(b.width(), 2);
        b.push(3, strings(&["1", "2", ""])).unwrap();
        b.push(4, strings(&[""])).unwrap();
        b.push(5, strings(&["3"])).unwrap();
        let s = b.finish().unwrap();
        assert_eq!(s.headers, strings(&["a", "b"]));
        assert_eq!(
            s.rows,
            vec![
                Row {
                    number: 3,
                    cells: strings(&["1", "2"])
                },
                Row {
                    number: 5,
                    cells: strings(&["3"])
                },
            ]
        );
    }

    #[test]
    fn builder_rejects_values_right_of_the_last_header() {
        let mut b = SheetBuilder::default();
        b.push(1, strings(&["a", "b"])).unwrap();
        let err = b.push(2, strings(&["1", "2", "", "x"])).unwrap_err();
        assert_eq!(
            err,
            TabularError::RowTooLong {
                row: 2,
                column: "D".into()
            }
        );
    }

    #[test]
    fn builder_rejects_duplicates_after_normalisation() {
        let mut b = SheetBuilder::default();
        let err = b
            .push(1, strings(&["名前", "URL", "", "", "名前", "ＵＲＬ", "住所"]))
            .unwrap_err();
        assert_eq!(
            err,
            TabularError::DuplicateHeaders {
                row: 1,
                names: strings(&["名前", "URL", "ＵＲＬ"])
            }
        );
    }

    #[test]
    fn builder_counts_cells_padding_included() {
        let mut b = SheetBuilder {
            limit: 6,
            ..SheetBuilder::default()
        };
        b.push(1, strings(&["a", "b"])).unwrap();
        b.push(2, strings(&["1", ""])).unwrap();
        b.push(3, strings(&["", ""])).unwrap();
        assert_eq!(
            b.push(4, strings(&["", "2", ""])),
            Err(TabularError::TooManyCells { row: 4, limit: 6 })
        );
    }

    #[test]
    fn builder_without_rows_has_no_headers() {
        let mut b = SheetBuilder::default();
        b.push(1, strings(&["", ""])).unwrap();
        assert_eq!(b.finish(), Err(TabularError::NoHeaders));
    }
}
