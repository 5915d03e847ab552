//! Helpers shared by the CLI tests.
#![allow(dead_code, unused_imports)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use portcullis_ios::builder::BackupBuilder;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use portcullis_testkit::shared_fixture;

/// The equivalent of MVT's test.stix2 (mvt-behaviour.md §6), written into `dir`.
pub fn mvt_test_stix2(dir: &Path) -> PathBuf {
    let json = portcullis_indicators::test_bundle_json(
        "TestMalware",
        portcullis_testkit::MVT_TEST_PATTERNS,
    );
    let path = dir.join("test.stix2");
    std::fs::write(&path, json).unwrap();
    path
}

/// The CLI, with a data folder of its own that holds nothing (a test that needs one sets
/// `PORTCULLIS_DATA_DIR` again): collections installed on the developer's machine must not
/// change what a check finds.
pub fn portcullis() -> Command {
    let mut cmd = Command::cargo_bin("portcullis").unwrap();
    cmd.env("PORTCULLIS_DATA_DIR", empty_data_dir());
    cmd
}

/// The data folder of [`portcullis`]: one per test process, never written to.
pub fn empty_data_dir() -> PathBuf {
    std::env::temp_dir().join(format!("portcullis-test-empty-{}", std::process::id()))
}

/// Runs `portcullis iocs ARGS` with `data` as the data folder: (exit code, stdout, stderr).
pub fn iocs(data: &Path, args: &[&str]) -> (i32, String, String) {
    let out = portcullis()
        .env("PORTCULLIS_DATA_DIR", data)
        .arg("iocs")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `portcullis check --json` and returns (exit code, report.json). Every call also proves
/// the evidence unchanged: the target (file or folder) is hashed before and after.
pub fn check_json(target: &Path, iocs: &[&Path], out: &Path) -> (i32, Value) {
    let before = target_digest(target);
    let mut cmd = portcullis();
    cmd.arg("check")
        .arg(target)
        .arg("--json")
        .arg("--output")
        .arg(out);
    for i in iocs {
        cmd.arg("--iocs").arg(i);
    }
    let output = cmd.output().unwrap();
    let code = output.status.code().unwrap_or(-1);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON on stdout ({e}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(before, target_digest(target), "the evidence changed");
    (code, report)
}

/// [`tree_digest`] of a folder, or the SHA-256 of a single file.
pub fn target_digest(target: &Path) -> BTreeMap<PathBuf, String> {
    if target.is_dir() {
        tree_digest(target)
    } else {
        let bytes = std::fs::read(target).unwrap();
        BTreeMap::from([(target.to_path_buf(), hex::encode(Sha256::digest(&bytes)))])
    }
}

/// SHA-256 of every file under `dir` (links and special files by what they are, never
/// followed or opened), to prove a run changed nothing.
pub fn tree_digest(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            let kind = std::fs::symlink_metadata(&p).unwrap().file_type();
            if kind.is_symlink() {
                let target = std::fs::read_link(&p).unwrap();
                out.insert(p, format!("link to {}", target.display()));
            } else if kind.is_dir() {
                out.insert(p.clone(), "dir".to_string());
                stack.push(p);
            } else if kind.is_file() {
                let bytes = std::fs::read(&p).unwrap();
                out.insert(p, hex::encode(Sha256::digest(&bytes)));
            } else {
                out.insert(p, format!("special file {kind:?}"));
            }
        }
    }
    out
}

