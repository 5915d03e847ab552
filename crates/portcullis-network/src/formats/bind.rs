//! BIND 9's `queries` channel (`client @0x… 192.0.2.10#53211 (name): query: name IN A +E(0)K
//! (192.0.2.1)`) and the `security`/`xfer-out` lines that name a client and what it asked for
//! (`query (cache) 'name/A/IN' denied`, `zone transfer 'zone/AXFR/IN' denied`). Lines may start
//! with BIND's `print-time` (`03-Dec-2026 10:15:02.123` or ISO 8601), `print-category` and
//! `print-severity`, be wrapped by syslog (`Dec  3 10:15:02 host named[123]: …`), or carry no
//! time at all; BIND before 9.11 writes no `@0x…` client object.
//!
//! BIND's other messages (zone loads, resolver errors) are records with nothing to check: they
//! are lines of the log, read, just not about a client. A line that is not BIND's at all is
//! malformed.

use crate::check::Check;
use crate::format::{Format, Head, Input, Module, Outcome};
use crate::line::{Line, Malformed, RawTime, Seen};
use crate::text::{self, TextLog};

use super::{leading_time, syslog, trim_dot};

pub struct Bind;

const QUERIES: Module = Module {
    slug: "bind_queries",
    name: "BindQueries",
};

impl Format for Bind {
    fn kind(&self) -> &'static str {
        "bind"
    }

    fn recognise(&self, head: &Head<'_>) -> Option<Module> {
        let log = BindLog { year: 2000 };
        super::names_a_client(&log, head).then_some(QUERIES)
    }

    fn read(&self, _module: Module, input: Input<'_>, check: &Check<'_>) -> Outcome {
        let mut log = BindLog { year: input.year };
        let (tally, error) = text::read(input.reader, &mut log, check);
        Outcome::of_text(tally, error)
    }
}

struct BindLog {
    /// For syslog times, which have none.
    year: i16,
}

impl TextLog for BindLog {
    fn parse<'l>(&self, line: &'l str, out: &mut Line<'l>) -> Result<(), Malformed> {
        let mut message = line;
        let mut prefixed = false;
        match syslog(line, self.year) {
            Some((time, program, rest)) if program.starts_with("named") => {
                out.time = time;
                message = rest;
                prefixed = true;
            }
            // BIND's own ISO 8601 time followed by a category looks like a syslog header.
            Some((RawTime::Syslog { .. }, _, _)) => {
                return Err(Malformed::new(
                    "a syslog line from a program other than named",
                ));
            }
            _ => {}
        }
        if let Some((time, rest)) = bind_time(message).or_else(|| leading_iso(message)) {
            out.time = time;
            message = rest;
            prefixed = true;
        }
        // `print-category` and `print-severity` (`security: info: `, `debug 3: `).
        for _ in 0..2 {
            if message.starts_with("client ") {
                break;
            }
            match category(message) {
                Some(rest) => {
                    message = rest;
                    prefixed = true;
                }
                None => break,
            }
        }
        match message.strip_prefix("client ") {
            Some(client) => client_line(client, out),
            None if prefixed => Ok(()),
            None => Err(Malformed::new("not a BIND log line")),
        }
    }
}

/// BIND's `print-time yes`: `03-Dec-2026 10:15:02.123 `.
fn bind_time(line: &str) -> Option<(RawTime<'_>, &str)> {
    let date = line.get(..11)?;
    let b = date.as_bytes();
    if b.get(2) != Some(&b'-') || b.get(6) != Some(&b'-') || line.as_bytes().get(11) != Some(&b' ')
    {
        return None;
    }
    let after = line.get(12..)?;
    let (clock, rest) = after.split_once(' ')?;
    let text = line.get(..12 + clock.len())?;
    crate::time::bind(text).map(|_| (RawTime::Bind(text), rest))
}

/// BIND 9.18's `print-time iso8601` / `iso8601-utc`.
fn leading_iso(line: &str) -> Option<(RawTime<'_>, &str)> {
    match leading_time(line, 2000) {
        Some((time @ RawTime::Iso(_), rest)) => Some((time, rest)),
        _ => None,
    }
}

/// The text after a `category: ` or `severity: ` word.
fn category(line: &str) -> Option<&str> {
    let (word, rest) = line.split_once(": ")?;
    let word = word.strip_prefix("debug ").unwrap_or(word);
    let ok = !word.is_empty()
        && word.len() <= 32
        && word
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    ok.then_some(rest)
}

/// After `client `: `[@0x7f… ]addr#port[ (name)]: [view v: ]what happened`.
fn client_line<'l>(text: &'l str, out: &mut Line<'l>) -> Result<(), Malformed> {
    let bad = || Malformed::new("a client line without the client's addr#port");
    let text = match text.strip_prefix("@0x") {
        Some(rest) => rest.split_once(' ').ok_or_else(bad)?.1,
        None => text,
    };
    // The port ends at the space before `(name)`, or at the `:` of BIND before 9.11.
    let hash = text.find('#').ok_or_else(bad)?;
    let end = text
        .get(hash + 1..)
        .and_then(|p| p.find(|c: char| !c.is_ascii_digit()))
        .map_or(text.len(), |e| hash + 1 + e);
    let (address, port) = text
        .get(..end)
        .and_then(|a| a.rsplit_once('#'))
        .ok_or_else(bad)?;
    if address.contains(' ') {
        return Err(bad());
    }
    if address.is_empty() || port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    out.client = Some(address.into());
    out.client_port = Some(port.into());
    let mut rest = text.get(end..).unwrap_or_default();
    let mut asked = None;
    if let Some(paren) = rest.strip_prefix(" (") {
        let (name, after) = paren.split_once("): ").ok_or_else(bad)?;
        asked = Some(name);
        rest = after;
    } else {
        rest = rest.strip_prefix(": ").ok_or_else(bad)?;
    }
    if let Some(after_view) = rest.strip_prefix("view ") {
        rest = after_view.split_once(": ").map_or(rest, |(_, r)| r);
    }
    if let Some(query) = rest.strip_prefix("query: ") {
        // `name class type flags (destination)[ [ECS …]]`
        let mut fields = query.split(' ');
        let name = fields.next().filter(|n| !n.is_empty());
        if let Some(dest) = fields
            .nth(3)
            .and_then(|d| d.strip_prefix('('))
            .and_then(|d| d.strip_suffix(')'))
        {
            out.server = Some(dest.into());
        }
        asked = name.or(asked);
    } else if let Some(quoted) = quoted_name(rest) {
        asked = Some(quoted);
    }
    if let Some(name) = asked {
        out.push(Seen::Query, trim_dot(name));
    }
    Ok(())
}

/// The name of a security/xfer line's `'name/TYPE/CLASS'` (or `'zone/CLASS'`).
fn quoted_name(text: &str) -> Option<&str> {
    let (_, after) = text.split_once('\'')?;
    let (quoted, _) = after.split_once('\'')?;
    let (rest, _class) = quoted.rsplit_once('/')?;
    Some(match rest.rsplit_once('/') {
        Some((name, kind))
            if !kind.is_empty()
                && kind
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) =>
        {
            name
        }
        _ => rest,
    })
}
