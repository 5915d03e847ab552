//! A bugreport's dumpstate (`dumpstate.txt`) through every bugreport module: the section index,
//! each `dumpsys` section parser, the system properties block and the timestamps, matched
//! against the fuzz indicators.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_android::bugreport;

fuzz_target!(|data: &[u8]| {
    portcullis_fuzz::run_android_modules(bugreport::modules(), &[], &["dumpstate.txt"], data);
});
