//! A zip archive held in memory through `ZipEvidence::from_bytes`, then every entry listed and
//! read, whole and as a stream: the central directory, names, sizes and compressed data are
//! hostile.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_evidence::ZipEvidence;

fuzz_target!(|data: &[u8]| {
    if let Ok(zip) = ZipEvidence::from_bytes("fuzz.zip", data.to_vec()) {
        portcullis_fuzz::read_every_file(&zip);
    }
});
