//! ZipEvidence on self-made archives (hostile names, bombs, damage) and the AndroidQF fixture.

mod common;

use std::fs::File;
use std::io::{BufWriter, Cursor, Write};
use std::path::Path;

use common::{err_text, options, zip_bytes};
use portcullis_evidence::{Evidence, EvidenceError, ZipEvidence, ZipLimits};
use sha2::{Digest, Sha256};
use zip::{CompressionMethod, ZipWriter};

/// 2023-07-24 00:38:52 read as UTC, the time every test entry carries.
const ENTRY_TIME: i64 = 1_690_159_132;

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn hash_of(evidence: &ZipEvidence, key: &str) -> Option<String> {
    evidence
        .hashes()
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write test file");
    path
}

/// Not compressible much, so only the size caps (not the ratio guard) can trip on it.
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn lists_reads_and_records_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    writer
        .add_directory("dir/", options(CompressionMethod::Stored))
        .unwrap();
    writer
        .start_file("dir/b.bin", options(CompressionMethod::Stored))
        .unwrap();
    writer.write_all(&[0, 1, 2, 3]).unwrap();
    writer
        .start_file("./a.txt", options(CompressionMethod::Deflated))
        .unwrap();
    writer.write_all(b"hello hello hello").unwrap();
    let bytes = writer.finish().unwrap().into_inner();
    let path = write_file(dir.path(), "plain.zip", &bytes);

    let evidence = ZipEvidence::open(&path).unwrap();
    let listed = evidence.list().unwrap();
    let summary: Vec<_> = listed
        .iter()
        .map(|e| (e.path.as_str(), e.size, e.modified))
        .collect();
    assert_eq!(
        summary,
        [
            ("a.txt", 17, Some(ENTRY_TIME)),
            ("dir/b.bin", 4, Some(ENTRY_TIME))
        ]
    );
    assert!(evidence.skipped().is_empty());
    assert!(evidence.exists("a.txt") && !evidence.exists("dir") && !evidence.exists("./a.txt"));

    let zip_key = path.display().to_string();
    assert_eq!(hash_of(&evidence, &zip_key), Some(sha256(&bytes)));
    assert_eq!(
        hash_of(&evidence, "a.txt"),
        None,
        "only entries read are hashed"
    );

    assert_eq!(evidence.read("a.txt").unwrap(), b"hello hello hello");
    assert_eq!(evidence.read("dir/b.bin").unwrap(), [0, 1, 2, 3]);
    assert_eq!(
        hash_of(&evidence, "a.txt"),
        Some(sha256(b"hello hello hello"))
    );
    assert_eq!(hash_of(&evidence, "dir/b.bin"), Some(sha256(&[0, 1, 2, 3])));

    assert!(evidence.read("missing.txt").unwrap_err().is_not_found());
}

#[test]
fn opens_sqlite_from_memory_and_nested_zips() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("db.sqlite");
    let conn = rusqlite::Connection::open(&db_path).unwrap();
    conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (41), (1);")
        .unwrap();
    drop(conn);
    let db = std::fs::read(&db_path).unwrap();
    let inner = zip_bytes(&[("data/db.sqlite", &db), ("garbage.db", b"not a database")]);
    let outer = zip_bytes(&[("bugreport.zip", &inner)]);

    let outer = ZipEvidence::from_bytes("acquisition.zip", outer).unwrap();
    let nested =
        ZipEvidence::from_bytes("bugreport.zip", outer.read("bugreport.zip").unwrap()).unwrap();
    assert_eq!(hash_of(&nested, "bugreport.zip"), Some(sha256(&inner)));
    let conn = nested.open_sqlite("data/db.sqlite").unwrap();
    let sum: i64 = conn
        .query_row("SELECT sum(x) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sum, 42);
    let err = nested.open_sqlite("garbage.db").unwrap_err().to_string();
    assert!(err.contains("garbage.db"), "{err}");
}

