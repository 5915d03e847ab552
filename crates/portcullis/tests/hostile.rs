//! Regression tests for the defects found when Portcullis was run as an attacker controlling the
//! phone's data would (issue 11): every input here is crafted in the test, and every check on it
//! must end with a documented exit code, a clear error naming the file, and the input untouched.

mod common;

use std::path::Path;

use common::*;
use portcullis_evidence::hostile;
use portcullis_ios::builder::BackupBuilder;
use serde_json::Value;

const GLOBAL_PREFERENCES: &str = "Library/Preferences/.GlobalPreferences.plist";

#[test]
fn deeply_nested_plists_fail_their_module_and_the_run_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let backup = BackupBuilder::new(&tmp.path().join("backup"))
        .unwrap()
        .file(
            "HomeDomain",
            GLOBAL_PREFERENCES,
            &hostile::nested_binary_plist(40_000),
        )
        .unwrap()
        .finish()
        .unwrap();
    std::fs::write(backup.join("Info.plist"), hostile::nested_xml_plist(50_000)).unwrap();
    let run = check_crafted(&backup, &backup, &tmp.path().join("out"), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let error = |slug| {
        module_summary(&run.report, slug)["error"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(
        error("backup_info"),
        "Info.plist: not a valid property list (nested more than 512 levels deep)"
    );
    assert!(
        error("global_preferences").contains("nested more than 512 levels deep"),
        "{}",
        error("global_preferences")
    );
    // The modules that read other files still ran.
    assert!(module_summary(&run.report, "manifest")["error"].is_null());
}

fn texts(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn hashed_paths(report: &Value) -> Vec<String> {
    report["info"]["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["file_path"].as_str().unwrap().to_string())
        .collect()
}

#[cfg(unix)]
#[test]
fn links_inside_a_backup_are_refused_and_named_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let ev = tmp.path().join("evidence");
    std::fs::create_dir(&ev).unwrap();
    let (backup, stix) = backup_with_sms(&ev);
    // The real sms.db moves outside the backup; a link takes its place, and Info.plist
    // points at a system file.
    let outside = ev.join("outside-sms.db");
    std::fs::rename(backup.join(SMS_STORED), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, backup.join(SMS_STORED)).unwrap();
    std::fs::remove_file(backup.join("Info.plist")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", backup.join("Info.plist")).unwrap();
    // A linked folder: the stored preferences are reached through it.
    let prefs_dir = backup.join("0d");
    let moved = ev.join("outside-0d");
    std::fs::rename(&prefs_dir, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &prefs_dir).unwrap();

    let run = check_crafted(
        &backup,
        &ev,
        &tmp.path().join("out"),
        &["--iocs", stix.to_str().unwrap()],
    );
    assert_eq!(
        run.code, 0,
        "the outside sms.db was not read: {}",
        run.stderr
    );
    assert!(
        run.report["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["level"] != "CRITICAL")
    );
    // Links are never opened: a module whose file is a link finds nothing to read (and the
    // link is named in the warnings); one that reads its file directly fails naming it.
    assert_eq!(module_summary(&run.report, "sms")["records"], 0);
    assert_eq!(
        module_summary(&run.report, "backup_info")["error"],
        "Info.plist: a symbolic link, not read (only regular files are evidence)"
    );
    assert_eq!(
        module_summary(&run.report, "global_preferences")["records"],
        0
    );
    let warnings = texts(&run.report["warnings"]);
    for expected in [
        format!("{SMS_STORED}: a symbolic link, not read"),
        "Info.plist: a symbolic link, not read".to_string(),
        "0d: a symbolic link, not read".to_string(),
    ] {
        assert!(
            warnings.contains(&expected),
            "{expected} not in {warnings:?}"
        );
    }
    // Nothing outside the backup was hashed as if it were evidence.
    let hashed = hashed_paths(&run.report);
    assert!(
        hashed
            .iter()
            .all(|p| !p.contains("Info.plist") && !p.contains(SMS_STORED)),
        "{hashed:?}"
    );
    assert_eq!(run.report["coverage"]["status"], "partial");
}

/// Makes a FIFO with the system's mkfifo, or says why the test is skipped.
#[cfg(unix)]
fn mkfifo(path: &Path) -> bool {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        eprintln!("skipped: mkfifo is not available");
    }
    made
}

#[cfg(unix)]
#[test]
fn fifos_as_path_iocs_or_evidence_file_are_refused_without_hanging() {
    let tmp = tempfile::tempdir().unwrap();
    let ev = tmp.path().join("evidence");
    std::fs::create_dir(&ev).unwrap();
    let fifo = ev.join("pipe");
    if !mkfifo(&fifo) {
        return;
    }
    let run = check_crafted(&fifo, &ev, &tmp.path().join("a"), &[]);
    run.expect_error("pipe: a FIFO (named pipe), not an acquisition");

    let (backup, _) = backup_with_sms(&ev.join("b"));
    let run = check_crafted(
        &backup,
        &ev,
        &tmp.path().join("c"),
        &["--iocs", fifo.to_str().unwrap()],
    );
    run.expect_error("pipe: a FIFO (named pipe), not an indicator file or folder");

    // A FIFO where a bugreport's dumpstate should be: refused, and the check is incomplete.
    let bugreport = ev.join("bugreport");
    std::fs::create_dir(&bugreport).unwrap();
    std::fs::write(bugreport.join("main_entry.txt"), "dumpstate.txt").unwrap();
    assert!(mkfifo(&bugreport.join("dumpstate.txt")));
    let run = check_crafted(&bugreport, &ev, &tmp.path().join("d"), &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(run.report["coverage"]["status"], "incomplete");
    assert!(
        texts(&run.report["warnings"])
            .contains(&"dumpstate.txt: a FIFO (named pipe), not read".to_string())
    );
}

#[cfg(unix)]
#[test]
fn a_results_folder_reaching_into_the_evidence_is_refused_however_it_is_spelt() {
    let tmp = tempfile::tempdir().unwrap();
    let (backup, _) = backup_with_sms(tmp.path());
    let link = tmp.path().join("link-to-backup");
    std::os::unix::fs::symlink(&backup, &link).unwrap();
    let spellings = [
        (backup.clone(), link.join("results")),
        (
            backup.clone(),
            backup.join("..").join("backup").join("results"),
        ),
        (
            backup.clone(),
            tmp.path()
                .join("not-yet")
                .join("..")
                .join("backup")
                .join("out"),
        ),
        // The input given through a link, the output spelt plainly.
        (link.clone(), backup.join("results")),
    ];
    for (input, output) in spellings {
        let run = check_crafted(&input, tmp.path(), &output, &[]);
        run.expect_error("is inside the evidence");
    }
}

#[test]
fn a_results_folder_that_holds_files_is_refused_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let (backup, _) = backup_with_sms(tmp.path());
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("report.json"), "{\"earlier\": true}").unwrap();
    let run = check_crafted(&backup, &backup, &out, &[]);
    run.expect_error("is not empty (it holds report.json)");
    run.expect_error("--force");
    assert_eq!(
        std::fs::read_to_string(out.join("report.json")).unwrap(),
        "{\"earlier\": true}"
    );
    let run = check_crafted(&backup, &backup, &out, &["--force"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        std::fs::read_to_string(out.join("report.json"))
            .unwrap()
            .contains("schema_version")
    );
}

#[test]
fn a_bugreport_without_its_dumpstate_is_incomplete_and_warns_once() {
    let tmp = tempfile::tempdir().unwrap();
    let bugreport = tmp.path().join("bugreport");
    std::fs::create_dir_all(bugreport.join("FS/data")).unwrap();
    std::fs::write(bugreport.join("main_entry.txt"), "bugreport-gone.txt").unwrap();
    std::fs::write(bugreport.join("version.txt"), "2.0").unwrap();
    let run = check_crafted(&bugreport, &bugreport, &tmp.path().join("out"), &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let coverage = &run.report["coverage"];
    assert_eq!(coverage["status"], "incomplete");
    assert_eq!(coverage["main_artifact"]["name"], "dumpstate");
    assert!(
        coverage["main_artifact"]["problem"]
            .as_str()
            .unwrap()
            .starts_with("Unable to find dumpstate")
    );
    let warning = "main_entry.txt: names bugreport-gone.txt, which is not in the acquisition";
    assert_eq!(texts(&run.report["warnings"]), [warning]);
    assert_eq!(run.stderr.matches(warning).count(), 1, "{}", run.stderr);
    // The summary and report.html say so; the page's verdict is not the green one.
    let before = tree_digest(&bugreport);
    let summary = portcullis()
        .arg("check")
        .arg(&bugreport)
        .arg("--output")
        .arg(tmp.path().join("out2"))
        .output()
        .unwrap();
    assert_eq!(summary.status.code(), Some(3));
    assert_eq!(before, tree_digest(&bugreport), "the input changed");
    let text = String::from_utf8_lossy(&summary.stdout);
    assert!(text.contains("Coverage:   incomplete"), "{text}");
    assert!(text.contains("Verdict: INCOMPLETE"), "{text}");
    let html = std::fs::read_to_string(tmp.path().join("out/report.html")).unwrap();
    assert!(html.contains("class=\"v-incomplete\""));
    assert!(!html.contains("class=\"v-clear\""));
    assert!(
        html.contains("id=\"not-checked\"") && html.contains("The dumpstate could not be read")
    );
}

#[test]
fn a_check_with_most_modules_failed_is_partial_never_green() {
    let tmp = tempfile::tempdir().unwrap();
    let (backup, stix) = backup_with_sms(tmp.path());
    std::fs::write(backup.join(SMS_STORED), b"not a database").unwrap();
    std::fs::write(
        backup.join("0d/0dc926a1810f7aee4e8f38793ed788701f93bf9d"),
        b"bplist00 broken",
    )
    .unwrap();
    std::fs::write(backup.join("Info.plist"), b"<plist><dict><key>x</key>").unwrap();
    let run = check_crafted(
        &backup,
        &backup,
        &tmp.path().join("out"),
        &["--iocs", stix.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let coverage = &run.report["coverage"];
    assert_eq!(coverage["status"], "partial");
    let failed = coverage["modules_failed"].as_u64().unwrap();
    assert!(failed >= 3, "{coverage}");
    let html = std::fs::read_to_string(tmp.path().join("out/report.html")).unwrap();
    assert!(html.contains("class=\"v-attention\""));
    assert!(!html.contains("class=\"v-clear\""));
    assert!(html.contains("Part of the phone&#39;s data could not be checked"));
    for slug in ["sms", "global_preferences", "backup_info"] {
        assert!(
            html.contains(&format!("<li><strong>{slug}</strong>")),
            "{slug} not listed"
        );
    }
}

#[test]
fn a_backup_without_a_readable_manifest_is_incomplete() {
    let tmp = tempfile::tempdir().unwrap();
    let (backup, _) = backup_with_sms(tmp.path());
    std::fs::write(backup.join("Manifest.db"), vec![0x42u8; 4096]).unwrap();
    let run = check_crafted(&backup, &backup, &tmp.path().join("out"), &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(
        run.report["coverage"]["main_artifact"]["name"],
        "Manifest.db"
    );
}

#[test]
fn indicator_problems_are_errors_or_warnings_never_silence() {
    let tmp = tempfile::tempdir().unwrap();
    let (backup, stix) = backup_with_sms(tmp.path());
    // A folder with no indicator file at all: the analyst asked for indicators.
    let empty = tmp.path().join("empty-iocs");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("README.txt"), "nothing").unwrap();
    let run = check_crafted(
        &backup,
        &backup,
        &tmp.path().join("a"),
        &["--iocs", empty.to_str().unwrap()],
    );
    run.expect_error("no indicator files (*.stix2 or *.json) in this folder");

    // A folder with a bundle and a stray JSON file: the bundle is used, the stray one named.
    let mixed = tmp.path().join("mixed-iocs");
    std::fs::create_dir(&mixed).unwrap();
    std::fs::copy(&stix, mixed.join("evil.stix2")).unwrap();
    std::fs::write(mixed.join("notes.json"), "[1, 2, 3]").unwrap();
    let unsupported = portcullis_indicators::test_bundle_json(
        "Odd",
        &[
            "[windows-registry-key:key = 'HKLM\\\\Run']",
            "[domain-name:value = 'odd.example']",
        ],
    );
    std::fs::write(mixed.join("odd.stix2"), unsupported).unwrap();
    let run = check_crafted(
        &backup,
        &backup,
        &tmp.path().join("b"),
        &["--iocs", mixed.to_str().unwrap()],
    );
    assert_eq!(
        run.code, 1,
        "the bundle's indicator still matches: {}",
        run.stderr
    );
    let warnings = texts(&run.report["warnings"]);
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("indicators: skipped") && w.contains("notes.json")),
        "{warnings:?}"
    );
    let odd = run.report["info"]["ioc_files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("odd.stix2"))
        .unwrap();
    assert_eq!(odd["unsupported_patterns"], 1);
    assert!(
        texts(&odd["unsupported"])[0].contains("windows-registry-key"),
        "{odd}"
    );

    // Only unsupported patterns: no usable indicator, an error.
    let useless = tmp.path().join("useless.stix2");
    std::fs::write(
        &useless,
        portcullis_indicators::test_bundle_json("Odd", &["[windows-registry-key:key = 'x']"]),
    )
    .unwrap();
    let run = check_crafted(
        &backup,
        &backup,
        &tmp.path().join("c"),
        &["--iocs", useless.to_str().unwrap()],
    );
    run.expect_error(&format!(
        "hold no usable indicator (0 revoked or expired by their authors, which \
         --include-expired uses; 1 unsupported patterns, the first in {}: ",
        useless.display()
    ));

    // A missing file: one clear line, the OS error said once.
    let run = check_crafted(
        &backup,
        &backup,
        &tmp.path().join("d"),
        &["--iocs", "/nonexistent/x.stix2"],
    );
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.matches("os error 2").count(),
        1,
        "{}",
        run.stderr
    );
}

#[test]
fn a_folder_of_several_backups_names_them() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["00008030-AAAA", "00008101-BBBB"] {
        BackupBuilder::new(&tmp.path().join("all").join(name))
            .unwrap()
            .finish()
            .unwrap();
    }
    let all = tmp.path().join("all");
    let run = check_crafted(&all, &all, &tmp.path().join("out"), &[]);
    run.expect_error(
        "holds 2 iOS backups (00008030-AAAA, 00008101-BBBB): give the folder of the one to check",
    );
}

#[test]
fn an_encrypted_adb_backup_without_a_password_says_how_to_give_one() {
    let tmp = tempfile::tempdir().unwrap();
    let ev = tmp.path().join("evidence");
    std::fs::create_dir(&ev).unwrap();
    let hex = |n: usize| "A5".repeat(n);
    let header = format!(
        "ANDROID BACKUP\n5\n1\nAES-256\n{}\n{}\n10000\n{}\n{}\n",
        hex(64),
        hex(64),
        hex(16),
        hex(96)
    );
    let ab = ev.join("phone.ab");
    std::fs::write(&ab, [header.as_bytes(), &[0u8; 64]].concat()).unwrap();
    let run = check_crafted(&ab, &ev, &tmp.path().join("out"), &[]);
    run.expect_error("--password-env VAR or --password-file FILE");
}

#[test]
fn help_and_posture_titles_say_what_they_mean() {
    let help = portcullis().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("an iOS backup (plain or") && help.contains("Android bugreport"),
        "{help}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let (backup, _) = backup_with_sms(tmp.path());
    // An old iOS, no passcode, backups not encrypted: more than five rules fail.
    let mut info = plist::Value::from_file(backup.join("Info.plist")).unwrap();
    let dict = info.as_dictionary_mut().unwrap();
    dict.insert("Product Version".into(), "16.0".into());
    dict.insert("Build Version".into(), "20A362".into());
    info.to_file_xml(backup.join("Info.plist")).unwrap();
    let mut manifest = plist::Dictionary::new();
    manifest.insert("IsEncrypted".into(), false.into());
    manifest.insert("WasPasscodeSet".into(), false.into());
    plist::Value::Dictionary(manifest)
        .to_file_xml(backup.join("Manifest.plist"))
        .unwrap();
    let run = check_crafted(&backup, &backup, &tmp.path().join("out"), &[]);
    let lockdown = run.report["posture"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "IOS-005")
        .unwrap();
    assert_eq!(
        (lockdown["status"].as_str(), lockdown["title"].as_str()),
        (Some("fail"), Some("Lockdown Mode is off"))
    );
    let html = std::fs::read_to_string(tmp.path().join("out/report.html")).unwrap();
    let card = html.split("id=\"check-IOS-005\"").nth(1).unwrap();
    let title = &card[..card.find("</h3>").unwrap()];
    assert!(
        title.contains("To fix") && title.ends_with("Lockdown Mode is off"),
        "{title}"
    );

    // The summary lists the most urgent fixes and says where the rest are.
    let before = tree_digest(&backup);
    let out = portcullis()
        .arg("check")
        .arg(&backup)
        .arg("--output")
        .arg(tmp.path().join("out2"))
        .output()
        .unwrap();
    assert_eq!(before, tree_digest(&backup), "the input changed");
    let text = String::from_utf8_lossy(&out.stdout);
    let failing = run.report["posture"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "fail")
        .count();
    assert!(failing > 5, "{failing}");
    assert!(
        text.contains(&format!(
            "({failing} checks to fix; the 5 most urgent here, all of them in report.html)"
        )),
        "{text}"
    );
}

/// The memory cases: inputs of a few megabytes built to make a check inflate or hold
/// gigabytes. Each ends with the artifact refused and named, and peak memory under 300 MiB
/// with 2 and with 8 worker threads.
#[cfg(target_os = "linux")]
#[test]
fn zip_bombs_and_huge_strings_stay_under_300_mib_at_2_and_8_threads() {
    use hostile::{RawEntry, zip_of};
    let tmp = tempfile::tempdir().unwrap();
    let ev = tmp.path().join("evidence");
    std::fs::create_dir(&ev).unwrap();
    let main_entry = || RawEntry::stored("main_entry.txt", b"dumpstate.txt");
    let version = || RawEntry::stored("version.txt", b"2.0");

    // Nine names over one 2.2 GiB deflate stream.
    let copies: Vec<String> = (1..9)
        .map(|i| format!("FS/data/anr/trace_0{i}.txt"))
        .collect();
    let overlaps: Vec<&str> = copies.iter().map(String::as_str).collect();
    let overlapping = ev.join("overlapping-bugreport.zip");
    std::fs::write(
        &overlapping,
        zip_of(
            &[
                RawEntry::zeros("dumpstate.txt", 2200 << 20),
                main_entry(),
                version(),
            ],
            &overlaps,
        ),
    )
    .unwrap();
    // An honest bomb: 4 MB that truly inflate to 3.9 GiB.
    let honest = ev.join("honest-bugreport.zip");
    std::fs::write(
        &honest,
        zip_of(
            &[
                RawEntry::zeros("dumpstate.txt", 4000 << 20),
                main_entry(),
                version(),
            ],
            &[],
        ),
    )
    .unwrap();
    // An AndroidQF acquisition whose packages.json is one 500 MB string.
    let androidqf = ev.join("androidqf");
    std::fs::create_dir(&androidqf).unwrap();
    std::fs::write(
        androidqf.join("getprop.txt"),
        "[ro.build.version.release]: [14]\n",
    )
    .unwrap();
    {
        use std::io::Write;
        let mut packages = std::io::BufWriter::new(
            std::fs::File::create(androidqf.join("packages.json")).unwrap(),
        );
        packages.write_all(b"[{\"name\": \"").unwrap();
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..500 {
            packages.write_all(&chunk).unwrap();
        }
        packages.write_all(b"\"}]").unwrap();
    }

    let before = tree_digest(&ev);
    let cases: [(&Path, i32, &str); 3] = [
        (
            &overlapping,
            3,
            "dumpstate.txt: its data overlaps another entry's",
        ),
        (
            &honest,
            3,
            "dumpstate.txt: declares 4194304000 bytes, more than the 1073741824-byte entry limit",
        ),
        (
            &androidqf,
            0,
            "packages.json: not valid JSON (a string longer than 4194304 bytes",
        ),
    ];
    for (input, expected_code, expected_text) in cases {
        for threads in [2, 8] {
            let out = tmp.path().join(format!(
                "out-{threads}-{}",
                input.file_name().unwrap().to_string_lossy()
            ));
            let args = [
                std::ffi::OsStr::new("check"),
                input.as_os_str(),
                std::ffi::OsStr::new("--json"),
                std::ffi::OsStr::new("--output"),
                out.as_os_str(),
            ];
            let (code, stderr, peak) = peak_rss_mib(&args, threads);
            eprintln!(
                "{} with {threads} threads: peak {peak} MiB",
                input.display()
            );
            assert_eq!(code, expected_code, "{}: {stderr}", input.display());
            assert!(
                peak < 300,
                "{} with {threads} threads: peak {peak} MiB",
                input.display()
            );
            let report = std::fs::read_to_string(out.join("report.json")).unwrap();
            assert!(
                report.contains(expected_text),
                "{}: {expected_text} not in report.json",
                input.display()
            );
        }
    }
    assert_eq!(before, tree_digest(&ev), "the input changed");
}

#[test]
fn nested_json_fails_its_module_and_the_run_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let androidqf = tmp.path().join("androidqf");
    std::fs::create_dir(&androidqf).unwrap();
    std::fs::write(
        androidqf.join("getprop.txt"),
        "[ro.build.version.release]: [14]\n",
    )
    .unwrap();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    std::fs::write(androidqf.join("packages.json"), deep).unwrap();
    let run = check_crafted(&androidqf, &androidqf, &tmp.path().join("out"), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let error = module_summary(&run.report, "aqf_packages")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.starts_with("packages.json: not valid JSON (recursion limit exceeded"),
        "{error}"
    );
    assert!(
        module_summary(&run.report, "aqf_get_prop")["records"]
            .as_u64()
            .unwrap()
            > 0
    );
}

/// An `adb backup` (.ab, not encrypted, not compressed) of raw tar members.
fn adb_backup(members: &[(&[u8], u8, &[u8])]) -> Vec<u8> {
    let mut out = b"ANDROID BACKUP\n5\n0\nnone\n".to_vec();
    for (name, kind, data) in members {
        let mut header = [0u8; 512];
        header[..name.len()].copy_from_slice(name);
        header[100..108].copy_from_slice(b"0000644\0");
        header[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        header[136..148].copy_from_slice(b"00000000000\0");
        header[156] = *kind;
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
        header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(data);
        out.extend(std::iter::repeat_n(0u8, (512 - data.len() % 512) % 512));
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

#[test]
fn refused_backup_members_and_links_are_warnings_in_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let ev = tmp.path().join("evidence");
    std::fs::create_dir(&ev).unwrap();
    let ab = ev.join("phone.ab");
    std::fs::write(
        &ab,
        adb_backup(&[
            (
                b"apps/com.android.providers.telephony/_manifest",
                b'0',
                b"x",
            ),
            (b"../../escape", b'0', b"evil"),
            (b"apps/x/link", b'2', b""),
        ]),
    )
    .unwrap();
    let run = check_crafted(&ab, &ev, &tmp.path().join("out"), &[]);
    assert!([0, 3].contains(&run.code), "{}", run.stderr);
    let warnings = texts(&run.report["warnings"]);
    assert_eq!(
        warnings,
        [
            "refused a member whose name leaves the archive: \"../../escape\"",
            "apps/x/link: a symbolic link, not followed"
        ]
    );
}
