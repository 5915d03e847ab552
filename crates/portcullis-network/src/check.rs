//! Checking lines against the indicators, and the tally of one file (or one batch of it):
//! counts, clients, malformed lines, leases and hits. Tallies of batches merge in file order.

use std::borrow::Cow;

use hashbrown::{HashMap, HashSet};
use portcullis_indicators::{IndicatorMatch, Indicators};

use crate::line::{Lease, Line, Malformed, RawTime, Seen};
use crate::time;

/// Hits kept in full per file, for alerts; past it, hits are still counted per indicator and
/// client (first and last contact) but not listed one by one.
pub const MAX_HITS_LISTED: usize = 1_000;
/// Kinds of malformed line quoted per file; the rest are counted.
pub const MAX_MALFORMED_LISTED: usize = 20;
/// Distinct client addresses remembered per file; past it, only counted as "more".
pub const MAX_CLIENTS: usize = 100_000;
/// Characters of a matched line kept with its alert.
const MAX_RAW: usize = 2_000;

/// What to check a file's lines against.
pub struct Check<'a> {
    pub indicators: &'a Indicators,
}

/// One name or address of one line that matched an indicator.
#[derive(Debug, Clone)]
pub struct Hit {
    pub line: u64,
    /// Microseconds since the epoch, UTC, when the line's time could be read.
    pub time: Option<i64>,
    pub client: Option<String>,
    pub client_port: Option<String>,
    pub server: Option<String>,
    pub server_port: Option<String>,
    pub seen: Seen,
    pub indicator: IndicatorMatch,
    /// The line as logged (cut at 2,000 characters), for the analyst.
    pub raw: String,
}

/// Every contact of one client with one indicator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    pub count: u64,
    pub first: Option<i64>,
    pub last: Option<i64>,
}

impl Contact {
    fn add(&mut self, time: Option<i64>) {
        self.count += 1;
        if let Some(t) = time {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
    }

    fn merge(&mut self, other: &Contact) {
        self.count += other.count;
        for t in [other.first, other.last].into_iter().flatten() {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
    }
}

/// Lines malformed for one reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedNote {
    pub reason: String,
    pub first_line: u64,
    /// The first such line, cut at 200 characters.
    pub quote: String,
    pub count: u64,
}

impl std::fmt::Display for MalformedNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.first_line, self.reason)?;
        if !self.quote.is_empty() {
            write!(f, ": {}", self.quote)?;
        }
        if self.count > 1 {
            write!(f, " ({} lines like it)", self.count)?;
        }
        Ok(())
    }
}

/// A DHCP lease, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenLease {
    pub time: Option<i64>,
    pub address: String,
    pub mac: String,
    pub host_name: Option<String>,
    pub seconds: Option<f64>,
}

/// Which indicator, and which client, a contact is counted under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContactKey {
    /// The indicator's STIX id, or its value when the id is unknown.
    pub indicator: String,
    pub client: Option<String>,
}

/// What the lines of a file (or of a batch of it) came to.
#[derive(Debug, Default)]
pub struct Tally {
    pub lines: u64,
    /// Lines that were records of the format (not blank, not directives, not malformed).
    pub records: u64,
    pub malformed: u64,
    /// Malformed lines by reason, each with the first line it was met on: a header that
    /// lies makes every line after it malformed for one reason, reported once.
    pub malformed_listed: Vec<MalformedNote>,
    /// Distinct client addresses, as 64-bit hashes of their text: batches and files merge
    /// without copying strings (a collision among 100,000 addresses is a one in 10^9 chance,
    /// and only undercounts by one).
    pub clients: HashSet<u64>,
    /// Distinct clients past [`MAX_CLIENTS`] not remembered.
    pub clients_over: bool,
    pub hits: Vec<Hit>,
    /// Hits past [`MAX_HITS_LISTED`], counted in `contacts` only.
    pub hits_unlisted: u64,
    pub contacts: HashMap<ContactKey, (IndicatorMatch, Contact)>,
    pub leases: Vec<SeenLease>,
    /// The last destination looked up and what it matched: a DNS or proxy log names the same
    /// resolver or upstream on nearly every line, so most lookups are this one.
    last_destination: Option<(String, Option<IndicatorMatch>)>,
}

impl Tally {
    /// Counts line `line_no` as malformed, quoting it while few have been.
    pub fn malformed(&mut self, line_no: u64, text: &str, reason: &Malformed) {
        self.malformed += 1;
        self.note_malformed(MalformedNote {
            reason: reason.to_string(),
            first_line: line_no,
            quote: cut(text, 200),
            count: 1,
        });
    }

    fn note_malformed(&mut self, note: MalformedNote) {
        if let Some(known) = self
            .malformed_listed
            .iter_mut()
            .find(|n| n.reason == note.reason)
        {
            known.count += note.count;
        } else if self.malformed_listed.len() < MAX_MALFORMED_LISTED {
            self.malformed_listed.push(note);
        }
    }

    fn client(&mut self, hash: u64) {
        if self.clients.len() < MAX_CLIENTS {
            self.clients.insert(hash);
        } else if !self.clients.contains(&hash) {
            self.clients_over = true;
        }
    }

