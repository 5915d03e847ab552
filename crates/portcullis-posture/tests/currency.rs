//! OS currency against the real SOFA feed snapshot (when ../shared is present) and the bundled
//! data: the "last supported iOS" and "unsupported model" cases, and the bundled data's origin.

use std::path::{Path, PathBuf};

use portcullis_posture::currency::Snapshot;
use portcullis_posture::{DeviceFacts, Platform, PostureStatus, evaluate, known};

fn sofa_fixture() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/os-currency/sofa-ios-data-feed-v2.json");
    if p.is_file() {
        Some(p)
    } else {
        // Straight to stderr: the test harness hides what passing tests print.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"skipped: ../shared fixtures not present (conformance test not run)\n",
        );
        None
    }
}

fn sofa() -> Option<Snapshot> {
    let bytes = std::fs::read(sofa_fixture()?).unwrap();
    Some(Snapshot::from_sofa_feed(&bytes).expect("SOFA fixture parses"))
}

/// The bundled snapshot is the SOFA fixture run through `from_sofa_feed` (plus the curated
/// tables). `PORTCULLIS_REGEN_OS_DATA=1 cargo test -p portcullis-posture --test currency`
/// rewrites it after the fixture or the curated tables change.
#[test]
fn bundled_snapshot_is_derived_from_the_sofa_fixture() {
    let Some(from_feed) = sofa() else { return };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/os-currency.json");
    if std::env::var_os("PORTCULLIS_REGEN_OS_DATA").is_some() {
        std::fs::write(&path, from_feed.to_json()).unwrap();
    }
    let bundled = Snapshot::bundled();
    assert_eq!(
        bundled, from_feed,
        "run with PORTCULLIS_REGEN_OS_DATA=1 to regenerate"
    );
    assert_eq!(bundled.date, "2026-08-22");
}

fn ios(model: &str, version: &str) -> DeviceFacts {
    let mut f = DeviceFacts::new(Platform::Ios);
    f.model = known(model.to_string(), "Info.plist");
    f.os_version = known(version.to_string(), "Info.plist");
    f
}

fn status(snap: &Snapshot, facts: &DeviceFacts, id: &str) -> PostureStatus {
    let today = jiff::civil::date(2026, 9, 1);
    evaluate(facts, snap, today)
        .into_iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("{id} not evaluated"))
        .status
}

/// A verdict on a model Apple no longer updates quotes the legacy table's date, not the feed's.
#[test]
fn legacy_verdicts_name_the_legacy_table() {
    let snap = Snapshot::bundled();
    let today = jiff::civil::date(2026, 12, 2);
    let finding = |facts: &DeviceFacts, id: &str| {
        evaluate(facts, &snap, today)
            .into_iter()
            .find(|f| f.id == id)
            .unwrap_or_else(|| panic!("{id} not evaluated"))
    };
    let legacy = finding(&ios("iPhone10,6", "16.7.12"), "IOS-001");
    let table = format!("legacy-model table of {}", snap.ios.legacy.as_of);
    assert!(legacy.evidence.contains(&table), "{}", legacy.evidence);
    assert!(
        !legacy
            .evidence
            .contains(&format!("OS data of {}", snap.date)),
        "{}",
        legacy.evidence
    );
    let supported = finding(&ios("iPhone11,2", "18.0"), "IOS-001");
    assert!(
        supported
            .evidence
            .contains(&format!("OS data of {}", snap.date)),
        "{}",
        supported.evidence
    );
}

