//! An NSKeyedArchiver archive (a Manifest.db `file` blob; binary or XML plist) through
//! `portcullis_ios::nskeyed::unarchive_bytes`: the bounded plist parser, then the object-table
//! resolution, where reference loops and shared references must stay bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_ios::nskeyed::unarchive_bytes(data);
});
