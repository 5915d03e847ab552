//! The adversarial corpus (issue 19): inputs built as an attacker controlling the phone's data,
//! the network logs or the indicator files would build them, each checked by the real CLI under
//! a memory and time cap this test enforces ([`Caps`]: peak resident memory polled from
//! `/proc`, the process killed when its time is up). Every case must end in a clear error or a
//! clean skip naming what it refused, never a panic, abort or hang, and leave its input
//! byte-identical.
//!
//! The cases found when the tool was first attacked live on as regression tests in
//! `hostile.rs`, under the same caps: zip bombs (overlapping and honest), 500 MB JSON strings,
//! symbolic links inside a backup, FIFOs as evidence and indicator files, nested plists and
//! JSON, `.ab` backups with escaping, absolute and link members. Parser-level cases sit beside
//! their parsers (`portcullis-evidence/tests/zip.rs`: escaping and symlink zip entries, ratio
//! and count caps; `portcullis-evidence/src/sqlite.rs`: the SQLite hardening;
//! `portcullis-network/tests/hostile.rs`: every cut of every log line).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::{Caps, check_capped, sms_backup_builder, stix};
use portcullis_evidence::hostile::{RawEntry, zip_of};

/// A check of a few kilobytes: it must end in seconds and in well under 300 MiB.
const SMALL: Caps = Caps { mib: 300, secs: 60 };

fn out(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("out-{name}"))
}

/// Every text of the report (warnings, module errors, refusals) joined, to look for the reason.
fn said(crafted: &common::Crafted) -> String {
    format!("{}\n{}", crafted.report, crafted.stderr)
}

// ---------------------------------------------------------------------------------------------
// SQLite written by the attacker

/// A backup whose sms.db is `sql`, checked with the SMS indicator bundle.
fn backup_with_sms_db(dir: &Path, sql: &str) -> PathBuf {
    sms_backup_builder(&dir.join("backup"))
        .sqlite("HomeDomain", "Library/SMS/sms.db", sql)
        .unwrap()
        .finish()
        .unwrap()
}

#[test]
fn an_sms_database_whose_message_table_is_an_endless_view_fails_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let backup = backup_with_sms_db(
        tmp.path(),
        "CREATE TABLE handle (ROWID INTEGER PRIMARY KEY, id TEXT);
         CREATE VIEW message AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)
         SELECT i AS ROWID, 'G' AS guid, 'https://evil.example.net/' || i AS text,
           1 AS handle_id, 'SMS' AS service, 'a' AS account, i AS date, 0 AS date_read,
           0 AS is_from_me FROM n;
         CREATE TRIGGER t AFTER INSERT ON handle BEGIN DELETE FROM handle; END;",
    );
    let iocs = stix(tmp.path());
    let run = check_capped(
        &backup,
        &backup,
        &out(tmp.path(), "view"),
        &["--iocs", iocs.to_str().unwrap()],
        SMALL,
    );
    // Read as a table it would never end; it is not one, and the module says so.
    let sms = common::module_summary(&run.report, "sms");
    assert!(
        sms["skipped"]
            .as_str()
            .unwrap()
            .contains("sms.db has no message table"),
        "{sms}"
    );
    // The rest of the backup was checked.
    assert_eq!(
        common::module_summary(&run.report, "global_preferences")["records"],
        1
    );
}

#[test]
fn a_row_larger_than_the_value_bound_is_refused_not_loaded() {
    let tmp = tempfile::tempdir().unwrap();
    // 100 MiB in one message text: written by SQLite itself so the file is well formed.
    let backup = backup_with_sms_db(
        tmp.path(),
        &format!(
            "{}
             INSERT INTO message VALUES (2, 'G2', CAST(zeroblob({}) AS TEXT), 1, 'SMS', 'a',
               600000001, 0, 0);",
            common::SMS_DB,
            100 << 20
        ),
    );
    let iocs = stix(tmp.path());
    let run = check_capped(
        &backup,
        &backup,
        &out(tmp.path(), "huge-row"),
        &["--iocs", iocs.to_str().unwrap()],
        Caps { mib: 400, secs: 60 },
    );
    let sms = common::module_summary(&run.report, "sms");
    assert!(
        sms["error"]
            .as_str()
            .unwrap()
            .ends_with("string or blob too big"),
        "{sms}"
    );
}

// ---------------------------------------------------------------------------------------------
// Files that are not files

