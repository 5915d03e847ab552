//! Suricata's EVE JSON log (`eve.json`): DNS in every layout Suricata has written (v1 one
//! event per answer, v2 `answers`/`grouped`, v3 of Suricata 8 with `queries`), TLS server
//! names, certificate fingerprints and subjects, HTTP host and URL, file hashes, and the
//! addresses of every event (alerts, flows…).

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::common_name;
use crate::check::Check;
use crate::format::{Format, Head, Input, Module, Outcome};
use crate::line::{Line, Malformed, RawTime, Seen};
use crate::text::{self, TextLog};

pub struct Suricata;

const EVE: Module = Module {
    slug: "suricata_eve",
    name: "SuricataEve",
};

impl Format for Suricata {
    fn kind(&self) -> &'static str {
        "suricata"
    }

    fn recognise(&self, head: &Head<'_>) -> Option<Module> {
        let first = head.lines.first()?;
        if !first.starts_with('{') {
            return None;
        }
        let event: serde_json::Map<String, serde_json::Value> = serde_json::from_str(first).ok()?;
        (event.contains_key("event_type") && event.contains_key("timestamp")).then_some(EVE)
    }

    fn read(&self, _module: Module, input: Input<'_>, check: &Check<'_>) -> Outcome {
        let (tally, error) = text::read(input.reader, &mut Eve, check);
        Outcome::of_text(tally, error)
    }
}

struct Eve;

/// The parts of an EVE event the check reads; everything else is skipped unparsed.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    /// Required: a JSON object without it is not an EVE event.
    #[serde(rename = "event_type")]
    _event_type: IgnoredAny,
    #[serde(borrow)]
    src_ip: Option<Cow<'a, str>>,
    src_port: Option<u32>,
    #[serde(borrow)]
    dest_ip: Option<Cow<'a, str>>,
    dest_port: Option<u32>,
    /// `to_client` when the event was logged on a packet from the server (Suricata 7+).
    #[serde(borrow)]
    direction: Option<Cow<'a, str>>,
    #[serde(borrow)]
    dns: Option<Dns<'a>>,
    #[serde(borrow)]
    tls: Option<Tls<'a>>,
    #[serde(borrow)]
    http: Option<Http<'a>>,
    #[serde(borrow)]
    fileinfo: Option<FileInfo<'a>>,
}

#[derive(Deserialize)]
struct Dns<'a> {
    /// v1/v2 `query`/`answer`, v3 `request`/`response`.
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    /// The question (v1, v2), or the owner of a v1 answer.
    #[serde(borrow)]
    rrname: Option<Cow<'a, str>>,
    #[serde(borrow)]
    rrtype: Option<Cow<'a, str>>,
    /// A v1 answer's data.
    #[serde(borrow)]
    rdata: Option<Cow<'a, str>>,
    /// v3: the questions.
    #[serde(borrow)]
    queries: Option<Vec<Record<'a>>>,
    #[serde(borrow)]
    answers: Option<Vec<Record<'a>>>,
    /// Answers by type (`{"A": ["1.2.3.4"], "CNAME": ["x.example"]}`); other types hold
    /// objects, skipped.
    #[serde(borrow)]
    grouped: Option<HashMap<Cow<'a, str>, Vec<Grouped<'a>>>>,
}

#[derive(Deserialize)]
struct Record<'a> {
    /// A v3 question's name (answers' owner names repeat the question or the CNAME chain).
    #[serde(borrow)]
    rrname: Option<Cow<'a, str>>,
    #[serde(borrow)]
    rrtype: Option<Cow<'a, str>>,
    #[serde(borrow)]
    rdata: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Grouped<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Other(IgnoredAny),
}

#[derive(Deserialize)]
struct Tls<'a> {
    #[serde(borrow)]
    sni: Option<Cow<'a, str>>,
    /// SHA-1 of the server certificate, `cb:18:…`.
    #[serde(borrow)]
    fingerprint: Option<Cow<'a, str>>,
    #[serde(borrow)]
    subject: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Http<'a> {
    #[serde(borrow)]
    hostname: Option<Cow<'a, str>>,
    #[serde(borrow)]
    url: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct FileInfo<'a> {
    #[serde(borrow)]
    md5: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sha1: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sha256: Option<Cow<'a, str>>,
}