/// Checks shared by the fixture-derived and the bundled snapshot.
fn currency_cases(snap: &Snapshot) {
    use PostureStatus::*;
    // iPhone XS: its last branch is iOS 18 (18.7.10, a device-specific release). Fully patched,
    // it is not outdated even though iOS 26 exists (MVT would flag it).
    let xs = ios("iPhone11,2", "18.7.10");
    assert_eq!(status(snap, &xs, "IOS-002"), Pass);
    assert_eq!(status(snap, &xs, "IOS-003"), Pass);
    assert_eq!(status(snap, &xs, "IOS-004"), Pass);
    assert_eq!(status(snap, &xs, "IOS-001"), Pass);
    // An older 18.x on the same model is behind.
    let xs_old = ios("iPhone11,2", "18.7.8");
    assert_eq!(status(snap, &xs_old, "IOS-003"), Fail);
    // 18.6 misses exploited fixes that 18.6.2 brought.
    let xs_exposed = ios("iPhone11,2", "18.6");
    assert_eq!(status(snap, &xs_exposed, "IOS-001"), Fail);

    // iPhone 7: no longer updated (its own finding), but on its final iOS (15.8.8) it is not
    // "outdated". On 15.8.5 it misses 15.8.7's fixes for flaws an exploit kit uses.
    let seven = ios("iPhone9,3", "15.8.8");
    assert_eq!(status(snap, &seven, "IOS-002"), Fail);
    assert_eq!(status(snap, &seven, "IOS-003"), Pass);
    assert_eq!(status(snap, &seven, "IOS-004"), Pass);
    assert_eq!(status(snap, &seven, "IOS-001"), Pass);
    assert_eq!(status(snap, &ios("iPhone9,3", "15.8.5"), "IOS-003"), Fail);
    // On an older 15.x it is also behind.
    let seven_old = ios("iPhone9,3", "15.7.2");
    assert_eq!(status(snap, &seven_old, "IOS-003"), Fail);
    assert_eq!(status(snap, &seven_old, "IOS-002"), Fail);
    // MVT's own fixture phone (iPhone 7 on 14.3).
    assert_eq!(status(snap, &ios("iPhone9,3", "14.3"), "IOS-003"), Fail);

    // A current phone on the newest iOS passes everything; one a major behind is told to move.
    let sixteen = ios("iPhone17,3", "26.6.1");
    for id in ["IOS-001", "IOS-002", "IOS-003", "IOS-004"] {
        assert_eq!(status(snap, &sixteen, id), Pass, "{id}");
    }
    let sixteen_on_18 = ios("iPhone17,3", "18.7.8");
    assert_eq!(status(snap, &sixteen_on_18, "IOS-003"), Pass);
    assert_eq!(status(snap, &sixteen_on_18, "IOS-004"), Fail);
    // CVE-2026-20700 is fixed in 26.3 only: an iOS 18 phone that could run 26 lacks it.
    let f = evaluate(&sixteen_on_18, snap, jiff::civil::date(2026, 9, 1));
    let ex = f.iter().find(|f| f.id == "IOS-001").unwrap();
    assert_eq!(ex.status, Fail);
    assert!(ex.evidence.contains("CVE-2026-20700"), "{}", ex.evidence);
    assert!(!ex.evidence.contains("CVE-2025-43529"), "{}", ex.evidence);

    // An unsupported model never listed by SOFA (iPhone 6s is in the curated table; an iPhone 4
    // identifier is not): both are unsupported.
    assert_eq!(status(snap, &ios("iPhone8,1", "15.8.8"), "IOS-002"), Fail);
    assert_eq!(status(snap, &ios("iPhone3,1", "7.1.2"), "IOS-002"), Fail);
    // A model newer than the data is unknown, not unsupported.
    assert_eq!(status(snap, &ios("iPhone99,1", "27.0"), "IOS-002"), Unknown);
    // A device on an iOS newer than the data cannot be shown to be behind.
    assert_eq!(status(snap, &ios("iPhone17,3", "27.0"), "IOS-003"), Pass);
    // No model or version: unknown, never a pass.
    let nothing = DeviceFacts::new(Platform::Ios);
    for id in ["IOS-001", "IOS-002", "IOS-003", "IOS-004"] {
        assert_eq!(status(snap, &nothing, id), Unknown, "{id}");
    }
}

#[test]
fn currency_against_the_sofa_fixture() {
    let Some(snap) = sofa() else { return };
    currency_cases(&snap);
}

#[test]
fn currency_against_the_bundled_snapshot() {
    currency_cases(&Snapshot::bundled());
}

