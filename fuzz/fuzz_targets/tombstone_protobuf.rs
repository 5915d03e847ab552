//! A bugreport tombstone through the `tombstones` module, as `tombstone_00.pb` (the protobuf
//! decoder) beside its text twin `tombstone_00` holding the same bytes (the text parser, read
//! when the protobuf one fails).
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_android::bugreport;

fuzz_target!(|data: &[u8]| {
    portcullis_fuzz::run_android_modules(
        bugreport::modules(),
        &["tombstones"],
        &[
            "FS/data/tombstones/tombstone_00.pb",
            "FS/data/tombstones/tombstone_00",
        ],
        data,
    );
});
