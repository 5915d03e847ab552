//! dnsmasq's `log-queries` lines (`query[A] name from 192.0.2.10`, `forwarded name to …`,
//! `reply name is 93.184.216.34`, `reply name is <CNAME>`, `cached …`, `config …`,
//! `/etc/hosts …`, `… is NXDOMAIN`) and `log-queries=extra`, where every line starts with the
//! query's serial number and the client's `addr/port`; plus the leases of `dnsmasq-dhcp`'s
//! `DHCPACK(iface) addr mac [name]`. Lines come as dnsmasq writes its own log file
//! (`Dec  3 10:15:02 dnsmasq[123]: …`), through syslog (with a host), or bare
//! (`dnsmasq[123]: …`, as journald prints them).
//!
//! A reply is only meaningful with the query before it: the CNAME chain runs over the reply
//! lines after a `<CNAME>`, and in extra mode the serial names the client. So this format is
//! read line by line in order, with a bounded memory of recent queries, not in parallel.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read};
use std::net::IpAddr;

use crate::check::{Check, Tally};
use crate::format::{Format, Head, Input, Module, Outcome};
use crate::line::{Lease, Line, Malformed, RawTime, Seen};
use crate::text::MAX_LINE;

use super::{syslog, trim_dot};

pub struct Dnsmasq;

const QUERIES: Module = Module {
    slug: "dnsmasq_queries",
    name: "DnsmasqQueries",
};

/// Queries remembered by serial number for their replies: dnsmasq answers within seconds, so
/// this covers far more than the queries in flight on a busy server.
const MAX_PENDING: usize = 4_096;

impl Format for Dnsmasq {
    fn kind(&self) -> &'static str {
        "dnsmasq"
    }

    fn recognise(&self, head: &Head<'_>) -> Option<Module> {
        head.lines
            .iter()
            .any(|l| {
                let mut log = DnsmasqLog::new(2000);
                let mut out = Line::default();
                log.parse(l, &mut out).is_ok()
                    && (out.client.is_some() || out.lease.is_some() || !out.items.is_empty())
            })
            .then_some(QUERIES)
    }

    fn read(&self, _module: Module, input: Input<'_>, check: &Check<'_>) -> Outcome {
        let mut log = DnsmasqLog::new(input.year);
        let (tally, error) = read_in_order(input.reader, &mut log, check);
        Outcome::of_text(tally, error)
    }
}

/// What a query line said, for the reply lines with its serial.
struct Asked {
    client: String,
    port: Option<String>,
    name: String,
}

struct DnsmasqLog {
    year: i16,
    /// Extra mode: queries by serial, oldest first in `order`.
    pending: HashMap<u64, Asked>,
    order: VecDeque<u64>,
    /// The reply line before was `is <CNAME>`: this reply's name is on the chain.
    in_chain: bool,
}

impl DnsmasqLog {
    fn new(year: i16) -> Self {
        DnsmasqLog {
            year,
            pending: HashMap::new(),
            order: VecDeque::new(),
            in_chain: false,
        }
    }

    fn remember(&mut self, serial: u64, asked: Asked) {
        if self.pending.insert(serial, asked).is_none() {
            self.order.push_back(serial);
        }
        while self.order.len() > MAX_PENDING {
            if let Some(old) = self.order.pop_front() {
                self.pending.remove(&old);
            }
        }
    }

    fn parse<'l>(&mut self, line: &'l str, out: &mut Line<'l>) -> Result<(), Malformed> {
        let (time, program, message) = header(line, self.year)?;
        out.time = time;
        if program == "dnsmasq-dhcp" {
            dhcp(message, out);
            return Ok(());
        }
        let was_chain = std::mem::take(&mut self.in_chain);
        // Extra mode: `serial addr/port message`; lines dnsmasq marks as having no client
        // write `serial message` (current) or `* addr/port message` (before 2.86).
        let mut serial = None;
        let mut message = message;
        if let Some((first, rest)) = message.split_once(' ')
            && (first == "*" || first.bytes().all(|b| b.is_ascii_digit()))
        {
            serial = first.parse::<u64>().ok();
            message = rest;
            if let Some((source, rest)) = message.split_once(' ')
                && let Some((address, port)) = source.rsplit_once('/')
                && address.parse::<IpAddr>().is_ok()
            {
                out.client = Some(address.into());
                out.client_port = Some(port.into());
                message = rest;
            }
        }
        if let Some(rest) = message.strip_prefix("query[") {
            let (_, rest) = rest.split_once("] ").ok_or_else(bad)?;
            let (name, from) = rest.split_once(" from ").ok_or_else(bad)?;
            let from = from.split(' ').next().unwrap_or(from);
            let name = trim_dot(name);
            out.client = Some(from.into());
            out.push(Seen::Query, name);
            // A name or address longer than DNS allows is not remembered (the memory stays
            // small whatever the log holds).
            if let Some(serial) = serial
                && name.len() <= 255
                && from.len() <= 64
            {
                self.remember(
                    serial,
                    Asked {
                        client: from.to_string(),
                        port: out.client_port.as_deref().map(str::to_string),
                        name: name.to_string(),
                    },
                );
            }
            return Ok(());
        }
        // `source name is value`: reply, cached, config, /etc/hosts, …
        let Some((left, value)) = message.rsplit_once(" is ") else {
            return Ok(());
        };
        let Some((source, name)) = left.rsplit_once(' ') else {
            return Ok(());
        };
        if source.starts_with("forwarded") || source.is_empty() {
            return Ok(());
        }
        let name = trim_dot(name);
        let asked = serial.and_then(|s| self.pending.get(&s));
        if let Some(asked) = asked
            && out.client.is_none()
        {
            out.client = Some(Cow::Owned(asked.client.clone()));
            out.client_port = asked.port.clone().map(Cow::Owned);
        }
        let on_chain = match asked {
            Some(asked) => !asked.name.eq_ignore_ascii_case(name),
            None => was_chain,
        };
        if on_chain {
            out.push(Seen::Cname, name);
        }
        if value == "<CNAME>" {
            self.in_chain = true;
        } else if let Some(value) = value.split(' ').next()
            && value.parse::<IpAddr>().is_ok()
        {
            out.push(Seen::Answer, value);
        }
        Ok(())
    }
}

