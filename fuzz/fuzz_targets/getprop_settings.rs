//! The same text as an AndroidQF acquisition's `getprop.txt` and `settings_global.txt`, through
//! the `aqf_get_prop` and `aqf_settings` modules (the getprop and `key=value` settings parsers).
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_android::androidqf;

fuzz_target!(|data: &[u8]| {
    portcullis_fuzz::run_android_modules(
        androidqf::modules(),
        &["aqf_get_prop", "aqf_settings"],
        &["getprop.txt", "settings_global.txt"],
        data,
    );
});
