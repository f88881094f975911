//! The official list of local government codes as imported by an administrator
//! (`tenant::parse_official_csv`). Every entry it keeps must carry a code that parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagu_runtime::tenant::{MunicipalityCode, parse_official_csv};

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = parse_official_csv(data) else {
        return;
    };
    assert_eq!(parsed.entries.len(), parsed.entry_rows.len());
    for entry in &parsed.entries {
        assert_eq!(
            MunicipalityCode::parse(entry.code.as_str()).as_ref(),
            Ok(&entry.code)
        );
        let _ = (entry.name(), entry.name_kana());
        let _ = entry.prefecture_code_in(&parsed.entries.iter().collect::<Vec<_>>());
    }
});
