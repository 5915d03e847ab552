//! MVT's indicator index (`indicators.yaml`) through `portcullis_feeds::index::parse`: YAML with
//! aliases refused, nesting and entry counts capped.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_feeds::index::{DEFAULT_RAW_BASE, parse};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse(text, DEFAULT_RAW_BASE);
    }
});
