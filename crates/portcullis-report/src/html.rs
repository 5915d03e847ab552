//! `report.html`: one self-contained page for the phone's owner and the security office.
//!
//! No script, no external request (a Content-Security-Policy forbids both), readable on a phone
//! and printable to PDF. It leads with a verdict in plain words; when an alert at HIGH or above
//! exists it then gives incident steps instead of hardening tips. Every value from the evidence
//! is escaped: phone data is hostile.
//!
//! A check that could not read everything says so before anything else: an incomplete check
//! (its main artifact unreadable) never shows the reassuring verdict, and `#not-checked` lists
//! the modules that failed and the files refused.
//!
//! Stable hooks for tests and styling: `#verdict` (`.v-incident|incomplete|attention|clear`),
//! `#not-checked`, `#incident-steps` or `#hardening`, `#alerts` (`.alert`), `#posture`
//! (`.check`, `.status-fail|unknown|pass`), `#timeline`, `#device`, `#indicators`, `#os-data`,
//! `#limits`.

use std::fmt::Write;

use crate::{
    CoverageStatus, NetworkSummary, Platform, PostureFinding, PostureStatus, Recheck, Report,
};
use portcullis_core::{Alert, Level};

/// Most warnings listed in `#not-checked`; report.json has them all.
const WARNINGS_SHOWN: usize = 200;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters (other than tab/newline) have no business in a report.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root{--fg:#111;--muted:#444;--bg:#fff;--line:#c8c8c8;--crit:#8b0000;--high:#a33a00;--med:#6b5300;--low:#1f4e79;--ok:#1b5e20;--unk:#4a4a4a}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:17px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:46rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;line-height:1.25;margin:.5rem 0 .25rem}
h2{font-size:1.25rem;margin:2rem 0 .5rem;padding-bottom:.25rem;border-bottom:2px solid var(--fg)}
h3{font-size:1.05rem;margin:0 0 .25rem}
p,li{overflow-wrap:anywhere}
.sub{color:var(--muted);margin:0 0 1rem}
#verdict{border:3px solid var(--fg);border-radius:.5rem;padding:1rem;margin:1rem 0}
#verdict.v-incident{border-color:var(--crit);background:#fdecec}
#verdict.v-attention{border-color:var(--med);background:#fff7dc}
#verdict.v-clear{border-color:var(--ok);background:#edf7ee}
#verdict.v-incomplete{border-color:var(--fg);border-style:dashed;background:#eeeeee}
#not-checked{border-left:6px solid var(--unk);padding:.25rem 1rem;background:#f4f4f4}
#not-checked li{margin:.35rem 0;overflow-wrap:anywhere}
#verdict .headline{font-size:1.3rem;font-weight:700;margin:0 0 .5rem}
#verdict p{margin:.25rem 0}
#incident-steps{border-left:6px solid var(--crit);padding:.25rem 1rem;background:#fdecec}
#incident-steps ol{padding-left:1.25rem}
#incident-steps li{margin:.5rem 0}
ol.steps li,ul.plain li{margin:.4rem 0}
.card{border:1px solid var(--line);border-left-width:6px;border-radius:.4rem;padding:.75rem;margin:.75rem 0;break-inside:avoid;page-break-inside:avoid}
.sev-critical{border-left-color:var(--crit)}.sev-high{border-left-color:var(--high)}.sev-medium{border-left-color:var(--med)}.sev-low{border-left-color:var(--low)}.sev-informational{border-left-color:var(--unk)}
.status-pass{border-left-color:var(--ok)}.status-unknown{border-left-style:dashed}
.badge{display:inline-block;font-size:.8rem;font-weight:700;letter-spacing:.02em;padding:.05rem .45rem;border-radius:.25rem;color:#fff;margin-right:.35rem;vertical-align:.1em}
.b-critical{background:var(--crit)}.b-high{background:var(--high)}.b-medium{background:var(--med)}.b-low{background:var(--low)}.b-informational{background:var(--unk)}
.b-fail{background:var(--crit)}.b-unknown{background:var(--unk)}.b-pass{background:var(--ok)}
.b-new{background:#1d4ed8;margin-left:.3em}
.meta{color:var(--muted);font-size:.9rem;margin:.25rem 0}
.advice{margin:.4rem 0 0;font-weight:600}
.evidence{margin:.35rem 0 0}
table.net{border-collapse:collapse;width:100%;font-size:.92em}table.net th,table.net td{border-bottom:1px solid #ddd;padding:.25rem .4rem;text-align:left;vertical-align:top}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em;overflow-wrap:anywhere;word-break:break-word}
dl.facts{display:grid;grid-template-columns:minmax(8rem,40%) 1fr;gap:.25rem .75rem;margin:0}
dl.facts dt{font-weight:600}
dl.facts dd{margin:0;overflow-wrap:anywhere}
dl.facts .src{display:block;color:var(--muted);font-size:.8rem}
.unknown{color:var(--unk);font-style:italic}
ol.timeline{list-style:none;padding:0;border-left:3px solid var(--line);margin-left:.4rem}
ol.timeline li{padding:.25rem 0 .5rem .9rem;position:relative}
ol.timeline time{font-weight:700;display:block}
details{margin-top:.4rem}
summary{cursor:pointer;color:var(--low)}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f4f4f4;padding:.5rem;border-radius:.25rem;font-size:.8rem;max-height:20rem;overflow:auto}
.counts{display:flex;flex-wrap:wrap;gap:.35rem;margin:.5rem 0 0;padding:0;list-style:none}
footer{color:var(--muted);font-size:.85rem;margin:2.5rem 0 1rem;border-top:1px solid var(--line);padding-top:.5rem}
@media (max-width:30rem){dl.facts{grid-template-columns:1fr}dl.facts dd{margin-bottom:.5rem}main{padding:.75rem}}
@media print{body{font-size:11pt}main{max-width:none;padding:0}details>*{display:block}pre{max-height:none}a{color:inherit}h2{break-after:avoid}#verdict{break-inside:avoid}}
@page{margin:1.5cm}
"#;

fn level_class(level: Level) -> &'static str {
    match level {
        Level::Critical => "critical",
        Level::High => "high",
        Level::Medium => "medium",
        Level::Low => "low",
        Level::Informational => "informational",
    }
}

fn level_word(level: Level) -> &'static str {
    match level {
        Level::Critical => "Critical",
        Level::High => "High",
        Level::Medium => "Medium",
        Level::Low => "Low",
        Level::Informational => "Info",
    }
}

fn status_word(status: PostureStatus) -> &'static str {
    match status {
        PostureStatus::Fail => "To fix",
        PostureStatus::Unknown => "Unknown",
        PostureStatus::Pass => "OK",
    }
}

/// Posture findings sorted for display: to fix, unknown, OK; each by severity.
fn sorted_posture(report: &Report) -> Vec<&PostureFinding> {
    let rank = |s: PostureStatus| match s {
        PostureStatus::Fail => 0,
        PostureStatus::Unknown => 1,
        PostureStatus::Pass => 2,
    };
    let mut v: Vec<&PostureFinding> = report.posture.iter().collect();
    v.sort_by(|a, b| {
        rank(a.status)
            .cmp(&rank(b.status))
            .then(b.severity.cmp(&a.severity))
            .then(a.id.cmp(&b.id))
    });
    v
}

/// Renders the whole report as one HTML document.
pub fn render(report: &Report) -> String {
    let mut h = String::with_capacity(32 * 1024);
    let incident = report.incident();
    let (title, heading, subject) = match report.network {
        Some(_) => (
            "Network check",
            "Network logs check",
            report.info.target_path.clone(),
        ),
        None => ("Phone check", "Phone security check", report.device.line()),
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{title}: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        escape(&subject)
    );
    let _ = write!(
        h,
        "<header>\n<h1>{heading}</h1>\n<p class=\"sub\">{} · checked {}</p>\n</header>\n",
        escape(&subject),
        escape(
            report
                .info
                .finished
                .get(..16)
                .unwrap_or(&report.info.finished)
        ),
    );
    if let Some(recheck) = &report.recheck {
        recheck_section(&mut h, recheck);
    }
    verdict(&mut h, report, incident);
    not_checked(&mut h, report);
    if incident {
        incident_steps(&mut h);
    } else if report.network.is_none() {
        hardening(&mut h, report);
    }
    alerts(&mut h, report);
    match &report.network {
        Some(net) => network(&mut h, net),
        None => posture(&mut h, report, incident),
    }
    timeline(&mut h, report);
    if report.network.is_none() {
        device(&mut h, report);
    }
    indicators(&mut h, report);
    next_time(&mut h, report);
    limits(&mut h);
    let _ = write!(
        h,
        "<footer><p>Made by {} {} from <span class=\"mono\">{}</span> ({}). Started {}, finished \
         {} (UTC). The results folder beside this file holds every record and the SHA-256 of each \
         evidence file read.</p></footer>\n</main>\n</body>\n</html>\n",
        escape(&report.info.tool),
        escape(&report.info.version),
        escape(&report.info.target_path),
        escape(report.info.input_kind.as_str()),
        escape(&report.info.started),
        escape(&report.info.finished),
    );
    h
}

fn verdict(h: &mut String, report: &Report, incident: bool) {
    let fails: Vec<&PostureFinding> = report
        .posture
        .iter()
        .filter(|f| f.status == PostureStatus::Fail && !f.artefact)
        .collect();
    let urgent = fails.iter().filter(|f| f.severity >= Level::High).count();
    let medium_alerts = report.count_at(Level::Medium);
    let coverage = report.coverage.status;
    let (class, headline, text) = if incident {
        let n = report.count_at(Level::Critical) + report.count_at(Level::High);
        (
            "v-incident",
            "Signs of spyware or tampering were found".to_string(),
            format!(
                "This check found {n} serious warning{} on this phone. Follow the steps below \
                 before doing anything else with the phone.",
                if n == 1 { "" } else { "s" }
            ),
        )
    } else if coverage == CoverageStatus::Incomplete {
        (
            "v-incomplete",
            "This check is incomplete: it could not read what it needs".to_string(),
            format!(
                "{}, so most of this check could not run. Nothing found here does not mean the \
                 phone is clean. Ask the security office to make a new backup or acquisition and \
                 check again; the reason is under “What could not be checked” below.",
                match &report.coverage.main_artifact {
                    Some(m) if m.problem.is_some() => format!("The {} could not be read", m.name),
                    _ => "None of this data could be read".to_string(),
                }
            ),
        )
    } else if coverage == CoverageStatus::Partial {
        (
            "v-attention",
            "Part of the phone's data could not be checked".to_string(),
            format!(
                "{} No known spyware was found in the rest{}. See “What could not be checked” \
                 below.",
                report.coverage.explanation,
                if medium_alerts > 0 {
                    ", but some items need review by the security office"
                } else {
                    ""
                }
            ),
        )
    } else if medium_alerts > 0 {
        (
            "v-attention",
            "No known spyware found, but some items need a closer look".to_string(),
            format!(
                "{medium_alerts} {} review by the security office. {} not show that the phone \
                 is compromised.",
                if medium_alerts == 1 {
                    "item deserves"
                } else {
                    "items deserve"
                },
                if medium_alerts == 1 {
                    "On its own it does"
                } else {
                    "On their own they do"
                },
            ),
        )
    } else {
        (
            "v-clear",
            "No known spyware found".to_string(),
            "The phone's data did not match any of the published spyware indicators used. \
             This does not prove the phone is clean (see “What this check cannot prove”)."
                .to_string(),
        )
    };
    let _ = write!(
        h,
        "<section id=\"verdict\" class=\"{class}\" aria-labelledby=\"verdict-h\">\n\
         <h2 id=\"verdict-h\" class=\"headline\" style=\"border:0;margin:0 0 .5rem\">{}</h2>\n<p>{}</p>\n",
        escape(&headline),
        escape(&text)
    );
    if !report.posture.is_empty() {
        let unknown = report
            .posture
            .iter()
            .filter(|f| f.status == PostureStatus::Unknown)
            .count();
        let _ = writeln!(
            h,
            "<p id=\"posture-summary\">Security settings: {} to fix ({urgent} urgent), {unknown} \
             could not be checked, {} fine.</p>",
            fails.len(),
            report
                .posture
                .iter()
                .filter(|f| f.status == PostureStatus::Pass)
                .count()
        );
    }
    if let Some(d) = &report.os_data {
        let _ = writeln!(
            h,
            "<p class=\"meta\">OS update data as of <strong>{}</strong>: newer updates are not \
             known to this check.</p>",
            escape(&d.date)
        );
    }
    h.push_str("</section>\n");
}

/// What a re-check of earlier results found that the earlier check had not.
fn recheck_section(h: &mut String, r: &Recheck) {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let _ = write!(
        h,
        "<section id=\"recheck\" aria-labelledby=\"recheck-h\">\n\
         <h2 id=\"recheck-h\">Re-check of an earlier check</h2>\n\
         <p>The records saved by an earlier check (by {by}{when}, in <span class=\"mono\">{dir}\
         </span>) were matched again against today's indicators, without the phone. \
         <strong>{new} warning{new_s} {new_are} new since then</strong>; the earlier check \
         raised {old} alert{old_s} of its own (its report still holds them).</p>\n",
        by = escape(&r.written_by),
        when = r
            .checked_at
            .as_deref()
            .map(|t| format!(" on {}", escape(t.get(..16).unwrap_or(t))))
            .unwrap_or_default(),
        dir = escape(&r.results_dir),
        new = r.new_alerts,
        new_s = plural(r.new_alerts),
        new_are = if r.new_alerts == 1 { "is" } else { "are" },
        old = r.earlier_alerts,
        old_s = plural(r.earlier_alerts),
    );
    let _ = writeln!(
        h,
        "<p>Since the earlier check, {} indicator{} were published and {} withdrawn (revoked \
         or expired) in the files used today.</p>",
        r.indicators_added,
        plural(r.indicators_added),
        r.indicators_withdrawn
    );
    if !r.added_and_matched.is_empty() {
        h.push_str("<p>New indicators that matched:</p>\n<ul class=\"plain\">\n");
        for c in &r.added_and_matched {
            let _ = writeln!(
                h,
                "<li><code>{}</code> published {} (<span class=\"mono\">{}</span>, {})</li>",
                escape(&c.pattern),
                escape(c.when.get(..10).unwrap_or(&c.when)),
                escape(&c.id),
                escape(&c.file)
            );
        }
        h.push_str("</ul>\n");
    }
    if !r.withdrawn_alerts.is_empty() {
        h.push_str(
            "<p>Earlier warnings no longer backed by an indicator (each may have been a false \
             alarm; ask the security office before dismissing it):</p>\n<ul class=\"plain\">\n",
        );
        for w in &r.withdrawn_alerts {
            let _ = writeln!(
                h,
                "<li>{}: {} (<code>{}</code>: {})</li>",
                escape(&w.module),
                escape(&w.message),
                escape(&w.indicator),
                escape(&w.why)
            );
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</section>\n");
}

/// Modules that failed and files refused, so a reader knows what the verdict does not cover.
fn not_checked(h: &mut String, report: &Report) {
    let failed: Vec<_> = report
        .modules
        .iter()
        .filter_map(|m| m.error.as_ref().map(|e| (&m.slug, e)))
        .collect();
    let main = report
        .coverage
        .main_artifact
        .as_ref()
        .and_then(|m| m.problem.as_ref().map(|p| (m, p)));
    if failed.is_empty() && report.warnings.is_empty() && main.is_none() {
        return;
    }
    h.push_str(
        "<section id=\"not-checked\" aria-labelledby=\"not-checked-h\">\n\
         <h2 id=\"not-checked-h\">What could not be checked</h2>\n",
    );
    if let Some((artifact, problem)) = main {
        let _ = writeln!(
            h,
            "<p><strong>The {} could not be read</strong>{}: {}</p>",
            escape(&artifact.name),
            artifact
                .path
                .as_deref()
                .map(|p| format!(" (<span class=\"mono\">{}</span>)", escape(p)))
                .unwrap_or_default(),
            escape(problem)
        );
    }
    if !failed.is_empty() {
        let _ = writeln!(
            h,
            "<h3>Parts of the check that failed ({})</h3>\n<ul class=\"plain\" id=\"failed-modules\">",
            failed.len()
        );
        for (name, error) in failed {
            let _ = writeln!(
                h,
                "<li><strong>{}</strong>: <span class=\"mono\">{}</span></li>",
                escape(name),
                escape(error)
            );
        }
        h.push_str("</ul>\n");
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(
            h,
            "<h3>Files refused or skipped ({})</h3>\n<ul class=\"plain\" id=\"refused\">",
            report.warnings.len()
        );
        for w in report.warnings.iter().take(WARNINGS_SHOWN) {
            let _ = writeln!(h, "<li class=\"mono\">{}</li>", escape(w));
        }
        if report.warnings.len() > WARNINGS_SHOWN {
            let _ = writeln!(
                h,
                "<li>… and {} more, listed in report.json.</li>",
                report.warnings.len() - WARNINGS_SHOWN
            );
        }
        h.push_str("</ul>\n");
    }
    h.push_str(
        "<p>The rest of the check went on. Files are refused when they could harm the check \
         (links out of the evidence, archive bombs) or are damaged.</p>\n</section>\n",
    );
}

fn incident_steps(h: &mut String) {
    h.push_str(
        "<section id=\"incident-steps\" aria-labelledby=\"incident-h\">\n\
         <h2 id=\"incident-h\">What to do now</h2>\n<ol class=\"steps\">\n\
         <li><strong>Keep the phone as it is.</strong> Do not reset, wipe, update or restore it, \
         and do not delete apps or messages: that destroys the evidence.</li>\n\
         <li><strong>Keep it switched on and out of conversations.</strong> Put it in a drawer or \
         another room, away from meetings; switch on Airplane Mode only if the security office \
         asks you to.</li>\n\
         <li><strong>Contact the security office now</strong>, from another phone or computer. If \
         you cannot reach them, contact Access Now's Digital Security Helpline or Amnesty \
         International's Security Lab.</li>\n\
         <li><strong>Keep the backup and this report.</strong> Do not delete or change the backup \
         folder this check was made from; the security office will need it.</li>\n\
         <li><strong>From another device</strong>, sign out of your accounts on this phone and \
         change your passwords, once the security office agrees.</li>\n\
         </ol>\n<p>Do not change the phone's settings yet: the security advice further down can \
         wait until the security office has looked at the phone.</p>\n</section>\n",
    );
}

fn hardening(h: &mut String, report: &Report) {
    let top: Vec<&PostureFinding> = sorted_posture(report)
        .into_iter()
        .filter(|f| f.status == PostureStatus::Fail && f.severity >= Level::Medium && !f.artefact)
        .take(5)
        .collect();
    h.push_str(
        "<section id=\"hardening\" aria-labelledby=\"hardening-h\">\n\
         <h2 id=\"hardening-h\">What to fix first</h2>\n",
    );
    if top.is_empty() {
        h.push_str(
            "<p>No urgent setting to change was found. Keep the phone updated, and see the full \
             checklist below.</p>\n",
        );
    } else {
        h.push_str("<ol class=\"steps\">\n");
        for f in top {
            let _ = writeln!(
                h,
                "<li class=\"fix\"><span class=\"badge b-{}\">{}</span>{}</li>",
                level_class(f.severity),
                level_word(f.severity),
                escape(&f.advice)
            );
        }
        h.push_str("</ol>\n");
    }
    let artefacts: Vec<&PostureFinding> = report
        .posture
        .iter()
        .filter(|f| f.artefact && f.status == PostureStatus::Fail)
        .collect();
    if !artefacts.is_empty() {
        h.push_str("<h3>After the check</h3>\n<ul class=\"plain\">\n");
        for f in artefacts {
            let _ = writeln!(h, "<li>{}</li>", escape(&f.advice));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</section>\n");
}

fn alert_card(h: &mut String, a: &Alert, index: usize, new: bool) {
    let _ = write!(
        h,
        "<article class=\"card alert sev-{cls}\" id=\"alert-{index}\">\n\
         <h3><span class=\"badge b-{cls}\">{word}</span>{new}{msg}</h3>\n",
        cls = level_class(a.level),
        word = level_word(a.level),
        new = if new {
            "<span class=\"badge b-new\">NEW since the earlier check</span>"
        } else {
            ""
        },
        msg = escape(&a.message),
    );
    let mut meta = Vec::new();
    if let Some(time) = &a.timestamp {
        meta.push(format!("When: {} UTC", escape(time)));
    }
    meta.push(format!("Found by: {}", escape(&a.module)));
    if let Some(src) = &a.source {
        meta.push(format!("File: <span class=\"mono\">{}</span>", escape(src)));
    }
    let _ = writeln!(h, "<p class=\"meta\">{}</p>", meta.join(" · "));
    if let (Some(field), Some(value)) = (&a.matched_field, &a.matched_value) {
        let _ = writeln!(
            h,
            "<p class=\"evidence\">Matched {}: <code>{}</code></p>",
            escape(field),
            escape(value)
        );
    }
    if let Some(ind) = &a.indicator {
        let mut about = Vec::new();
        if !ind.stix.id.is_empty() {
            about.push(format!(
                "<span class=\"mono\">{}</span>",
                escape(&ind.stix.id)
            ));
        }
        if let Some(c) = ind.stix.confidence {
            about.push(format!("confidence {c}/100"));
        }
        if let Some(tlp) = &ind.stix.tlp {
            about.push(format!("shared as {}", escape(tlp)));
        }
        let about = if about.is_empty() {
            String::new()
        } else {
            format!(" <span class=\"meta\">({})</span>", about.join(", "))
        };
        let _ = writeln!(
            h,
            "<p class=\"evidence\">Indicator <code>{}</code> from “{}” ({}){about}.</p>",
            escape(&ind.value),
            escape(&ind.collection),
            escape(&ind.file)
        );
    }
    let _ = writeln!(h, "<p class=\"advice\">{}</p>", escape(&a.advice));
    if !a.event.is_null() {
        let pretty = serde_json::to_string_pretty(&a.event).unwrap_or_default();
        let _ = writeln!(
            h,
            "<details><summary>The record</summary><pre>{}</pre></details>",
            escape(&pretty)
        );
    }
    h.push_str("</article>\n");
}

fn alerts(h: &mut String, report: &Report) {
    h.push_str(
        "<section id=\"alerts\" aria-labelledby=\"alerts-h\">\n<h2 id=\"alerts-h\">Warnings</h2>\n",
    );
    if report.alerts.is_empty() {
        h.push_str("<p>None: no record matched an indicator or a warning rule.</p>\n");
    } else {
        let mut sorted: Vec<(usize, &Alert)> = report.alerts.iter().enumerate().collect();
        sorted.sort_by(|(ia, a), (ib, b)| b.level.cmp(&a.level).then(ia.cmp(ib)));
        let _ = writeln!(
            h,
            "<p>{} warning{}, most serious first.</p>",
            sorted.len(),
            if sorted.len() == 1 { "" } else { "s" }
        );
        let new = report.recheck.as_ref().map_or(0, |r| r.new_alerts);
        for (i, a) in sorted {
            alert_card(h, a, i + 1, i < new);
        }
    }
    h.push_str("</section>\n");
}

fn posture(h: &mut String, report: &Report, incident: bool) {
    h.push_str(
        "<section id=\"posture\" aria-labelledby=\"posture-h\">\n\
         <h2 id=\"posture-h\">Security settings checklist</h2>\n",
    );
    if incident {
        h.push_str(
            "<p><strong>Wait for the security office before changing these settings.</strong></p>\n",
        );
    }
    if report.posture.is_empty() {
        h.push_str("<p class=\"unknown\">The settings were not checked in this run.</p>\n");
    }
    for f in sorted_posture(report) {
        let st = f.status.as_str();
        let _ = write!(
            h,
            "<article class=\"card check status-{st} sev-{sev}\" id=\"check-{id}\">\n\
             <h3><span class=\"badge b-{st}\">{sw}</span><span class=\"badge b-{sev}\">{lw}</span>{title}</h3>\n\
             <p class=\"advice\">{advice}</p>\n<p class=\"evidence meta\">{evidence}</p>\n",
            sev = level_class(f.severity),
            id = escape(&f.id),
            sw = status_word(f.status),
            lw = level_word(f.severity),
            title = escape(if f.title.is_empty() { &f.id } else { &f.title }),
            advice = escape(&f.advice),
            evidence = escape(&f.evidence),
        );
        let mut guidance = format!("Rule {}", escape(&f.id));
        if !f.guidance.is_empty() {
            let g: Vec<String> = f.guidance.iter().map(|g| escape(g)).collect();
            let _ = write!(guidance, " · Guidance: {}", g.join(", "));
        }
        let _ = writeln!(h, "<p class=\"meta\">{guidance}</p>\n</article>");
    }
    h.push_str("</section>\n");
}

/// What the network logs came to: the alerts by device, the contacts with each indicator,
/// and every file read with its counts.
fn network(h: &mut String, net: &NetworkSummary) {
    let _ = write!(
        h,
        "<section id=\"network\" aria-labelledby=\"network-h\">\n\
         <h2 id=\"network-h\">The network logs</h2>\n\
         <p>{} lines ({} records) in {} file(s), read in {:.1} s ({} lines per second); {}{} \
         client address(es) seen; {} DHCP lease(s); {} malformed line(s).</p>\n",
        net.lines,
        net.records,
        net.files.len(),
        net.seconds,
        net.lines_per_second,
        net.clients_seen,
        if net.clients_over_cap { "+" } else { "" },
        net.leases_seen,
        net.malformed,
    );
    if let Some(file) = &net.devices_file {
        let _ = writeln!(
            h,
            "<p>Addresses were tied to devices with <span class=\"mono\">{}</span>.</p>",
            escape(file)
        );
    }
    if !net.by_device.is_empty() {
        h.push_str(
            "<h3>Alerts by device</h3>\n<table class=\"net\" id=\"net-devices\">\n\
             <tr><th>Device</th><th>Owner</th><th>Addresses</th><th>Alerts</th><th>Matched</th></tr>\n",
        );
        for group in &net.by_device {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
                escape(group.device.as_deref().unwrap_or("not tied to a device")),
                escape(group.owner.as_deref().unwrap_or("")),
                escape(&group.clients.join(", ")),
                group.alerts,
                escape(&group.indicators.join(", ")),
            );
        }
        h.push_str("</table>\n");
    }
    if !net.contacts.is_empty() {
        h.push_str(
            "<h3>Contacts with each indicator</h3>\n<table class=\"net\" id=\"net-contacts\">\n\
             <tr><th>Indicator</th><th>Collection</th><th>Client</th><th>Times</th><th>First (UTC)</th><th>Last (UTC)</th></tr>\n",
        );
        for c in &net.contacts {
            let _ = writeln!(
                h,
                "<tr><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&c.indicator),
                escape(&c.collection),
                escape(c.client.as_deref().unwrap_or("unknown")),
                c.contacts,
                escape(c.first.as_deref().unwrap_or("")),
                escape(c.last.as_deref().unwrap_or("")),
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str(
        "<h3>Files read</h3>\n<table class=\"net\" id=\"net-files\">\n\
         <tr><th>File</th><th>Format</th><th>Lines</th><th>Records</th><th>Malformed</th><th>SHA-256</th></tr>\n",
    );
    for f in &net.files {
        let mut notes: Vec<String> = f.malformed_lines.clone();
        notes.extend(f.stopped.iter().map(|s| format!("stopped: {s}")));
        notes.extend(f.error.iter().cloned());
        let _ = writeln!(
            h,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td class=\"mono\">{}</td></tr>",
            escape(&f.file),
            escape(f.module.as_deref().unwrap_or("not read")),
            f.lines,
            f.records,
            f.malformed,
            notes
                .iter()
                .map(|n| format!("<br><small>{}</small>", escape(n)))
                .collect::<String>(),
            escape(&f.sha256),
        );
    }
    h.push_str("</table>\n</section>\n");
}

fn timeline(h: &mut String, report: &Report) {
    let mut timed: Vec<(&str, &Alert)> = report
        .alerts
        .iter()
        .filter_map(|a| Some((a.timestamp.as_deref()?, a)))
        .collect();
    timed.sort_by(|a, b| a.0.cmp(b.0));
    h.push_str(
        "<section id=\"timeline\" aria-labelledby=\"timeline-h\">\n\
         <h2 id=\"timeline-h\">Timeline of suspicious events</h2>\n",
    );
    if timed.is_empty() {
        h.push_str("<p>No suspicious event with a date was found.</p>\n");
    } else {
        h.push_str("<ol class=\"timeline\">\n");
        for (time, a) in timed {
            let _ = writeln!(
                h,
                "<li><time>{} UTC</time><span class=\"badge b-{}\">{}</span>{}</li>",
                escape(time),
                level_class(a.level),
                level_word(a.level),
                escape(&a.message)
            );
        }
        h.push_str("</ol>\n");
    }
    h.push_str("</section>\n");
}

/// Labels of `report.device` keys, in display order.
const DEVICE_LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("model_name", "Model"),
    ("model", "Model identifier"),
    ("manufacturer", "Maker"),
    ("os_version", "OS version"),
    ("build", "Build"),
    ("sdk_level", "Android SDK level"),
    ("security_patch", "Security patch level"),
    ("vendor_security_patch", "Vendor patch level"),
    ("last_backup", "Backup or acquisition date"),
    ("passcode_set", "Passcode set"),
    ("screen_lock", "Screen lock"),
    ("lock_timeout_secs", "Auto-lock (seconds)"),
    ("backup_encrypted", "Backup encrypted"),
    ("storage_encrypted", "Storage encrypted"),
    ("lockdown_mode", "Lockdown Mode"),
    ("advanced_protection", "Advanced Protection"),
    ("auto_updates", "Automatic updates"),
    ("messages_kept_forever", "Messages kept forever"),
    ("mdm_enrolled", "Managed (MDM)"),
    ("mdm_server", "MDM server"),
    ("supervised", "Supervised"),
    ("supervising_organization", "Supervising organisation"),
    ("configuration_profiles", "Configuration profiles"),
    ("apps_installed", "Apps installed"),
    ("device_admins", "Device administrators"),
    ("accessibility_services", "Accessibility services"),
    ("notification_listeners", "Notification listeners"),
    ("verified_boot_state", "Verified boot"),
    ("bootloader_locked", "Bootloader locked"),
    ("oem_unlock_allowed", "OEM unlocking allowed"),
    ("build_type", "Build type"),
    ("build_tags", "Build tags"),
    ("debuggable", "Debuggable"),
    ("selinux", "SELinux"),
    ("knox_warranty_tripped", "Knox fuse tripped"),
    ("adb_enabled", "USB debugging"),
    ("developer_options", "Developer options"),
    ("adb_over_network", "Debugging over network"),
    ("adb_trusted_keys", "Computers trusted for debugging"),
    ("play_protect", "Play Protect"),
    ("unknown_sources", "Unknown sources"),
    ("private_dns_mode", "Private DNS"),
    ("private_dns_host", "Private DNS server"),
    ("security_reports", "Security reports"),
    ("default_sms_app", "SMS app"),
    ("default_keyboard", "Keyboard"),
    ("serial", "Serial number"),
];

/// Facts always listed, as "unknown" when the evidence did not show them.
const ALWAYS_SHOWN: &[&str] = &[
    "model",
    "os_version",
    "passcode_set",
    "backup_encrypted",
    "lockdown_mode",
];
const ALWAYS_SHOWN_ANDROID: &[&str] = &[
    "model",
    "os_version",
    "security_patch",
    "screen_lock",
    "verified_boot_state",
    "bootloader_locked",
    "advanced_protection",
];

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Bool(true) => "yes".into(),
        serde_json::Value::Bool(false) => "no".into(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn device(h: &mut String, report: &Report) {
    h.push_str(
        "<section id=\"device\" aria-labelledby=\"device-h\">\n\
         <h2 id=\"device-h\">About the phone</h2>\n<dl class=\"facts\">\n",
    );
    let android = report.device.platform == Some(Platform::Android);
    let always = if android {
        ALWAYS_SHOWN_ANDROID
    } else {
        ALWAYS_SHOWN
    };
    let sources = &report.device.sources;
    let mut shown = std::collections::BTreeSet::new();
    for (key, label) in DEVICE_LABELS {
        let value = report.device.get(key);
        if value.is_none() && !always.contains(key) {
            continue;
        }
        shown.insert(*key);
        let _ = write!(h, "<dt>{}</dt><dd>", escape(label));
        match value {
            Some(v) => {
                h.push_str(&escape(&value_text(&v)));
                if let Some(src) = sources.get(*key) {
                    let _ = write!(h, "<span class=\"src\">from {}</span>", escape(src));
                }
            }
            None => h.push_str("<span class=\"unknown\">unknown (not in this evidence)</span>"),
        }
        h.push_str("</dd>\n");
    }
    // Anything else the input reported.
    for (key, v) in report.device.known() {
        if shown.contains(key) || key == "platform" {
            continue;
        }
        if v.is_object() || v.is_array() {
            continue;
        }
        let _ = writeln!(
            h,
            "<dt>{}</dt><dd>{}</dd>",
            escape(key),
            escape(&value_text(&v))
        );
    }
    h.push_str("</dl>\n</section>\n");
}

fn indicators(h: &mut String, report: &Report) {
    h.push_str(
        "<section id=\"indicators\" aria-labelledby=\"indicators-h\">\n\
         <h2 id=\"indicators-h\">What the phone was checked against</h2>\n",
    );
    if report.info.ioc_files.is_empty() {
        h.push_str(
            "<p><strong>No spyware indicators were loaded</strong>: only built-in warning rules \
             and the settings checklist ran.</p>\n",
        );
    }
    if let Some(note) = &report.info.indicators_note {
        let _ = writeln!(h, "<p class=\"indicators-note\">{}</p>", escape(note));
    }
    if !report.info.ioc_files.is_empty() {
        let total: usize = report.info.ioc_files.iter().map(|f| f.indicators).sum();
        let _ = writeln!(
            h,
            "<p>{total} indicators of spyware from {} file{}:</p>\n<ul class=\"plain\">",
            report.info.ioc_files.len(),
            if report.info.ioc_files.len() == 1 {
                ""
            } else {
                "s"
            }
        );
        for f in &report.info.ioc_files {
            let name = f.path.rsplit(['/', '\\']).next().unwrap_or(&f.path);
            let date = f
                .date
                .as_deref()
                .map(|d| format!("dated {}", escape(d)))
                .unwrap_or_else(|| "date not recorded".into());
            let collections = if f.collections.is_empty() {
                String::new()
            } else {
                format!(
                    " — {}",
                    f.collections
                        .iter()
                        .map(|c| escape(c))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let left_out = f.left_out_revoked + f.left_out_expired;
            let left_out = if left_out > 0 {
                format!(
                    " {left_out} left out as revoked or expired by their authors ({} revoked, {} \
                     expired).",
                    f.left_out_revoked, f.left_out_expired
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                h,
                "<li><span class=\"mono\">{}</span>: {} indicators, {date}{collections}.{left_out} \
                 <span class=\"meta mono\">SHA-256 {}</span></li>",
                escape(name),
                f.indicators,
                escape(&f.sha256)
            );
        }
        h.push_str("</ul>\n");
    }
    h.push_str("<div id=\"os-data\">\n");
    match &report.os_data {
        Some(d) => {
            let _ = writeln!(
                h,
                "<p>OS update data as of <strong>{}</strong> ({}). A phone shown as up to date \
                 is up to date as of that day only. <span class=\"meta mono\">SHA-256 {}</span></p>",
                escape(&d.date),
                escape(&d.source),
                escape(&d.sha256)
            );
            // Each part is dated on its own: a fresh iOS feed says nothing of an old table.
            if !d.parts.is_empty() {
                h.push_str("<ul class=\"plain\">\n");
                for p in &d.parts {
                    let stale = if p.stale {
                        format!(
                            " <strong>Out of date: {} days old. Newer updates and newly exploited \
                             flaws are not known to this part; ask the security office to update \
                             the data (portcullis data update) before relying on it.</strong>",
                            p.age_days.unwrap_or_default()
                        )
                    } else {
                        String::new()
                    };
                    let _ = writeln!(
                        h,
                        "<li data-part=\"{}\">{}: as of <strong>{}</strong>.{stale}</li>",
                        escape(&p.part),
                        escape(&p.name),
                        escape(&p.as_of)
                    );
                }
                h.push_str("</ul>\n");
            }
        }
        None => h.push_str("<p class=\"unknown\">No OS update data was used.</p>\n"),
    }
    h.push_str("</div>\n</section>\n");
}

/// How the member can give the office fresh data alone, for the phone's platform.
fn next_time(h: &mut String, report: &Report) {
    let guide = match report.device.platform {
        Some(crate::Platform::Ios) => &crate::guides::SYSDIAGNOSE,
        Some(crate::Platform::Android) => &crate::guides::BUGREPORT,
        _ => return,
    };
    let _ = write!(
        h,
        "<section id=\"next-time\" aria-labelledby=\"next-time-h\">\n\
         <h2 id=\"next-time-h\">For the next check: {}</h2>\n<p>{}</p>\n<ol class=\"steps\">\n",
        escape(guide.title),
        escape(guide.intro)
    );
    for step in guide.steps {
        let _ = writeln!(h, "<li>{}</li>", escape(step));
    }
    h.push_str("</ol>\n<ul class=\"plain\">\n");
    for note in guide.notes {
        let _ = writeln!(h, "<li>{}</li>", escape(note));
    }
    h.push_str("</ul>\n</section>\n");
}

fn limits(h: &mut String) {
    h.push_str(
        "<section id=\"limits\" aria-labelledby=\"limits-h\">\n\
         <h2 id=\"limits-h\">What this check cannot prove</h2>\n<ul class=\"plain\">\n\
         <li><strong>It cannot show that a phone is clean.</strong> It only finds traces that \
         match spyware already described in public. New or unpublished spyware, and spyware that \
         cleans up after itself, can be missed.</li>\n\
         <li>It sees only what the backup or acquisition contains. Some data (for example \
         from an encrypted backup opened without its password) could not be read; items marked \
         “Unknown” were not checked.</li>\n\
         <li>The backup shows the phone as it was when the backup was made, not as it is now.</li>\n\
         <li>“Up to date” means up to date as of the OS data's date; newer updates may exist.</li>\n\
         <li>A warning is a reason to look closer, not proof on its own. The security office \
         should review every warning before anyone acts on it.</li>\n\
         <li>If you have received a threat notification from Apple or Google, or anything else \
         worries you, contact the security office whatever this report says.</li>\n\
         </ul>\n</section>\n",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(escape("a\u{0}b\nc"), "a\u{FFFD}b\nc");
    }
}
