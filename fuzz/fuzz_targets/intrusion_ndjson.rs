//! An Android 16 intrusion log (NDJSON, one event per line) through every intrusion-log module:
//! the line reader, then the DNS, connect and security event parsers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_android::intrusion;

fuzz_target!(|data: &[u8]| {
    portcullis_fuzz::run_android_modules(intrusion::modules(), &[], &["intrusion.txt"], data);
});
