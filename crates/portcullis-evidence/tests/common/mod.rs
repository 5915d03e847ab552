//! Builds test archives in memory with the `zip` crate's writer.

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// Every entry carries 2023-07-24 00:38:52, the time of the AndroidQF fixture's getprop.txt.
pub fn options(method: CompressionMethod) -> SimpleFileOptions {
    let time = DateTime::from_date_and_time(2023, 7, 24, 0, 38, 52).expect("valid time");
    SimpleFileOptions::default()
        .compression_method(method)
        .last_modified_time(time)
}

/// A zip of `(name, content)` entries, deflated.
pub fn zip_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in entries {
        writer
            .start_file(*name, options(CompressionMethod::Deflated))
            .expect("start entry");
        writer.write_all(content).expect("write entry");
    }
    writer.finish().expect("finish zip").into_inner()
}

/// The text of an error the test expects.
pub fn err_text<T>(result: portcullis_evidence::Result<T>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}
