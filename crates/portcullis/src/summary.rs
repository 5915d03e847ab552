//! The short human summary printed after a check.

use std::fmt::Write;
use std::path::Path;

use portcullis_report::{Level, PostureStatus, Report};

const LEVELS: [Level; 5] = [
    Level::Critical,
    Level::High,
    Level::Medium,
    Level::Low,
    Level::Informational,
];

fn device_line(report: &Report) -> String {
    let get = |k: &str| report.device.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let mut parts = Vec::new();
    if !get("name").is_empty() {
        parts.push(format!("\"{}\"", get("name")));
    }
    if !get("model").is_empty() {
        parts.push(get("model").to_string());
    }
    if !get("model_name").is_empty() {
        parts.push(get("model_name").to_string());
    }
    if !get("os_version").is_empty() {
        let os = if get("platform") == "android" {
            "Android"
        } else {
            "iOS"
        };
        parts.push(format!("{os} {} ({})", get("os_version"), get("build")));
    }
    if parts.is_empty() {
        "unknown device".to_string()
    } else {
        parts.join(", ")
    }
}

/// Renders the summary: device, indicators, modules, alerts by level, where the results are.
pub fn render(report: &Report, output_dir: &Path) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Portcullis check of {}", report.info.target_path);
    let _ = writeln!(s, "  Device:     {}", device_line(report));
    let indicators: usize = report.info.ioc_files.iter().map(|f| f.indicators).sum();
    let _ = writeln!(
        s,
        "  Indicators: {indicators} from {} file(s)",
        report.info.ioc_files.len()
    );
    let with_records = report.modules.iter().filter(|m| m.records > 0).count();
    let failed: Vec<_> = report
        .modules
        .iter()
        .filter(|m| m.error.is_some())
        .collect();
    let _ = writeln!(
        s,
        "  Modules:    {} run, {with_records} with records, {} failed",
        report.modules.len(),
        failed.len()
    );
    for level in LEVELS {
        let alerts: Vec<_> = report.alerts.iter().filter(|a| a.level == level).collect();
        if alerts.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n{level} ({})", alerts.len());
        for alert in alerts {
            let _ = writeln!(s, "  [{}] {}", alert.module, alert.message);
            if let Some(ind) = &alert.indicator {
                let field = alert.matched_field.as_deref().unwrap_or("value");
                let _ = writeln!(
                    s,
                    "      matched {field} = {} with indicator \"{}\" from \"{}\" ({})",
                    alert.matched_value.as_deref().unwrap_or(""),
                    ind.value,
                    ind.collection,
                    ind.file
                );
            }
            if let Some(src) = &alert.source {
                let _ = writeln!(s, "      in {src}");
            }
            if level >= Level::High {
                let _ = writeln!(s, "      what to do: {}", alert.advice);
            }
        }
    }
    let to_fix: Vec<_> = report
        .posture
        .iter()
        .filter(|p| p.status == PostureStatus::Fail)
        .collect();
    if !to_fix.is_empty() && report.max_level() < Some(Level::High) {
        let _ = writeln!(
            s,
            "\nTo make this phone safer ({} checks to fix):",
            to_fix.len()
        );
        for p in to_fix.iter().take(5) {
            let _ = writeln!(s, "  [{}] {}: {}", p.severity, p.title, p.advice);
        }
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(s, "\nParts of the input that were not checked:");
        for w in &report.warnings {
            let _ = writeln!(s, "  {w}");
        }
    }
    if !failed.is_empty() {
        let _ = writeln!(s, "\nCould not check (the rest of the check went on):");
        for m in failed {
            let _ = writeln!(s, "  {}: {}", m.name, m.error.as_deref().unwrap_or(""));
        }
    }
    let verdict = match report.max_level() {
        Some(l) if l >= Level::High => {
            "Signs of compromise were found. Keep the phone as it is and contact your security office."
        }
        Some(Level::Medium) => {
            "Nothing matched a known indicator, but some findings need an analyst's review."
        }
        _ => {
            "No known indicator matched. Public indicators cannot prove a phone is clean; stay alert."
        }
    };
    let _ = writeln!(s, "\nVerdict: {verdict}");
    let _ = writeln!(s, "Results:  {}", output_dir.display());
    let _ = writeln!(
        s,
        "Report:   {} (open it in a browser; it prints to PDF)",
        output_dir.join("report.html").display()
    );
    s
}
