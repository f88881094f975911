//! `MunicipalityCode::parse` (six digits with a check digit, full-width digits normalised):
//! every request and event names its tenant with one. An accepted code is six ASCII digits
//! and parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagu_runtime::tenant::MunicipalityCode;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(code) = MunicipalityCode::parse(text) else {
        return;
    };
    assert!(code.as_str().len() == 6 && code.as_str().bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(MunicipalityCode::parse(code.as_str()).as_ref(), Ok(&code));
    let _ = MunicipalityCode::parse_known(text);
    if let Some(entry) = code.official() {
        let _ = entry.prefecture_code();
    }
});
