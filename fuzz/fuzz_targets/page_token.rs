//! Page tokens (`page_token::open`), outside any list binding (the binding of a call that is
//! not a list). A token the caller made up must not open; one issued here must.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagu_runtime::page_token;

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data) {
        let _ = page_token::open(token);
    }
    if let Some(id) = data.get(..16) {
        let id = uuid::Uuid::from_slice(id).unwrap();
        assert_eq!(page_token::open(&page_token::issue(id)), Some(id));
    }
});
