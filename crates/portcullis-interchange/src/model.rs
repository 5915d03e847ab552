//! What every importer produces before it is written as STIX: actors (each a `malware`
//! object, so Portcullis' loader names the collection after it, as MVT does) and their
//! observables, with the references and markings that came with them.

use std::collections::HashMap;
use std::net::IpAddr;

/// One value an indicator describes, normalised so that two spellings of the same value
/// become one indicator (and one deterministic id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Observable {
    /// A lower-case ASCII (punycode) domain name.
    Domain(String),
    /// An address, or a CIDR network (`203.0.113.0/24`), in its canonical text.
    Ip(String),
    /// An absolute URL with a scheme.
    Url(String),
    /// A URL without a scheme (`bad.example/x.php`): matched under `http://` and `https://`.
    SchemelessUrl(String),
    /// Only a path (and maybe a query), `/hass/upload-log.php`: matches that path on any host.
    UrlPath(String),
    Email(String),
    FileName(String),
    Md5(String),
    Sha1(String),
    Sha256(String),
    /// The types no import reads but a STIX export writes back: a process name, a file
    /// path, an app id, an app signing-certificate hash, an iOS profile id, an Android
    /// property name.
    Process(String),
    FilePath(String),
    AppId(String),
    AppCertHash(String),
    /// A TLS certificate fingerprint (SHA-1 or SHA-256 by length).
    CertHash(String),
    ProfileId(String),
    AndroidProperty(String),
}

impl Observable {
    /// The STIX 2.1 pattern; quotes and backslashes in the value are escaped.
    pub fn pattern(&self) -> String {
        let q = quote;
        match self {
            Observable::Domain(v) => format!("[domain-name:value = '{}']", q(v)),
            Observable::Ip(v) if v.contains(':') => format!("[ipv6-addr:value = '{}']", q(v)),
            Observable::Ip(v) => format!("[ipv4-addr:value = '{}']", q(v)),
            Observable::Url(v) | Observable::UrlPath(v) => format!("[url:value = '{}']", q(v)),
            Observable::SchemelessUrl(v) => format!(
                "[url:value = 'http://{0}' OR url:value = 'https://{0}']",
                q(v)
            ),
            Observable::Email(v) => format!("[email-addr:value = '{}']", q(v)),
            Observable::FileName(v) => format!("[file:name = '{}']", q(v)),
            Observable::Md5(v) => format!("[file:hashes.MD5 = '{}']", q(v)),
            Observable::Sha1(v) => format!("[file:hashes.'SHA-1' = '{}']", q(v)),
            Observable::Sha256(v) => format!("[file:hashes.'SHA-256' = '{}']", q(v)),
            Observable::Process(v) => format!("[process:name = '{}']", q(v)),
            Observable::FilePath(v) => format!("[file:path = '{}']", q(v)),
            Observable::AppId(v) => format!("[app:id = '{}']", q(v)),
            Observable::AppCertHash(v) => {
                let algorithm = match v.len() {
                    32 => "md5",
                    40 => "sha1",
                    _ => "sha256",
                };
                format!("[app:cert.{algorithm} = '{}']", q(v))
            }
            Observable::CertHash(v) => {
                let algorithm = if v.len() == 40 {
                    "'SHA-1'"
                } else {
                    "'SHA-256'"
                };
                format!("[x509-certificate:hashes.{algorithm} = '{}']", q(v))
            }
            Observable::ProfileId(v) => format!("[configuration-profile:id = '{}']", q(v)),
            Observable::AndroidProperty(v) => format!("[android-property:name = '{}']", q(v)),
        }
    }

    /// The value itself, as the indicator's name shows it.
    pub fn value(&self) -> &str {
        match self {
            Observable::Domain(v)
            | Observable::Ip(v)
            | Observable::Url(v)
            | Observable::SchemelessUrl(v)
            | Observable::UrlPath(v)
            | Observable::Email(v)
            | Observable::FileName(v)
            | Observable::Md5(v)
            | Observable::Sha1(v)
            | Observable::Sha256(v)
            | Observable::Process(v)
            | Observable::FilePath(v)
            | Observable::AppId(v)
            | Observable::AppCertHash(v)
            | Observable::CertHash(v)
            | Observable::ProfileId(v)
            | Observable::AndroidProperty(v) => v,
        }
    }

