//! The Japanese schedule reader (`ScheduleEntry::parse_japanese`): coordinators' free text.
//! Whatever it accepts, its canonical form must read back to the same entry, and the stored
//! JSON form too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagu_calendar::ScheduleEntry;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(entry) = ScheduleEntry::parse_japanese(text) else {
        return;
    };
    let canonical = entry.to_japanese();
    let again = ScheduleEntry::parse_japanese(&canonical)
        .unwrap_or_else(|error| panic!("{canonical:?} (from {text:?}) does not read back: {error}"));
    assert_eq!(again, entry, "{canonical:?} (from {text:?}) reads back otherwise");
});
