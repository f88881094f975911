//! The request guard's decoder and walk (`request_guard::check_bytes`): a unary request body
//! for one of the services' methods. The first byte picks the method; the rest is the
//! protobuf message, framed as gRPC frames it, unless the byte's top bit asks for the bytes
//! to be passed as the whole body, frame header included.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tsunagu_runtime::request_guard::{MAX_REPORTED, Rules, check_bytes, frame};

fn methods() -> &'static [String] {
    static PATHS: OnceLock<Vec<String>> = OnceLock::new();
    PATHS.get_or_init(|| {
        let mut paths: Vec<String> = Rules::get()
            .methods()
            .filter(|method| !method.is_client_streaming())
            .map(|method| format!("/{}/{}", method.parent_service().full_name(), method.name()))
            .collect();
        paths.sort();
        paths
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, message)) = data.split_first() else {
        return;
    };
    let paths = methods();
    let path = &paths[usize::from(selector & 0x7f) % paths.len()];
    let violations = if selector & 0x80 == 0 {
        check_bytes(path, &frame(message))
    } else {
        check_bytes(path, message)
    };
    // The answer stays small: at most MAX_REPORTED problems and the summing-up line.
    assert!(
        violations.len() <= MAX_REPORTED + 1,
        "{} violations",
        violations.len()
    );
});