#[cfg(unix)]
#[test]
fn a_device_node_in_a_backup_is_refused_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let backup = sms_backup_builder(&tmp.path().join("backup"))
        .finish()
        .unwrap();
    let stored = backup.join(common::SMS_STORED);
    std::fs::remove_file(&stored).unwrap();
    // The same node as /dev/zero: read as a file it would never end.
    let made = std::process::Command::new("mknod")
        .arg(&stored)
        .args(["c", "1", "5"])
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        eprintln!("skipped: mknod needs root (CAP_MKNOD) here");
        return;
    }
    let run = check_capped(&backup, &backup, &out(tmp.path(), "device"), &[], SMALL);
    let text = said(&run);
    assert!(
        text.contains(&format!("{}: a device file, not read", common::SMS_STORED)),
        "{text}"
    );
}

#[cfg(unix)]
#[test]
fn a_hard_link_is_read_as_the_folders_own_file_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let backup = sms_backup_builder(&tmp.path().join("backup"))
        .finish()
        .unwrap();
    // A second name, inside the backup, for a file outside it: the bytes are the folder's own
    // (no path leads outside), so it is read like any other, hashed, and left as it was.
    let outside = tmp.path().join("outside-secret.db");
    std::fs::rename(backup.join(common::SMS_STORED), &outside).unwrap();
    std::fs::hard_link(&outside, backup.join(common::SMS_STORED)).unwrap();
    let outside_before = std::fs::read(&outside).unwrap();
    let iocs = stix(tmp.path());
    let run = check_capped(
        &backup,
        &backup,
        &out(tmp.path(), "hard-link"),
        &["--iocs", iocs.to_str().unwrap()],
        SMALL,
    );
    assert_eq!(run.code, 1, "the SMS indicator is found: {}", run.stderr);
    assert_eq!(std::fs::read(&outside).unwrap(), outside_before);
}

// ---------------------------------------------------------------------------------------------
// Truncation at every boundary

/// A small bugreport: a dumpstate with a package and a tombstone-free layout.
fn small_bugreport() -> Vec<u8> {
    zip_of(
        &[
            RawEntry::stored(
                "dumpstate.txt",
                b"== dumpstate: 2024-01-01 10:00:00\n\
                  ------ SYSTEM PROPERTIES (getprop) ------\n\
                  [ro.build.version.release]: [14]\n\
                  [ro.build.version.security_patch]: [2023-01-05]\n\
                  DUMP OF SERVICE package:\n\
                  Packages:\n  Package [com.spy.helper] (abc):\n    userId=10300\n",
            ),
            RawEntry::stored("main_entry.txt", b"dumpstate.txt"),
            RawEntry::stored("version.txt", b"2.0"),
        ],
        &[],
    )
}

/// The offsets of every ZIP record signature in `zip` (local headers, central directory
/// entries, end record): the boundaries a truncation can fall on.
fn zip_boundaries(zip: &[u8]) -> Vec<usize> {
    let signatures: [&[u8]; 3] = [b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06"];
    (0..zip.len())
        .filter(|&i| signatures.iter().any(|s| zip[i..].starts_with(s)))
        .collect()
}

#[test]
fn a_bugreport_cut_at_every_record_boundary_is_refused_or_read() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = small_bugreport();
    let mut cuts: Vec<usize> = zip_boundaries(&whole)
        .into_iter()
        .flat_map(|b| [b, b + 1, b + 30])
        .chain((0..whole.len()).step_by(97))
        .filter(|&c| c < whole.len())
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    assert!(cuts.len() > 10);
    for cut in cuts {
        let input = tmp.path().join(format!("bugreport-cut-{cut}.zip"));
        std::fs::write(&input, &whole[..cut]).unwrap();
        let run = check_capped(
            &input,
            &input,
            &out(tmp.path(), &cut.to_string()),
            &[],
            SMALL,
        );
        if run.code == 2 {
            assert!(
                run.stderr.contains(&format!("bugreport-cut-{cut}.zip")),
                "cut at {cut}: the error does not name the file: {}",
                run.stderr
            );
        }
    }
}

