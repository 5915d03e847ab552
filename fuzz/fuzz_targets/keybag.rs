//! An encrypted iOS backup's keybag (the `BackupKeyBag` TLV records of `Manifest.plist`)
//! through `Keybag::parse`, then its class keys unwrapped with a fixed key. The password's key
//! derivation is left out: its iteration counts come from the keybag, so it is slow by design.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_ios::encrypted::Keybag;

fuzz_target!(|data: &[u8]| {
    if let Ok(keybag) = Keybag::parse(data) {
        let _ = keybag.unlock(&[0x5a; 32]);
    }
});
