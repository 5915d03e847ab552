//! Regression tests for the defects found when Portcullis was run as an attacker controlling the
//! phone's data would (issue 11): every input here is crafted in the test, and every check on it
//! must end with a documented exit code, a clear error naming the file, and the input untouched.

mod common;

use common::*;
use portcullis_evidence::hostile;
use portcullis_ios::builder::BackupBuilder;

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