fn bad() -> Malformed {
    Malformed::new("a dnsmasq query line without its name or client")
}

/// The time (when written), program (`dnsmasq` or `dnsmasq-dhcp`) and message of a line.
fn header(line: &str, year: i16) -> Result<(RawTime<'_>, &str, &str), Malformed> {
    let (time, tagged) = match syslog(line, year) {
        Some((time, program, message)) => {
            if !program.starts_with("dnsmasq") {
                return Err(Malformed::new(
                    "a syslog line from a program other than dnsmasq",
                ));
            }
            return Ok((time, program, message));
        }
        None => (RawTime::Unknown, line),
    };
    let (tag, message) = tagged
        .split_once(": ")
        .ok_or_else(|| Malformed::new("not a dnsmasq log line"))?;
    let program = tag.split_once('[').map_or(tag, |(p, _)| p);
    if !program.starts_with("dnsmasq") || program.contains(' ') {
        return Err(Malformed::new("not a dnsmasq log line"));
    }
    Ok((time, program, message))
}

/// `DHCPACK(eth0) 192.168.1.50 aa:bb:cc:dd:ee:ff phone` (after an optional transaction id).
fn dhcp<'l>(message: &'l str, out: &mut Line<'l>) {
    let message = match message.split_once(' ') {
        Some((id, rest)) if id.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => message,
    };
    let mut fields = message.split(' ');
    if !fields.next().is_some_and(|f| f.starts_with("DHCPACK(")) {
        return;
    }
    let (Some(address), Some(mac)) = (fields.next(), fields.next()) else {
        return;
    };
    if address.parse::<IpAddr>().is_err() || !mac.contains(':') {
        return;
    }
    out.client = Some(address.into());
    out.lease = Some(Lease {
        address: address.into(),
        mac: mac.into(),
        host_name: fields.next().filter(|n| !n.is_empty()).map(Into::into),
        seconds: None,
    });
}

/// Reads every line in file order (see the module note), bounding each line as the shared
/// reader does.
fn read_in_order(
    input: &mut (dyn Read + Send),
    log: &mut DnsmasqLog,
    check: &Check<'_>,
) -> (Tally, Option<std::io::Error>) {
    let mut reader = BufReader::with_capacity(256 * 1024, input);
    let mut tally = Tally::default();
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        match (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
        {
            Ok(0) => return (tally, None),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return (tally, Some(e)),
        }
        line_no += 1;
        tally.lines += 1;
        if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
            tally.malformed(
                line_no,
                "",
                &Malformed::new(format!("a line longer than {MAX_LINE} bytes")),
            );
            if let Err(e) = skip_line(&mut reader) {
                return (tally, Some(e));
            }
            continue;
        }
        let raw = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(text) = std::str::from_utf8(raw) else {
            tally.malformed(
                line_no,
                &String::from_utf8_lossy(raw),
                &Malformed::new("not text (binary data in the log)"),
            );
            continue;
        };
        if text.trim().is_empty() {
            continue;
        }
        let mut out = Line::default();
        match log.parse(text, &mut out) {
            Ok(()) => check.observe(&mut tally, line_no, text, &out),
            Err(reason) => tally.malformed(line_no, text, &reason),
        }
    }
}

/// Discards the rest of an overlong line, a bounded piece at a time.
fn skip_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let (done, used) = {
            let available = match reader.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok(());
            }
            match memchr::memchr(b'\n', available) {
                Some(at) => (true, at + 1),
                None => (false, available.len()),
            }
        };
        reader.consume(used);
        if done {
            return Ok(());
        }
    }
}
