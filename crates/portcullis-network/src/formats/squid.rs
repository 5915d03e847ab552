//! Squid's access.log in its native format (`1157689312.049   5006 10.105.21.199
//! TCP_MISS/200 19763 CONNECT login.yahoo.com:443 user DIRECT/209.73.177.115 -`) and in
//! `logformat common`/`combined` (`10.0.0.1 - user [03/Dec/2026:10:15:02 +0000] "GET
//! http://… HTTP/1.1" 200 1234 … TCP_MISS:HIER_DIRECT`). The URL, its host (a `CONNECT`
//! target gives only a host) and the peer Squid went to, when logged as an address.

use std::net::IpAddr;

use crate::check::Check;
use crate::format::{Format, Head, Input, Module, Outcome};
use crate::line::{Line, Malformed, RawTime, Seen};
use crate::text::{self, TextLog};

pub struct Squid;

const ACCESS: Module = Module {
    slug: "squid_access",
    name: "SquidAccess",
};

impl Format for Squid {
    fn kind(&self) -> &'static str {
        "squid"
    }

    fn recognise(&self, head: &Head<'_>) -> Option<Module> {
        let first = head.lines.first()?;
        let mut out = Line::default();
        if native(first, &mut out).is_ok() {
            return Some(ACCESS);
        }
        // The common format is every web server's: only Squid's own `%Ss:%Sh` tail says it
        // is Squid's.
        let squid_tail = first
            .rsplit(' ')
            .next()
            .is_some_and(|t| t.contains(':') && (t.starts_with("TCP_") || t.starts_with("NONE")));
        (squid_tail && common(first, &mut Line::default()).is_ok()).then_some(ACCESS)
    }

    fn read(&self, _module: Module, input: Input<'_>, check: &Check<'_>) -> Outcome {
        let (tally, error) = text::read(input.reader, &mut SquidLog, check);
        Outcome::of_text(tally, error)
    }
}

struct SquidLog;

impl TextLog for SquidLog {
    fn parse<'l>(&self, line: &'l str, out: &mut Line<'l>) -> Result<(), Malformed> {
        if line.contains(" [") && line.contains('"') {
            common(line, out)
        } else {
            native(line, out)
        }
    }
}

/// `time elapsed client code/status bytes method URL user hierarchy/peer type`.
fn native<'l>(line: &'l str, out: &mut Line<'l>) -> Result<(), Malformed> {
    let bad = || Malformed::new("not a Squid native access.log line");
    let mut fields = line.split_whitespace();
    let mut next = || fields.next().ok_or_else(bad);
    let (time, elapsed, client, code) = (next()?, next()?, next()?, next()?);
    let (_bytes, method, url, _user, hierarchy) = (next()?, next()?, next()?, next()?, next()?);
    if crate::time::epoch(time).is_none()
        || !elapsed.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        || !code.contains('/')
    {
        return Err(bad());
    }
    out.time = RawTime::Epoch(time);
    out.client = Some(client.into());
    request(method, url, out);
    if let Some((_, peer)) = hierarchy.split_once('/')
        && let peer = peer.trim_start_matches('[').trim_end_matches(']')
        && peer.parse::<IpAddr>().is_ok()
    {
        out.push(Seen::Destination, peer);
        out.server = Some(peer.into());
    }
    Ok(())
}

/// `client ident user [time] "method url protocol" status bytes[ "referer" "agent"][ tail]`.
fn common<'l>(line: &'l str, out: &mut Line<'l>) -> Result<(), Malformed> {
    let bad = || Malformed::new("not a common log format line");
    let (client, rest) = line.split_once(' ').ok_or_else(bad)?;
    let (_, rest) = rest.split_once('[').ok_or_else(bad)?;
    let (time, rest) = rest.split_once(']').ok_or_else(bad)?;
    let (_, rest) = rest.split_once('"').ok_or_else(bad)?;
    let (request_line, _) = rest.split_once('"').ok_or_else(bad)?;
    crate::time::clf(time).ok_or_else(bad)?;
    out.time = RawTime::Clf(time);
    out.client = Some(client.into());
    let mut parts = request_line.split(' ');
    if let (Some(method), Some(url)) = (parts.next(), parts.next()) {
        request(method, url, out);
    }
    Ok(())
}

/// The URL and host of a request (`CONNECT host:port` has only a host).
fn request<'l>(method: &str, url: &'l str, out: &mut Line<'l>) {
    if method == "CONNECT" || !url.contains("://") {
        if let Some(host) = host_of(url) {
            out.push(Seen::HttpHost, host);
        }
        return;
    }
    out.push(Seen::HttpUrl, url);
    if let Some(host) = url.split_once("://").and_then(|(_, rest)| host_of(rest)) {
        out.push(Seen::HttpHost, host);
    }
}

/// `host:port/path` → `host`; `[2001:db8::1]:443` → `2001:db8::1`; Squid's `error:…` and
/// `-` are no host.
fn host_of(text: &str) -> Option<&str> {
    let authority = text.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split_once(']')?.0
    } else if authority.matches(':').count() > 1 {
        authority
    } else {
        authority.split(':').next()?
    };
    let plausible = !host.is_empty() && host != "-" && !text.starts_with("error:");
    plausible.then_some(host)
}