    /// A hash of 32, 40 or 64 hex digits, by its length.
    pub fn hash(value: &str) -> Option<Observable> {
        let v = value.trim().to_ascii_lowercase();
        if !v.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        match v.len() {
            32 => Some(Observable::Md5(v)),
            40 => Some(Observable::Sha1(v)),
            64 => Some(Observable::Sha256(v)),
            _ => None,
        }
    }

    /// A domain name: ASCII letters, digits, `-`, `_` and inner dots, at least two labels;
    /// a name that is not ASCII is IDNA-mapped (so `bücher.example` is `xn--bcher-kva.example`).
    pub fn domain(value: &str) -> Option<Observable> {
        // No name is longer than 253 bytes, even before IDNA shortens a non-ASCII one.
        if value.len() > 4 * 253 {
            return None;
        }
        let v = value.trim().trim_end_matches('.');
        let v = v.strip_prefix("*.").unwrap_or(v);
        let ascii = if v.is_ascii() {
            v.to_ascii_lowercase()
        } else {
            idna::domain_to_ascii(v).ok()?
        };
        let labels_ok = ascii.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        let ok = labels_ok && ascii.contains('.') && ascii.len() <= 253 && ip(&ascii).is_none();
        ok.then_some(Observable::Domain(ascii))
    }

    /// An IP address or CIDR network (host bits kept as written would be ambiguous: a
    /// network `10.1.2.3/8` is written `10.0.0.0/8`).
    pub fn ip(value: &str) -> Option<Observable> {
        let v = value.trim();
        let (addr, prefix) = match v.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
            None => (v, None),
        };
        let addr = ip(addr.trim_start_matches('[').trim_end_matches(']'))?;
        let text = match (addr, prefix) {
            (_, None) => addr.to_string(),
            (IpAddr::V4(a), Some(p)) if p <= 32 => {
                let mask = u32::MAX.checked_shl(32 - u32::from(p)).unwrap_or(0);
                format!("{}/{p}", std::net::Ipv4Addr::from(u32::from(a) & mask))
            }
            (IpAddr::V6(a), Some(p)) if p <= 128 => {
                let mask = u128::MAX.checked_shl(128 - u32::from(p)).unwrap_or(0);
                format!("{}/{p}", std::net::Ipv6Addr::from(u128::from(a) & mask))
            }
            _ => return None,
        };
        Some(Observable::Ip(text))
    }

    /// An e-mail address, lower-cased.
    pub fn email(value: &str) -> Option<Observable> {
        let v = value.trim();
        let (local, domain) = v.rsplit_once('@')?;
        let ok = !local.is_empty() && !v.chars().any(char::is_whitespace);
        (ok && Observable::domain(domain).is_some()).then(|| Observable::Email(v.to_lowercase()))
    }

    /// A URL: absolute with a scheme, or a path starting with `/`. Whitespace and control
    /// characters are refused (no URL contains them, and they would break the exports).
    pub fn url(value: &str) -> Option<Observable> {
        let v = value.trim();
        if v.is_empty()
            || v.len() > MAX_VALUE
            || v.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return None;
        }
        if v.starts_with('/') && !v.starts_with("//") {
            return Some(Observable::UrlPath(v.to_string()));
        }
        let (scheme, rest) = v.split_once("://")?;
        let scheme_ok = scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
            && scheme
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic());
        (scheme_ok && !rest.is_empty()).then(|| Observable::Url(v.to_string()))
    }

    /// `host/path` without a scheme (a trail's `bad.example/x.php`, a Zeek URL).
    pub fn schemeless(value: &str) -> Option<Observable> {
        let (host, path) = value.trim().split_once('/')?;
        Observable::host(host)?;
        Observable::url(&format!("/{path}"))?;
        Some(Observable::SchemelessUrl(format!(
            "{}/{path}",
            host.to_ascii_lowercase()
        )))
    }

    /// What a bare host name or address stands for, whichever it is.
    pub fn host(value: &str) -> Option<Observable> {
        Observable::ip(value).or_else(|| Observable::domain(value))
    }

    fn kind(&self) -> &'static str {
        match self {
            Observable::Domain(_) => "domain-name",
            Observable::Ip(_) => "ip",
            Observable::Url(_) | Observable::SchemelessUrl(_) | Observable::UrlPath(_) => "url",
            Observable::Email(_) => "email-addr",
            Observable::FileName(_) => "file-name",
            Observable::Md5(_) => "md5",
            Observable::Sha1(_) => "sha1",
            Observable::Sha256(_) => "sha256",
            Observable::Process(_) => "process",
            Observable::FilePath(_) => "file-path",
            Observable::AppId(_) => "app-id",
            Observable::AppCertHash(_) => "app-cert",
            Observable::CertHash(_) => "x509-certificate",
            Observable::ProfileId(_) => "configuration-profile",
            Observable::AndroidProperty(_) => "android-property",
        }
    }

    /// The key two indicators of the same value share (their id is made from it).
    pub(crate) fn key(&self) -> String {
        let value = match self {
            Observable::SchemelessUrl(v) => format!("//{v}"),
            other => other.value().to_string(),
        };
        format!("{}:{value}", self.kind())
    }
}

