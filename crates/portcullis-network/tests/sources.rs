//! Sources of a network check: rotated files read oldest first, gzip (several members) and
//! zstd (several frames) undone on the fly, a damaged stream ending with what was read, and
//! the SHA-256 of every file taken over its stored bytes.

mod common;

use std::io::Write;

use common::indicators;
use portcullis_network::check::Check;
use portcullis_network::scan;
use portcullis_network::source::{self, Source};
use sha2::{Digest, Sha256};

fn zeek_dns(rows: &[(&str, &str)]) -> String {
    let mut log = String::from(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n\
         #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery\tanswers\n\
         #types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tvector[string]\n",
    );
    for (client, query) in rows {
        log.push_str(&format!(
            "1796292000.0\tC1\t{client}\t5353\t192.0.2.53\t53\tudp\t{query}\t-\n"
        ));
    }
    log
}

fn gzip(parts: &[&str]) -> Vec<u8> {
    // `cat a.gz b.gz` (and logrotate's delaycompress appends) give several members.
    parts
        .iter()
        .flat_map(|p| {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(p.as_bytes()).unwrap();
            enc.finish().unwrap()
        })
        .collect()
}

fn zstd(parts: &[&str]) -> Vec<u8> {
    parts
        .iter()
        .flat_map(|p| {
            ruzstd::encoding::compress_to_vec(
                p.as_bytes(),
                ruzstd::encoding::CompressionLevel::Fastest,
            )
        })
        .collect()
}

#[test]
fn a_folder_of_rotated_and_compressed_logs_is_read_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let log = |n: &str| zeek_dns(&[("192.0.2.10", &format!("{n}.evil.com"))]);
    let (current, one, two, three) = (log("current"), log("one"), log("two"), log("three"));
    std::fs::write(dir.path().join("dns.log"), &current).unwrap();
    std::fs::write(dir.path().join("dns.log.1"), &one).unwrap();
    let two_gz = gzip(&[&two[..two.len() / 2], &two[two.len() / 2..]]);
    std::fs::write(dir.path().join("dns.log.2.gz"), &two_gz).unwrap();
    let three_zst = zstd(&[&three[..40], &three[40..]]);
    std::fs::write(dir.path().join("dns.log.3.zst"), &three_zst).unwrap();

    let (sources, skipped) = source::collect(dir.path()).unwrap();
    assert!(skipped.is_empty());
    let names: Vec<String> = sources
        .iter()
        .map(|s| match s {
            Source::File(p) => p.file_name().unwrap().to_string_lossy().into_owned(),
            Source::Stdin => "-".into(),
        })
        .collect();
    assert_eq!(
        names,
        ["dns.log.3.zst", "dns.log.2.gz", "dns.log.1", "dns.log"]
    );

    let ind = indicators(&["[domain-name:value = 'evil.com']"]);
    let check = Check { indicators: &ind };
    let scan = scan::scan(dir.path(), None, &check, &|_| {}, None).unwrap();
    let found: Vec<String> = scan
        .files
        .iter()
        .flat_map(|f| {
            f.outcome
                .as_ref()
                .unwrap()
                .tally
                .hits
                .iter()
                .map(|h| h.indicator.input.clone())
        })
        .collect();
    assert_eq!(
        found,
        [
            "three.evil.com",
            "two.evil.com",
            "one.evil.com",
            "current.evil.com"
        ]
    );
    // The hash is of the bytes stored, not of the text they hold.
    let stored = [&three_zst[..], &two_gz, one.as_bytes(), current.as_bytes()];
    for (file, bytes) in scan.files.iter().zip(stored) {
        assert_eq!(
            file.sha256,
            hex::encode(Sha256::digest(bytes)),
            "{}",
            file.source
        );
        assert_eq!(file.bytes, bytes.len() as u64);
        assert!(file.outcome.as_ref().unwrap().stopped.is_none());
    }
}

#[test]
fn a_truncated_gzip_ends_the_file_with_what_was_read() {
    let rows: Vec<(String, String)> = (0..5_000)
        .map(|i| ("192.0.2.10".to_string(), format!("host{i}.example.org")))
        .collect();
    let rows: Vec<(&str, &str)> = rows.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let mut text = zeek_dns(&rows);
    text.push_str("1796292000.0\tC1\t192.0.2.10\t5353\t192.0.2.53\t53\tudp\tlast.evil.com\t-\n");
    let whole = gzip(&[&text]);
    let cut = &whole[..whole.len() * 2 / 3];
    let (_dir, path) = common::write("dns.log.gz", cut);
    let ind = indicators(&["[domain-name:value = 'evil.com']"]);
    let run = common::read(&path, &ind);
    let outcome = run.outcome.as_ref().unwrap();
    let stopped = outcome.stopped.as_deref().unwrap();
    assert!(stopped.starts_with("the file ends early"), "{stopped}");
    // Part of the file was read and checked; the planted last line was not reached.
    assert!(outcome.tally.records > 1_000 && outcome.tally.records < 5_000);
    assert!(outcome.tally.hits.is_empty());
    assert_eq!(run.sha256, hex::encode(Sha256::digest(cut)));
}
