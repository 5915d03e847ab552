//! A STIX 2.1 bundle (or anything claiming to be one) loaded as an indicator file.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use portcullis_indicators::Indicators;

fuzz_target!(|data: &[u8]| {
    let mut ind = Indicators::new();
    if ind.load_bundle(data, Path::new("fuzz.stix2")).is_ok() {
        let _ = ind.check_host("c2.evil.com");
        let _ = ind.check_url("http://c2.evil.com/a");
    }
});
