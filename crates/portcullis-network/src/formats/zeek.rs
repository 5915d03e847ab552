//! Zeek logs (`dns`, `conn`, `http`, `ssl`, `x509`, `files`, `dhcp`), in Zeek's ASCII format
//! (TSV with `#separator`/`#set_separator`/`#empty_field`/`#unset_field`/`#fields` headers,
//! which may start again mid-file when logs are concatenated) and in its JSON format (one
//! object per line, as `LogAscii::use_json` writes it).
//!
//! Each column is given a role once, when `#fields` is read; a line is then split and only
//! the columns with a role are looked at.

use std::borrow::Cow;

use serde::Deserialize;

use super::common_name;
use crate::check::Check;
use crate::format::{Format, Head, Input, Module, Outcome};
use crate::line::{Lease, Line, Malformed, RawTime, Seen};
use crate::text::{self, TextLog};

pub struct Zeek;

/// The Zeek logs read, by `#path`, with the fields that tell each apart in a JSON log.
const LOGS: [(&str, Module, &[&str]); 7] = [
    (
        "dns",
        module("zeek_dns", "ZeekDns"),
        &["query", "qtype_name", "trans_id"],
    ),
    ("http", module("zeek_http", "ZeekHttp"), &["method", "uri"]),
    (
        "ssl",
        module("zeek_ssl", "ZeekSsl"),
        &["server_name", "cipher", "ssl_history"],
    ),
    (
        "x509",
        module("zeek_x509", "ZeekX509"),
        &["certificate.subject", "fingerprint"],
    ),
    (
        "files",
        module("zeek_files", "ZeekFiles"),
        &["fuid", "mime_type"],
    ),
    (
        "dhcp",
        module("zeek_dhcp", "ZeekDhcp"),
        &["assigned_addr", "msg_types", "mac"],
    ),
    (
        "conn",
        module("zeek_conn", "ZeekConn"),
        &["conn_state", "history", "orig_bytes"],
    ),
];

const fn module(slug: &'static str, name: &'static str) -> Module {
    Module { slug, name }
}

impl Format for Zeek {
    fn kind(&self) -> &'static str {
        "zeek"
    }

    fn recognise(&self, head: &Head<'_>) -> Option<Module> {
        let mut lines = head.lines.iter().filter(|l| !l.starts_with("### "));
        let first = lines.next()?;
        if first.starts_with("#separator ") {
            let path = head
                .lines
                .iter()
                .find_map(|l| l.strip_prefix("#path").map(str::trim))?;
            return LOGS.iter().find(|(p, _, _)| *p == path).map(|(_, m, _)| *m);
        }
        if first.starts_with('{') {
            let record: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(first).ok()?;
            let zeek_like = record.contains_key("ts")
                && (record.contains_key("uid")
                    || record.contains_key("id.orig_h")
                    || record.contains_key("fuid")
                    || record.contains_key("uids"))
                && !record.contains_key("event_type");
            if !zeek_like {
                return None;
            }
            if let Some(path) = record.get("_path").and_then(|p| p.as_str()) {
                return LOGS.iter().find(|(p, _, _)| *p == path).map(|(_, m, _)| *m);
            }
            return LOGS
                .iter()
                .find(|(_, _, keys)| keys.iter().any(|k| record.contains_key(*k)))
                .map(|(_, m, _)| *m);
        }
        None
    }

    fn read(&self, _module: Module, input: Input<'_>, check: &Check<'_>) -> Outcome {
        let json = input.head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let (tally, error) = if json {
            text::read(input.reader, &mut ZeekJson, check)
        } else {
            text::read(input.reader, &mut ZeekTsv::default(), check)
        };
        Outcome::of_text(tally, error)
    }
}

/// What a column means to the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Time,
    Client,
    ClientPort,
    Server,
    ServerPort,
    Query,
    /// DNS answers: addresses and CNAME targets, mixed.
    Answers,
    HttpHost,
    Uri,
    Sni,
    /// Certificate fingerprints (one or a vector), SHA-1 or SHA-256 by length.
    Fingerprints,
    Subject,
    CertNames,
    FileHash,
    /// files.log's hosts that received the file (the device) and that sent it.
    Receivers,
    Senders,
    LeaseAddress,
    Mac,
    HostName,
    LeaseSeconds,
    MessageTypes,
}