    /// Adds the tally of the lines that follow this one's.
    pub fn merge(&mut self, other: Tally) {
        self.lines += other.lines;
        self.records += other.records;
        self.malformed += other.malformed;
        for note in other.malformed_listed {
            self.note_malformed(note);
        }
        self.clients_over |= other.clients_over;
        for client in other.clients {
            self.client(client);
        }
        let room = MAX_HITS_LISTED.saturating_sub(self.hits.len());
        self.hits_unlisted += other.hits_unlisted + other.hits.len().saturating_sub(room) as u64;
        self.hits.extend(other.hits.into_iter().take(room));
        for (key, (indicator, contact)) in other.contacts {
            self.contacts
                .entry(key)
                .or_insert_with(|| (indicator, Contact::default()))
                .1
                .merge(&contact);
        }
        self.leases.extend(other.leases);
    }
}

impl Check<'_> {
    /// Checks every item of `line` (line `line_no`, written as `raw`) and counts it.
    pub fn observe(&self, tally: &mut Tally, line_no: u64, raw: &str, line: &Line<'_>) {
        tally.records += 1;
        if let Some(client) = line
            .client
            .as_deref()
            .filter(|c| !c.is_empty() && *c != "-")
        {
            tally.client(client_hash(client));
        }
        if let Some(lease) = &line.lease {
            tally.leases.push(own_lease(line.time, lease));
        }
        let mut matched: Vec<(Seen, IndicatorMatch)> = Vec::new();
        for item in &line.items {
            let found = match (&tally.last_destination, item.seen) {
                (Some((last, found)), Seen::Destination) if *last == item.value => found.clone(),
                (_, Seen::Destination) => {
                    let found = self.lookup(item.seen, &item.value);
                    tally.last_destination = Some((item.value.to_string(), found.clone()));
                    found
                }
                _ => self.lookup(item.seen, &item.value),
            };
            let Some(hit) = found else {
                continue;
            };
            // One alert per indicator and place per line (a name in the query and the
            // answer's owner name is one contact).
            if !matched
                .iter()
                .any(|(seen, m)| *seen == item.seen && same_indicator(m, &hit))
            {
                matched.push((item.seen, hit));
            }
        }
        if matched.is_empty() {
            return;
        }
        let time = time::micros(line.time);
        let client = line.client.as_deref().map(str::to_string);
        let mut counted: Vec<String> = Vec::new();
        for (seen, indicator) in matched {
            let key = indicator_key(&indicator);
            if !counted.contains(&key) {
                tally
                    .contacts
                    .entry(ContactKey {
                        indicator: key.clone(),
                        client: client.clone(),
                    })
                    .or_insert_with(|| (indicator.clone(), Contact::default()))
                    .1
                    .add(time);
                counted.push(key);
            }
            if tally.hits.len() >= MAX_HITS_LISTED {
                tally.hits_unlisted += 1;
                continue;
            }
            tally.hits.push(Hit {
                line: line_no,
                time,
                client: client.clone(),
                client_port: owned(&line.client_port),
                server: owned(&line.server),
                server_port: owned(&line.server_port),
                seen,
                indicator,
                raw: cut(raw, MAX_RAW),
            });
        }
    }

    /// Looks one value up by where it was seen (the rules of docs/matching.md).
    fn lookup(&self, seen: Seen, value: &str) -> Option<IndicatorMatch> {
        let ind = self.indicators;
        match seen {
            Seen::Query
            | Seen::Cname
            | Seen::Sni
            | Seen::HttpHost
            | Seen::Answer
            | Seen::CertName => ind.check_host(value),
            Seen::Destination => ind.check_ip(value),
            Seen::HttpUrl => ind.check_url(value),
            Seen::CertSha1 | Seen::CertSha256 => ind.check_cert_hash(value),
            Seen::FileHash => ind.check_file_hash(value),
        }
    }
}

/// The hash a client address is counted under, the same in every file and batch.
pub fn client_hash(client: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x636c_6965_6e74).hash_one(client)
}

/// What a contact is counted under: the STIX id when known.
pub fn indicator_key(m: &IndicatorMatch) -> String {
    if m.stix.id.is_empty() {
        format!("{}:{}", m.ioc_type.as_str(), m.value)
    } else {
        m.stix.id.clone()
    }
}

fn same_indicator(a: &IndicatorMatch, b: &IndicatorMatch) -> bool {
    indicator_key(a) == indicator_key(b)
}

fn owned(value: &Option<Cow<'_, str>>) -> Option<String> {
    value
        .as_deref()
        .filter(|v| !v.is_empty() && *v != "-")
        .map(str::to_string)
}

fn own_lease(time: RawTime<'_>, lease: &Lease<'_>) -> SeenLease {
    SeenLease {
        time: time::micros(time),
        address: lease.address.to_string(),
        mac: lease.mac.to_ascii_lowercase(),
        host_name: lease.host_name.as_deref().map(str::to_string),
        seconds: lease.seconds,
    }
}

/// At most `max` characters of `text`.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}
