//! Unbound's log (`logfile:` or syslog) with `log-queries: yes` (`info: 192.0.2.10
//! www.example.com. A IN`), `log-replies: yes` (`… A IN NOERROR 0.000123 0 45`) and
//! `log-local-actions: yes` (`query:`/`reply:` in place of `info:` with `log-tag-queryreply`)
//! and (`info: ads.example. always_nxdomain 192.0.2.10@53211
//! ads.example. A IN`). Unbound writes `[epoch] unbound[pid:tid] type: message` to its file,
//! `Dec 03 10:15:02 unbound[pid:tid] …` with `log-time-ascii: yes`, and `[pid:tid] type:
//! message` after syslog's own header. It logs no answer's addresses, so a reply is checked by
//! its question only.
//!
//! Unbound's other messages (start-up, statistics) are records with nothing to check; a line
//! without Unbound's prefix is malformed.

use std::net::IpAddr;

use crate::check::Check;
use crate::format::{Format, Head, Input, Module, Outcome};
use crate::line::{Line, Malformed, RawTime, Seen};
use crate::text::{self, TextLog};

use super::{leading_time, syslog, trim_dot};

pub struct Unbound;

const QUERIES: Module = Module {
    slug: "unbound_queries",
    name: "UnboundQueries",
};

impl Format for Unbound {
    fn kind(&self) -> &'static str {
        "unbound"
    }

    fn recognise(&self, head: &Head<'_>) -> Option<Module> {
        let log = UnboundLog { year: 2000 };
        super::names_a_client(&log, head).then_some(QUERIES)
    }

    fn read(&self, _module: Module, input: Input<'_>, check: &Check<'_>) -> Outcome {
        let mut log = UnboundLog { year: input.year };
        let (tally, error) = text::read(input.reader, &mut log, check);
        Outcome::of_text(tally, error)
    }
}

struct UnboundLog {
    /// For `log-time-ascii` and syslog times, which have none.
    year: i16,
}

impl TextLog for UnboundLog {
    fn parse<'l>(&self, line: &'l str, out: &mut Line<'l>) -> Result<(), Malformed> {
        let (time, message) =
            prefix(line, self.year).ok_or_else(|| Malformed::new("not an Unbound log line"))?;
        out.time = time;
        // `info: …`, `notice: …`, `fatal error: …`; `query: `/`reply: ` with
        // `log-tag-queryreply: yes`.
        let Some(("info" | "query" | "reply", text)) = message.split_once(": ") else {
            return Ok(());
        };
        let fields: Vec<&str> = text.split(' ').take(9).collect();
        let (client, name) = match fields.as_slice() {
            // log-queries, log-replies: `ip name type class[ rcode time cached size]`
            [ip, name, _, _] | [ip, name, _, _, _, _, _, _] => (*ip, *name),
            // log-local-actions: `zone action ip@port name type class`
            [_, _, ip, name, _, _] if ip.contains('@') => (*ip, *name),
            _ => return Ok(()),
        };
        let (address, port) = match client.rsplit_once('@') {
            Some((a, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => (a, Some(p)),
            _ => (client, None),
        };
        if address.parse::<IpAddr>().is_err() || name.is_empty() {
            return Ok(());
        }
        out.client = Some(address.into());
        out.client_port = port.map(Into::into);
        out.push(Seen::Query, trim_dot(name));
        Ok(())
    }
}

/// The time and the `type: message` after Unbound's prefix, in any of its three layouts.
fn prefix(line: &str, year: i16) -> Option<(RawTime<'_>, &str)> {
    if let Some(rest) = line.strip_prefix('[') {
        let (epoch, rest) = rest.split_once("] ")?;
        crate::time::epoch(epoch)?;
        return Some((RawTime::Epoch(epoch), after_ident(rest)?));
    }
    if let Some((time, rest)) = leading_time(line, year)
        && let Some(message) = after_ident(rest)
    {
        return Some((time, message));
    }
    let (time, _program, message) = syslog(line, year)?;
    let (thread, rest) = message.strip_prefix('[')?.split_once("] ")?;
    thread_id(thread)?;
    Some((time, rest))
}

/// After `unbound[pid:tid] ` (the identity may be renamed with `log-identity`).
fn after_ident(text: &str) -> Option<&str> {
    let (ident, rest) = text.split_once(' ')?;
    let (name, thread) = ident.strip_suffix(']')?.split_once('[')?;
    if name.is_empty() || name.ends_with(':') {
        return None;
    }
    thread_id(thread)?;
    Some(rest)
}

/// `1234:0` (pid, thread number in hex).
fn thread_id(text: &str) -> Option<()> {
    let (pid, tid) = text.split_once(':')?;
    let ok = !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && !tid.is_empty()
        && tid.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then_some(())
}
