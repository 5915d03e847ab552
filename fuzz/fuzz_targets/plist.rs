//! A property list, binary or XML, through the bounded parser every module uses.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_evidence::property_list::parse(data);
});
