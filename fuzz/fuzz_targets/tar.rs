//! A tar archive (the payload of an `adb backup`) through `TarEvidence::from_tar`, every member
//! kept and read: names, sizes, GNU long names and PAX headers are hostile.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_android::backup::{TarEvidence, TarLimits};

fuzz_target!(|data: &[u8]| {
    if let Ok(tar) = TarEvidence::from_tar(data, &TarLimits::default()) {
        portcullis_fuzz::read_every_file(&tar);
    }
});