fn role(field: &str) -> Option<Role> {
    Some(match field {
        "ts" => Role::Time,
        "id.orig_h" | "client_addr" => Role::Client,
        "id.orig_p" => Role::ClientPort,
        "id.resp_h" => Role::Server,
        "id.resp_p" => Role::ServerPort,
        "query" => Role::Query,
        "answers" => Role::Answers,
        "host" => Role::HttpHost,
        "uri" => Role::Uri,
        "server_name" => Role::Sni,
        "fingerprint" | "cert_chain_fps" => Role::Fingerprints,
        "certificate.subject" => Role::Subject,
        "san.dns" => Role::CertNames,
        "md5" | "sha1" | "sha256" => Role::FileHash,
        "rx_hosts" => Role::Receivers,
        "tx_hosts" => Role::Senders,
        "assigned_addr" | "assigned_ip" => Role::LeaseAddress,
        "mac" => Role::Mac,
        "host_name" => Role::HostName,
        "lease_time" => Role::LeaseSeconds,
        "msg_types" => Role::MessageTypes,
        _ => return None,
    })
}

/// The parts of a record that need more than one column, gathered while reading columns.
#[derive(Default)]
struct Gathered<'l> {
    host: Option<Cow<'l, str>>,
    uri: Option<Cow<'l, str>>,
    lease_address: Option<Cow<'l, str>>,
    mac: Option<Cow<'l, str>>,
    host_name: Option<Cow<'l, str>>,
    lease_seconds: Option<f64>,
    acked: Option<bool>,
}

impl<'l> Gathered<'l> {
    /// Adds the value of one column of role `role` to `out`.
    fn take(&mut self, role: Role, value: Cow<'l, str>, out: &mut Line<'l>) {
        match role {
            Role::Time => {}
            Role::Client => out.client = Some(value),
            Role::ClientPort => out.client_port = Some(value),
            Role::Server => {
                out.push(Seen::Destination, value.clone());
                out.server = Some(value);
            }
            Role::ServerPort => out.server_port = Some(value),
            Role::Query => out.push(Seen::Query, value),
            Role::Answers => {
                // Only the wording differs (both are checked as hosts), so a glance at the
                // characters does instead of parsing every answer twice.
                let seen = if looks_like_address(&value) {
                    Seen::Answer
                } else {
                    Seen::Cname
                };
                out.push(seen, value);
            }
            Role::HttpHost => {
                out.push(Seen::HttpHost, value.clone());
                self.host = Some(value);
            }
            Role::Uri => self.uri = Some(value),
            Role::Sni => out.push(Seen::Sni, value),
            Role::Fingerprints => {
                let seen = if value.len() == 40 {
                    Seen::CertSha1
                } else {
                    Seen::CertSha256
                };
                out.push(seen, value);
            }
            Role::Subject => {
                if let Some(cn) = common_name(&value) {
                    out.push(Seen::CertName, cn.to_string());
                }
            }
            Role::CertNames => out.push(Seen::CertName, value),
            Role::FileHash => out.push(Seen::FileHash, value),
            Role::Receivers => {
                if out.client.is_none() {
                    out.client = Some(value);
                }
            }
            Role::Senders => out.push(Seen::Destination, value),
            Role::LeaseAddress => self.lease_address = Some(value),
            Role::Mac => self.mac = Some(value),
            Role::HostName => self.host_name = Some(value),
            Role::LeaseSeconds => self.lease_seconds = value.parse().ok(),
            // The lease holds when the last word of the exchange is the server's ACK.
            Role::MessageTypes => {
                for message in value.split(',') {
                    if matches!(message, "ACK" | "NAK" | "DECLINE" | "RELEASE") {
                        self.acked = Some(message == "ACK");
                    }
                }
            }
        }
    }

    /// Completes `out` with what needed several columns: the URL, the lease.
    fn finish(self, out: &mut Line<'l>) {
        if let Some(uri) = self.uri {
            let url = if uri.contains("://") {
                uri
            } else if let Some(host) = &self.host {
                Cow::Owned(format!("http://{host}{uri}"))
            } else {
                uri
            };
            out.push(Seen::HttpUrl, url);
        }
        // Without an assigned address, a client that names its own (DHCPINFORM) still
        // ties that address to its MAC.
        let address = self.lease_address.or_else(|| out.client.clone());
        if let (Some(address), Some(mac)) = (address, self.mac)
            && self.acked != Some(false)
        {
            out.lease = Some(Lease {
                address,
                mac,
                host_name: self.host_name,
                seconds: self.lease_seconds,
            });
        }
    }
}

/// The state of a TSV log: separators and columns, as the last header set them.
struct ZeekTsv {
    separator: u8,
    set_separator: u8,
    empty: String,
    unset: String,
    roles: Vec<Option<Role>>,
    /// Columns after the last one with a role need not be split off.
    last_needed: usize,
    seen_fields: bool,
}

impl Default for ZeekTsv {
    fn default() -> Self {
        ZeekTsv {
            separator: b'\t',
            set_separator: b',',
            empty: "(empty)".into(),
            unset: "-".into(),
            roles: Vec::new(),
            last_needed: 0,
            seen_fields: false,
        }
    }
}

