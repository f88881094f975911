//! The CSV sheet reader on raw bytes: UTF-8 (with or without BOM), Shift_JIS, and whatever
//! else an upload holds. Format detection runs first, as the services call it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagu_tabular::{Format, read};

fuzz_target!(|data: &[u8]| {
    let _ = Format::detect(data);
    if let Ok(sheet) = read(data, Format::Csv) {
        // What callers do next: look a column up, read every cell.
        let _ = sheet.column(&["名称", "name"]);
        for row in &sheet.rows {
            for index in 0..=sheet.headers.len() {
                let _ = row.cell(index);
            }
        }
    }
});
