//! The CSV sheet reader on Shift_JIS: the input is taken as text and encoded as Shift_JIS
//! (Windows-31J) before reading, so that every run exercises the Shift_JIS path with text
//! the decoder accepts. Characters Shift_JIS cannot hold become numeric character
//! references, as encoding_rs writes them.
#![no_main]

use encoding_rs::SHIFT_JIS;
use libfuzzer_sys::fuzz_target;
use tsunagu_tabular::{Format, read};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (bytes, _, _) = SHIFT_JIS.encode(text);
    if let Ok(sheet) = read(&bytes, Format::Csv) {
        for row in &sheet.rows {
            for index in 0..=sheet.headers.len() {
                let _ = row.cell(index);
            }
        }
    }
});