impl TextLog for ZeekTsv {
    fn directive_prefix(&self) -> Option<u8> {
        Some(b'#')
    }

    fn directive(&mut self, line: &str) -> Result<(), Malformed> {
        // `#separator` is always followed by a space; the others by the separator.
        if let Some(value) = line.strip_prefix("#separator ") {
            let value = unescape(value.trim());
            return match value.as_bytes() {
                [b] => {
                    self.separator = *b;
                    Ok(())
                }
                _ => Err(Malformed::new("#separator is not one character")),
            };
        }
        let sep = self.separator as char;
        let (name, value) = line.split_once(sep).unwrap_or((line, ""));
        match name {
            "#set_separator" => match unescape(value).as_bytes() {
                [b] => self.set_separator = *b,
                _ => return Err(Malformed::new("#set_separator is not one character")),
            },
            "#empty_field" => self.empty = unescape(value).into_owned(),
            "#unset_field" => self.unset = unescape(value).into_owned(),
            "#fields" => {
                self.roles = value.split(sep).map(role).collect();
                self.last_needed = self.roles.iter().rposition(Option::is_some).unwrap_or(0);
                self.seen_fields = true;
            }
            // `#path`, `#open`, `#close`, `#types`, btest banners: nothing to act on.
            _ => {}
        }
        Ok(())
    }

    fn parse<'l>(&self, line: &'l str, out: &mut Line<'l>) -> Result<(), Malformed> {
        if !self.seen_fields {
            return Err(Malformed::new("a data line before the #fields header"));
        }
        let columns = memchr::memchr_iter(self.separator, line.as_bytes()).count() + 1;
        if columns != self.roles.len() {
            return Err(Malformed(Cow::Owned(format!(
                "{columns} columns where the #fields header names {}",
                self.roles.len()
            ))));
        }
        let mut gathered = Gathered::default();
        for (i, value) in fields(line, self.separator)
            .enumerate()
            .take(self.last_needed + 1)
        {
            let Some(role) = self.roles[i] else {
                continue;
            };
            if same(value, &self.unset) || same(value, &self.empty) {
                continue;
            }
            if role == Role::Time {
                out.time = RawTime::Epoch(value);
                continue;
            }
            if is_set(role) {
                for item in fields(value, self.set_separator) {
                    gathered.take(role, unescape(item), out);
                }
            } else {
                gathered.take(role, unescape(value), out);
            }
        }
        gathered.finish(out);
        Ok(())
    }
}

/// The fields of `text` between `separator` bytes (an ASCII byte, so every cut is on a
/// character boundary), found with memchr: this is the innermost loop of a Zeek log.
fn fields(text: &str, separator: u8) -> impl Iterator<Item = &str> {
    let mut start = 0;
    memchr::memchr_iter(separator, text.as_bytes())
        .chain(std::iter::once(text.len()))
        .map(move |end| {
            let field = text.get(start..end).unwrap_or_default();
            start = end + 1;
            field
        })
}

/// `value == marker`, without a call to memcmp for the one- and seven-byte markers compared
/// on every field.
fn same(value: &str, marker: &str) -> bool {
    value.len() == marker.len() && value.bytes().zip(marker.bytes()).all(|(a, b)| a == b)
}

/// An IPv4 or IPv6 address, by its characters: digits and dots, or a colon (no name has one).
fn looks_like_address(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || memchr::memchr(b':', value.as_bytes()).is_some()
}

/// Roles whose column is a Zeek set or vector.
fn is_set(role: Role) -> bool {
    matches!(
        role,
        Role::Answers
            | Role::Fingerprints
            | Role::CertNames
            | Role::Receivers
            | Role::Senders
            | Role::MessageTypes
    )
}

