//! The .xlsx sheet readers: `read` (first visible worksheet), `sheet_names` and `read_sheet`.
//!
//! tsunagu-tabular runs calamine under `catch_unwind` and reports a panic in it as a
//! malformed workbook, which is what production does with such a file. libFuzzer's panic hook
//! would abort at the panic before it is caught, so this target puts the default hook back
//! (quiet): a panic the reader catches is no crash, one it lets through still aborts the run
//! (libfuzzer-sys aborts on a panic that reaches it), as do running out of memory and time.
#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use tsunagu_tabular::{Format, read, read_sheet, sheet_names};

static QUIET_PANICS: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    QUIET_PANICS.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let _ = read(data, Format::Xlsx);
    if let Ok(names) = sheet_names(data) {
        for name in names.iter().take(4) {
            let _ = read_sheet(data, name);
        }
    }
});
