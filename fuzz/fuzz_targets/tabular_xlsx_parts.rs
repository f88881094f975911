//! The .xlsx reader past the zip layer. Mutating a whole workbook mostly breaks its deflate
//! streams or checksums, so `tabular_xlsx` rarely reaches the XML; this target takes the XML
//! parts themselves and packs them (stored, with correct CRCs) into a workbook around them.
//!
//! Input: `sheet1.xml \0 sharedStrings.xml \0 workbook.xml \0 styles.xml`; a missing or empty
//! workbook or styles part is the one tsunagu-tabular's writer makes (`fuzz/xlsx_template/`),
//! an empty shared strings part is left out. Panics the reader catches are quiet, as in
//! `tabular_xlsx`.
#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use tsunagu_tabular::{Format, read, sheet_names};

const CONTENT_TYPES: &[u8] = include_bytes!("../xlsx_template/content_types.xml");
const RELS: &[u8] = include_bytes!("../xlsx_template/rels.xml");
const WORKBOOK_RELS: &[u8] = include_bytes!("../xlsx_template/workbook.xml.rels");
const WORKBOOK: &[u8] = include_bytes!("../xlsx_template/workbook.xml");
const STYLES: &[u8] = include_bytes!("../xlsx_template/styles.xml");

static QUIET_PANICS: Once = Once::new();

/// A zip archive of `files`, stored (not compressed).
fn stored_zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let crc = crc32fast::hash(data);
        let offset = out.len() as u32;
        let header = |signature: u32, central_entry: bool, out: &mut Vec<u8>| {
            out.extend(signature.to_le_bytes());
            if central_entry {
                out.extend(20u16.to_le_bytes()); // made by
            }
            out.extend(20u16.to_le_bytes()); // needed to extract
            out.extend(0u16.to_le_bytes()); // flags
            out.extend(0u16.to_le_bytes()); // stored
            out.extend(0u16.to_le_bytes()); // time
            out.extend(0x21u16.to_le_bytes()); // 1980-01-01
            out.extend(crc.to_le_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((name.len() as u16).to_le_bytes());
            out.extend(0u16.to_le_bytes()); // extra
            if central_entry {
                out.extend(0u16.to_le_bytes()); // comment
                out.extend(0u16.to_le_bytes()); // disk
                out.extend(0u16.to_le_bytes()); // internal attributes
                out.extend(0u32.to_le_bytes()); // external attributes
                out.extend(offset.to_le_bytes());
            }
            out.extend(name.as_bytes());
        };
        header(0x0403_4b50, false, &mut out);
        out.extend_from_slice(data);
        header(0x0201_4b50, true, &mut central);
    }
    let central_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out.extend((files.len() as u16).to_le_bytes());
    out.extend((files.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(central_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

fuzz_target!(|data: &[u8]| {
    QUIET_PANICS.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let mut parts = data.splitn(4, |b| *b == 0);
    let sheet = parts.next().unwrap_or_default();
    let shared = parts.next().unwrap_or_default();
    let workbook = parts.next().filter(|p| !p.is_empty()).unwrap_or(WORKBOOK);
    let styles = parts.next().filter(|p| !p.is_empty()).unwrap_or(STYLES);
    let mut files: Vec<(&str, &[u8])> = vec![
        ("[Content_Types].xml", CONTENT_TYPES),
        ("_rels/.rels", RELS),
        ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
        ("xl/workbook.xml", workbook),
        ("xl/styles.xml", styles),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    if !shared.is_empty() {
        files.push(("xl/sharedStrings.xml", shared));
    }
    let bytes = stored_zip(&files);
    let _ = sheet_names(&bytes);
    let _ = read(&bytes, Format::Xlsx);
});
