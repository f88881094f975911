//! Sheets as coordinators keep them: CSV (UTF-8 or Shift_JIS) and Excel .xlsx read into rows
//! under their headers, each row with the number Excel shows for it, and written back in a
//! form Excel in Japan opens without mojibake or mangled numbers.
//!
//! Only bytes in and bytes out: no files, no network. Reading keeps every cell as the text
//! the coordinator typed (nothing is trimmed or converted; "0123" stays "0123"), so that
//! validation elsewhere can quote it back, and every error names the row to fix.
//!
//! ```
//! use tsunagu_tabular::{Format, read, write_csv, write_xlsx};
//!
//! let rows = vec![vec!["0123456789012".to_string(), "大垣市社協, 本所".to_string()]];
//! for bytes in [write_csv(&["法人番号", "名称"], &rows), write_xlsx("名簿", &["法人番号", "名称"], &rows)?] {
//!     let sheet = read(&bytes, Format::detect(&bytes))?;
//!     let number = sheet.column(&["法人番号", "corporate_number"]).unwrap();
//!     assert_eq!(sheet.rows[0].cell(number), "0123456789012");
//!     assert_eq!(sheet.rows[0].number, 2);
//! }
//! # Ok::<(), tsunagu_tabular::TabularError>(())
//! ```

mod cell;
mod csv_io;
mod error;
mod format;
mod formula;
mod sheet;
mod width;
mod xlsx_io;

pub use cell::Cell;
pub use error::TabularError;
pub use format::Format;
pub use sheet::{Row, Sheet};

/// Reads a sheet: for [`Format::Xlsx`] the first visible worksheet, for [`Format::Csv`] the
/// whole file (UTF-8 with or without BOM, else Shift_JIS).
///
/// The apostrophe [`write_csv`] and [`write_xlsx`] put in front of a would-be formula (or of
/// a value starting with an apostrophe) is taken off: `'=A1` reads `=A1`, `''x` reads `'x`;
/// other cells are kept as typed (`'0123` stays `'0123`).
///
/// The first non-blank row is the header row; blank rows are skipped but still counted, so
/// [`Row::number`] is the row Excel shows. Cells are kept as typed; xlsx numbers, dates and
/// booleans become the text Excel displays for them in the plainest form ("3", "2024-04-01",
/// "2024-04-01 09:30", "TRUE").
///
/// # Errors
///
/// A [`TabularError`] naming the row where there is one: undecodable text, an unclosed quote,
/// a value right of the last header, duplicate headers, an Excel error value (#N/A...), no
/// header row at all, or bytes that are not the format asked for.
pub fn read(bytes: &[u8], format: Format) -> Result<Sheet, TabularError> {
    match format {
        Format::Csv => csv_io::read_csv(bytes),
        Format::Xlsx => xlsx_io::read_xlsx(bytes, None),
    }
}

/// Reads the worksheet called `sheet_name` (exactly, as [`sheet_names`] lists it) from an
/// .xlsx workbook, for coordinators who keep several lists in one workbook.
///
/// # Errors
///
/// [`TabularError::SheetNotFound`] if there is no such worksheet, otherwise as [`read`].
pub fn read_sheet(bytes: &[u8], sheet_name: &str) -> Result<Sheet, TabularError> {
    xlsx_io::read_xlsx(bytes, Some(sheet_name))
}

/// The worksheet names of an .xlsx workbook, in workbook order, hidden ones included: what a
/// caller offers when the coordinator has to pick one for [`read_sheet`].
///
/// # Errors
///
/// [`TabularError::NotXlsx`] or [`TabularError::LegacyOrEncrypted`] when the bytes are not a
/// readable workbook.
pub fn sheet_names(bytes: &[u8]) -> Result<Vec<String>, TabularError> {
    xlsx_io::sheet_names(bytes)
}

/// Writes a CSV file Excel in Japan opens correctly: UTF-8 with a BOM (without one Excel
/// assumes Shift_JIS), CRLF line ends, fields quoted only when they hold a comma, a quote or a
/// line break. Rows are written as given, ragged or not.
///
/// A cell a spreadsheet would evaluate as a formula (`=`, `+`, `-`, `@`, tab, CR, their
/// full-width forms; not a plain number such as `-300`) and a cell starting with an apostrophe
/// are written with a leading apostrophe (the formula guard, `formula.rs`); [`read`] takes it
/// off again.
///
/// [`read`] gives back exactly the headers and cells written, except rows whose cells are all
/// empty (skipped as blank). Excel itself, though, turns "0123" into 123 when it opens a CSV;
/// prefer [`write_xlsx`] for files coordinators will edit.
pub fn write_csv(headers: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    csv_io::write_csv(headers, rows)
}

/// Writes a one-sheet .xlsx workbook in which every cell is text (Excel's "@" format, also for
/// cells typed in later), so codes keep their leading zeros and 法人番号 and phone numbers are
/// not turned into numbers. The header row is bold and frozen, columns are sized to their
/// content (East Asian wide characters counted double), and `sheet_name` is made acceptable
/// to Excel (forbidden characters replaced by full-width look-alikes, cut to 31 characters).
///
/// Cells are guarded against formula injection as in [`write_csv`].
///
/// [`read`] gives back exactly the headers and cells written, except rows whose cells are all
/// empty (skipped as blank) and that rows come back with one cell per header.
///
/// # Errors
///
/// [`TabularError::CellTooLong`] for a cell over Excel's 32,767 characters,
/// [`TabularError::WriteXlsx`] beyond Excel's 1,048,576 rows or 16,384 columns.
pub fn write_xlsx(sheet_name: &str, headers: &[&str], rows: &[Vec<String>]) -> Result<Vec<u8>, TabularError> {
    xlsx_io::write_xlsx(sheet_name, headers, rows)
}

/// [`write_csv`] with typed cells: a [`Cell::Number`] is written in its plainest form.
pub fn write_csv_cells(headers: &[&str], rows: &[Vec<Cell>]) -> Vec<u8> {
    csv_io::write_csv(headers, rows)
}

/// [`write_xlsx`] with typed cells: a [`Cell::Number`] is stored as a number (Excel's General
/// format, and its column too), so that a spreadsheet's `SUM` counts it; text cells as in
/// [`write_xlsx`]. [`read`] gives a number back as its plainest text ("3").
///
/// # Errors
///
/// As [`write_xlsx`].
pub fn write_xlsx_cells(
    sheet_name: &str,
    headers: &[&str],
    rows: &[Vec<Cell>],
) -> Result<Vec<u8>, TabularError> {
    xlsx_io::write_xlsx(sheet_name, headers, rows)
}
