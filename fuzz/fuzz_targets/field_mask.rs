//! Update masks (`FieldMask::parse`): the input is the mask's paths separated by commas, as
//! a client writes `category,details.location`, checked against the fields UpdateNeed takes
//! (a copy of intake's `UPDATABLE`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagu_runtime::field_mask::FieldMask;

const UPDATABLE: &[&str] = &[
    "area_id",
    "category",
    "urgency",
    "resident_id",
    "details",
    "details.location",
    "details.time_windows",
    "details.frequency",
    "details.start_date",
    "details.deadline",
    "details.eligibility",
    "details.max_fee_yen",
    "details.requirements",
    "channel",
    "referrer",
    "notes",
    "status",
    "status_note",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let paths: Vec<String> = if text.is_empty() {
        Vec::new()
    } else {
        text.split(',').map(str::to_string).collect()
    };
    if let Ok(mask) = FieldMask::parse(&paths, UPDATABLE) {
        for field in mask.fields() {
            assert!(UPDATABLE.contains(&field));
            assert!(paths.iter().any(|path| path.trim() == field));
        }
    }
});
