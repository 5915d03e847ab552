//! An age-encrypted zip (`.zip.age`, as AndroidQF writes them) through `open_age_zip` with the
//! fuzz identity (`fuzz/age-identity.txt`), then every entry of the decrypted zip read. The
//! function reads files, so the input is written to a temporary file first.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_evidence::open_age_zip;

/// Most plaintext decrypted into memory: more than any input the fuzzer makes.
const MAX_PLAINTEXT: u64 = 16 << 20;

/// A file of this process's own in the temporary folder.
fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("portcullis-fuzz-{}-{name}", std::process::id()))
}

fn identity_file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = scratch("identity.txt");
        std::fs::write(&path, include_str!("../age-identity.txt")).expect("identity written");
        path
    })
}

fuzz_target!(|data: &[u8]| {
    let input = scratch("input.zip.age");
    std::fs::write(&input, data).expect("input written");
    if let Ok(zip) = open_age_zip(&input, identity_file(), MAX_PLAINTEXT) {
        portcullis_fuzz::read_every_file(&zip);
    }
});
