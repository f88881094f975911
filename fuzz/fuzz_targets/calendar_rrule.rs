//! The RRULE reader (`Recurrence::parse`). Whatever it accepts, its canonical string must
//! parse back to an equal rule.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagu_calendar::Recurrence;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rule) = Recurrence::parse(text) else {
        return;
    };
    let canonical = rule.to_string();
    let again = Recurrence::parse(&canonical)
        .unwrap_or_else(|error| panic!("{canonical:?} (from {text:?}) does not read back: {error}"));
    assert_eq!(again, rule, "{canonical:?} (from {text:?}) reads back otherwise");
});
