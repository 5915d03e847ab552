//! How indicator values are keyed and stored: the key a value of each type is stored and
//! looked up under, and where it came from.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::FastMap;
use crate::build::excerpt;
use crate::normalize::Host;
use crate::table::KeyTable;
use crate::types::IocType;
use crate::{normalize, pattern};

/// Where an indicator value came from. Kept small (the tables hold one per value): the value
/// as written, when it differs from its key, lives in `Indicators::originals`, and the
/// indicator's collection and identity in `Indicators::records`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    /// The indicator, by load order (see [`Records`]).
    pub(crate) indicator: u32,
    /// Index into `Indicators::originals`, or `NO_ORIGINAL` when the key is the value.
    pub(crate) original: u32,
}

pub(crate) const NO_ORIGINAL: u32 = u32::MAX;

impl Entry {
    /// Records `original` in `originals` when it differs from the key.
    pub(crate) fn new(
        originals: &mut Vec<Box<str>>,
        indicator: u32,
        original: &str,
        key: &str,
    ) -> Self {
        let index = u32::try_from(originals.len())
            .ok()
            .filter(|&i| i != NO_ORIGINAL);
        match index {
            Some(index) if original != key => {
                originals.push(original.into());
                Self {
                    indicator,
                    original: index,
                }
            }
            _ => Self {
                indicator,
                original: NO_ORIGINAL,
            },
        }
    }
}

/// Normalised value → first indicator (first-loaded collection wins, as MVT iterates them).
pub(crate) type Table = KeyTable<Entry>;
/// IP indicators, exact or CIDR: looked up once per prefix length in use (usually one).
#[derive(Debug, Default)]
pub(crate) struct IpTable {
    pub(crate) map: FastMap<(IpAddr, u8), Entry>,
    /// Prefix lengths in use per family, longest (most specific) first.
    v4_prefixes: Vec<u8>,
    v6_prefixes: Vec<u8>,
}

impl IpTable {
    pub(crate) fn lookup(&self, ip: IpAddr) -> Option<(&(IpAddr, u8), &Entry)> {
        let prefixes = if ip.is_ipv4() {
            &self.v4_prefixes
        } else {
            &self.v6_prefixes
        };
        prefixes
            .iter()
            .find_map(|&p| self.map.get_key_value(&(normalize::mask(ip, p), p)))
    }

    pub(crate) fn note_prefix(&mut self, ip: IpAddr, prefix: u8) {
        let prefixes = if ip.is_ipv4() {
            &mut self.v4_prefixes
        } else {
            &mut self.v6_prefixes
        };
        if !prefixes.contains(&prefix) {
            prefixes.push(prefix);
            prefixes.sort_unstable_by(|a, b| b.cmp(a));
        }
    }
}

impl IpTable {
    pub(crate) fn encode(&self, w: &mut crate::cache::Writer) {
        let mut entries: Vec<_> = self.map.iter().collect();
        entries.sort_unstable_by_key(|e| *e.0);
        w.len(entries.len());
        for (&(ip, prefix), entry) in entries {
            w.ip(ip);
            w.u8(prefix);
            w.u32(entry.indicator);
            w.u32(entry.original);
        }
    }

    pub(crate) fn decode(
        r: &mut crate::cache::Reader<'_>,
    ) -> Result<Self, crate::cache::CacheError> {
        let mut table = IpTable::default();
        for _ in 0..r.len()? {
            let (ip, prefix) = (r.ip()?, r.u8()?);
            let entry = Entry {
                indicator: r.u32()?,
                original: r.u32()?,
            };
            table.note_prefix(ip, prefix);
            table.map.insert((ip, prefix), entry);
        }
        Ok(table)
    }
}

pub(crate) fn ip_display(ip: IpAddr, prefix: u8) -> String {
    let full = if ip.is_ipv4() { 32 } else { 128 };
    if prefix == full {
        ip.to_string()
    } else {
        format!("{ip}/{prefix}")
    }
}

/// A value's lookup key in its type's table.
pub(crate) enum Key<'a> {
    Str(IocType, Cow<'a, str>),
    Ip(IpAddr, u8),
}