/// Longest value an importer accepts; longer ones are not indicators anyone wrote by hand.
pub const MAX_VALUE: usize = 4096;

fn ip(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// A STIX pattern string literal's contents.
fn quote(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\'', "\\'")
}

/// A source an indicator or actor cites: a STIX `external_reference`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    pub url: String,
    /// The text after the address (`# Reference: URL (text)`), without its parentheses.
    pub description: Option<String>,
}

/// One indicator: its value and what its source said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    pub observable: Observable,
    /// The entries as the source wrote them, where they differ from the value (a trail's
    /// `1.2.3.4:5050`, `http://1.2.3.4`): kept in the indicator's description.
    pub written: Vec<String>,
    pub labels: Vec<String>,
    /// Marking-definition ids (TLP).
    pub markings: Vec<String>,
    pub references: Vec<Reference>,
    pub description: Option<String>,
}

impl Indicator {
    pub fn new(observable: Observable) -> Self {
        Indicator {
            observable,
            written: Vec::new(),
            labels: Vec::new(),
            markings: Vec::new(),
            references: Vec::new(),
            description: None,
        }
    }
}

/// An actor or malware family (a STIX `malware` object) and the indicators of it.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub name: String,
    pub aliases: Vec<String>,
    pub description: Option<String>,
    pub references: Vec<Reference>,
    indicators: Vec<Indicator>,
    /// Observable → position in `indicators`: a value listed twice becomes one indicator.
    seen: HashMap<Observable, usize>,
}

impl Actor {
    pub fn new(name: &str) -> Self {
        Actor {
            name: name.to_string(),
            ..Actor::default()
        }
    }

    /// Adds an indicator; one of a value already held merges into it (its spellings,
    /// labels, markings and references are added, each once).
    pub fn add(&mut self, indicator: Indicator) {
        match self.seen.get(&indicator.observable) {
            Some(&at) => {
                let held = &mut self.indicators[at];
                extend_unique(&mut held.written, indicator.written);
                extend_unique(&mut held.labels, indicator.labels);
                extend_unique(&mut held.markings, indicator.markings);
                extend_unique(&mut held.references, indicator.references);
                if held.description.is_none() {
                    held.description = indicator.description;
                }
            }
            None => {
                self.seen
                    .insert(indicator.observable.clone(), self.indicators.len());
                self.indicators.push(indicator);
            }
        }
    }

    /// Adds a reference to the actor, once.
    pub fn cite(&mut self, reference: Reference) {
        extend_unique(&mut self.references, [reference]);
    }

    /// The indicators, in the order first listed.
    pub fn indicators(&self) -> &[Indicator] {
        &self.indicators
    }
}

