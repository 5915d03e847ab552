//! `recheck`: an earlier check's saved records matched again against today's indicators,
//! without the evidence. When a campaign is disclosed after a phone was checked, its new
//! indicators are looked up in the records that check kept (messages' links, visited sites,
//! processes, apps, files); alerts the earlier check already raised are told apart from new
//! ones. Works on results folders written by Portcullis and by MVT (the same module slugs and
//! record fields). Which fields are matched is the table in [`rules`] (docs/recheck.md).
//!
//! Only indicator checks run: heuristics judge the evidence itself (a process missing from a
//! list, a setting) and their alerts stay in the earlier report.

mod changes;
mod earlier;
mod rules;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use portcullis_core::Alert;
use portcullis_evidence::{Evidence, EvidenceError, FolderEvidence};
use portcullis_report::sink::{ResultsDir, SinkError};
use portcullis_report::{
    Coverage, FileHash, IndicatorChange, InputKind, ModuleSummary, Recheck, Report, RunInfo,
    WithdrawnAlert,
};
use serde_json::Value;

use crate::LoadedIndicators;
use earlier::{Earlier, EarlierAlert};

/// Most alerts one module's file may raise in a re-check (a bundle matching every record of a
/// large history would otherwise fill memory).
const MAX_ALERTS_PER_MODULE: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum RecheckError {
    #[error(
        "{0}: not a results folder (no report.json by Portcullis, no info.json by MVT, and no \
         module results such as sms.json)"
    )]
    NotResults(PathBuf),
    #[error("{0} holds a re-check; re-check the results folder it was made from")]
    IsRecheck(PathBuf),
    #[error("{file}: damaged, cannot be read as JSON ({reason})")]
    Damaged { file: PathBuf, reason: String },
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    #[error(
        "the re-check's folder {0} already exists; wait a second or choose another with --output"
    )]
    OutputExists(PathBuf),
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// A finished re-check, also written to its folder.
pub struct Rechecked {
    pub report: Report,
    pub output_dir: PathBuf,
}

/// The folder a re-check of `results` writes by default: `recheck-<UTC time>` inside it,
/// beside the earlier results.
pub fn default_output(results: &Path, now: &str) -> PathBuf {
    let stamp: String = changes::stamp(now)
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    results.join(format!("recheck-{stamp}Z"))
}

/// Re-checks the results folder `results` against `indicators`, writing report.json,
/// alerts.json and report.html into `output` (which must not exist yet).
pub fn recheck(
    results: &Path,
    indicators: &LoadedIndicators,
    output: &Path,
) -> Result<Rechecked, RecheckError> {
    let started = portcullis_report::time::now();
    let folder = FolderEvidence::new(results);
    let earlier = earlier::read(&folder)?;
    let mut warnings = Vec::new();
    let (modules, alerts) = match_records(&folder, &indicators.indicators, &mut warnings)?;
    warnings.splice(0..0, folder.refused());

    let files: Vec<&Path> = indicators
        .indicators
        .files()
        .iter()
        .map(|f| f.path.as_path())
        .collect();
    let (dated, date_warnings) = changes::read(&files);
    warnings.extend(date_warnings);
    warnings.extend(indicators.warnings.iter().cloned());
    let section = compare(&earlier, &alerts, &modules, &dated, &started, results);
    let (new, old): (Vec<Alert>, Vec<Alert>) = alerts
        .into_iter()
        .partition(|a| !reported_before(a, &earlier.alerts));
    let new_alerts = new.len();
    let alerts: Vec<Alert> = new.into_iter().chain(old).collect();

    let hashes = folder
        .hashes()
        .into_iter()
        .map(|(rel, sha256)| FileHash {
            file_path: results.join(rel).display().to_string(),
            sha256,
        })
        .collect();
    let coverage = Coverage::assess(&modules, warnings.len(), None);
    let report = Report {
        schema_version: 1,
        info: RunInfo {
            tool: "portcullis".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            target_path: std::fs::canonicalize(results)
                .unwrap_or_else(|_| results.to_path_buf())
                .display()
                .to_string(),
            input_kind: InputKind::Results,
            started,
            finished: portcullis_report::time::now(),
            ioc_files: crate::ioc_files(indicators),
            indicators_note: indicators.note.clone(),
            hashes,
        },
        device: earlier.device.clone(),
        modules,
        alerts,
        posture: Vec::new(),
        os_data: None,
        warnings,
        coverage,
        network: None,
        recheck: Some(Recheck {
            new_alerts,
            ..section
        }),
    };
    if output.exists() {
        return Err(RecheckError::OutputExists(output.to_path_buf()));
    }
    let dir = ResultsDir::create(output)?;
    dir.write_json("alerts.json", &report.alerts)?;
    dir.write_json("report.json", &report)?;
    dir.write_html(&report)?;
    Ok(Rechecked {
        report,
        output_dir: output.to_path_buf(),
    })
}

