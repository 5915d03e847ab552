//! Device security-posture audit: what a phone's settings say about how well it is protected,
//! with plain-language advice for its owner.
//!
//! - [`DeviceFacts`]: settings read from the evidence, each with its source file; a missing fact
//!   is `None` (unknown), never a default.
//! - Rules as data (`rules/ios.json`, `rules/android.json`), compiled in; the condition language
//!   is described in [`rules`] and `RULES.md`.
//! - [`currency::Snapshot`]: dated OS release data, bundled and replaceable.
//! - [`evaluate`]: runs the rules and returns [`PostureFinding`]s, worst first.

pub mod currency;
pub mod derive;
pub mod facts;
pub mod legacy;
pub mod rules;
pub mod version;

pub use currency::Snapshot;
pub use facts::{
    AdvancedProtection, App, DeviceFacts, Fact, PermissionGrant, Platform, Profile, ProfileEvent,
    known,
};
pub use portcullis_core::Level;
pub use portcullis_report::{PostureFinding, PostureStatus};

use rules::{FactTable, Truth};

const DEFAULT_PASS: &str = "No action needed.";
const DEFAULT_UNKNOWN: &str = "This could not be checked from this evidence. Ask the security \
                               office to check it on the phone itself.";

/// Checks `facts` against the rules of their platform, judging OS currency by `snapshot` on
/// `today`. Rules that do not apply (e.g. to this Android version) are left out; every other
/// rule gives one finding. Order: failures, then unknowns, then passes; each by severity.
pub fn evaluate(
    facts: &DeviceFacts,
    snapshot: &Snapshot,
    today: jiff::civil::Date,
) -> Vec<PostureFinding> {
    let table = derive::fact_table(facts, snapshot, today);
    let mut out: Vec<PostureFinding> = rules::for_platform(facts.platform)
        .iter()
        .filter_map(|rule| finding(rule, &table))
        .collect();
    sort_findings(&mut out);
    out
}

/// Sorts findings: fail, unknown, pass; then severity (highest first); then id.
pub fn sort_findings(findings: &mut [PostureFinding]) {
    let rank = |s: PostureStatus| match s {
        PostureStatus::Fail => 0,
        PostureStatus::Unknown => 1,
        PostureStatus::Pass => 2,
    };
    findings.sort_by(|a, b| {
        rank(a.status)
            .cmp(&rank(b.status))
            .then(b.severity.cmp(&a.severity))
            .then(a.id.cmp(&b.id))
    });
}

fn finding(rule: &rules::CompiledRule, table: &FactTable) -> Option<PostureFinding> {
    let r = &rule.rule;
    let applies = rule
        .applies_if
        .as_ref()
        .map_or(Truth::True, |c| c.eval(table));
    let status = match applies {
        Truth::False => return None,
        Truth::Unknown => PostureStatus::Unknown,
        Truth::True => match rule.fail_if.eval(table) {
            Truth::True => PostureStatus::Fail,
            Truth::False => PostureStatus::Pass,
            Truth::Unknown => PostureStatus::Unknown,
        },
    };
    let used: Vec<&str> = rule
        .fail_if
        .facts()
        .chain(rule.applies_if.iter().flat_map(|c| c.facts()))
        .collect();
    let mut sources: Vec<&str> = Vec::new();
    for name in &used {
        if let Some(f) = table.get(*name) {
            for s in f.source.split("; ") {
                if !s.is_empty() && !sources.contains(&s) {
                    sources.push(s);
                }
            }
        }
    }
    // `{matched}`: the list items that matched an `intersects`/`contains` clause of this rule.
    let mut table = std::borrow::Cow::Borrowed(table);
    let matched = rules::matched_items(&rule.fail_if, &table);
    table.to_mut().insert(
        "matched".into(),
        rules::FactValue {
            value: serde_json::json!(matched),
            source: String::new(),
        },
    );
    let table: &FactTable = &table;
    let (evidence, advice) = match status {
        PostureStatus::Fail | PostureStatus::Pass => {
            let mut evidence = rules::render(&r.evidence, table);
            // Sources the text already names (e.g. "OS data of …") are not repeated.
            sources.retain(|s| !evidence.contains(s));
            if !sources.is_empty() {
                evidence.push_str(&format!(" (from {})", sources.join("; ")));
            }
            let advice = match status {
                PostureStatus::Fail => rules::render(&r.advice, table),
                _ => r
                    .pass
                    .as_deref()
                    .map_or_else(|| DEFAULT_PASS.to_string(), |p| rules::render(p, table)),
            };
            (evidence, advice)
        }
        PostureStatus::Unknown => {
            let missing: Vec<&str> = used
                .iter()
                .copied()
                .filter(|n| table.get(*n).is_none_or(|f| f.value.is_null()))
                .collect();
            let mut evidence = format!("Unknown: this evidence does not show it ({}).", r.location);
            if !missing.is_empty() {
                evidence.push_str(&format!(" Missing: {}.", missing.join(", ")));
            }
            (
                evidence,
                r.unknown.clone().unwrap_or_else(|| DEFAULT_UNKNOWN.into()),
            )
        }
    };
    Some(PostureFinding {
        id: r.id.clone(),
        severity: r.severity,
        status,
        // A failing finding is titled by what is wrong, not by the state it should be in.
        title: match status {
            PostureStatus::Fail => r.fail_title.clone(),
            _ => r.title.clone(),
        },
        evidence,
        advice,
        guidance: r.guidance.clone(),
        artefact: r.artefact,
    })
}

/// Today's date (UTC), for callers that have no fixed analysis date.
pub fn today() -> jiff::civil::Date {
    jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
}
