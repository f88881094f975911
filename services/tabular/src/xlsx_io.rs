//! Excel workbooks (.xlsx) in and out.
//!
//! Reading streams the cells of one worksheet (calamine's cell reader, so a stray value in a
//! far corner costs one cell, not a dense million-cell grid) and turns each into the text a
//! coordinator typed. Writing stores every value as text, so that codes keep their leading
//! zeros and 13-digit 法人番号 do not become 1.23457E+12.

use std::io::Cursor;
use std::panic::{self, AssertUnwindSafe};

use calamine::{DataRef, ExcelDateTime, Reader, SheetType, SheetVisible, Xlsx, XlsxError};
use rust_xlsxwriter::{IgnoreError, Workbook, Worksheet};

use crate::cell::{CellValue, Value, number_text};
use crate::error::TabularError;
use crate::formula;
use crate::sheet::{MAX_CELLS, Sheet, SheetBuilder, column_letter};
use crate::width::display_width;

/// The signature of an OLE compound file: a legacy .xls, or an .xlsx encrypted with a password.
const COMPOUND_FILE_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

/// Excel's limit on the length of a cell, in UTF-16 units.
const MAX_CELL_UNITS: usize = 32_767;

/// Excel's limit on the length of a sheet name, in UTF-16 units.
const MAX_SHEET_NAME_UNITS: usize = 31;

/// Excel's last row (0-based).
const LAST_ROW: u32 = 1_048_575;

/// Excel's column count.
const COLUMNS: u32 = 16_384;

/// The most an .xlsx may unpack to, in all and per part (a worksheet, the shared strings).
/// A sheet of a municipality's resources or helpers is a few MB unpacked; these leave room
/// for tens of thousands of rows while refusing a "zip bomb" (290 MB of shared strings in a
/// few hundred KB) before calamine unpacks it into memory.
const MAX_UNPACKED_TOTAL: u64 = 100 * 1024 * 1024;
const MAX_UNPACKED_PART: u64 = 64 * 1024 * 1024;

/// The most files an .xlsx archive may hold (a workbook has a few dozen).
const MAX_PARTS: usize = 10_000;

/// The most cells (empty ones included, as the reader visits them) one worksheet may hold:
/// far above any sheet of resources, far below what would keep a request busy for minutes.
const MAX_XLSX_CELLS: usize = 1_000_000;

/// Whether `bytes` are an OLE compound file (see [`COMPOUND_FILE_MAGIC`]).
pub(crate) fn is_compound_file(bytes: &[u8]) -> bool {
    bytes.starts_with(COMPOUND_FILE_MAGIC)
}

/// Reads the worksheet named `sheet_name`, or the first visible worksheet when `None`.
pub(crate) fn read_xlsx(bytes: &[u8], sheet_name: Option<&str>) -> Result<Sheet, TabularError> {
    guarded(|| {
        let mut workbook = open(bytes)?;
        let name = pick_sheet(&workbook, sheet_name)?;
        read_cells(&mut workbook, &name)
    })
}

/// The names of the worksheets, in workbook order (chart sheets left out).
pub(crate) fn sheet_names(bytes: &[u8]) -> Result<Vec<String>, TabularError> {
    guarded(|| {
        let workbook = open(bytes)?;
        Ok(worksheets(&workbook).map(|s| s.name.clone()).collect())
    })
}

/// Runs `read`, turning a panic into an error. These bytes are uploads from anyone; a parser
/// bug on a malformed file must cost the coordinator an error message, not the request.
fn guarded<T>(read: impl FnOnce() -> Result<T, TabularError>) -> Result<T, TabularError> {
    panic::catch_unwind(AssertUnwindSafe(read)).unwrap_or_else(|_| {
        Err(TabularError::NotXlsx {
            detail: "malformed workbook (the reader panicked)".to_owned(),
        })
    })
}

fn open(bytes: &[u8]) -> Result<Xlsx<Cursor<&[u8]>>, TabularError> {
    if is_compound_file(bytes) {
        return Err(TabularError::LegacyOrEncrypted);
    }
    check_unpacked_size(bytes)?;
    Xlsx::new(Cursor::new(bytes)).map_err(|e| match e {
        XlsxError::Password => TabularError::LegacyOrEncrypted,
        e => not_xlsx(e),
    })
}