#[test]
fn sofa_update_is_checked_by_hash_and_saved() {
    let Some(path) = sofa_fixture() else { return };
    let bytes = std::fs::read(path).unwrap();
    let hash = portcullis_posture::currency::sha256_hex(&bytes);
    let snap = Snapshot::from_sofa_feed_verified(&bytes, &hash.to_uppercase()).unwrap();
    assert_eq!(snap.sources[0].sha256.as_deref(), Some(hash.as_str()));
    assert!(Snapshot::from_sofa_feed_verified(&bytes, &"0".repeat(64)).is_err());
    let dir = tempfile::tempdir().unwrap();
    snap.save(dir.path()).unwrap();
    assert_eq!(Snapshot::load_or_bundled(dir.path()), snap);
    // A feed missing a required field is refused.
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v.as_object_mut().unwrap().remove("OSVersions");
    assert!(Snapshot::from_sofa_feed(&serde_json::to_vec(&v).unwrap()).is_err());
}

/// The legacy table as `../shared/reference/ios-legacy-releases.md` gives it (checked
/// 2026-12-01): identifiers, newest release, newest release with security fixes.
const REFERENCE: &[(&[&str], &str, &str)] = &[
    (&["iPhone4,1"], "9.3.6", "9.3.6"),
    (&["iPhone5,1", "iPhone5,2"], "10.3.4", "10.3.4"),
    (&["iPhone5,3", "iPhone5,4"], "10.3.3", "10.3.3"),
    (
        &[
            "iPhone6,1",
            "iPhone6,2",
            "iPhone7,1",
            "iPhone7,2",
            "iPad4,1",
            "iPad4,2",
            "iPad4,3",
            "iPad4,4",
            "iPad4,5",
            "iPad4,6",
            "iPad4,7",
            "iPad4,8",
            "iPad4,9",
            "iPod7,1",
        ],
        "12.5.8",
        "12.5.7",
    ),
    (
        &[
            "iPhone8,1",
            "iPhone8,2",
            "iPhone8,4",
            "iPhone9,1",
            "iPhone9,2",
            "iPhone9,3",
            "iPhone9,4",
            "iPad5,1",
            "iPad5,2",
            "iPad5,3",
            "iPad5,4",
            "iPod9,1",
        ],
        "15.8.8",
        "15.8.8",
    ),
    (
        &[
            "iPhone10,1",
            "iPhone10,2",
            "iPhone10,3",
            "iPhone10,4",
            "iPhone10,5",
            "iPhone10,6",
            "iPad6,3",
            "iPad6,4",
            "iPad6,7",
            "iPad6,8",
            "iPad6,11",
            "iPad6,12",
        ],
        "16.7.16",
        "16.7.16",
    ),
    // iPad 4th generation: cellular 10.3.4, Wi-Fi 10.3.3 (inferred).
    (&["iPad3,5", "iPad3,6"], "10.3.4", "10.3.4"),
    (&["iPad3,4"], "10.3.3", "10.3.3"),
    // iPad 2, iPad 3, iPad mini: cellular 9.3.6, Wi-Fi 9.3.5 (unconfirmed).
    (
        &[
            "iPad2,2", "iPad2,3", "iPad3,2", "iPad3,3", "iPad2,6", "iPad2,7",
        ],
        "9.3.6",
        "9.3.6",
    ),
    (
        &["iPad2,1", "iPad2,4", "iPad3,1", "iPad2,5"],
        "9.3.5",
        "9.3.5",
    ),
];

