//! An AndroidQF acquisition gives the same results as a folder, as a zip read in place, and as
//! an age-encrypted zip decrypted in memory.

mod common;

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use age::secrecy::ExposeSecret;
use common::*;
use serde_json::Value;

/// A small AndroidQF acquisition with root binaries, a side-loaded app and a risky setting.
fn self_made_androidqf(dir: &Path) -> PathBuf {
    let acq = dir.join("acq");
    std::fs::create_dir_all(&acq).unwrap();
    let files: [(&str, &str); 5] = [
        (
            "getprop.txt",
            "[ro.product.model]: [Pixel 7]\n[ro.build.version.release]: [14]\n\
             [ro.build.version.security_patch]: [2023-01-05]\n[persist.sys.timezone]: [Europe/London]\n",
        ),
        (
            "packages.json",
            r#"[{"name": "com.spy.helper", "files": [], "installer": "null", "uid": 10300,
                 "disabled": false, "system": false, "third_party": true},
                {"name": "com.android.chrome", "files": [], "installer": "com.android.vending",
                 "uid": 10100, "disabled": false, "system": false, "third_party": true}]"#,
        ),
        ("root_binaries.json", r#"["/system/bin/su"]"#),
        (
            "settings_global.txt",
            "package_verifier_enable=0\nadb_enabled=1\n",
        ),
        (
            "ps.txt",
            "USER PID PPID VSZ RSS WCHAN ADDR S NAME\nroot 1 0 100 10 0 0 S init\n\
             u0_a300 4242 1 200 20 0 0 S com.spy.helper\n",
        ),
    ];
    for (name, text) in files {
        std::fs::write(acq.join(name), text).unwrap();
    }
    acq
}

/// Zips `folder` (with the folder name as the top directory, as AndroidQF does).
fn zip_folder(folder: &Path) -> Vec<u8> {
    let top = folder.file_name().unwrap().to_string_lossy().to_string();
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut entries: Vec<PathBuf> = tree_digest(folder)
        .into_keys()
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    for path in entries {
        let rel = path
            .strip_prefix(folder)
            .unwrap()
            .to_string_lossy()
            .to_string();
        writer.start_file(format!("{top}/{rel}"), options).unwrap();
        writer.write_all(&std::fs::read(&path).unwrap()).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn age_encrypt(identity: &age::x25519::Identity, plain: &[u8]) -> Vec<u8> {
    let recipient = identity.to_public();
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .unwrap();
    let mut out = Vec::new();
    let mut writer = encryptor.wrap_output(&mut out).unwrap();
    writer.write_all(plain).unwrap();
    writer.finish().unwrap();
    out
}

/// What must not depend on the container: records per module and the alerts raised.
fn findings(report: &Value) -> (std::collections::BTreeMap<String, u64>, Vec<String>) {
    let mut alerts: Vec<String> = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{} {} {}", a["level"], a["module"], a["message"]))
        .collect();
    alerts.sort();
    (record_counts(report), alerts)
}

fn same_results_in_every_container(folder: &Path, tmp: &Path) {
    let zip_path = tmp.join("acquisition.zip");
    let zip_bytes = zip_folder(folder);
    std::fs::write(&zip_path, &zip_bytes).unwrap();
    let identity = age::x25519::Identity::generate();
    let age_path = tmp.join("acquisition.zip.age");
    std::fs::write(&age_path, age_encrypt(&identity, &zip_bytes)).unwrap();
    let key_file = tmp.join("key.txt");
    std::fs::write(
        &key_file,
        format!(
            "# public key: {}\n{}\n",
            identity.to_public(),
            identity.to_string().expose_secret()
        ),
    )
    .unwrap();

    let (code_f, from_folder) = check_json(folder, &[], &tmp.join("out-folder"));
    let (code_z, from_zip) = check_json(&zip_path, &[], &tmp.join("out-zip"));
    let out = portcullis()
        .arg("check")
        .arg(&age_path)
        .arg("--age-identity")
        .arg(&key_file)
        .arg("--json")
        .arg("--output")
        .arg(tmp.join("out-age"))
        .output()
        .unwrap();
    let from_age: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    assert!(!findings(&from_folder).0.is_empty());
    assert_eq!(findings(&from_folder), findings(&from_zip));
    assert_eq!(findings(&from_folder), findings(&from_age));
    assert_eq!(code_f, code_z);
    assert_eq!(Some(code_f), out.status.code());
    assert_eq!(from_age["info"]["input_kind"], "androidqf");
    // Nothing decrypted was written beside the input.
    let names: Vec<String> = std::fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| !n.starts_with("out-"))
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with(".zip") && n != "acquisition.zip"),
        "{names:?}"
    );

    // Without the identity, or with the wrong one: a clear error, exit 2.
    portcullis()
        .arg("check")
        .arg(&age_path)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--age-identity"));
    let wrong = tmp.join("wrong.txt");
    std::fs::write(
        &wrong,
        age::x25519::Identity::generate()
            .to_string()
            .expose_secret(),
    )
    .unwrap();
    portcullis()
        .arg("check")
        .arg(&age_path)
        .arg("--age-identity")
        .arg(&wrong)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("cannot decrypt"));
}

#[test]
fn self_made_androidqf_folder_zip_and_age_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = self_made_androidqf(tmp.path());
    let (code, report) = check_json(&folder, &[], &tmp.path().join("first"));
    assert_eq!(code, 1, "a root binary is HIGH");
    let counts = record_counts(&report);
    assert_eq!(counts.get("root_binaries"), Some(&1));
    assert_eq!(counts.get("aqf_packages"), Some(&2));
    assert_eq!(counts.get("aqf_processes"), Some(&2));
    assert_eq!(report["device"]["model"], "Pixel 7");
    same_results_in_every_container(&folder, tmp.path());
}

#[test]
fn mvt_androidqf_fixture_folder_zip_and_age_agree() {
    let Some(folder) = shared_fixture("mvt/androidqf") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    same_results_in_every_container(&folder, tmp.path());
}