/// Refuses an archive that unpacks to more than [`MAX_UNPACKED_TOTAL`], or a part to more
/// than [`MAX_UNPACKED_PART`], before calamine unpacks anything (it reads the shared strings
/// whole when it opens the workbook). First the sizes the central directory declares, which
/// refuses an honest bomb without unpacking it; then the bytes each part actually unpacks to,
/// read through the same ZIP reader calamine uses and never more than one past the limit,
/// because the declared sizes are the archive's word and a crafted archive lies.
fn check_unpacked_size(bytes: &[u8]) -> Result<(), TabularError> {
    check_unpacked_size_within(bytes, MAX_UNPACKED_TOTAL, MAX_UNPACKED_PART)
}

/// [`check_unpacked_size`] with its limits given (tests use small ones).
fn check_unpacked_size_within(bytes: &[u8], max_total: u64, max_part: u64) -> Result<(), TabularError> {
    let mut archive = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(archive) => archive,
        // Not a ZIP at all: calamine says so in its own words.
        Err(_) => return Ok(()),
    };
    if archive.len() > MAX_PARTS {
        return Err(TabularError::TooManyParts { limit: MAX_PARTS });
    }
    let too_large = |part: &str, limit: u64| TabularError::UnpackedTooLarge {
        part: part.to_owned(),
        limit_mb: limit / (1024 * 1024),
    };
    let mut declared_total: u64 = 0;
    for index in 0..archive.len() {
        let Ok(entry) = archive.by_index_raw(index) else {
            continue;
        };
        if entry.size() > max_part {
            return Err(too_large(&part_name(entry.name()), max_part));
        }
        declared_total = declared_total.saturating_add(entry.size());
    }
    if declared_total > max_total {
        return Err(too_large("(全体)", max_total));
    }
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        // A part the reader cannot open is calamine's to report (or to leave unread).
        let Ok(mut entry) = archive.by_index(index) else {
            continue;
        };
        let name = part_name(entry.name());
        let budget = max_part.min(max_total - total);
        // Counted by hand: a part that fails half-way (a bad checksum, a size that does not
        // match) has still unpacked what it unpacked.
        let mut read: u64 = 0;
        let mut buffer = [0u8; 64 * 1024];
        while read <= budget {
            match std::io::Read::read(&mut entry, &mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n as u64,
            }
        }
        if read > budget {
            return Err(if budget == max_part {
                too_large(&name, max_part)
            } else {
                too_large("(全体)", max_total)
            });
        }
        total += read;
    }
    Ok(())
}

/// A part's name for a message; a name the reader cannot decode is named by that.
fn part_name<E>(name: Result<std::borrow::Cow<'_, str>, E>) -> String {
    name.map_or_else(
        |_| "(名前を読めないファイル)".to_owned(),
        |name| name.into_owned(),
    )
}

fn not_xlsx(e: XlsxError) -> TabularError {
    TabularError::NotXlsx {
        detail: e.to_string(),
    }
}

fn worksheets<'w>(workbook: &'w Xlsx<Cursor<&[u8]>>) -> impl Iterator<Item = &'w calamine::Sheet> {
    workbook
        .sheets_metadata()
        .iter()
        .filter(|s| s.typ == SheetType::WorkSheet)
}

/// The sheet to read. Without a name, the first *visible* worksheet: a hidden first sheet
/// (a lookup list, an old copy) is not what the coordinator thinks of as "the sheet".
fn pick_sheet(workbook: &Xlsx<Cursor<&[u8]>>, wanted: Option<&str>) -> Result<String, TabularError> {
    if let Some(name) = wanted {
        return worksheets(workbook)
            .find(|s| s.name == name)
            .map(|s| s.name.clone())
            .ok_or_else(|| TabularError::SheetNotFound {
                name: name.to_owned(),
            });
    }
    worksheets(workbook)
        .find(|s| s.visible == SheetVisible::Visible)
        .or_else(|| worksheets(workbook).next())
        .map(|s| s.name.clone())
        .ok_or(TabularError::NoWorksheet)
}

