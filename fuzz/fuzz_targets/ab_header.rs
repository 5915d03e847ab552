//! An Android `adb backup` file through `open_backup_with` without a password: the header, then
//! (when not encrypted) the zlib layer and the tar inside, every member read back. An
//! encrypted one stops at the password; its key derivation is slow by design.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_android::backup::{TarLimits, open_backup_with};

fuzz_target!(|data: &[u8]| {
    if let Ok(backup) = open_backup_with(data, None, &TarLimits::default()) {
        portcullis_fuzz::read_every_file(&backup);
    }
});