#[test]
fn a_backup_with_its_manifest_and_plists_cut_short_is_refused_or_read() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = sms_backup_builder(&tmp.path().join("pristine"))
        .finish()
        .unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&pristine)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.contains(&"Manifest.db".to_string()), "{names:?}");
    for name in &names {
        let whole = std::fs::read(pristine.join(name)).unwrap();
        // SQLite's page boundaries and a byte either side; plists every 61 bytes.
        let step = if name.ends_with(".db") { 4096 } else { 61 };
        let cuts: Vec<usize> = (0..whole.len())
            .step_by(step)
            .flat_map(|c| [c, c + 1, c.saturating_sub(1)])
            .filter(|&c| c < whole.len())
            .collect();
        for cut in cuts {
            let case = tmp.path().join(format!("{name}-cut-{cut}"));
            copy_folder(&pristine, &case);
            std::fs::write(case.join(name), &whole[..cut]).unwrap();
            let run = check_capped(
                &case,
                &case,
                &out(tmp.path(), &format!("{name}-{cut}")),
                &[],
                SMALL,
            );
            if run.code == 2 {
                assert!(
                    run.stderr.contains(name.as_str()),
                    "{name} cut at {cut}: the error does not name it: {}",
                    run.stderr
                );
            }
            std::fs::remove_dir_all(&case).unwrap();
        }
    }
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Wrong encodings

#[test]
fn utf16_and_invalid_utf8_acquisition_files_are_read_or_named() {
    let tmp = tempfile::tempdir().unwrap();
    let acq = tmp.path().join("androidqf");
    std::fs::create_dir(&acq).unwrap();
    // getprop as Windows tools save it: UTF-16LE with a byte-order mark.
    let mut getprop = vec![0xFF, 0xFE];
    for unit in "[ro.build.version.release]: [14]\n".encode_utf16() {
        getprop.extend(unit.to_le_bytes());
    }
    std::fs::write(acq.join("getprop.txt"), getprop).unwrap();
    // A package name that is not UTF-8, and Latin-1 in a process list.
    std::fs::write(
        acq.join("packages.json"),
        b"[{\"name\": \"com.\xff\xfe.spy\", \"files\": [], \"uid\": 10300}]",
    )
    .unwrap();
    std::fs::write(
        acq.join("ps.txt"),
        b"USER PID PPID VSZ RSS WCHAN ADDR S NAME\nroot 1 0 100 10 0 0 S init\xe9\n",
    )
    .unwrap();
    let run = check_capped(&acq, &acq, &out(tmp.path(), "encodings"), &[], SMALL);
    assert_ne!(run.code, 2, "{}", run.stderr);
    // UTF-16 is decoded; the process list read with the bad byte replaced; JSON that is not
    // UTF-8 is refused by name (JSON is UTF-8 by definition, RFC 8259 §8.1).
    assert_eq!(
        run.report["device"]["os_version"], "14",
        "{}",
        run.report["device"]
    );
    assert_eq!(
        common::module_summary(&run.report, "aqf_processes")["records"],
        1
    );
    let packages = common::module_summary(&run.report, "aqf_packages");
    assert!(
        packages["error"]
            .as_str()
            .unwrap()
            .starts_with("packages.json: not valid JSON"),
        "{packages}"
    );
}

#[test]
fn a_latin1_network_log_is_counted_not_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("query.log");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(
        b"01-Jan-2024 10:00:00.000 client @0x1 192.0.2.10#5353 (evil.example.net): query: \
          evil.example.net IN A + (192.0.2.1)\n",
    );
    bytes.extend_from_slice(
        b"01-Jan-2024 10:00:01.000 client @0x1 192.0.2.10#5353 (caf\xe9.example): query: \
          caf\xe9.example IN A + (192.0.2.1)\n",
    );
    std::fs::write(&log, bytes).unwrap();
    let iocs = stix(tmp.path());
    let run = check_capped(
        &log,
        &log,
        &out(tmp.path(), "latin1"),
        &["--iocs", iocs.to_str().unwrap()],
        SMALL,
    );
    assert_eq!(
        run.code, 1,
        "the indicator line is still found: {}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// Bombs

/// One gzip member of `len` zeros; members concatenate into one stream (RFC 1952 §2.2).
fn gzip_zeros(len: usize) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..len >> 20 {
        encoder.write_all(&chunk).unwrap();
    }
    encoder.finish().unwrap()
}

#[test]
fn a_gzip_bomb_network_log_is_stopped_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("dns.log.gz");
    let mut file = std::fs::File::create(&log).unwrap();
    let mut header = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    header
        .write_all(
            b"#separator \\x09\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\tquery\n",
        )
        .unwrap();
    file.write_all(&header.finish().unwrap()).unwrap();
    // 4 GiB of zeros without a newline, from 64 copies of one 64 MiB member (≈ 64 KB each).
    let member = gzip_zeros(64 << 20);
    for _ in 0..64 {
        file.write_all(&member).unwrap();
    }
    drop(file);
    let run = check_capped(
        &log,
        &log,
        &out(tmp.path(), "gzip-bomb"),
        &[],
        Caps {
            mib: 300,
            secs: 120,
        },
    );
    // Streamed: the endless line is cut at the line bound and counted, and the check is
    // partial, never clean.
    let text = said(&run);
    assert!(
        text.contains("dns.log.gz: 1 of 4 lines could not be read and were not checked (first: line 4: a line longer than 1048576 bytes)"),
        "{text}"
    );
    assert_eq!(run.report["coverage"]["status"], "partial");
}