/// Reads one worksheet's cells into a sheet.
fn read_cells(workbook: &mut Xlsx<Cursor<&[u8]>>, name: &str) -> Result<Sheet, TabularError> {
    let mut reader = workbook.worksheet_cells_reader(name).map_err(not_xlsx)?;
    // (row, column, text), both 0-based; empty cells are left out.
    let mut cells: Vec<(u32, u32, String)> = Vec::new();
    // Empty cells count too: a million styled blanks cost as much to read as a million values.
    let mut visited = 0usize;
    while let Some(cell) = reader.next_cell().map_err(not_xlsx)? {
        let (row, col) = cell.get_position();
        visited += 1;
        if visited > MAX_XLSX_CELLS {
            return Err(TabularError::TooManyCells {
                row: row as usize + 1,
                limit: MAX_XLSX_CELLS,
            });
        }
        // A damaged reference can point anywhere (calamine's arithmetic wraps in release
        // builds); padding a row out to column 4,294,967,295 would abort the process.
        if row > LAST_ROW || col >= COLUMNS {
            return Err(TabularError::NotXlsx {
                detail: format!("cell position ({row}, {col}) is beyond Excel's limits"),
            });
        }
        let text = cell_text(cell.get_value()).map_err(|value| TabularError::CellError {
            row: row as usize + 1,
            column: column_letter(col as usize),
            value,
        })?;
        if !text.is_empty() {
            if cells.len() == MAX_CELLS {
                return Err(TabularError::TooManyCells {
                    row: row as usize + 1,
                    limit: MAX_CELLS,
                });
            }
            cells.push((row, col, text));
        }
    }
    // Excel writes cells in order, but the format does not promise it.
    if !cells.is_sorted_by_key(|&(row, col, _)| (row, col)) {
        cells.sort_by_key(|&(row, col, _)| (row, col));
    }

    let mut builder = SheetBuilder::default();
    let mut cells = cells.into_iter().peekable();
    while let Some((row, col, text)) = cells.next() {
        let mut values = Vec::with_capacity(builder.width().max(col as usize + 1));
        put(&mut values, col, text);
        while let Some((_, col, text)) = cells.next_if(|next| next.0 == row) {
            put(&mut values, col, text);
        }
        // Every data row gets a cell per header, as the grid in Excel has; the builder
        // rejects values beyond the last header.
        if values.len() < builder.width() {
            values.resize(builder.width(), String::new());
        }
        builder.push(row as usize + 1, values)?;
    }
    builder.finish()
}

/// Puts `text` at column `col`, padding with empty cells (which do not allocate).
fn put(values: &mut Vec<String>, col: u32, text: String) {
    let col = col as usize;
    if values.len() <= col {
        values.resize(col + 1, String::new());
    }
    values[col] = text;
}

/// A cell's value as the coordinator typed it, or the Excel error value (e.g. "#N/A") it holds.
fn cell_text(value: &DataRef<'_>) -> Result<String, String> {
    Ok(match value {
        DataRef::Empty => String::new(),
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => float_text(*f),
        DataRef::Bool(true) => "TRUE".to_owned(),
        DataRef::Bool(false) => "FALSE".to_owned(),
        DataRef::DateTime(datetime) => datetime_text(datetime),
        DataRef::DateTimeIso(iso) => iso_datetime_text(iso),
        DataRef::DurationIso(iso) => iso.clone(),
        DataRef::Error(e) => return Err(e.to_string()),
    })
}

/// A number as typed: Rust's shortest round-trip form, which never adds ".0" (3.0 → "3",
/// 0.1 → "0.1") nor an exponent (1234567890123 stays as is).
fn float_text(value: f64) -> String {
    number_text(value)
}