/// Undoes Zeek's `\xHH` escapes (non-printable bytes, separators inside values).
fn unescape(value: &str) -> Cow<'_, str> {
    // Most fields hold no backslash at all: one memchr, not a substring search.
    if memchr::memchr(b'\\', value.as_bytes()).is_none() {
        return Cow::Borrowed(value);
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && bytes.get(i + 1) == Some(&b'x')
            && let Some(byte) = value
                .get(i + 2..i + 4)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Zeek's JSON logs: the same fields, by name. Only the fields with a role are read.
struct ZeekJson;

#[derive(Deserialize)]
struct JsonRecord<'a> {
    #[serde(borrow)]
    ts: Option<JsonTime<'a>>,
    #[serde(rename = "id.orig_h", alias = "client_addr", borrow)]
    orig_h: Option<Cow<'a, str>>,
    #[serde(rename = "id.orig_p")]
    orig_p: Option<u32>,
    #[serde(rename = "id.resp_h", borrow)]
    resp_h: Option<Cow<'a, str>>,
    #[serde(rename = "id.resp_p")]
    resp_p: Option<u32>,
    /// Some shippers nest the connection: `"id": {"orig_h": …}`.
    #[serde(borrow)]
    id: Option<JsonId<'a>>,
    #[serde(borrow)]
    query: Option<Cow<'a, str>>,
    #[serde(borrow)]
    answers: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow)]
    host: Option<Cow<'a, str>>,
    #[serde(borrow)]
    uri: Option<Cow<'a, str>>,
    #[serde(borrow)]
    server_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    fingerprint: Option<Cow<'a, str>>,
    #[serde(borrow)]
    cert_chain_fps: Option<Vec<Cow<'a, str>>>,
    #[serde(rename = "certificate.subject", borrow)]
    subject: Option<Cow<'a, str>>,
    #[serde(rename = "san.dns", borrow)]
    san_dns: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow)]
    md5: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sha1: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sha256: Option<Cow<'a, str>>,
    #[serde(borrow)]
    rx_hosts: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow)]
    tx_hosts: Option<Vec<Cow<'a, str>>>,
    #[serde(alias = "assigned_ip", borrow)]
    assigned_addr: Option<Cow<'a, str>>,
    #[serde(borrow)]
    mac: Option<Cow<'a, str>>,
    #[serde(borrow)]
    host_name: Option<Cow<'a, str>>,
    lease_time: Option<f64>,
    #[serde(borrow)]
    msg_types: Option<Vec<Cow<'a, str>>>,
}

#[derive(Deserialize)]
struct JsonId<'a> {
    #[serde(borrow)]
    orig_h: Option<Cow<'a, str>>,
    orig_p: Option<u32>,
    #[serde(borrow)]
    resp_h: Option<Cow<'a, str>>,
    resp_p: Option<u32>,
}

/// `ts` as epoch seconds (the default) or ISO 8601 (`LogAscii::json_timestamps`).
#[derive(Deserialize)]
#[serde(untagged)]
enum JsonTime<'a> {
    Seconds(f64),
    Text(#[serde(borrow)] Cow<'a, str>),
}

impl TextLog for ZeekJson {
    fn parse<'l>(&self, line: &'l str, out: &mut Line<'l>) -> Result<(), Malformed> {
        let r: JsonRecord<'l> = serde_json::from_str(line)
            .map_err(|e| Malformed(Cow::Owned(format!("not a Zeek JSON record: {e}"))))?;
        out.time = match &r.ts {
            Some(JsonTime::Seconds(s)) if s.is_finite() => RawTime::Micros((s * 1e6) as i64),
            Some(JsonTime::Text(Cow::Borrowed(t))) => RawTime::Iso(t),
            _ => RawTime::Unknown,
        };
        let (orig_h, orig_p, resp_h, resp_p) = match r.id {
            Some(id) => (id.orig_h, id.orig_p, id.resp_h, id.resp_p),
            None => (r.orig_h, r.orig_p, r.resp_h, r.resp_p),
        };
        let mut g = Gathered::default();
        let port = |p: Option<u32>| p.map(|p| Cow::Owned(p.to_string()));
        let one = |role, v: Option<Cow<'l, str>>| v.into_iter().map(move |v| (role, v));
        let many =
            |role, v: Option<Vec<Cow<'l, str>>>| v.into_iter().flatten().map(move |v| (role, v));
        let values = one(Role::Client, orig_h)
            .chain(one(Role::ClientPort, port(orig_p)))
            .chain(one(Role::Server, resp_h))
            .chain(one(Role::ServerPort, port(resp_p)))
            .chain(one(Role::Query, r.query))
            .chain(many(Role::Answers, r.answers))
            .chain(one(Role::HttpHost, r.host))
            .chain(one(Role::Uri, r.uri))
            .chain(one(Role::Sni, r.server_name))
            .chain(one(Role::Fingerprints, r.fingerprint))
            .chain(many(Role::Fingerprints, r.cert_chain_fps))
            .chain(one(Role::Subject, r.subject))
            .chain(many(Role::CertNames, r.san_dns))
            .chain(one(Role::FileHash, r.md5))
            .chain(one(Role::FileHash, r.sha1))
            .chain(one(Role::FileHash, r.sha256))
            .chain(many(Role::Receivers, r.rx_hosts))
            .chain(many(Role::Senders, r.tx_hosts))
            .chain(one(Role::LeaseAddress, r.assigned_addr))
            .chain(one(Role::Mac, r.mac))
            .chain(one(Role::HostName, r.host_name));
        for (role, value) in values {
            g.take(role, value, out);
        }
        if let Some(types) = r.msg_types {
            g.take(Role::MessageTypes, Cow::Owned(types.join(",")), out);
        }
        g.lease_seconds = r.lease_time;
        g.finish(out);
        Ok(())
    }
}