#[test]
fn a_deeply_nested_protobuf_tombstone_fails_alone() {
    let tmp = tempfile::tempdir().unwrap();
    // 100,000 groups opened inside each other (field 99, wire type 3, then their ends): a
    // decoder that skips unknown fields by recursion would overflow its stack.
    let mut nested = [0x9b, 0x06].repeat(100_000);
    nested.extend([0x9c, 0x06].repeat(100_000));
    let input = tmp.path().join("bugreport.zip");
    std::fs::write(
        &input,
        zip_of(
            &[
                RawEntry::stored("dumpstate.txt", b"== dumpstate: 2024-01-01 10:00:00\n"),
                RawEntry::stored("main_entry.txt", b"dumpstate.txt"),
                RawEntry::stored("version.txt", b"2.0"),
                RawEntry::stored("FS/data/tombstones/tombstone_00.pb", &nested),
            ],
            &[],
        ),
    )
    .unwrap();
    let run = check_capped(&input, &input, &out(tmp.path(), "protobuf"), &[], SMALL);
    let tombstones = common::module_summary(&run.report, "tombstones");
    assert_eq!(
        tombstones["error"],
        "FS/data/tombstones/tombstone_00.pb: not a protobuf tombstone: failed to decode \
         Protobuf message: recursion limit reached",
    );
}

// ---------------------------------------------------------------------------------------------
// Indicator files

#[test]
fn a_stix_pattern_of_100000_or_terms_loads_or_is_refused_in_bounds() {
    let tmp = tempfile::tempdir().unwrap();
    let terms: Vec<String> = (0..100_000)
        .map(|i| format!("[domain-name:value = 'host{i}.example.org']"))
        .collect();
    let pattern = terms.join(" OR ");
    let iocs = tmp.path().join("or.stix2");
    std::fs::write(
        &iocs,
        portcullis_indicators::test_bundle_json(
            "Wide",
            &[pattern.as_str(), "[domain-name:value = 'evil.example.net']"],
        ),
    )
    .unwrap();
    let (backup, _) = common::backup_with_sms(tmp.path());
    let run = check_capped(
        &backup,
        &backup,
        &out(tmp.path(), "or-terms"),
        &["--iocs", iocs.to_str().unwrap()],
        SMALL,
    );
    // Refused as a whole (longer than any real pattern), with the reason in the report; the
    // indicator beside it still finds the SMS.
    assert_eq!(run.code, 1, "{}", run.stderr);
    let text = said(&run);
    assert!(text.contains("pattern longer than 65536 bytes"), "{text}");
}

#[test]
fn a_gigabyte_indicator_file_of_one_string_is_refused_without_a_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let iocs = tmp.path().join("huge.stix2");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&iocs).unwrap());
    file.write_all(
        br#"{"type": "bundle", "id": "bundle--1", "objects": [{"type": "indicator", "id": "indicator--1", "pattern_type": "stix", "pattern": "[domain-name:value = '"#,
    )
    .unwrap();
    let chunk = vec![b'a'; 1 << 20];
    for _ in 0..1000 {
        file.write_all(&chunk).unwrap();
    }
    file.write_all(br#"']"}]}"#).unwrap();
    drop(file);
    let (backup, _) = common::backup_with_sms(tmp.path());
    let run = check_capped(
        &backup,
        &iocs,
        &out(tmp.path(), "gigabyte"),
        &["--iocs", iocs.to_str().unwrap()],
        // The file is read whole (1,000 MiB): nothing on top of it may copy the string (a copy
        // would pass 2,000 MiB). Measured 1,015 MiB alone and 1,314 MiB while the suite's other
        // capped cases ran beside it; the cap leaves room for that, not for a second copy.
        Caps {
            mib: 1500,
            secs: 120,
        },
    );
    run.expect_error(&format!(
        "1 unsupported patterns, the first in {}: indicator--1: ",
        iocs.display()
    ));
    run.expect_error("…: pattern longer than 65536 bytes); a check against them");
}
