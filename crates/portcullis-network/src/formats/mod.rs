//! The log formats, one file each.

pub mod bind;
pub mod dnsmasq;
pub mod pcap;
pub mod pihole;
pub mod squid;
pub mod suricata;
pub mod unbound;
pub mod zeek;

/// Whether one of a file's first lines reads, as `log` reads it, as a record naming a client:
/// how the line-per-query DNS logs (BIND, Unbound) recognise their files.
fn names_a_client(log: &dyn crate::text::TextLog, head: &crate::format::Head<'_>) -> bool {
    head.lines.iter().any(|l| {
        let mut out = crate::line::Line::default();
        log.parse(l, &mut out).is_ok() && out.client.is_some()
    })
}

/// A certificate subject's common name: `CN=www.google.com,O=…` (Zeek) or
/// `C=US, O=…, CN=www.google.com` (Suricata) → `www.google.com`.
fn common_name(subject: &str) -> Option<&str> {
    subject
        .split(',')
        .find_map(|part| part.trim().strip_prefix("CN="))
        .filter(|cn| !cn.is_empty())
}

/// A syslog line's header, as rsyslog and syslog-ng write files: `Dec  3 10:15:02 host
/// prog[123]: message` (RFC 3164 time, no year) or with an RFC 3339 time first; the host may
/// be absent. The program name is returned without its `[pid]`.
fn syslog(line: &str, year: i16) -> Option<(crate::line::RawTime<'_>, &str, &str)> {
    let (time, rest) = leading_time(line, year)?;
    let (first, after) = rest.split_once(' ')?;
    let (tag, message) = if first.ends_with(':') {
        (first, after)
    } else {
        after.split_once(' ')?
    };
    let tag = tag.strip_suffix(':')?;
    let program = tag.split_once('[').map_or(tag, |(p, _)| p);
    if program.is_empty() || program.contains(':') {
        return None;
    }
    Some((time, program, message))
}

/// A syslog time at the start of `line` (`Dec  3 10:15:02`, `.123` allowed, or RFC 3339 as
/// `2026-12-03T10:15:02.123+00:00`), and the text after the space that ends it.
fn leading_time(line: &str, year: i16) -> Option<(crate::line::RawTime<'_>, &str)> {
    use crate::line::RawTime;
    let (first, rest) = line.split_once(' ')?;
    if first.len() >= 19 && first.as_bytes().get(4) == Some(&b'-') && first.contains('T') {
        return crate::time::iso(first).map(|_| (RawTime::Iso(first), rest));
    }
    if first.len() != 3 || !first.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let after_month = rest.trim_start_matches(' ');
    let (day, after_day) = after_month.split_once(' ')?;
    let (clock, message) = after_day.split_once(' ')?;
    let end = line.len().checked_sub(message.len() + 1)?;
    let text = line.get(..end)?;
    // Validated in a leap year, so `Feb 29` of a log from one is not refused.
    let valid = day.len() <= 2 && clock.len() >= 8 && crate::time::syslog(text, 2000).is_some();
    valid.then_some((RawTime::Syslog { text, year }, message))
}

/// `www.example.com.` → `www.example.com` (the root `.` stays).
fn trim_dot(name: &str) -> &str {
    match name.strip_suffix('.') {
        Some(n) if !n.is_empty() => n,
        _ => name,
    }
}