fn legacy_table_cases(snap: &Snapshot) {
    let table = &snap.ios.legacy;
    let mut listed = 0;
    for (ids, latest, security) in REFERENCE {
        for id in *ids {
            let row = table
                .models
                .get(*id)
                .unwrap_or_else(|| panic!("{id} missing"));
            assert_eq!(row.latest, *latest, "{id} latest");
            assert_eq!(row.latest_security, *security, "{id} latest_security");
            assert!(
                !row.source.is_empty() && row.url.is_some(),
                "{id} cites no source"
            );
            listed += 1;
        }
    }
    assert_eq!(table.models.len(), listed, "rows not in the reference");
    // What the reference marks as inferred or unconfirmed stays marked.
    let note = |id: &str| table.models[id].note.clone().unwrap_or_default();
    assert!(note("iPad3,4").contains("inferred"), "{}", note("iPad3,4"));
    assert!(
        note("iPad2,1").contains("unconfirmed"),
        "{}",
        note("iPad2,1")
    );
    // The exploited CVEs of each legacy release, with its advisory.
    let release = |v: &str| table.releases.iter().find(|r| r.version == v).unwrap();
    let kit = [
        "CVE-2023-41974",
        "CVE-2023-43000",
        "CVE-2024-23222",
        "CVE-2023-43010",
    ];
    for (v, advisory) in [
        ("16.7.15", "APPLE-SA-03-11-2026-2"),
        ("15.8.7", "APPLE-SA-03-11-2026-2"),
    ] {
        assert_eq!(release(v).exploited, kit, "{v}");
        assert_eq!(release(v).source, advisory, "{v}");
    }
    assert_eq!(release("16.7.12").exploited, ["CVE-2025-43300"]);
    assert_eq!(release("16.7.12").source, "APPLE-SA-09-15-2025-3");
    assert_eq!(release("15.8.5").exploited, ["CVE-2025-43300"]);
    assert_eq!(release("15.8.5").source, "APPLE-SA-09-15-2025-4");
    assert_eq!(release("12.5.7").exploited, ["CVE-2022-42856"]);
}

/// Unsupported models are judged by their own final releases: the exploited-flaws rule fires
/// for a phone missing them, and "behind" means missing security fixes.
fn legacy_currency_cases(snap: &Snapshot) {
    use PostureStatus::*;
    let today = jiff::civil::date(2026, 12, 1);
    let exploited = |model: &str, version: &str| {
        evaluate(&ios(model, version), snap, today)
            .into_iter()
            .find(|f| f.id == "IOS-001")
            .unwrap()
    };
    for (model, exposed, patched) in [
        ("iPhone9,1", "15.8.5", "15.8.8"),
        ("iPhone9,3", "15.8.5", "15.8.8"),
        ("iPhone10,3", "16.7.12", "16.7.16"),
        ("iPhone10,6", "16.7.12", "16.7.16"),
    ] {
        let f = exploited(model, exposed);
        assert_eq!(f.status, Fail, "{model} on {exposed}");
        for cve in ["CVE-2023-41974", "CVE-2023-43000"] {
            assert!(f.evidence.contains(cve), "{model}: {}", f.evidence);
        }
        // Fixed on 15.8.5/16.7.12 itself.
        assert!(!f.evidence.contains("CVE-2025-43300"), "{}", f.evidence);
        assert_eq!(
            exploited(model, patched).status,
            Pass,
            "{model} on {patched}"
        );
        assert_eq!(status(snap, &ios(model, exposed), "IOS-003"), Fail);
        assert_eq!(status(snap, &ios(model, patched), "IOS-003"), Pass);
    }
    // Before 16.7.12 CVE-2025-43300 is missing too; 15.8.7 already has the kit's fixes.
    let f = exploited("iPhone10,1", "16.7.11");
    assert!(f.evidence.contains("CVE-2025-43300"), "{}", f.evidence);
    assert_eq!(exploited("iPad5,3", "15.8.7").status, Pass);
    // iPhone 6: 12.5.8 only renewed certificates, so 12.5.7 has every security fix.
    assert_eq!(exploited("iPhone7,2", "12.5.6").status, Fail);
    assert_eq!(exploited("iPhone7,2", "12.5.7").status, Pass);
    let six = ios("iPhone7,2", "12.5.7");
    assert_eq!(status(snap, &six, "IOS-003"), Pass);
    assert_eq!(status(snap, &six, "IOS-004"), Pass);
    // Models with no exploited-flaw release in the table have nothing to miss.
    assert_eq!(exploited("iPhone5,1", "10.3.3").status, Pass);
    assert_eq!(status(snap, &ios("iPhone5,1", "10.3.3"), "IOS-003"), Fail);
}

