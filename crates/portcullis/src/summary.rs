//! The short human summary printed after a check.

use std::fmt::Write;
use std::path::Path;

use portcullis_core::Level;
use portcullis_report::{CoverageStatus, NetworkSummary, PostureStatus, Report};

/// Posture fixes and warnings listed in the summary; the rest are in report.html / report.json.
const FIXES_SHOWN: usize = 5;
const WARNINGS_SHOWN: usize = 10;
/// Alerts of a network check listed per level (a busy indicator hits thousands of lines).
const NETWORK_ALERTS_SHOWN: usize = 20;
/// Devices and contacts listed in a network check's summary.
const NETWORK_ROWS_SHOWN: usize = 10;

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
    match &report.network {
        Some(net) => network_lines(&mut s, net),
        None => {
            let _ = writeln!(s, "  Device:     {}", report.device.line());
        }
    }
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
        let shown = match report.network {
            Some(_) => NETWORK_ALERTS_SHOWN,
            None => usize::MAX,
        };
        if alerts.len() > shown {
            let _ = writeln!(
                s,
                "  (the first {shown}; all {} are in report.html and alerts.json)",
                alerts.len()
            );
        }
        for alert in alerts.into_iter().take(shown) {
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
            // A network check's alerts share one piece of advice, said once below.
            if level >= Level::High && report.network.is_none() {
                let _ = writeln!(s, "      what to do: {}", alert.advice);
            }
        }
        if level >= Level::High
            && report.network.is_some()
            && let Some(first) = report.alerts.iter().find(|a| a.level == level)
        {
            let _ = writeln!(s, "  What to do: {}", first.advice);
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
    if let Some(net) = &report.network {
        who_lines(&mut s, net);
    }
    let verdict = match (report.max_level(), coverage.status) {
        (Some(l), _) if l >= Level::High && report.network.is_some() => {
            "A device on this network contacted infrastructure named by an indicator. Find it \
             (above), keep these logs, and have that phone checked."
        }
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

/// What the logs of a network check came to, in two lines.
fn network_lines(s: &mut String, net: &NetworkSummary) {
    let read = net.files.iter().filter(|f| f.error.is_none()).count();
    let _ = writeln!(
        s,
        "  Logs:       {read} of {} file(s) read: {} lines, {} records, {} malformed, in {:.1} s \
         ({} lines/s)",
        net.files.len(),
        net.lines,
        net.records,
        net.malformed,
        net.seconds,
        net.lines_per_second
    );
    let _ = writeln!(
        s,
        "  Clients:    {}{} address(es) seen; {} DHCP lease(s){}",
        net.clients_seen,
        if net.clients_over_cap { "+" } else { "" },
        net.leases_seen,
        match &net.devices_file {
            Some(file) => format!("; devices from {file}"),
            None => String::new(),
        }
    );
    for file in net.files.iter().filter(|f| f.malformed > 0) {
        let _ = writeln!(s, "  Malformed:  {}: {} line(s)", file.file, file.malformed);
        for note in file.malformed_lines.iter().take(3) {
            let _ = writeln!(s, "                {note}");
        }
    }
}

/// Whom the alerts of a network check are about, and each indicator's first and last contact.
fn who_lines(s: &mut String, net: &NetworkSummary) {
    if net.by_device.is_empty() {
        return;
    }
    let _ = writeln!(s, "\nAlerts by device:");
    for group in net.by_device.iter().take(NETWORK_ROWS_SHOWN) {
        let who = match (&group.device, &group.owner) {
            (Some(device), Some(owner)) => format!("{device} ({owner})"),
            (Some(device), None) => device.clone(),
            (None, _) => "not tied to a device".to_string(),
        };
        let _ = writeln!(
            s,
            "  {who}: {} alert(s) from {}; matched {}",
            group.alerts,
            group.clients.join(", "),
            group.indicators.join(", ")
        );
    }
    let _ = writeln!(s, "\nContacts with each indicator (first and last, UTC):");
    for contact in net.contacts.iter().take(NETWORK_ROWS_SHOWN) {
        let _ = writeln!(
            s,
            "  {} from {}: {} time(s), {} to {} [{}]",
            contact.indicator,
            contact.client.as_deref().unwrap_or("an unknown client"),
            contact.contacts,
            contact.first.as_deref().unwrap_or("?"),
            contact.last.as_deref().unwrap_or("?"),
            contact.collection
        );
    }
    if net.contacts.len() > NETWORK_ROWS_SHOWN {
        let _ = writeln!(
            s,
            "  … and {} more in report.html",
            net.contacts.len() - NETWORK_ROWS_SHOWN
        );
    }
}
