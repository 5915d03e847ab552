//! What the office server takes from outside: an advisory's Markdown (rendered for members: the
//! output may hold only the elements and link targets the sanitiser allows) and a device's
//! submission (parsed, checked, and keyed into incidents). The first byte picks which.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// Every `href` the renderer wrote is web, mail or same-site; no element outside the few it
/// writes; no event-handler attribute.
fn assert_inert(html: &str) {
    const ALLOWED: &[&str] = &[
        "a", "p", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre", "ul", "ol",
        "li", "table", "thead", "tbody", "tr", "th", "td", "blockquote", "hr", "br", "del", "input",
    ];
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>').expect("every tag is closed");
        let tag = &after[..close];
        rest = &after[close + 1..];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        assert!(ALLOWED.contains(&name.as_str()), "<{name}> in {html:?}");
        // Outside the quotes are attribute names; inside, their (escaped) values.
        let parts: Vec<&str> = tag.split('"').collect();
        let outside_quotes: String = parts.iter().step_by(2).copied().collect();
        assert!(!outside_quotes.to_ascii_lowercase().contains(" on"), "handler in <{tag}>");
        for pair in parts.chunks(2) {
            let [names, value] = pair else { continue };
            let attribute = names.trim().trim_end_matches('=').rsplit(' ').next().unwrap_or("");
            if attribute.eq_ignore_ascii_case("href") {
                let ok = ["https://", "http://", "mailto:", "/", "#"].iter().any(|p| value.starts_with(p))
                    && !value.starts_with("//");
                assert!(ok, "href in <{tag}>");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    if which % 2 == 0 {
        if let Ok(markdown) = std::str::from_utf8(rest) {
            assert_inert(&portcullis_server::markdown::render(markdown));
            let _ = portcullis_server::markdown::checklist(markdown);
        }
    } else if let Ok(submission) = serde_json::from_slice::<portcullis_report::Submission>(rest) {
        let _ = submission.problem();
        let _ = submission.highest_level();
        for alert in &submission.alerts {
            let _ = portcullis_server::incidents::match_key(alert);
        }
    }
});