/// Every module results file of the folder matched by its rules: the module summaries (those
/// without rules are listed as skipped) and the alerts, in file order.
fn match_records(
    folder: &FolderEvidence,
    indicators: &portcullis_indicators::Indicators,
    warnings: &mut Vec<String>,
) -> Result<(Vec<ModuleSummary>, Vec<Alert>), RecheckError> {
    let mut modules = Vec::new();
    let mut alerts = Vec::new();
    for entry in folder.list()? {
        let Some(slug) = module_file(&entry.path) else {
            continue;
        };
        let mut summary = ModuleSummary {
            slug: slug.to_string(),
            records: 0,
            alerts: 0,
            error: None,
            skipped: None,
        };
        let Some(rules) = rules::for_slug(slug) else {
            summary.skipped = Some("its records hold no value an indicator describes".into());
            modules.push(summary);
            continue;
        };
        let mut found = Vec::new();
        let read = earlier::for_each_record(folder, &entry.path, |record| {
            summary.records += 1;
            if found.len() < MAX_ALERTS_PER_MODULE
                && let Some(alert) = match_record(
                    rules,
                    slug,
                    &entry.path,
                    summary.records,
                    record,
                    indicators,
                )
            {
                found.push(alert);
            }
        });
        if let Err(e) = read {
            summary.error = Some(e.to_string());
            warnings.push(e.to_string());
        }
        if found.len() == MAX_ALERTS_PER_MODULE {
            warnings.push(format!(
                "{}: more than {MAX_ALERTS_PER_MODULE} records matched; the first are listed",
                entry.path
            ));
        }
        summary.alerts = found.len();
        alerts.extend(found);
        modules.push(summary);
    }
    Ok((modules, alerts))
}

/// The slug of a module's results file (`sms.json`), not of the folder's other files.
fn module_file(path: &str) -> Option<&str> {
    let slug = path.strip_suffix(".json")?;
    let other = slug.contains('/')
        || slug.ends_with("_detected")
        || matches!(slug, "report" | "info" | "alerts" | "urls");
    (!other).then_some(slug)
}

/// The alert of record `number` of `file`, when one of its fields matches: the first field
/// of the rules that does.
fn match_record(
    rules: &rules::ModuleRules,
    slug: &str,
    file: &str,
    number: usize,
    record: Value,
    indicators: &portcullis_indicators::Indicators,
) -> Option<Alert> {
    let (field, hit) = rules.fields.iter().find_map(|field| {
        values(&record, field.path)
            .into_iter()
            .find_map(|v| field.check.lookup(indicators, v))
            .map(|hit| (field.path.replace("[]", ""), hit))
    })?;
    let time = rules
        .time
        .iter()
        .find_map(|k| record.get(*k).and_then(Value::as_str))
        .unwrap_or("")
        .to_string();
    Some(
        Alert::indicator(rules.level, slug, hit, &field, time, record)
            .with_source(format!("{file}, record {number}")),
    )
}