#[test]
fn refuses_escaping_absolute_and_symlink_entries() {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for name in [
        "../../evil.txt",
        "/etc/passwd",
        "a/../../up.txt",
        "good.txt",
    ] {
        writer
            .start_file(name, options(CompressionMethod::Deflated))
            .unwrap();
        writer.write_all(name.as_bytes()).unwrap();
    }
    writer
        .add_symlink("link", "/etc/shadow", options(CompressionMethod::Stored))
        .unwrap();
    let evidence =
        ZipEvidence::from_bytes("hostile.zip", writer.finish().unwrap().into_inner()).unwrap();

    let paths: Vec<_> = evidence
        .list()
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(paths, ["good.txt"]);
    assert_eq!(evidence.read("good.txt").unwrap(), b"good.txt");
    let skipped = evidence.skipped();
    for expected in [
        "../../evil.txt: path escapes the archive",
        "/etc/passwd: absolute path",
        "a/../../up.txt: path escapes the archive",
        "link: symbolic link, not followed",
    ] {
        assert!(
            skipped.iter().any(|s| s == expected),
            "{expected} not in {skipped:?}"
        );
    }
    for path in [
        "evil.txt",
        "etc/passwd",
        "../../evil.txt",
        "/etc/passwd",
        "link",
    ] {
        assert!(!evidence.exists(path));
        assert!(evidence.read(path).unwrap_err().is_not_found(), "{path}");
    }
}

#[test]
fn a_gigabyte_of_zeros_trips_the_ratio_guard_with_default_limits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.zip");
    let mut writer = ZipWriter::new(BufWriter::new(File::create(&path).unwrap()));
    writer
        .start_file("ok.txt", options(CompressionMethod::Deflated))
        .unwrap();
    writer.write_all(b"fine").unwrap();
    writer
        .start_file(
            "bomb.bin",
            options(CompressionMethod::Deflated).large_file(true),
        )
        .unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        writer.write_all(&zeros).unwrap();
    }
    writer.finish().unwrap().flush().unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() < 8 << 20);

    let evidence = ZipEvidence::open(&path).unwrap();
    let bomb = evidence
        .list()
        .unwrap()
        .into_iter()
        .find(|e| e.path == "bomb.bin")
        .unwrap();
    assert_eq!(bomb.size, 1 << 30);
    let err = err_text(evidence.read("bomb.bin"));
    assert!(
        err.starts_with("bomb.bin: ") && err.contains("zip bomb"),
        "{err}"
    );
    assert_eq!(evidence.read("ok.txt").unwrap(), b"fine");
}

#[test]
fn entry_total_and_count_caps_name_what_they_refuse() {
    let data = noise(10 << 20);
    let bytes = zip_bytes(&[
        ("big.bin", &data),
        ("small.txt", b"small"),
        ("other.bin", &data[..4 << 20]),
    ]);
    let tight = ZipLimits {
        max_entry_bytes: 5 << 20,
        max_total_bytes: 6 << 20,
        ..ZipLimits::default()
    };

    let evidence = ZipEvidence::from_bytes("caps.zip", bytes.clone())
        .unwrap()
        .with_limits(tight);
    let err = err_text(evidence.read("big.bin"));
    assert!(
        err.starts_with("big.bin: declares 10485760 bytes, more than the 5242880-byte entry limit")
            && err.contains("caps.zip"),
        "{err}"
    );
    assert_eq!(evidence.read("small.txt").unwrap(), b"small");
    // big.bin was refused from its declared size, without inflating: the budget is intact.
    assert_eq!(evidence.read("other.bin").unwrap(), &data[..4 << 20]);
    // Reading it again passes the 6 MiB spent on this archive.
    let err = err_text(evidence.read("other.bin"));
    assert!(
        err.starts_with("other.bin: ") && err.contains("total limit"),
        "{err}"
    );
    // The refusals are listed for the report, each once.
    assert_eq!(
        evidence.skipped(),
        [
            "big.bin: declares 10485760 bytes, more than the 5242880-byte entry limit",
            "other.bin: the archive has decompressed more than its 6291456-byte total limit"
        ]
    );

    let ratio = ZipLimits {
        ratio_min_bytes: 1 << 20,
        max_ratio: 10,
        ..ZipLimits::default()
    };
    let zeros = zip_bytes(&[("zeros.bin", &vec![0u8; 10 << 20])]);
    let evidence = ZipEvidence::from_bytes("ratio.zip", zeros)
        .unwrap()
        .with_limits(ratio);
    let err = err_text(evidence.read("zeros.bin"));
    assert!(
        err.starts_with("zeros.bin: ") && err.contains("10:1"),
        "{err}"
    );

    let few = ZipLimits {
        max_entries: 2,
        ..ZipLimits::default()
    };
    let evidence = ZipEvidence::from_bytes("many.zip", bytes)
        .unwrap()
        .with_limits(few);
    let err = err_text(evidence.list());
    assert!(err.starts_with("many.zip: 3 entries"), "{err}");
    assert!(evidence.read("small.txt").is_err() && !evidence.exists("small.txt"));
}

