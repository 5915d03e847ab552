//! The short human summary printed after a check.

use std::fmt::Write;
use std::path::Path;

use portcullis_core::Level;
use portcullis_report::{CoverageStatus, PostureStatus, Report};

/// Posture fixes and warnings listed in the summary; the rest are in report.html / report.json.
const FIXES_SHOWN: usize = 5;
const WARNINGS_SHOWN: usize = 10;

const LEVELS: [Level; 5] = [
    Level::Critical,
    Level::High,
    Level::Medium,
    Level::Low,
    Level::Informational,
];

/// Renders the summary: device, indicators, modules, alerts by level, where the results are.
pub fn render(report: &Report, output_dir: &Path) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Portcullis check of {}", report.info.target_path);
    let _ = writeln!(s, "  Device:     {}", report.device.line());
    let indicators: usize = report.info.ioc_files.iter().map(|f| f.indicators).sum();
    let left_out: usize = report
        .info
        .ioc_files
        .iter()
        .map(|f| f.left_out_revoked + f.left_out_expired)
        .sum();
    let _ = write!(
        s,
        "  Indicators: {indicators} from {} file(s)",
        report.info.ioc_files.len()
    );
    if left_out > 0 {
        let _ = write!(
            s,
            "; {left_out} revoked or expired left out (--include-expired uses them)"
        );
    }
    s.push('\n');
    if let Some(note) = &report.info.indicators_note {
        let _ = writeln!(s, "              {note}");
    }
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
    let coverage = &report.coverage;
    let _ = writeln!(
        s,
        "  Coverage:   {} — {}",
        coverage.status.as_str(),
        coverage.explanation
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
                    "      matched {field} = {} with indicator \"{}\" ({}) from \"{}\" ({})",
                    alert.matched_value.as_deref().unwrap_or(""),
                    ind.value,
                    if ind.stix.id.is_empty() {
                        "no id"
                    } else {
                        &ind.stix.id
                    },
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
        let shown = to_fix.len().min(FIXES_SHOWN);
        let heading = if shown < to_fix.len() {
            format!(
                "{} checks to fix; the {shown} most urgent here, all of them in report.html",
                to_fix.len()
            )
        } else {
            format!("{} checks to fix", to_fix.len())
        };
        let _ = writeln!(s, "\nTo make this phone safer ({heading}):");
        for p in to_fix.iter().take(FIXES_SHOWN) {
            let _ = writeln!(s, "  [{}] {}: {}", p.severity, p.title, p.advice);
        }
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(
            s,
            "\nParts of the input that were not checked, and other warnings:"
        );
        for w in report.warnings.iter().take(WARNINGS_SHOWN) {
            let _ = writeln!(s, "  {w}");
        }
        if report.warnings.len() > WARNINGS_SHOWN {
            let _ = writeln!(
                s,
                "  … and {} more, listed in report.json and report.html",
                report.warnings.len() - WARNINGS_SHOWN
            );
        }
    }
    if !failed.is_empty() {
        let _ = writeln!(s, "\nCould not check (the rest of the check went on):");
        for m in failed {
            let _ = writeln!(s, "  {}: {}", m.slug, m.error.as_deref().unwrap_or(""));
        }
    }
    let verdict = match (report.max_level(), coverage.status) {
        (Some(l), _) if l >= Level::High => {
            "Signs of compromise were found. Keep the phone as it is and contact your security office."
        }
        (_, CoverageStatus::Incomplete) => {
            "INCOMPLETE: the check could not read what it needs, so finding nothing here says \
             nothing about the phone. Fix the problem above (or make a new acquisition) and check \
             again."
        }
        (Some(Level::Medium), CoverageStatus::Partial) => {
            "Nothing matched a known indicator in what could be read, but some findings need an \
             analyst's review and parts of the input could not be checked (listed above)."
        }
        (Some(Level::Medium), _) => {
            "Nothing matched a known indicator, but some findings need an analyst's review."
        }
        (_, CoverageStatus::Partial) => {
            "No known indicator matched in what could be read, but parts of the input could not \
             be checked (listed above). Public indicators cannot prove a phone is clean; stay alert."
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
