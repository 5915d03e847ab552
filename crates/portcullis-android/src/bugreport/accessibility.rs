//! `dumpsys accessibility`: the accessibility services installed (older Android) or enabled
//! (Android 14 and later). Such a service can read the screen and act for the user, which is
//! what stalkerware and banking trojans use them for, so each one is reported.

use std::sync::LazyLock;

use portcullis_core::{Alert, Level, ModuleOutput, Results};
use portcullis_indicators::Indicators;
use regex::Regex;
use serde_json::{Value, json};

use super::{app_id_alert, text};

static BRACED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{([^{}]+)\}").expect("valid service pattern"));

/// `{package_name, service}` records. Older dumps list `N : pkg/class` lines inside
/// `installed services: { … }` (one block per user: every block is read, each service once);
/// Android 14+ lists `{pkg/class}` items on an `Enabled services:` line, and MVT then keeps only
/// the class as `service`.
pub(crate) fn parse(section: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut push = |package: &str, service: &str| {
        let record = json!({"package_name": package, "service": service});
        if !package.is_empty() && !out.contains(&record) {
            out.push(record);
        }
    };
    let mut in_installed = false;
    for line in section.lines() {
        let t = line.trim();
        if t.starts_with("installed services:") {
            in_installed = true;
        } else if in_installed {
            if t == "}" {
                in_installed = false;
            } else if let Some((_, service)) = t.split_once(':') {
                let service = service.trim();
                push(service.split('/').next().unwrap_or(""), service);
            }
        }
    }
    for line in section.lines() {
        if let Some(rest) = line.trim().strip_prefix("Enabled services:") {
            for c in BRACED.captures_iter(rest) {
                let (package, service) = c[1].split_once('/').unwrap_or((&c[1], ""));
                push(package.trim(), service.trim());
            }
        }
    }
    out
}

/// Records, and an alert per service: CRITICAL for a known malicious app, MEDIUM otherwise.
pub(crate) fn analyse(
    section: &str,
    indicators: &Indicators,
    slug: &str,
    source: &str,
) -> ModuleOutput {
    let records = parse(section);
    let mut out = ModuleOutput::default();
    for record in &records {
        let package = text(record, "package_name");
        let alert =
            app_id_alert(indicators, slug, package, "", record, source).unwrap_or_else(|| {
                let service = text(record, "service");
                Alert::heuristic(
                Level::Medium,
                slug,
                format!("Found accessibility service: \"{service}\""),
                "",
                record.clone(),
            )
            .with_advice(format!(
                "An accessibility service can read everything on the screen and act for the owner. \
                 Check in Settings > Accessibility that you recognise and need the one from \
                 \"{package}\"; if not, turn it off and remove the app."
            ))
            .with_field("service", service)
            .with_source(source)
            });
        out.alerts.push(alert);
    }
    out.results = Results::List(records);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bugreport::test_support::*;

    #[test]
    fn old_and_new_formats() {
        let Some(old) = fixture_text("dumpsys_accessibility.txt") else {
            return;
        };
        let records = parse(&old);
        assert_eq!(records.len(), 4);
        assert_eq!(records[0]["package_name"], "com.android.settings");
        assert_eq!(
            records[1]["service"],
            "com.samsung.accessibility/.universalswitch.UniversalSwitchService"
        );
        let out = analyse(&old, &app_ioc("com.sec.android.app.camera"), "s", "f");
        assert_eq!(
            (
                count(&out.alerts, Level::Medium),
                count(&out.alerts, Level::Critical)
            ),
            (3, 1)
        );

        let new = fixture_text("dumpsys_accessibility_v14_or_later.txt").unwrap();
        let records = parse(&new);
        assert_eq!(
            records,
            [
                json!({"package_name": "com.malware.accessibility", "service": "com.malware.service.malwareservice"})
            ]
        );
        let out = analyse(&new, &Indicators::new(), "s", "f");
        assert_eq!(
            out.alerts[0].message,
            "Found accessibility service: \"com.malware.service.malwareservice\""
        );
    }

    #[test]
    fn vendor_layouts_and_garbage() {
        // Two users, tabs, CRLF, a blank line inside the block.
        let dump = "User state[attributes:{id=0}\r\n\tinstalled services: {\r\n\t\t0 : a.b/.S\r\n\r\n\t\t1 : c.d/c.d.T\r\n\t}\r\n\
                    User state[attributes:{id=10}\n  installed services: {\n    0 : a.b/.S\n  }\n\
                    Enabled services:{{e.f/e.f.U}, {g.h/.V}}\n";
        let names: Vec<_> = parse(dump)
            .iter()
            .map(|r| text(r, "package_name").to_string())
            .collect();
        assert_eq!(names, ["a.b", "c.d", "e.f", "g.h"]);
        assert!(parse("installed services: {\nno colon here\n: \n").is_empty());
        assert!(parse("Enabled services:{{}} {/x}").is_empty());
        assert!(parse(&"{".repeat(10_000)).is_empty());
    }
}