/// The strings at `path` in `record` (see [`rules::Field`]); a list of strings gives each.
fn values<'v>(record: &'v Value, path: &str) -> Vec<&'v str> {
    let mut at = vec![record];
    for part in path.split('.') {
        let (key, every) = match part.strip_suffix("[]") {
            Some(key) => (key, true),
            None => (part, false),
        };
        at = at
            .into_iter()
            .filter_map(|v| match key.parse::<usize>() {
                Ok(i) => v.get(i),
                Err(_) => v.get(key),
            })
            .flat_map(|v| match (every, v) {
                (true, Value::Array(items)) => items.iter().collect(),
                (true, _) => Vec::new(),
                (false, v) => vec![v],
            })
            .collect();
    }
    at.into_iter()
        .flat_map(|v| match v {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// Whether the earlier check raised `alert` already: the same module, indicator value and
/// record.
fn reported_before(alert: &Alert, earlier: &[EarlierAlert]) -> bool {
    let Some(hit) = &alert.indicator else {
        return false;
    };
    earlier.iter().any(|e| {
        e.module == alert.module
            && e.indicator
                .as_ref()
                .is_some_and(|(_, value)| *value == hit.value)
            && (e.event == alert.event
                || (e.matched_value.is_some() && e.matched_value == alert.matched_value))
    })
}

/// The re-check's section of the report (without `new_alerts`, counted by the caller).
fn compare(
    earlier: &Earlier,
    alerts: &[Alert],
    modules: &[ModuleSummary],
    dated: &HashMap<String, changes::Dated>,
    now: &str,
    results: &Path,
) -> Recheck {
    let since = earlier.checked_at.as_deref();
    let (mut added, mut withdrawn) = (0, 0);
    if let Some(since) = since {
        for d in dated.values() {
            added += usize::from(d.added_since(since));
            withdrawn += usize::from(d.withdrawn_since(since, now));
        }
    }
    let matched_ids: BTreeSet<&str> = alerts
        .iter()
        .filter_map(|a| a.indicator.as_ref())
        .map(|i| i.stix.id.as_str())
        .collect();
    let added_and_matched = matched_ids
        .iter()
        .filter_map(|id| Some((*id, dated.get(*id)?)))
        .filter(|(_, d)| since.is_some_and(|s| d.added_since(s)))
        .map(|(id, d)| IndicatorChange {
            id: id.to_string(),
            pattern: d.pattern.clone(),
            when: d.created.clone(),
            file: d.file.clone(),
        })
        .collect();
    let rechecked: BTreeSet<&str> = modules
        .iter()
        .filter(|m| m.skipped.is_none() && m.error.is_none())
        .map(|m| m.slug.as_str())
        .collect();
    let withdrawn_alerts = earlier
        .alerts
        .iter()
        .filter(|e| e.indicator.is_some() && rechecked.contains(e.module.as_str()))
        .filter_map(|e| {
            let (_, value) = e.indicator.as_ref()?;
            let still = alerts.iter().any(|a| {
                a.module == e.module && a.indicator.as_ref().is_some_and(|i| i.value == *value)
            });
            if still {
                return None;
            }
            let why = e
                .indicator_id
                .as_ref()
                .and_then(|id| dated.get(id))
                .and_then(|d| d.withdrawn_at(now))
                .unwrap_or("no indicator loaded today matches it");
            Some(WithdrawnAlert {
                module: e.module.clone(),
                message: e.message.clone(),
                indicator: value.clone(),
                indicator_id: e.indicator_id.clone(),
                why: why.to_string(),
            })
        })
        .collect();
    Recheck {
        results_dir: results.display().to_string(),
        written_by: earlier.writer.as_str().to_string(),
        checked_at: earlier.checked_at.clone(),
        earlier_indicator_files: earlier.ioc_files.clone(),
        earlier_alerts: earlier.alerts.len(),
        new_alerts: 0,
        indicators_added: added,
        indicators_withdrawn: withdrawn,
        added_and_matched,
        withdrawn_alerts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_follow_paths() {
        let r = json!({"links": ["a", "b"], "files": [{"sha256": "x"}, {"sha256": "y"}],
                       "command_line": ["/bin/sh", "-c"], "plist": {"PayloadUUID": "u"}});
        assert_eq!(values(&r, "links"), ["a", "b"]);
        assert_eq!(values(&r, "files[].sha256"), ["x", "y"]);
        assert_eq!(values(&r, "command_line.0"), ["/bin/sh"]);
        assert_eq!(values(&r, "plist.PayloadUUID"), ["u"]);
        assert!(values(&r, "missing.key").is_empty());
        assert!(values(&r, "plist[]").is_empty());
    }

    #[test]
    fn only_module_results_are_read() {
        assert_eq!(module_file("sms.json"), Some("sms"));
        for other in [
            "report.json",
            "alerts.json",
            "sms_detected.json",
            "recheck-1/report.json",
            "timeline.csv",
        ] {
            assert_eq!(module_file(other), None, "{other}");
        }
    }
}
