//! `portcullis recheck` from the command line: an earlier check without indicators, then a
//! collection installed, then the re-check that finds what the check could not.

mod common;

use common::{backup_with_sms, portcullis, tree_digest};
use serde_json::Value;

#[test]
fn a_collection_installed_after_a_check_is_found_by_recheck() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (backup, stix) = backup_with_sms(tmp.path());
    let results = tmp.path().join("results");
    let check = portcullis()
        .env("PORTCULLIS_DATA_DIR", &data)
        .args(["check", "--no-installed", "-o"])
        .arg(&results)
        .arg(&backup)
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(0), "{check:?}");

    // Nothing to re-check against yet: said plainly.
    let none = portcullis()
        .env("PORTCULLIS_DATA_DIR", &data)
        .arg("recheck")
        .arg(&results)
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(2), "{none:?}");
    assert!(String::from_utf8_lossy(&none.stderr).contains("no indicators to re-check against"));

    let add = portcullis()
        .env("PORTCULLIS_DATA_DIR", &data)
        .args(["iocs", "add", "--name", "evil"])
        .arg(&stix)
        .output()
        .unwrap();
    assert!(add.status.success(), "{add:?}");
    let before = tree_digest(&results);
    let out = tmp.path().join("rechecked");
    let recheck = portcullis()
        .env("PORTCULLIS_DATA_DIR", &data)
        .arg("recheck")
        .arg(&results)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&recheck.stdout);
    assert_eq!(recheck.status.code(), Some(1), "{recheck:?}");
    assert!(
        stdout.contains("1 new alert(s) since the earlier check"),
        "{stdout}"
    );
    assert!(stdout.contains("NEW CRITICAL  sms:"), "{stdout}");
    assert_eq!(
        tree_digest(&results),
        before,
        "the earlier results are not changed"
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["recheck"]["new_alerts"], 1);
    assert_eq!(
        report["alerts"][0]["matched_value"],
        "https://evil.example.net/x"
    );
    assert_eq!(report["alerts"][0]["indicator"]["collection"], "Evil");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("NEW since the earlier check"));

    // Again, into its default folder inside the results: still new to the earlier check.
    let again = portcullis()
        .env("PORTCULLIS_DATA_DIR", &data)
        .arg("recheck")
        .arg(&results)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    let made: Vec<String> = std::fs::read_dir(&results)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("recheck-"))
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(results.join(&made[0]).join("report.html").is_file());

    // A re-check's own folder is not re-checked.
    let nested = portcullis()
        .env("PORTCULLIS_DATA_DIR", &data)
        .arg("recheck")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(nested.status.code(), Some(2), "{nested:?}");
    assert!(String::from_utf8_lossy(&nested.stderr).contains("holds a re-check"));
}
