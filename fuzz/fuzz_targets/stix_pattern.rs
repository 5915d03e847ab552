//! A STIX pattern alone, through the general patterning parser, the fast path for
//! `[object:property = 'value']` and what loading uses: the fast path must give what the general
//! parser gives wherever it answers (`portcullis_indicators::fuzzing::parse_checked` asserts it).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(pattern) = std::str::from_utf8(data) {
        let _ = portcullis_indicators::fuzzing::parse_checked(pattern);
    }
});