/// `{slug: records}` from a report.
pub fn record_counts(report: &Value) -> BTreeMap<String, u64> {
    report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["records"].as_u64().unwrap() > 0)
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["records"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Counts data rows (without header) of a CSV written with CRLF line ends and quoted fields.
pub fn csv_rows(path: &Path) -> usize {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader.records().count()
}

/// What `portcullis check` did on a crafted input.
pub struct Crafted {
    pub code: i32,
    /// report.json from stdout (`Value::Null` when the check could not run).
    pub report: Value,
    pub stderr: String,
}

/// Limits a hostile-input case must stay within: the check is killed once it has run `secs`
/// seconds, and its peak resident memory (the kernel's high-water mark, polled) must stay
/// under `mib` MiB.
#[derive(Clone, Copy, Debug)]
pub struct Caps {
    pub mib: u64,
    pub secs: u64,
}

/// The caps of a case that names none: far above what a check of a few-megabyte input needs.
pub const DEFAULT_CAPS: Caps = Caps {
    mib: 1024,
    secs: 120,
};

/// What a capped run of the CLI left.
pub struct CappedRun {
    pub status: std::process::ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub peak_mib: u64,
}

/// Runs `portcullis ARGS` under `caps`: stdout and stderr drained as it runs, its peak memory
/// polled from `/proc` (Linux), and killed (failing the test with `what` named) if it has not
/// ended in time, so a hang is a failure and not a stalled CI.
pub fn run_capped(what: &str, args: &[&OsStr], threads: usize, caps: Caps) -> CappedRun {
    use std::io::Read;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .env("PORTCULLIS_DATA_DIR", empty_data_dir())
        .env("RAYON_NUM_THREADS", threads.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let started = std::time::Instant::now();
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(line) = text.lines().find(|l| l.starts_with("VmHWM:"))
            && let Some(kib) = line.split_whitespace().nth(1).and_then(|v| v.parse().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed().as_secs() >= caps.secs {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what}: still running after its {} s cap, killed",
                caps.secs
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let run = CappedRun {
        status,
        stdout: stdout.join().unwrap(),
        stderr: String::from_utf8_lossy(&stderr.join().unwrap()).into_owned(),
        peak_mib: peak_kib / 1024,
    };
    eprintln!(
        "{what}: peak {} MiB (cap {}), {:.1} s (cap {})",
        run.peak_mib,
        caps.mib,
        started.elapsed().as_secs_f64(),
        caps.secs
    );
    assert!(
        run.peak_mib < caps.mib,
        "{what}: peak {} MiB, over its {} MiB cap",
        run.peak_mib,
        caps.mib
    );
    run
}

/// Runs `portcullis check TARGET --json --output OUT [extra…]` on hostile input and asserts what
/// must hold for every such input: a documented exit code, no panic or abort, and the input
/// tree byte-identical afterwards (`input` is the tree to hash: the target or its folder).
pub fn check_crafted(target: &Path, input: &Path, out: &Path, extra: &[&str]) -> Crafted {
    check_capped(target, input, out, extra, DEFAULT_CAPS)
}

/// [`check_crafted`] under `caps`.
pub fn check_capped(
    target: &Path,
    input: &Path,
    out: &Path,
    extra: &[&str],
    caps: Caps,
) -> Crafted {
    let before = target_digest(input);
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("check"),
        target.as_os_str(),
        OsStr::new("--json"),
        OsStr::new("--output"),
        out.as_os_str(),
    ];
    args.extend(extra.iter().map(OsStr::new));
    let what = target.display().to_string();
    let output = run_capped(&what, &args, 2, caps);
    let stderr = output.stderr;
    let code = output.status.code().unwrap_or(-1);
    assert!(
        [0, 1, 2, 3].contains(&code),
        "{what}: undocumented exit ({:?}); stderr: {stderr}",
        output.status
    );
    for sign in [
        "panicked",
        "fatal runtime error",
        "stack overflow",
        "memory allocation",
        "RUST_BACKTRACE",
    ] {
        assert!(!stderr.contains(sign), "{what}: {sign}: {stderr}");
    }
    assert_eq!(before, target_digest(input), "{what}: the input changed");
    let report = if code == 2 {
        Value::Null
    } else {
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{what}: no JSON on stdout ({e}); stderr: {stderr}"))
    };
    Crafted {
        code,
        report,
        stderr,
    }
}

impl Crafted {
    /// Asserts that the check could not run (exit 2) and said `text` on stderr.
    pub fn expect_error(&self, text: &str) {
        assert_eq!(self.code, 2, "{}", self.stderr);
        assert!(self.stderr.contains(text), "{text} not in: {}", self.stderr);
    }
}

/// The first CRITICAL alert of a report.
pub fn critical_alert(report: &Value) -> &Value {
    report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["level"] == "CRITICAL")
        .expect("a CRITICAL alert")
}

/// The summary entry of module `slug` in a report.
pub fn module_summary<'a>(report: &'a Value, slug: &str) -> &'a Value {
    report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == slug)
        .unwrap_or_else(|| panic!("no module {slug}"))
}

/// Runs the CLI with `threads` worker threads: (exit code, stderr, peak resident memory in MiB).
pub fn peak_rss_mib(args: &[&OsStr], threads: usize) -> (i32, String, u64) {
    let what = args
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let run = run_capped(&what, args, threads, DEFAULT_CAPS);
    (run.status.code().unwrap_or(-1), run.stderr, run.peak_mib)
}

/// A small backup being built in `folder`: an SMS linking to an indicator domain, and global
/// preferences with Lockdown Mode off.
pub fn sms_backup_builder(folder: &Path) -> BackupBuilder {
    let mut prefs = plist::Dictionary::new();
    prefs.insert("LDMGlobalEnabled".into(), false.into());
    BackupBuilder::new(folder)
        .unwrap()
        .plist(
            "HomeDomain",
            "Library/Preferences/.GlobalPreferences.plist",
            &plist::Value::Dictionary(prefs),
        )
        .unwrap()
        .sqlite("HomeDomain", "Library/SMS/sms.db", SMS_DB)
        .unwrap()
}

/// [`sms_backup_builder`]'s backup in `dir/backup`, and a STIX file with its indicator domain.
pub fn backup_with_sms(dir: &Path) -> (PathBuf, PathBuf) {
    let backup = sms_backup_builder(&dir.join("backup")).finish().unwrap();
    (backup, stix(dir))
}

pub const SMS_DB: &str = "CREATE TABLE handle (ROWID INTEGER PRIMARY KEY, id TEXT);
     CREATE TABLE message (ROWID INTEGER PRIMARY KEY, guid TEXT, text TEXT, handle_id INTEGER,
       service TEXT, account TEXT, date INTEGER, date_read INTEGER, is_from_me INTEGER);
     INSERT INTO handle VALUES (1, '+15550100');
     INSERT INTO message VALUES (1, 'G1', 'see https://evil.example.net/x', 1, 'SMS', 'a', 600000000, 0, 0);";

/// Where the builder stores HomeDomain's sms.db.
pub const SMS_STORED: &str = "3d/3d0d7e5fb2ce288813306e4d4636395e047a3d28";

pub fn stix(dir: &Path) -> PathBuf {
    let path = dir.join("iocs.stix2");
    std::fs::write(
        &path,
        portcullis_indicators::test_bundle_json(
            "Evil",
            &["[domain-name:value = 'evil.example.net']"],
        ),
    )
    .unwrap();
    path
}
