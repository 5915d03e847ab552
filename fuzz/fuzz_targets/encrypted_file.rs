//! An encrypted iOS backup file's ciphertext through `portcullis_ios::encrypted::decrypt_stream`
//! with a fixed key: the chunked AES-256-CBC reading and the PKCS#7 padding check.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_ios::encrypted::decrypt_stream(&[0x5a; 32], data, std::io::sink());
});