impl TextLog for Eve {
    fn parse<'l>(&self, line: &'l str, out: &mut Line<'l>) -> Result<(), Malformed> {
        let event: Event<'l> = serde_json::from_str(line)
            .map_err(|e| Malformed(Cow::Owned(format!("not an EVE JSON event: {e}"))))?;
        if let Some(Cow::Borrowed(ts)) = event.timestamp {
            out.time = RawTime::Iso(ts);
        }
        let answered = event
            .dns
            .as_ref()
            .and_then(|d| d.kind.as_deref())
            .is_some_and(|k| k == "answer" || k == "response");
        // Suricata before 7 does not say which way an event's packet went, and logs a
        // download's fileinfo (and many alerts) on the server's packet: a well-known port
        // answering a high one is the server.
        let server_first = matches!(
            (event.src_port, event.dest_port),
            (Some(src), Some(dest)) if src < 1024 && dest >= 1024
        );
        let from_server = answered
            || match event.direction.as_deref() {
                Some(direction) => direction == "to_client",
                None => server_first,
            };
        let port = |p: Option<u32>| p.map(|p| Cow::Owned(p.to_string()));
        let (client, client_port, server, server_port) = if from_server {
            (
                event.dest_ip,
                port(event.dest_port),
                event.src_ip,
                port(event.src_port),
            )
        } else {
            (
                event.src_ip,
                port(event.src_port),
                event.dest_ip,
                port(event.dest_port),
            )
        };
        out.client = client;
        out.client_port = client_port;
        out.server_port = server_port;
        if let Some(server) = server {
            out.push(Seen::Destination, server.clone());
            out.server = Some(server);
        }
        if let Some(dns) = event.dns {
            dns_items(dns, out);
        }
        if let Some(tls) = event.tls {
            if let Some(sni) = tls.sni {
                out.push(Seen::Sni, trim_dot(sni));
            }
            if let Some(fingerprint) = tls.fingerprint {
                out.push(Seen::CertSha1, fingerprint);
            }
            if let Some(cn) = tls.subject.as_deref().and_then(common_name) {
                out.push(Seen::CertName, cn.to_string());
            }
        }
        if let Some(http) = event.http {
            if let Some(url) = http.url {
                let url = match &http.hostname {
                    Some(host) if !url.contains("://") => Cow::Owned(format!("http://{host}{url}")),
                    _ => url,
                };
                out.push(Seen::HttpUrl, url);
            }
            if let Some(host) = http.hostname {
                out.push(Seen::HttpHost, host);
            }
        }
        if let Some(file) = event.fileinfo {
            for hash in [file.md5, file.sha1, file.sha256].into_iter().flatten() {
                out.push(Seen::FileHash, hash);
            }
        }
        Ok(())
    }
}

/// The names and addresses of a DNS event, whatever its layout.
fn dns_items<'l>(dns: Dns<'l>, out: &mut Line<'l>) {
    let v1_answer = dns.kind.as_deref() == Some("answer") && dns.answers.is_none();
    if let Some(name) = dns.rrname {
        out.push(Seen::Query, trim_dot(name));
    }
    for query in dns.queries.into_iter().flatten() {
        if let Some(name) = query.rrname {
            out.push(Seen::Query, trim_dot(name));
        }
    }
    if v1_answer && let Some(data) = dns.rdata {
        answer(dns.rrtype.as_deref(), data, out);
    }
    match (dns.answers, dns.grouped) {
        (Some(answers), _) => {
            for record in answers {
                if let Some(data) = record.rdata {
                    answer(record.rrtype.as_deref(), data, out);
                }
            }
        }
        (None, Some(grouped)) => {
            for (rrtype, values) in grouped {
                for value in values {
                    if let Grouped::Text(data) = value {
                        answer(Some(&rrtype), data, out);
                    }
                }
            }
        }
        (None, None) => {}
    }
}

/// An answer's data by its type: addresses and CNAME targets are checked, the rest (TXT,
/// MX…) is not a name or address the device went to.
fn answer<'l>(rrtype: Option<&str>, data: Cow<'l, str>, out: &mut Line<'l>) {
    match rrtype {
        Some("A" | "AAAA") => out.push(Seen::Answer, data),
        Some("CNAME") => out.push(Seen::Cname, trim_dot(data)),
        _ => {}
    }
}

/// `www.example.com.` → `www.example.com`.
fn trim_dot(name: Cow<'_, str>) -> Cow<'_, str> {
    match name {
        Cow::Borrowed(n) => Cow::Borrowed(n.strip_suffix('.').unwrap_or(n)),
        Cow::Owned(n) => match n.strip_suffix('.') {
            Some(t) => Cow::Owned(t.to_string()),
            None => Cow::Owned(n),
        },
    }
}