#[test]
fn unopenable_archives_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = zip_bytes(&[("a.txt", b"aaaa"), ("b.txt", b"bbbb")]);
    let cases = [
        ("truncated.zip", bytes[..bytes.len() / 2].to_vec()),
        (
            "garbage.zip",
            b"this is not a zip archive at all".repeat(10),
        ),
        ("empty.zip", Vec::new()),
    ];
    for (name, content) in cases {
        let path = write_file(dir.path(), name, &content);
        let err = err_text(ZipEvidence::open(&path));
        assert!(
            err.starts_with(&path.display().to_string()) && err.contains("not a readable zip"),
            "{err}"
        );
        let err = err_text(ZipEvidence::from_bytes(name, content));
        assert!(err.starts_with(name), "{err}");
    }
    let missing = dir.path().join("missing.zip");
    assert!(ZipEvidence::open(&missing).unwrap_err().is_not_found());
}

/// Offsets of the central directory records, so a test can rewrite declared sizes.
fn central_records(bytes: &[u8]) -> Vec<usize> {
    bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"PK\x01\x02")
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn damaged_entries_fail_alone() {
    let marker = b"MARKER-0123456789-MARKER";
    let text = noise(200_000);
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    writer
        .start_file("stored.txt", options(CompressionMethod::Stored))
        .unwrap();
    writer.write_all(marker).unwrap();
    writer
        .start_file("deflated.bin", options(CompressionMethod::Deflated))
        .unwrap();
    writer.write_all(&text).unwrap();
    writer
        .start_file("intact.txt", options(CompressionMethod::Deflated))
        .unwrap();
    writer.write_all(b"intact").unwrap();
    let mut bytes = writer.finish().unwrap().into_inner();

    let at = bytes
        .windows(marker.len())
        .position(|w| w == marker)
        .unwrap();
    bytes[at + 3] ^= 0xff;
    let deflated_start = {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes.clone())).unwrap();
        let file = archive.by_name("deflated.bin").unwrap();
        file.data_start().unwrap() as usize
    };
    for b in &mut bytes[deflated_start + 1000..deflated_start + 1010] {
        *b ^= 0x55;
    }

    let evidence = ZipEvidence::from_bytes("damaged.zip", bytes).unwrap();
    for name in ["stored.txt", "deflated.bin"] {
        let err = err_text(evidence.read(name));
        assert!(err.starts_with(&format!("{name}: damaged entry")), "{err}");
    }
    assert_eq!(evidence.read("intact.txt").unwrap(), b"intact");
}