#[test]
fn legacy_table_against_the_reference() {
    legacy_table_cases(&Snapshot::bundled());
    if let Some(snap) = sofa() {
        legacy_table_cases(&snap);
        legacy_currency_cases(&snap);
    }
    legacy_currency_cases(&Snapshot::bundled());
}

#[test]
fn each_part_is_dated_and_an_old_one_is_stale() {
    let part = |snap: &Snapshot, today, name: &str| {
        snap.info_on(today)
            .parts
            .into_iter()
            .find(|p| p.part == name)
            .unwrap_or_else(|| panic!("no part {name}"))
    };
    let snap = Snapshot::bundled();
    let dec = jiff::civil::date(2026, 12, 1);
    let legacy = part(&snap, dec, "ios_legacy");
    assert_eq!((legacy.as_of.as_str(), legacy.stale), ("2026-12-01", false));
    let feed = part(&snap, dec, "ios_feed");
    assert_eq!(feed.as_of, "2026-08-22");
    assert_eq!((feed.age_days, feed.stale), (Some(101), true));
    let sept = jiff::civil::date(2026, 9, 1);
    assert!(!part(&snap, sept, "ios_feed").stale);
    for name in [
        "android_releases",
        "android_exploited",
        "android_models_eol",
    ] {
        part(&snap, dec, name);
    }
    // A table as old as the one issue 13 found is flagged.
    let mut old = snap.clone();
    let mut table = old.ios.legacy.clone();
    table.as_of = "2025-09-15".into();
    old.set_legacy(table, None);
    let legacy = part(&old, dec, "ios_legacy");
    assert_eq!((legacy.age_days, legacy.stale), (Some(442), true));
}

/// A legacy table from the bundled one, re-dated (the format an office publishes).
fn legacy_file(as_of: &str) -> Vec<u8> {
    let mut table = Snapshot::bundled().ios.legacy;
    table.as_of = as_of.into();
    table.models.get_mut("iPhone10,3").unwrap().latest = "16.7.17".into();
    table.models.get_mut("iPhone10,3").unwrap().latest_security = "16.7.17".into();
    serde_json::to_vec_pretty(&table).unwrap()
}

#[test]
fn legacy_update_is_checked_by_schema_and_hash_and_saved() {
    use portcullis_posture::currency::{
        LEGACY_FILE_NAME, is_legacy_table, load_legacy_override, save_legacy, sha256_hex,
    };
    let dir = tempfile::tempdir().unwrap();
    let bytes = legacy_file("2027-02-01");
    assert!(is_legacy_table(&bytes));
    let (table, path) = save_legacy(&bytes, dir.path()).unwrap();
    // Saved as published, with its SHA-256, which the report's source names.
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let (_, sha) = load_legacy_override(dir.path()).unwrap().unwrap();
    assert_eq!(sha, sha256_hex(&bytes));
    let snap = Snapshot::load_or_bundled(dir.path());
    assert_eq!(snap.ios.legacy, table);
    assert_eq!(snap.ios.legacy.models["iPhone10,3"].latest, "16.7.17");
    let source = snap
        .sources
        .iter()
        .find(|s| s.part == "ios_legacy")
        .unwrap();
    assert_eq!(
        (source.as_of.as_str(), source.sha256.as_deref()),
        ("2027-02-01", Some(sha.as_str()))
    );
    let x = ios("iPhone10,3", "16.7.16");
    assert_eq!(status(&snap, &x, "IOS-003"), PostureStatus::Fail);

    // Tampering is detected and the bundled table is used instead.
    std::fs::write(dir.path().join(LEGACY_FILE_NAME), legacy_file("2027-02-02")).unwrap();
    assert!(load_legacy_override(dir.path()).is_err());
    assert_eq!(
        Snapshot::load_or_bundled(dir.path()).ios.legacy,
        Snapshot::bundled().ios.legacy
    );
    // An older table than the bundled one is ignored.
    save_legacy(&legacy_file("2025-09-15"), dir.path()).unwrap();
    assert_eq!(
        Snapshot::load_or_bundled(dir.path()).ios.legacy.as_of,
        "2026-12-01"
    );
    // Schema and content are checked.
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["schema"] = "portcullis-ios-legacy/9".into();
    let other = serde_json::to_vec(&v).unwrap();
    assert!(is_legacy_table(&other));
    assert!(save_legacy(&other, dir.path()).is_err());
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["models"]["iPhone9,3"]["latest_security"] = "16.0".into();
    assert!(save_legacy(&serde_json::to_vec(&v).unwrap(), dir.path()).is_err());
    assert!(!is_legacy_table(b"{\"Version\": \"2.0\"}"));
}