impl Key<'_> {
    fn into_owned(self) -> Key<'static> {
        match self {
            Key::Str(ioc_type, key) => Key::Str(ioc_type, Cow::Owned(key.into_owned())),
            Key::Ip(ip, prefix) => Key::Ip(ip, prefix),
        }
    }
}

/// An atom's value as written (trimmed) and its key; the error names the value.
pub(crate) fn keyed_value(atom: pattern::Atom<'_>) -> Result<(Cow<'_, str>, Key<'_>), String> {
    let reason = |value: &str, reason| format!("value {:?}: {reason}", excerpt(value));
    match atom.value {
        Cow::Borrowed(value) => match key_for(atom.ioc_type, value) {
            Ok(key) => Ok((Cow::Borrowed(normalize::trim(value)), key)),
            Err(e) => Err(reason(value, e)),
        },
        Cow::Owned(value) => match key_for(atom.ioc_type, &value) {
            Ok(key) => Ok((
                Cow::Owned(normalize::trim(&value).to_string()),
                key.into_owned(),
            )),
            Err(e) => Err(reason(&value, e)),
        },
    }
}

/// Lower-cases without allocating when there is nothing to change.
pub(crate) fn lower(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_uppercase) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

pub(crate) fn cert_hash(s: &str) -> Cow<'_, str> {
    match lower(s.trim()) {
        v if v.contains(':') => Cow::Owned(v.replace(':', "")),
        v => v,
    }
}

pub(crate) fn hash_type(hash: &str) -> IocType {
    match hash.len() {
        32 => IocType::FilesMd5,
        40 => IocType::FilesSha1,
        _ => IocType::FilesSha256,
    }
}

/// The key an indicator value is stored under (lookups normalise the same way).
fn key_for(ioc_type: IocType, raw: &str) -> Result<Key<'_>, &'static str> {
    let value = normalize::trim(raw);
    if value.is_empty() {
        return Err("empty value");
    }
    let key = match ioc_type {
        IocType::Domains if let Some(plain) = normalize::plain_host(value) => {
            Key::Str(IocType::Domains, Cow::Borrowed(plain))
        }
        IocType::Domains => match normalize::host(normalize::host_of(value)) {
            Some(Host::Name(name)) => Key::Str(IocType::Domains, name),
            // An address written as a domain still compares as an address.
            Some(Host::Ip(ip)) => Key::Ip(ip, if ip.is_ipv4() { 32 } else { 128 }),
            None => return Err("not a domain name"),
        },
        IocType::IpAddresses => match normalize::ip_network(value) {
            Some((ip, prefix)) => Key::Ip(ip, prefix),
            None => return Err("not an IP address or CIDR network"),
        },
        // A path alone matches that path on any host (see `check_url`), never a host.
        IocType::Urls | IocType::UrlPaths if normalize::is_url_path(value) => Key::Str(
            IocType::UrlPaths,
            Cow::Borrowed(normalize::url_path_key(value)),
        ),
        IocType::Urls | IocType::UrlPaths => Key::Str(
            IocType::Urls,
            normalize::url(value).map_or(Cow::Borrowed(value), Cow::Owned),
        ),
        IocType::FilePaths => {
            let path = value.trim_end_matches('/');
            if path.is_empty() {
                return Err("a file path of only '/' would match every path");
            }
            Key::Str(ioc_type, Cow::Borrowed(path))
        }
        IocType::Processes | IocType::FileNames => Key::Str(ioc_type, Cow::Borrowed(value)),
        IocType::AppCertHashes | IocType::CertHashes => Key::Str(ioc_type, cert_hash(value)),
        IocType::Emails
        | IocType::FilesMd5
        | IocType::FilesSha1
        | IocType::FilesSha256
        | IocType::AppIds
        | IocType::IosProfileIds
        | IocType::AndroidPropertyNames => Key::Str(ioc_type, lower(value)),
    };
    Ok(key)
}
pub(crate) fn labels(domain: &str) -> usize {
    1 + domain.bytes().filter(|&b| b == b'.').count()
}

/// The bit for a domain of `labels` labels in `Indicators::domain_label_counts` (64 or more
/// share the last bit).
pub(crate) fn label_bit(labels: usize) -> u64 {
    1 << (labels.clamp(1, 64) - 1)
}