pub(crate) fn extend_unique<T: PartialEq>(held: &mut Vec<T>, more: impl IntoIterator<Item = T>) {
    for item in more {
        if !held.contains(&item) {
            held.push(item);
        }
    }
}

/// The actors of an import, by name, the collection's own first: rows or lines that name
/// an actor of their own go to it.
pub(crate) struct Actors(Vec<Actor>);

impl Actors {
    pub(crate) fn new(name: &str) -> Self {
        Actors(vec![Actor::new(name)])
    }

    /// The actor named `name`, added when new.
    pub(crate) fn get(&mut self, name: &str) -> &mut Actor {
        let at = match self.0.iter().position(|a| a.name == name) {
            Some(at) => at,
            None => {
                self.0.push(Actor::new(name));
                self.0.len() - 1
            }
        };
        &mut self.0[at]
    }

    /// The collection, without the collection's own actor when every value had another.
    pub(crate) fn into_imported(
        mut self,
        name: &str,
        created: &str,
        skipped: Vec<String>,
    ) -> crate::Imported {
        if self.0.len() > 1 && self.0[0].indicators.is_empty() {
            self.0.remove(0);
        }
        crate::Imported {
            collection: Collection {
                name: name.to_string(),
                created: created.to_string(),
                actors: self.0,
                licence: None,
            },
            skipped,
        }
    }
}

/// A named collection, ready to be written as one STIX 2.1 bundle.
#[derive(Debug, Clone)]
pub struct Collection {
    /// The collection's name (the bundle's id is made from it).
    pub name: String,
    /// `created`, `modified` and `valid_from` of every object (`YYYY-MM-DDTHH:MM:SS.sssZ`):
    /// taken from the input or given, never the clock, so the output is reproducible.
    pub created: String,
    pub actors: Vec<Actor>,
    /// A licence notice to carry in the bundle (a STIX `note` on every actor).
    pub licence: Option<String>,
}

impl Collection {
    pub fn indicators(&self) -> usize {
        self.actors.iter().map(|a| a.indicators.len()).sum()
    }
}

/// A date given as `YYYY-MM-DD` or a STIX timestamp, as a STIX timestamp to the
/// millisecond; `None` when it is neither.
pub fn stix_time(date: &str) -> Option<String> {
    let d = date.trim();
    let b = d.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let day = b.len() >= 10
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10);
    if !day {
        return None;
    }
    if b.len() == 10 {
        return Some(format!("{d}T00:00:00.000Z"));
    }
    let time = b.len() >= 19
        && matches!(b[10], b'T' | b' ')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    time.then(|| format!("{}T{}.000Z", &d[..10], &d[11..19]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_normalise() {
        assert_eq!(
            Observable::domain("Bad.Example."),
            Some(Observable::Domain("bad.example".into()))
        );
        assert_eq!(
            Observable::domain("bücher.example"),
            Some(Observable::Domain("xn--bcher-kva.example".into()))
        );
        assert_eq!(Observable::domain("localhost"), None);
        assert_eq!(Observable::domain("1.2.3.4"), None);
        assert_eq!(Observable::domain("a b.com"), None);
        assert_eq!(Observable::domain(&"a.".repeat(100_000)), None);
        assert_eq!(
            Observable::ip("10.1.2.3/8"),
            Some(Observable::Ip("10.0.0.0/8".into()))
        );
        assert_eq!(
            Observable::ip("[2001:DB8::1]"),
            Some(Observable::Ip("2001:db8::1".into()))
        );
        assert_eq!(Observable::ip("1.2.3.4/33"), None);
        assert_eq!(
            Observable::url("/a b.php"),
            None,
            "whitespace is never in a URL"
        );
        assert_eq!(
            Observable::Url("https://x.example/a'b".into()).pattern(),
            r"[url:value = 'https://x.example/a\'b']"
        );
        assert_eq!(stix_time("2024-05-06").unwrap(), "2024-05-06T00:00:00.000Z");
        assert_eq!(
            stix_time("2024-05-06 10:11:12").unwrap(),
            "2024-05-06T10:11:12.000Z"
        );
        assert_eq!(stix_time("yesterday"), None);
    }
}
