//! Plain trail lists, one value per line, as Maltrail publishes them:
//!
//! ```text
//! # Aliases: apt35, apt42, phosphorus
//! # Reference: https://example.org/report (2024 campaign)
//! bad.example                 a domain
//! 198.51.100.7:5050           an address (the port is kept in the description)
//! http://198.51.100.8         a URL with no path: its host
//! 203.0.113.0/24              a CIDR network
//! http://bad.example/x.php    a URL
//! bad.example/x.php           a URL without a scheme: http:// and https://
//! /hass/upload-log.php        a URL path, on any host
//! ```
//!
//! `#` starts a comment (at the start of a line, or after whitespace). Each `# Reference:`
//! line is an external reference of the entries under it until the next group of
//! references, and of the actor; `# Aliases:` lines give the actor's aliases; `# Note:` lines
//! with an address are references of the actor. The list is one actor, named by the caller.

use crate::model::{Actors, Indicator, Observable, Reference, extend_unique};
use crate::{ImportError, Imported, skipped};

/// Longest line accepted.
const MAX_LINE: usize = 16 * 1024;

pub fn parse(text: &str, name: &str, created: &str) -> Result<Imported, ImportError> {
    let mut actors = Actors::new(name);
    let actor = actors.get(name);
    let mut skips = Vec::new();
    let mut section: Vec<Reference> = Vec::new();
    // Whether entries came since the last reference: then the next one starts a new group.
    let mut entries_since = false;
    for (n, line) in (1..).zip(text.lines()) {
        if line.len() > MAX_LINE {
            return Err(ImportError::Line {
                line: n,
                reason: format!("longer than {MAX_LINE} bytes"),
            });
        }
        let line = line.trim();
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim();
            if let Some(r) = directive(comment, "Reference:").and_then(reference) {
                if entries_since {
                    section.clear();
                    entries_since = false;
                }
                actor.cite(r.clone());
                extend_unique(&mut section, [r]);
            } else if let Some(aliases) = directive(comment, "Aliases:") {
                let names = aliases.split(',').map(str::trim).filter(|a| !a.is_empty());
                extend_unique(&mut actor.aliases, names.map(str::to_string));
            } else if let Some(r) = directive(comment, "Note:").and_then(reference) {
                actor.cite(r);
            }
            continue;
        }
        let entry = strip_comment(line);
        if entry.is_empty() {
            continue;
        }
        entries_since = true;
        match entry_observable(entry) {
            Some(observable) => {
                let mut indicator = Indicator::new(observable);
                if indicator.observable.value() != entry {
                    indicator.written.push(entry.to_string());
                }
                indicator.references = section.clone();
                actor.add(indicator);
            }
            None => skips.push(skipped(
                n,
                entry,
                "not a domain, IP address, CIDR network, URL or URL path",
            )),
        }
    }
    Ok(actors.into_imported(name, created, skips))
}

/// The text after `# Word:` (any case), when the comment is that directive.
fn directive<'a>(comment: &'a str, word: &str) -> Option<&'a str> {
    let head = comment.get(..word.len())?;
    head.eq_ignore_ascii_case(word)
        .then(|| comment[word.len()..].trim())
}

/// `URL (text)` or `URL text`: the address and the rest, without its parentheses.
pub(crate) fn reference(text: &str) -> Option<Reference> {
    let (url, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return None;
    }
    let rest = rest.trim();
    let rest = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(rest)
        .trim();
    Some(Reference {
        url: url.to_string(),
        description: (!rest.is_empty()).then(|| rest.to_string()),
    })
}

/// An entry without a trailing comment (`bad.example    # was: …`).
fn strip_comment(line: &str) -> &str {
    let mut prev_space = false;
    for (i, c) in line.char_indices() {
        if c == '#' && prev_space {
            return line[..i].trim_end();
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// What a trail entry stands for (see the module's documentation).
pub(crate) fn entry_observable(entry: &str) -> Option<Observable> {
    if entry.len() > crate::MAX_VALUE || entry.chars().any(char::is_whitespace) {
        return None;
    }
    if entry.starts_with('/') {
        return Observable::url(entry);
    }
    if let Some((_, rest)) = entry.split_once("://") {
        // Only a host (and maybe a port): the host is the indicator.
        let host = rest.trim_end_matches('/');
        if !host.contains(['/', '?', '#']) {
            return host_port(host);
        }
        return Observable::url(entry);
    }
    if let Some(host) = host_port(entry) {
        return Some(host);
    }
    // `203.0.113.0/24` was a CIDR (above); `bad.example/x.php` is a URL without a scheme.
    Observable::schemeless(entry)
}

/// A host, `host:port`, `[v6]:port`, an address or a CIDR network.
fn host_port(entry: &str) -> Option<Observable> {
    if let Some(found) = Observable::host(entry) {
        return Some(found);
    }
    let (host, port) = entry.rsplit_once(':')?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.len() > 5 {
        return None;
    }
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Observable::host(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_of_every_shape() {
        let o = |s: &str| entry_observable(s);
        assert_eq!(
            o("Bad.Example"),
            Some(Observable::Domain("bad.example".into()))
        );
        assert_eq!(o("1.2.3.4:5050"), Some(Observable::Ip("1.2.3.4".into())));
        assert_eq!(o("http://1.2.3.4"), Some(Observable::Ip("1.2.3.4".into())));
        assert_eq!(o("http://1.2.3.4/"), Some(Observable::Ip("1.2.3.4".into())));
        assert_eq!(
            o("[2001:db8::1]:443"),
            Some(Observable::Ip("2001:db8::1".into()))
        );
        assert_eq!(
            o("203.0.113.9/24"),
            Some(Observable::Ip("203.0.113.0/24".into()))
        );
        assert_eq!(
            o("bad.example:8080"),
            Some(Observable::Domain("bad.example".into()))
        );
        assert_eq!(
            o("/path/x.php"),
            Some(Observable::UrlPath("/path/x.php".into()))
        );
        assert_eq!(
            o("Bad.example/Path/x.php"),
            Some(Observable::SchemelessUrl("bad.example/Path/x.php".into()))
        );
        assert_eq!(
            o("https://bad.example/a?b=c"),
            Some(Observable::Url("https://bad.example/a?b=c".into()))
        );
        for bad in [
            "",
            "not a value",
            "localhost",
            "//x",
            "http://",
            "a/b",
            "1.2.3.4:99999999",
        ] {
            assert_eq!(o(bad), None, "{bad}");
        }
    }

    #[test]
    fn references_group_the_entries_under_them() {
        let text = "# Aliases: one, Two ,, one\n# Reference: https://a.example/r1 (first)\n\
                    # Reference: https://a.example/r2\nx.example\n1.2.3.4:80\n1.2.3.4:81\n\n\
                    # Reference: https://a.example/r3\ny.example    # was: y–example\n\
                    what is this\n";
        let imported = parse(text, "Actor", "2024-01-01T00:00:00.000Z").unwrap();
        let actor = &imported.collection.actors[0];
        assert_eq!(actor.aliases, ["one", "Two"]);
        assert_eq!(actor.references.len(), 3);
        assert_eq!(actor.references[0].description.as_deref(), Some("first"));
        let ind = actor.indicators();
        assert_eq!(ind.len(), 3);
        assert_eq!(ind[0].references.len(), 2);
        assert_eq!(ind[1].written, ["1.2.3.4:80", "1.2.3.4:81"]);
        assert_eq!(ind[2].references[0].url, "https://a.example/r3");
        assert_eq!(imported.skipped.len(), 1);
        assert!(imported.skipped[0].starts_with("line 10: \"what is this\""));
    }
}