#[test]
fn every_android_row_cites_a_source() {
    let snap = Snapshot::bundled();
    let a = &snap.android;
    let bulletin = "https://source.android.com/docs/security/bulletin/";
    for r in &a.releases {
        assert!(r.source.starts_with(bulletin), "Android {}", r.release);
    }
    for f in &a.exploited {
        // The bulletin of the patch level's month.
        let month = &f.patch[..7];
        assert_eq!(f.source, format!("{bulletin}{month}-01"), "{}", f.patch);
    }
    for (model, e) in &a.models_eol {
        assert!(e.source.starts_with("https://"), "{model}");
    }
    // Corrections of the check against the bulletins and Google's Pixel page.
    let dec = jiff::civil::date(2026, 12, 1);
    assert_eq!(snap.android_model_past_eol("Pixel 6", dec), Some(true));
    assert_eq!(snap.android_model_past_eol("Pixel 7a", dec), Some(false));
    let missing = snap.android_missing_exploited("2025-04-05").unwrap();
    for cve in ["CVE-2025-27363", "CVE-2025-21479", "CVE-2025-27038"] {
        assert!(missing.iter().any(|c| c == cve), "{cve}: {missing:?}");
    }
    assert_eq!(snap.android_release_supported(31, dec), Some(false));
}

/// Below the January 2026 certificate releases, iMessage, FaceTime and activation stop after
/// the January 2027 expiry: a finding with plain advice.
#[test]
fn old_models_below_the_certificate_releases_are_warned() {
    use PostureStatus::*;
    let snap = Snapshot::bundled();
    let cert = |model: &str, version: &str| status(&snap, &ios(model, version), "IOS-023");
    for (model, below, at) in [
        ("iPhone7,2", "12.5.7", "12.5.8"),
        ("iPod7,1", "12.5.7", "12.5.8"),
        ("iPhone9,3", "15.8.5", "15.8.6"),
        ("iPad5,3", "15.7", "15.8.8"),
        ("iPhone10,3", "16.7.12", "16.7.13"),
        ("iPad6,11", "16.7.11", "16.7.16"),
    ] {
        assert_eq!(cert(model, below), Fail, "{model} on {below}");
        assert_eq!(cert(model, at), Pass, "{model} on {at}");
    }
    // An older branch than the renewal's is below it too.
    assert_eq!(cert("iPhone9,3", "14.3"), Fail);
    // Supported models on a current branch are not affected; models that got no renewal are
    // unknown, not a silent pass.
    assert_eq!(cert("iPhone11,2", "18.7.10"), Pass);
    assert_eq!(cert("iPhone5,1", "10.3.4"), Unknown);
    let f = evaluate(
        &ios("iPhone10,6", "16.7.12"),
        &snap,
        jiff::civil::date(2026, 12, 1),
    )
    .into_iter()
    .find(|f| f.id == "IOS-023")
    .unwrap();
    assert!(
        f.evidence.contains("older than iOS 16.7.13"),
        "{}",
        f.evidence
    );
    assert!(f.title.contains("January 2027"), "{}", f.title);
    assert!(f.advice.contains("before January 2027"), "{}", f.advice);
}
