//! The installed collections' compiled cache: written by the first load, read by the next
//! while the files are as they were, compiled again when one changes.

use std::path::Path;

use portcullis_engine::indicators::{Installed, load_with_installed};

fn bundle(dir: &Path, name: &str, domain: &str) {
    let json = portcullis_indicators::test_bundle_json(
        name,
        &[&format!("[domain-name:value = '{domain}']")],
    );
    std::fs::write(dir.join(format!("{name}.stix2")), json).unwrap();
}

#[test]
fn the_cache_is_used_while_the_files_are_unchanged_and_rebuilt_when_one_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("collections");
    std::fs::create_dir(&folder).unwrap();
    bundle(&folder, "alpha", "alpha.example");
    bundle(&folder, "beta", "beta.example");
    let cache = tmp.path().join("cache").join("indicators.bin");
    let installed = Some(Installed {
        folder: &folder,
        cache: &cache,
    });
    let extra = tmp.path().join("extra.stix2");
    std::fs::write(
        &extra,
        portcullis_indicators::test_bundle_json("Extra", &["[domain-name:value = 'x.example']"]),
    )
    .unwrap();

    let first = load_with_installed(installed, std::slice::from_ref(&extra), false).unwrap();
    assert!(cache.is_file(), "the first load compiles the cache");
    let written = std::fs::read(&cache).unwrap();
    let second = load_with_installed(installed, std::slice::from_ref(&extra), false).unwrap();
    assert_eq!(
        std::fs::read(&cache).unwrap(),
        written,
        "read, not written again"
    );
    for ind in [&first.indicators, &second.indicators] {
        assert_eq!(ind.len(), 3);
        assert_eq!(ind.check_host("alpha.example").unwrap().collection, "alpha");
        assert_eq!(ind.check_host("x.example").unwrap().collection, "Extra");
        let files: Vec<_> = ind.files().iter().map(|f| f.path.clone()).collect();
        assert_eq!(
            files,
            [
                folder.join("alpha.stix2"),
                folder.join("beta.stix2"),
                extra.clone()
            ]
        );
    }

    // Same size and modification time: taken for the same file, so the cache answers (the
    // cache trusts the store's atomic installs, which always change the time).
    let beta = folder.join("beta.stix2");
    let when = std::fs::metadata(&beta).unwrap().modified().unwrap();
    bundle(&folder, "beta", "zeta.example");
    std::fs::File::options()
        .write(true)
        .open(&beta)
        .unwrap()
        .set_modified(when)
        .unwrap();
    let cached = load_with_installed(installed, &[], false).unwrap();
    assert!(cached.indicators.check_host("beta.example").is_some());

    // A newer file: compiled again.
    std::fs::File::options()
        .write(true)
        .open(&beta)
        .unwrap()
        .set_modified(when + std::time::Duration::from_secs(5))
        .unwrap();
    let fresh = load_with_installed(installed, &[], false).unwrap();
    assert!(fresh.indicators.check_host("beta.example").is_none());
    assert!(fresh.indicators.check_host("zeta.example").is_some());
    assert_ne!(std::fs::read(&cache).unwrap(), written);

    // A damaged cache is compiled again, not trusted; a cache for the other choice of
    // --include-expired is not used either.
    std::fs::write(&cache, b"PCIX garbage").unwrap();
    let repaired = load_with_installed(installed, &[], false).unwrap();
    assert!(repaired.indicators.check_host("zeta.example").is_some());
    let all = load_with_installed(installed, &[], true).unwrap();
    assert!(all.indicators.includes_expired());
    assert!(all.indicators.check_host("alpha.example").is_some());
}

#[test]
fn a_bad_installed_file_is_warned_about_every_time() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("collections");
    std::fs::create_dir(&folder).unwrap();
    bundle(&folder, "alpha", "alpha.example");
    std::fs::write(folder.join("broken.stix2"), b"{not json").unwrap();
    let cache = tmp.path().join("indicators.bin");
    let installed = Some(Installed {
        folder: &folder,
        cache: &cache,
    });
    for _ in 0..2 {
        let loaded = load_with_installed(installed, &[], false).unwrap();
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].contains("broken.stix2"));
    }
    assert!(!cache.exists(), "no cache while a file is skipped");
}
