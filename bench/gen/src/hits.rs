//! Compares the indicator hits two checkers reported with the planted ones: Portcullis's
//! `report.json` (alerts with `indicator.value`) and MVT's `alerts.json` (alerts with
//! `matched_indicator.value`).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// `(module, indicator value)` of every indicator alert in a results folder.
pub fn found(results: &Path) -> Result<(BTreeSet<(String, String)>, usize)> {
    let report = results.join("report.json");
    let (alerts, key) = if report.exists() {
        let v: Value = serde_json::from_slice(&std::fs::read(&report)?)
            .with_context(|| format!("parsing {}", report.display()))?;
        (
            v["alerts"].as_array().cloned().unwrap_or_default(),
            "indicator",
        )
    } else {
        let path = results.join("alerts.json");
        let v: Value = serde_json::from_slice(
            &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("parsing {}", path.display()))?;
        (
            v.as_array().cloned().unwrap_or_default(),
            "matched_indicator",
        )
    };
    let hits = alerts
        .iter()
        .filter_map(|a| {
            let value = a[key]["value"].as_str()?;
            Some((
                a["module"].as_str().unwrap_or("").to_string(),
                value.to_string(),
            ))
        })
        .collect();
    Ok((hits, alerts.len()))
}

/// A summary of one tool's results against the planted hits.
pub fn summary(expected: &[Value], results: &Path) -> Result<Value> {
    let (hits, alerts) = found(results)?;
    let want: BTreeSet<(String, String)> = expected
        .iter()
        .map(|e| {
            (
                e["module"].as_str().unwrap_or("").to_string(),
                e["indicator"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let missing: Vec<String> = want
        .difference(&hits)
        .map(|(m, v)| format!("{m}:{v}"))
        .collect();
    let extra: Vec<String> = hits
        .difference(&want)
        .map(|(m, v)| format!("{m}:{v}"))
        .collect();
    Ok(json!({
        "planted": want.len(),
        "found": want.len() - missing.len(),
        "missing": missing,
        "extra": extra,
        "alerts": alerts,
    }))
}