#[test]
fn declared_sizes_are_not_trusted() {
    let data = noise(100_000);
    let original = zip_bytes(&[("a.bin", &data)]);
    let record = central_records(&original)[0];
    let with_size = |size: u32| {
        let mut bytes = original.clone();
        bytes[record + 24..record + 28].copy_from_slice(&size.to_le_bytes());
        ZipEvidence::from_bytes("lying.zip", bytes).unwrap()
    };

    // Declaring less than the real size: the read stops with an error, never a silent truncation.
    let small = with_size(10);
    assert_eq!(small.list().unwrap()[0].size, 10);
    let err = err_text(small.read("a.bin"));
    assert!(err.starts_with("a.bin: damaged entry"), "{err}");

    // Declaring more than the real size: the real bytes come back (the CRC vouches for them).
    let larger = with_size(1 << 20);
    assert_eq!(larger.read("a.bin").unwrap(), data);

    // Declaring 4 GiB for 100 kB: refused from the claim, as a real 4 GiB entry would be.
    let huge = with_size(u32::MAX - 1);
    let err = err_text(huge.read("a.bin"));
    assert!(
        err.contains("more than the 1073741824-byte entry limit"),
        "{err}"
    );
}

#[test]
fn unsupported_compression_is_named() {
    let mut bytes = zip_bytes(&[("packed.bin", b"packed"), ("fine.txt", b"fine")]);
    // Method 12 (bzip2) in the local header and the central record: not built in.
    bytes[8..10].copy_from_slice(&12u16.to_le_bytes());
    let record = central_records(&bytes)[0];
    bytes[record + 10..record + 12].copy_from_slice(&12u16.to_le_bytes());
    let evidence = ZipEvidence::from_bytes("methods.zip", bytes).unwrap();
    let err = err_text(evidence.read("packed.bin"));
    assert!(err.starts_with("packed.bin: unsupported entry"), "{err}");
    assert_eq!(evidence.read("fine.txt").unwrap(), b"fine");
}

#[test]
fn concurrent_reads_share_one_archive() {
    let dir = tempfile::tempdir().unwrap();
    let contents: Vec<Vec<u8>> = (0..8).map(|i| noise(50_000 + i * 1000)).collect();
    let names: Vec<String> = (0..8).map(|i| format!("f{i}.bin")).collect();
    let entries: Vec<(&str, &[u8])> = names
        .iter()
        .map(String::as_str)
        .zip(contents.iter().map(Vec::as_slice))
        .collect();
    let path = write_file(dir.path(), "many.zip", &zip_bytes(&entries));
    let evidence = ZipEvidence::open(&path).unwrap();

    std::thread::scope(|scope| {
        for offset in 0..4 {
            let evidence = &evidence;
            let (names, contents) = (&names, &contents);
            scope.spawn(move || {
                for round in 0..20 {
                    let i = (offset + round) % names.len();
                    assert_eq!(evidence.read(&names[i]).unwrap(), contents[i]);
                }
            });
        }
    });
    assert_eq!(evidence.hashes().len(), 9);
}

#[test]
fn androidqf_fixture_lists_getprop() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/mvt/androidqf.zip");
    if !path.exists() {
        // Straight to stderr: the test harness hides what passing tests print.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"skipped: ../shared fixtures not present (conformance test not run)\n",
        );
        return;
    }
    let evidence = ZipEvidence::open(&path).unwrap();
    let listed = evidence.list().unwrap();
    let paths: Vec<_> = listed.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["androidqfzip/getprop.txt"]);
    assert_eq!(listed[0].size, 377);
    // 2023-07-24 00:38:52 in the archive's DOS time, read as UTC.
    assert_eq!(listed[0].modified, Some(ENTRY_TIME));
    let getprop = evidence.read("androidqfzip/getprop.txt").unwrap();
    assert_eq!(getprop.len(), 377);
    assert!(evidence.skipped().is_empty());
    let zip_hash = hash_of(&evidence, &path.display().to_string()).unwrap();
    assert_eq!(zip_hash, sha256(&std::fs::read(&path).unwrap()));
    assert!(matches!(
        evidence.read("androidqfzip/"),
        Err(EvidenceError::NotFound { .. })
    ));
}

