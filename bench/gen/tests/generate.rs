//! The generator is deterministic, and Portcullis finds exactly the planted hits in what it
//! writes (a small scale, so this runs with the workspace tests).

use std::collections::BTreeSet;
use std::path::Path;

use portcullis_bench_gen::plants::{self, Pegasus};
use portcullis_bench_gen::{android, iocs, ios};
use portcullis_indicators::Indicators;
use portcullis_ios::{Backup, Context};

const SMALL: ios::Scale = ios::Scale {
    messages: 900,
    visits: 600,
    processes: 60,
    manifest: 400,
};

fn files(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn same_seed_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let a = ios::generate(&dir.path().join("a"), SMALL, 7, &Pegasus::default()).unwrap();
    let b = ios::generate(&dir.path().join("b"), SMALL, 7, &Pegasus::default()).unwrap();
    let c = ios::generate(&dir.path().join("c"), SMALL, 8, &Pegasus::default()).unwrap();
    assert_eq!(files(&a.root), files(&b.root));
    assert_ne!(files(&a.root), files(&c.root));
    assert_eq!(a.manifest_rows, SMALL.manifest);

    iocs::write_bundle(&dir.path().join("x.stix2"), counts(), 7).unwrap();
    iocs::write_bundle(&dir.path().join("y.stix2"), counts(), 7).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("x.stix2")).unwrap(),
        std::fs::read(dir.path().join("y.stix2")).unwrap()
    );
    android::generate(&dir.path().join("br"), 50, 7).unwrap();
    let dumpstate = std::fs::read_to_string(dir.path().join("br/dumpstate.txt")).unwrap();
    assert_eq!(dumpstate.matches("  Package [").count(), 50);
    assert!(dumpstate.contains(&format!("Package [{}]", plants::ANDROID_APP_ID)));
}

fn counts() -> iocs::Counts {
    iocs::Counts {
        domains: 500,
        urls: 5,
        processes: 5,
        app_ids: 5,
    }
}

#[test]
fn portcullis_finds_exactly_the_planted_hits() {
    let dir = tempfile::tempdir().unwrap();
    let written = ios::generate(&dir.path().join("backup"), SMALL, 5, &Pegasus::default()).unwrap();
    let bundle = dir.path().join("synthetic.stix2");
    let n = iocs::write_bundle(&bundle, counts(), 5).unwrap();
    let mut indicators = Indicators::new();
    indicators.load_file(&bundle).unwrap();
    assert_eq!(indicators.len(), n);

    let backup = Backup::open(&written.root).unwrap();
    let ctx = Context {
        backup: &backup,
        indicators: &indicators,
        spool: None,
    };
    let modules = portcullis_ios::modules::all();
    let runs = portcullis_ios::run_modules(&ctx, &modules, &Default::default());
    let mut found = BTreeSet::new();
    let mut records = 0;
    for run in &runs {
        if let Ok(out) = &run.outcome {
            if ["sms", "safari_history", "datausage", "manifest"].contains(&run.slug) {
                records += out.results.len();
            }
            for alert in &out.alerts {
                if let Some(hit) = &alert.indicator {
                    found.insert((run.slug.to_string(), hit.value.clone()));
                }
            }
        }
    }
    let expected: BTreeSet<(String, String)> = plants::expected(&Pegasus::default(), true)
        .iter()
        .map(|e| {
            (
                e["module"].as_str().unwrap().to_string(),
                e["indicator"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(found, expected);
    // Messages without a handle are kept; DataUsage adds usage rows and placeholders.
    assert!(
        records >= SMALL.messages + SMALL.visits + SMALL.manifest,
        "{records}"
    );
}
