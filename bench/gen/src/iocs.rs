//! Synthetic STIX 2.1 indicator bundles: N domains, URLs, process names and app ids, plus the
//! planted values, in the shape MVT and Portcullis both read (one `malware`, and per value an
//! `indicator` with an `indicates` relationship to it, as
//! [`portcullis_indicators::test_bundle_json`] writes them), written compactly so a million
//! indicators stay a few hundred megabytes.

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Result;
use serde_json::json;

use crate::plants;
use crate::pools::{self, IOC_TLDS};
use crate::rng::Rng;

/// How many of each kind.
#[derive(Clone, Copy, Debug)]
pub struct Counts {
    pub domains: usize,
    pub urls: usize,
    pub processes: usize,
    pub app_ids: usize,
}

const CREATED: &str = "2024-01-01T00:00:00.000Z";

fn id(kind: &str, n: usize) -> String {
    format!("{kind}--00000000-0000-4000-8000-{n:012x}")
}

/// `n` distinct made-up domain names (none an everyday site nor a planted value).
pub fn domains(rng: &mut Rng, n: usize) -> Vec<String> {
    let mut seen = HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let syl = 2 + rng.below(3) as usize;
        let mut name = pools::made_up(rng, syl);
        if rng.chance(0.4) {
            name.push_str(&format!("{}", rng.below(1000)));
        } else if rng.chance(0.3) {
            name.push('-');
            name.push_str(&pools::made_up(rng, 2));
        }
        let d = format!("{name}.{}", rng.pick(IOC_TLDS));
        if seen.insert(d.clone()) {
            out.push(d);
        }
    }
    out
}

/// Writes the bundle; returns how many indicators it holds.
pub fn write_bundle(path: &Path, counts: Counts, seed: u64) -> Result<usize> {
    let mut rng = Rng::new(seed, "iocs");
    let mut patterns: Vec<String> =
        Vec::with_capacity(counts.domains + counts.urls + counts.processes + counts.app_ids + 5);
    // Planted values first, so they are in every bundle whatever the counts.
    patterns.push(format!("[domain-name:value = '{}']", plants::SMS_DOMAIN));
    patterns.push(format!(
        "[domain-name:value = '{}']",
        plants::MANIFEST_DOMAIN
    ));
    patterns.push(format!("[url:value = '{}']", plants::SAFARI_URL));
    patterns.push(format!("[process:name = '{}']", plants::PROCESS));
    patterns.push(format!("[app:id = '{}']", plants::ANDROID_APP_ID));
    for d in domains(&mut rng, counts.domains) {
        patterns.push(format!("[domain-name:value = '{d}']"));
    }
    // URLs on hosts of their own (`cdn-…`), so a URL indicator is not also a domain one.
    for k in 0..counts.urls {
        patterns.push(format!(
            "[url:value = 'https://cdn-{}.{}/{}/{}/{k}.js']",
            pools::made_up(&mut rng, 3),
            rng.pick(IOC_TLDS),
            pools::made_up(&mut rng, 2),
            rng.hex(12)
        ));
    }
    // Daemon-like names, at most 15 characters (16-character names match by prefix too).
    let mut seen = HashSet::new();
    while seen.len() < counts.processes {
        let syl = 2 + rng.below(3) as usize;
        let mut p = pools::made_up(&mut rng, syl);
        p.push('d');
        p.truncate(15);
        if seen.insert(p.clone()) {
            patterns.push(format!("[process:name = '{p}']"));
        }
    }
    for k in 0..counts.app_ids {
        patterns.push(format!(
            "[app:id = 'com.{}.{}{k}']",
            pools::made_up(&mut rng, 2),
            pools::made_up(&mut rng, 2)
        ));
    }

    let file = std::fs::File::create(path)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let malware = id("malware", 0);
    write!(
        w,
        "{{\"type\":\"bundle\",\"id\":\"{}\",\"objects\":[",
        id("bundle", 0)
    )?;
    serde_json::to_writer(
        &mut w,
        &json!({"type": "malware", "spec_version": "2.1", "id": malware, "created": CREATED,
                "modified": CREATED, "name": "SyntheticSpyware", "is_family": false}),
    )?;
    for (i, pattern) in patterns.iter().enumerate() {
        let ind = id("indicator", i + 1);
        w.write_all(b",\n")?;
        serde_json::to_writer(
            &mut w,
            &json!({"type": "indicator", "spec_version": "2.1", "id": ind, "created": CREATED,
                    "modified": CREATED, "indicator_types": ["malicious-activity"],
                    "pattern": pattern, "pattern_type": "stix", "pattern_version": "2.1",
                    "valid_from": CREATED}),
        )?;
        w.write_all(b",\n")?;
        serde_json::to_writer(
            &mut w,
            &json!({"type": "relationship", "spec_version": "2.1", "id": id("relationship", i + 1),
                    "created": CREATED, "modified": CREATED, "relationship_type": "indicates",
                    "source_ref": ind, "target_ref": malware}),
        )?;
    }
    w.write_all(b"]}\n")?;
    w.flush()?;
    Ok(patterns.len())
}

/// A stand-in for the Pegasus bundle when the real one is not at hand: a "Pegasus" collection
/// of made-up domains and daemon names (same shape, about the same size).
pub fn write_pegasus_standin(path: &Path, seed: u64) -> Result<()> {
    let mut rng = Rng::new(seed, "pegasus-standin");
    let mut patterns: Vec<String> = domains(&mut rng, 1_400)
        .into_iter()
        .map(|d| format!("[domain-name:value='pg{d}']"))
        .collect();
    for k in 0..80 {
        patterns.push(format!(
            "[process:name='{}{k}d']",
            pools::made_up(&mut rng, 2)
        ));
    }
    let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
    std::fs::write(
        path,
        portcullis_indicators::test_bundle_json("Pegasus", &refs),
    )?;
    Ok(())
}