#[test]
fn zip_bombs_are_refused_before_inflating_and_the_refusal_is_remembered() {
    use portcullis_evidence::hostile::{RawEntry, deflated_zeros, zip_of};
    // The builder's stream is real deflate: 3 MiB of zeros.
    let (stream, crc) = deflated_zeros(3 << 20);
    let mut inflated = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::DeflateDecoder::new(&stream[..]),
        &mut inflated,
    )
    .unwrap();
    assert!(inflated.len() == 3 << 20 && inflated.iter().all(|&b| b == 0));
    let mut check = flate2::Crc::new();
    check.update(&inflated);
    assert_eq!(check.sum(), crc);

    // Nine names over one 2.2 GiB stream, beside an ordinary file.
    let names: Vec<String> = (1..9).map(|i| format!("copy{i}.txt")).collect();
    let overlaps: Vec<&str> = names.iter().map(String::as_str).collect();
    let bytes = zip_of(
        &[
            RawEntry::zeros("dumpstate.txt", 2200 << 20),
            RawEntry::stored("main_entry.txt", b"dumpstate.txt"),
        ],
        &overlaps,
    );
    assert!(bytes.len() < 4 << 20, "{}", bytes.len());
    let evidence = ZipEvidence::from_bytes("overlap.zip", bytes).unwrap();
    let listed: Vec<_> = evidence
        .list()
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(listed, ["main_entry.txt"]);
    let refused = evidence.skipped();
    assert_eq!(refused.len(), 9);
    assert!(refused.contains(
        &"dumpstate.txt: its data overlaps another entry's (a zip bomb?); neither is read".into()
    ));
    assert!(matches!(
        evidence.read("copy3.txt"),
        Err(EvidenceError::NotFound { .. })
    ));
    assert_eq!(evidence.read("main_entry.txt").unwrap(), b"dumpstate.txt");

    // An honest bomb: declared 3 GiB from 3 MB, refused from its declaration, every time.
    let bomb = ZipEvidence::from_bytes(
        "honest.zip",
        zip_of(&[RawEntry::zeros("dumpstate.txt", 3 << 30)], &[]),
    )
    .unwrap();
    for _ in 0..3 {
        let err = err_text(bomb.read("dumpstate.txt"));
        assert_eq!(
            err,
            "dumpstate.txt: declares 3221225472 bytes, more than the 1073741824-byte entry limit \
             (in honest.zip)"
        );
    }
    assert_eq!(bomb.skipped().len(), 1);
    assert!(bomb.hashes().iter().all(|(k, _)| k == "honest.zip"));

    // Under the entry limit but past the ratio guard (600 MiB from 600 kB): refused unread.
    let ratio = ZipEvidence::from_bytes(
        "ratio.zip",
        zip_of(&[RawEntry::zeros("big.log", 600 << 20)], &[]),
    )
    .unwrap();
    let err = err_text(ratio.read("big.log"));
    assert!(err.contains("declares more than 200:1"), "{err}");
}

#[test]
fn streamed_entries_are_capped_checked_and_hashed() {
    use std::io::Read;
    let data = noise(300_000);
    let bytes = zip_bytes(&[("a.bin", &data), ("b.txt", b"bee")]);
    let evidence = ZipEvidence::from_bytes("stream.zip", bytes.clone()).unwrap();
    let mut streamed = Vec::new();
    evidence
        .open("a.bin")
        .unwrap()
        .read_to_end(&mut streamed)
        .unwrap();
    assert_eq!(streamed, data);
    assert_eq!(hash_of(&evidence, "a.bin"), Some(sha256(&data)));

    // A lying entry fails in the stream too, naming itself and its archive.
    let record = central_records(&bytes)[0];
    let mut lying = bytes.clone();
    lying[record + 24..record + 28].copy_from_slice(&1000u32.to_le_bytes());
    let evidence = ZipEvidence::from_bytes("lying.zip", lying).unwrap();
    let err = evidence
        .open("a.bin")
        .unwrap()
        .read_to_end(&mut Vec::new())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "a.bin: damaged entry (inflates to more than the 1000 bytes it declares) (in lying.zip)"
    );
    assert_eq!(hash_of(&evidence, "a.bin"), None);
}