/// A cell Excel formats as a date or time. calamine (without its chrono feature) gives the
/// serial number and its calendar parts; the text is what ISO-minded code downstream parses:
/// "2024-04-01", "2024-04-01 09:30", a time of day "09:30", seconds only when there are some.
/// Durations (`[h]:mm`) are total hours: "27:30".
fn datetime_text(datetime: &ExcelDateTime) -> String {
    let serial = datetime.as_f64();
    if datetime.is_duration() {
        let seconds = (serial * 86_400.0).round();
        let sign = if seconds < 0.0 { "-" } else { "" };
        let seconds = seconds.abs() as u64;
        let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
        return if s == 0 {
            format!("{sign}{h}:{m:02}")
        } else {
            format!("{sign}{h}:{m:02}:{s:02}")
        };
    }
    let (year, month, day, h, m, s, _milli) = datetime.to_ymd_hms_milli();
    let time = if s == 0 {
        format!("{h:02}:{m:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    };
    if (0.0..1.0).contains(&serial) {
        // Day 0 is not a date: the cell holds a time of day.
        time
    } else if (h, m, s) == (0, 0, 0) {
        format!("{year:04}-{month:02}-{day:02}")
    } else {
        format!("{year:04}-{month:02}-{day:02} {time}")
    }
}

/// An ISO 8601 date cell (`t="d"`, written by some tools, not by Excel) in the same shape as
/// [`datetime_text`]: "2024-04-01T09:30:00" → "2024-04-01 09:30".
fn iso_datetime_text(iso: &str) -> String {
    let Some((date, time)) = iso.split_once('T') else {
        return iso.to_owned();
    };
    let hms = time.get(..8).unwrap_or(time);
    if hms == "00:00:00" {
        date.to_owned()
    } else if let Some(hm) = hms.strip_suffix(":00").filter(|hm| hm.len() == 5) {
        format!("{date} {hm}")
    } else {
        format!("{date} {hms}")
    }
}

/// Writes a one-sheet workbook: see [`crate::write_xlsx`] and [`crate::write_xlsx_cells`].
pub(crate) fn write_xlsx<C: CellValue>(
    sheet_name: &str,
    headers: &[&str],
    rows: &[Vec<C>],
) -> Result<Vec<u8>, TabularError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet
        .set_name(excel_sheet_name(sheet_name))
        .map_err(write_error)?;
    // "@" is Excel's Text format: values stay text, and so do values typed in later.
    let text = rust_xlsxwriter::Format::new().set_num_format("@");
    let bold = text.clone().set_bold();
    // Numbers in Excel's General format: a column of counts adds up, also rows typed later.
    let general = rust_xlsxwriter::Format::new();

    let columns = headers.len().max(rows.iter().map(Vec::len).max().unwrap_or(0));
    let mut widths = vec![0; columns];
    let mut numeric = vec![false; columns];
    for (col, header) in headers.iter().enumerate() {
        write_cell(sheet, 0, col, header, &bold)?;
        widths[col] = display_width(header);
    }
    for (i, row) in rows.iter().enumerate() {
        for (col, cell) in row.iter().enumerate() {
            match cell.value() {
                Value::Text("") => {}
                Value::Text(cell) => {
                    write_cell(sheet, i + 1, col, cell, &text)?;
                    widths[col] = widths[col].max(display_width(cell));
                }
                Value::Number(number) => {
                    sheet
                        .write_number_with_format(row_number(i + 1)?, column_number(col)?, number, &general)
                        .map_err(write_error)?;
                    widths[col] = widths[col].max(number_text(number).len());
                    numeric[col] = true;
                }
            }
        }
    }
    for (col, width) in widths.into_iter().enumerate() {
        let format = if numeric[col] { &general } else { &text };
        let col = column_number(col)?;
        // Room for the filter button and a margin; long texts wrap rather than spread.
        let width = (width + 2).clamp(8, 60) as f64;
        sheet.set_column_format(col, format).map_err(write_error)?;
        sheet.set_column_width(col, width).map_err(write_error)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(write_error)?;
    if columns > 0 {
        // Digits stored as text are the point here, not a mistake: no green triangles, also
        // on rows the coordinator adds later.
        let last = column_number(columns - 1)?;
        sheet
            .ignore_error_range(0, 0, LAST_ROW, last, IgnoreError::NumberStoredAsText)
            .map_err(write_error)?;
    }
    workbook.save_to_buffer().map_err(write_error)
}

fn write_cell(
    sheet: &mut Worksheet,
    row: usize,
    col: usize,
    value: &str,
    format: &rust_xlsxwriter::Format,
) -> Result<(), TabularError> {
    let value = &*formula::escape(value);
    if value.encode_utf16().count() > MAX_CELL_UNITS {
        return Err(TabularError::CellTooLong {
            row: row + 1,
            column: column_letter(col),
        });
    }
    sheet
        .write_string_with_format(row_number(row)?, column_number(col)?, value, format)
        .map_err(write_error)?;
    Ok(())
}

/// A row index as rust_xlsxwriter takes it.
fn row_number(row: usize) -> Result<u32, TabularError> {
    u32::try_from(row)
        .ok()
        .filter(|&r| r <= LAST_ROW)
        .ok_or_else(|| TabularError::WriteXlsx {
            detail: format!("more than {} rows", LAST_ROW + 1),
        })
}

/// A column index as rust_xlsxwriter takes it.
fn column_number(col: usize) -> Result<u16, TabularError> {
    u16::try_from(col)
        .ok()
        .filter(|&c| u32::from(c) < COLUMNS)
        .ok_or_else(|| TabularError::WriteXlsx {
            detail: format!("more than {COLUMNS} columns"),
        })
}

fn write_error(e: rust_xlsxwriter::XlsxError) -> TabularError {
    TabularError::WriteXlsx {
        detail: e.to_string(),
    }
}

/// A name Excel accepts, as close to `name` as possible: the characters Excel forbids become
/// their full-width look-alikes ("2024/04" → "2024／04", still readable), control characters
/// go, the name is cut to 31 UTF-16 units and may not start or end with an apostrophe.
/// "History" is reserved by Excel.
fn excel_sheet_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut units = 0;
    for ch in name.trim().chars() {
        let ch = match ch {
            '/' => '／',
            '\\' => '＼',
            '?' => '？',
            '*' => '＊',
            ':' => '：',
            '[' => '［',
            ']' => '］',
            c if c.is_control() => continue,
            c => c,
        };
        units += ch.len_utf16();
        if units > MAX_SHEET_NAME_UNITS {
            break;
        }
        out.push(ch);
    }
    let name = out.trim_matches(|c: char| c == '\'' || c.is_whitespace());
    if name.is_empty() {
        "Sheet1".to_owned()
    } else if name.eq_ignore_ascii_case("History") {
        "History_".to_owned()
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::ExcelDateTimeType;
    use std::io::Write;

    /// A workbook of one sheet whose cell A1 is shared string 0, with `strings_bytes` of
    /// shared strings: one `<si>` per 1,000 bytes of repeated text, which deflate squeezes
    /// a hundredfold and more — the shape of an .xlsx bomb.
    fn workbook_with_shared_strings(strings_bytes: usize) -> Vec<u8> {
        workbook(strings_bytes, 0)
    }

    /// The same workbook, its sheet padded with `blank_cells` empty (styled) cells after A1.
    fn workbook(strings_bytes: usize, blank_cells: usize) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(1));
        let parts: [(&str, &str); 4] = [
            (
                "[Content_Types].xml",
                r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#,
            ),
            (
                "_rels/.rels",
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
            ),
            (
                "xl/workbook.xml",
                r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
            ),
            (
                "xl/_rels/workbook.xml.rels",
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#,
            ),
        ];
        for (name, content) in parts {
            zip.start_file(name, options).unwrap();
            zip.write_all(content.as_bytes()).unwrap();
        }
        zip.start_file("xl/worksheets/sheet1.xml", options).unwrap();
        zip.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row>"#)
            .unwrap();
        for row in 2..blank_cells + 2 {
            write!(zip, r#"<row r="{row}"><c r="A{row}" s="1"/></row>"#).unwrap();
        }
        zip.write_all(b"</sheetData></worksheet>").unwrap();
        zip.start_file("xl/sharedStrings.xml", options).unwrap();
        zip.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"#)
            .unwrap();
        let item = format!("<si><t>{}</t></si>", "a".repeat(1_000 - 16));
        for _ in 0..strings_bytes / item.len() {
            zip.write_all(item.as_bytes()).unwrap();
        }
        zip.write_all(b"</sst>").unwrap();
        zip.finish().unwrap().into_inner()
    }

    /// Overwrites the uncompressed size every header of `part` declares with `size`, as a
    /// crafted archive would, leaving the compressed data as it is.
    fn declare_size(archive: &mut [u8], part: &str, size: u32) {
        let mut patched = 0;
        for at in 0..archive.len().saturating_sub(46) {
            let (size_at, name_len_at, name_at) = match archive[at..at + 4] {
                [0x50, 0x4b, 0x03, 0x04] => (at + 22, at + 26, at + 30),
                [0x50, 0x4b, 0x01, 0x02] => (at + 24, at + 28, at + 46),
                _ => continue,
            };
            let name_len = u16::from_le_bytes([archive[name_len_at], archive[name_len_at + 1]]) as usize;
            if archive.get(name_at..name_at + name_len) == Some(part.as_bytes()) {
                archive[size_at..size_at + 4].copy_from_slice(&size.to_le_bytes());
                patched += 1;
            }
        }
        assert_eq!(patched, 2, "a local header and a central directory entry");
    }

    #[test]
    fn a_workbook_within_the_limits_is_read() {
        let bytes = workbook_with_shared_strings(100_000);
        check_unpacked_size_within(&bytes, 300_000, 200_000).unwrap();
        let sheet = read_xlsx(&bytes, None).unwrap();
        assert_eq!(sheet.headers[0].len(), 1_000 - 16);
    }

    #[test]
    fn a_part_that_unpacks_too_large_is_refused_by_its_declared_size() {
        let bytes = workbook_with_shared_strings(300_000);
        assert!(bytes.len() < 20_000, "the bomb compresses: {} bytes", bytes.len());
        let error = check_unpacked_size_within(&bytes, 10_000_000, 200_000).unwrap_err();
        assert_eq!(
            error,
            TabularError::UnpackedTooLarge {
                part: "xl/sharedStrings.xml".into(),
                limit_mb: 0
            }
        );
    }

    #[test]
    fn a_part_that_lies_about_its_size_never_unpacks_past_the_limit() {
        let mut bytes = workbook_with_shared_strings(300_000);
        declare_size(&mut bytes, "xl/sharedStrings.xml", 1_000);
        match check_unpacked_size_within(&bytes, 10_000_000, 200_000) {
            // Counted as it unpacks: refused for what it is, not for what it says.
            Err(error) => assert!(
                matches!(&error, TabularError::UnpackedTooLarge { part, .. } if part == "xl/sharedStrings.xml"),
                "{error:?}"
            ),
            // The ZIP reader (the one calamine uses too) holds a part to its declared size:
            // the count stopped there, and the workbook, cut short, does not read.
            Ok(()) => assert!(
                matches!(read_xlsx(&bytes, None), Err(TabularError::NotXlsx { .. })),
                "a part cut at its declared size is not a workbook"
            ),
        }
    }

    #[test]
    fn the_archive_as_a_whole_is_limited_too() {
        let bytes = workbook_with_shared_strings(150_000);
        let error = check_unpacked_size_within(&bytes, 100_000, 200_000).unwrap_err();
        assert!(
            matches!(&error, TabularError::UnpackedTooLarge { part, .. } if part == "(全体)"),
            "{error:?}"
        );
    }

    #[test]
    fn a_sheet_of_more_cells_than_the_limit_is_refused_as_it_is_read() {
        let bytes = workbook(1_000, MAX_XLSX_CELLS);
        let error = read_xlsx(&bytes, None).unwrap_err();
        assert_eq!(
            error,
            TabularError::TooManyCells {
                row: MAX_XLSX_CELLS + 1,
                limit: MAX_XLSX_CELLS
            }
        );
        let just_within = workbook(1_000, MAX_XLSX_CELLS - 1);
        assert!(read_xlsx(&just_within, None).is_ok());
    }

    #[test]
    fn a_bomb_past_the_real_limit_is_refused_with_a_message_a_coordinator_can_act_on() {
        // 65 MiB of shared strings: over the per-part limit, in well under a megabyte.
        let bytes = workbook_with_shared_strings(65 * 1024 * 1024);
        assert!(bytes.len() < 1024 * 1024, "{} bytes", bytes.len());
        let error = read_xlsx(&bytes, None).unwrap_err();
        assert!(
            matches!(&error, TabularError::UnpackedTooLarge { limit_mb: 64, .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.starts_with("Excelファイルを展開すると大きすぎます"),
            "{message}"
        );
        assert!(
            message.contains(" / the .xlsx unpacks to more than 64 MB"),
            "{message}"
        );
    }

    fn datetime(serial: f64) -> String {
        datetime_text(&ExcelDateTime::new(serial, ExcelDateTimeType::DateTime, false))
    }

    #[test]
    fn dates_and_times_as_typed() {
        assert_eq!(datetime(45383.0), "2024-04-01");
        assert_eq!(datetime(45383.0 + 9.5 / 24.0), "2024-04-01 09:30");
        assert_eq!(
            datetime(45383.0 + (9.5 * 60.0 + 0.25) / 1440.0),
            "2024-04-01 09:30:15"
        );
        assert_eq!(datetime(0.75), "18:00");
        assert_eq!(datetime(0.0), "00:00");
        let duration = ExcelDateTime::new(27.5 / 24.0, ExcelDateTimeType::TimeDelta, false);
        assert_eq!(datetime_text(&duration), "27:30");
        // The 1904 date system (old Mac workbooks) counts from 1904-01-01.
        let mac = ExcelDateTime::new(43921.0, ExcelDateTimeType::DateTime, true);
        assert_eq!(datetime_text(&mac), "2024-04-01");
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso_datetime_text("2024-04-01T00:00:00"), "2024-04-01");
        assert_eq!(iso_datetime_text("2024-04-01T09:30:00"), "2024-04-01 09:30");
        assert_eq!(iso_datetime_text("2024-04-01T09:30:15.5"), "2024-04-01 09:30:15");
        assert_eq!(iso_datetime_text("2024-04-01"), "2024-04-01");
    }

    #[test]
    fn numbers_as_typed() {
        assert_eq!(float_text(3.0), "3");
        assert_eq!(float_text(-0.0), "0");
        assert_eq!(float_text(0.1), "0.1");
        assert_eq!(float_text(1234567890123.0), "1234567890123");
        assert_eq!(float_text(-2.5), "-2.5");
    }

    #[test]
    fn cell_values() {
        assert_eq!(cell_text(&DataRef::Bool(true)), Ok("TRUE".into()));
        assert_eq!(cell_text(&DataRef::Int(7)), Ok("7".into()));
        assert_eq!(cell_text(&DataRef::SharedString("大垣")), Ok("大垣".into()));
        assert_eq!(
            cell_text(&DataRef::Error(calamine::CellErrorType::NA)),
            Err("#N/A".into())
        );
    }

    #[test]
    fn sheet_names_excel_accepts() {
        assert_eq!(excel_sheet_name("名簿"), "名簿");
        assert_eq!(
            excel_sheet_name("2024/04 [案]: 確認?*\\"),
            "2024／04 ［案］： 確認？＊＼"
        );
        assert_eq!(excel_sheet_name("'引用'"), "引用");
        assert_eq!(excel_sheet_name("  "), "Sheet1");
        assert_eq!(excel_sheet_name("history"), "History_");
        let long = "大垣市社会福祉協議会地域福祉推進課ボランティアセンター登録団体一覧";
        let cut = excel_sheet_name(long);
        assert_eq!(cut.chars().count(), 31);
        assert!(long.starts_with(&cut));
        // Emoji take two UTF-16 units, as Excel counts them.
        assert_eq!(excel_sheet_name(&"🍙".repeat(20)).chars().count(), 15);
    }
}
