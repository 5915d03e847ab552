//! A backup's `Manifest.db` rows made from the input: each row's file id, domain, relative path,
//! flags, `file` blob (an NSKeyedArchiver plist in real backups) and stored file's contents
//! taken from the bytes (fields of a little-endian u16 length and that many bytes), the
//! database built in memory with the real schema, and every iOS module run on the result. The modules locate their artifacts through these rows,
//! so hostile paths, domains, ids and blobs reach every lookup and reader.
#![no_main]

use std::collections::BTreeMap;
use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::{MemoryEvidence, indicators, length_prefixed};
use portcullis_ios::backup::stored_path;
use portcullis_ios::{Backup, Context, RunControl};

/// Fields per row: file id, domain, relative path, flags, `file` blob, stored contents.
const FIELDS: usize = 6;

/// At most this many rows: enough for every module's artifact, bounded for speed.
const MAX_ROWS: usize = 64;

fuzz_target!(|data: &[u8]| {
    let fields = length_prefixed(data);
    let db = rusqlite::Connection::open_in_memory().expect("memory database");
    db.execute_batch(
        "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT,
           flags INTEGER, file BLOB);
         CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);",
    )
    .expect("schema");
    let mut files = BTreeMap::new();
    for row in fields.chunks_exact(FIELDS).take(MAX_ROWS) {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let file_id = text(row[0]);
        let flags = i64::from(row[3].first().copied().unwrap_or(1) % 5);
        let inserted = db.execute(
            "INSERT OR IGNORE INTO Files VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![file_id, text(row[1]), text(row[2]), flags, row[4]],
        );
        if inserted.is_ok() {
            files.insert(stored_path(&file_id), row[5].to_vec());
        }
    }
    let manifest = db
        .serialize(rusqlite::MAIN_DB)
        .expect("the database serialises")
        .to_vec();
    files.insert("Manifest.db".to_string(), manifest);
    let evidence = MemoryEvidence::from_files(files);
    let Ok(backup) = Backup::from_evidence(PathBuf::from("/fuzz-backup"), Box::new(evidence))
    else {
        return;
    };
    let ctx = Context {
        backup: &backup,
        indicators: indicators(),
        spool: None,
    };
    let _ = portcullis_ios::run_modules(
        &ctx,
        &portcullis_ios::modules::all(),
        &RunControl::default(),
    );
});
