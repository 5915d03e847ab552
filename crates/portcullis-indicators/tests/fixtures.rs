//! The real STIX2 files of ../shared/fixtures: every one loads, with pinned counts per type.
//! Skipped (with a message) on a clone without the shared folder.

use std::path::PathBuf;

use portcullis_indicators::{Indicators, IocType, MatchRule, indicator_files};

fn fixtures() -> Option<PathBuf> {
    portcullis_testkit::shared_fixture("")
}

use IocType::*;

/// (path under fixtures/, collection, values per type).
type Pinned = (&'static str, &'static str, &'static [(IocType, usize)]);

/// Every file has exactly one collection and no unsupported pattern.
const PINNED: &[Pinned] = &[
    (
        "indicators/AmnestyTech/investigations/master/2021-07-18_nso/pegasus.stix2",
        "Pegasus",
        &[
            (Domains, 1438),
            (Processes, 81),
            (Emails, 29),
            (FileNames, 1),
        ],
    ),
    (
        "indicators/AmnestyTech/investigations/master/2023-03-29_android_campaign/malware.stix2",
        "MercenarySpywareCampaign",
        &[(Domains, 2183), (FilePaths, 1), (AndroidPropertyNames, 3)],
    ),
    (
        "indicators/AmnestyTech/investigations/master/2024-05-02_wintego_helios/wintego_helios.stix2",
        "Wintego Helios",
        &[(Domains, 175)],
    ),
    (
        // Its seven `domain-name` values are IPv4 addresses: they compare as addresses.
        "indicators/AmnestyTech/investigations/master/2024-12-16_serbia_novispy/novispy.stix2",
        "NoviSpy",
        &[
            (IpAddresses, 7),
            (FilesSha256, 4),
            (AppCertHashes, 3),
            (AppIds, 4),
        ],
    ),
    (
        "indicators/mvt-project/mvt-indicators/main/2022-06-23_rcs_lab/rcs.stix2",
        "RCSLab",
        &[(Domains, 26), (FilesSha256, 9), (AppIds, 5)],
    ),
    (
        "indicators/mvt-project/mvt-indicators/main/2023-04-11_quadream/kingspawn.stix2",
        "KingSpawn",
        &[(Domains, 164), (Processes, 1), (FilePaths, 2)],
    ),
    (
        "indicators/mvt-project/mvt-indicators/main/2023-06_01_operation_triangulation/operation_triangulation.stix2",
        "OperationTriangulation",
        &[(Domains, 75), (Processes, 1), (Emails, 36)],
    ),
    (
        "indicators/mvt-project/mvt-indicators/main/2023-07-25_wyrmspy_dragonegg/wyrmspy_dragonegg.stix2",
        "WyrmSpy_DragonEgg",
        &[
            (Domains, 7),
            (IpAddresses, 5),
            (FilesSha256, 34),
            (AppIds, 7),
        ],
    ),
    (
        "indicators/mvt-project/mvt-indicators/main/2026-03-03_coruna_cryptowaters/coruna.stix2",
        "Coruna",
        &[
            (Domains, 177),
            (FileNames, 7),
            (FilePaths, 12),
            (FilesSha256, 20),
        ],
    ),
    (
        "indicators/mvt-project/mvt-indicators/main/2026-03-30_darksword/darksword.stix2",
        "DarkSword",
        &[
            (Domains, 10),
            (IpAddresses, 3),
            (FileNames, 7),
            (FilePaths, 22),
            (FilesSha256, 1),
        ],
    ),
    (
        "indicators/mvt-project/mvt-indicators/main/ResidentBat/residentbat.stix2",
        "ResidentBat",
        &[
            (IpAddresses, 24),
            (FilesSha256, 8),
            (AppCertHashes, 8),
            (AppIds, 8),
        ],
    ),
    (
        "indicators/mvt-project/mvt-indicators/main/candiru/candiru.stix2",
        "Candiru",
        &[(Domains, 125)],
    ),
    (
        "indicators/mvt-project/mvt-indicators/main/cellebrite/cellebrite.stix2",
        "Cellebrite",
        &[(AppIds, 1)],
    ),
    (
        "indicators/mvt-project/mvt-indicators/main/intellexa_predator/predator.stix2",
        "Predator",
        &[(Domains, 569), (FilePaths, 15), (IosProfileIds, 1)],
    ),
    (
        "mvt/stix2/cytrox.stix2",
        "Predator",
        &[(Domains, 336), (FilePaths, 6), (IosProfileIds, 1)],
    ),
    (
        "mvt/stix2/638cd3ee5e5f019f84f9e0ea.json",
        "Pegasus Forensic Traces per Target Identified in the Aftermath of the Pegasus Project \
         Revelations - Amnesty International",
        &[(Domains, 15), (Urls, 54)],
    ),
];

#[test]
fn every_fixture_loads_with_pinned_counts() {
    let Some(root) = fixtures() else { return };
    for (rel, collection, counts) in PINNED {
        let path = root.join(rel);
        let mut ind = Indicators::new();
        let file = ind
            .load_file(&path)
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
        let total: usize = counts.iter().map(|(_, n)| n).sum();
        assert_eq!(file.indicators, total, "{rel}");
        assert_eq!(ind.len(), total, "{rel}");
        assert!(file.unsupported.is_empty(), "{rel}: {:?}", file.unsupported);
        assert_eq!(file.collections, [*collection], "{rel}");
        assert_eq!(file.sha256.len(), 64, "{rel}");
        let got: Vec<(IocType, usize)> = ind.counts().into_iter().collect();
        assert_eq!(got, *counts, "{rel}");

        let summary = ind.collections_summary();
        assert_eq!(summary.len(), 1, "{rel}");
        assert_eq!(
            summary[0].file,
            path.file_name().unwrap().to_string_lossy(),
            "{rel}"
        );
        assert_eq!(summary[0].path, path, "{rel}");
        assert_eq!(summary[0].sha256, file.sha256, "{rel}");
    }
}

#[test]
fn every_stix2_file_is_pinned() {
    let Some(root) = fixtures() else { return };
    let found = indicator_files(&root.join("indicators")).expect("fixture folder");
    let found: Vec<String> = found
        .iter()
        .map(|p| {
            p.strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    let pinned: Vec<&str> = PINNED
        .iter()
        .map(|(rel, _, _)| *rel)
        .filter(|rel| rel.starts_with("indicators/"))
        .collect();
    assert_eq!(
        found, pinned,
        "indicators.yaml is neither .stix2 nor .json and is not listed"
    );
}

#[test]
fn folder_loads_in_sorted_order() {
    let Some(root) = fixtures() else { return };
    let mut ind = Indicators::new();
    let files = ind.load_path(&root.join("indicators")).expect("all load");
    assert_eq!(files.len(), 14);
    let paths: Vec<_> = files.iter().map(|f| f.path.clone()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    assert_eq!(ind.files().len(), 14);
    // Each file's collection keeps its own count even when values repeat across files.
    let per_file: usize = files.iter().map(|f| f.indicators).sum();
    assert_eq!(ind.len(), per_file);
    assert_eq!(ind.collections_summary().len(), 14);
}

#[test]
fn cytrox_and_otx() {
    let Some(root) = fixtures() else { return };
    let mut ind = Indicators::new();
    let files = ind.load_path(&root.join("mvt/stix2")).expect("both load");
    assert_eq!(files.len(), 2);
    assert_eq!(files[0].indicators, 69);
    assert_eq!(files[1].indicators, 343);

    let hit = ind
        .check_profile_id("76dab334-7e17-475d-a5d6-0794eb5818a5")
        .expect("profile hit");
    assert_eq!(hit.collection, "Predator");
    assert_eq!(hit.file, "cytrox.stix2");
    assert_eq!(hit.value, "76DAB334-7E17-475D-A5D6-0794EB5818A5");

    let hit = ind
        .check_url("https://sub.shortenurls.me/x")
        .expect("domain hit");
    assert_eq!(hit.rule, MatchRule::SubDomain);
    assert_eq!(hit.value, "shortenurls.me");

    let hit = ind
        .check_url("http://statsads.co/2dL8ARH")
        .expect("URL hit");
    assert!(hit.collection.starts_with("Pegasus Forensic Traces"));
    assert_eq!(hit.file, "638cd3ee5e5f019f84f9e0ea.json");

    let hit = ind
        .check_file_path("/private/var/tmp/hooker")
        .expect("path hit");
    assert_eq!(hit.ioc_type, FilePaths);
    assert!(ind.check_url("https://example.com/").is_none());
}
