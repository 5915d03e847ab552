//! STIX 2.1 indicators: loading bundles into named collections, and matching values against them.
//!
//! Loading follows MVT (collections per `malware` and `report`, then "Default collection"); the
//! patterns are parsed by a real STIX patterning parser; every lookup is a hash probe on a
//! normalised key, so checking a value costs the same with ten or a million indicators.
//! The matching rules are written down, with examples, in `docs/matching.md`.

mod bundle;
mod fasthash;
mod normalize;
mod pattern;
mod stix;
mod table;

use std::borrow::Cow;
use std::collections::{BTreeMap, hash_map};
use std::fmt;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::{debug, info};

pub use bundle::test_bundle_json;
use fasthash::{FastMap, FastSet};
use normalize::Host;
use table::{Inserted, KeyTable, Staged};

/// The kind of value an indicator describes. Serialised with MVT's collection-list names so
/// alerts read the same as MVT's (`domains`, `processes`, `files_sha256`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IocType {
    Domains,
    IpAddresses,
    Urls,
    Processes,
    Emails,
    FileNames,
    FilePaths,
    FilesMd5,
    FilesSha1,
    FilesSha256,
    AppCertHashes,
    AppIds,
    IosProfileIds,
    AndroidPropertyNames,
}

/// Which rule made a match; decides the alert wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchRule {
    /// The whole value equals the indicator.
    Exact,
    /// A URL's host equals a domain indicator.
    Domain,
    /// A URL's host is a sub-domain of a domain indicator.
    SubDomain,
    /// A URL's host is an IP address equal to the indicator.
    IpAddress,
    /// A 16-character (kernel-truncated) process name is a prefix of the indicator.
    TruncatedProcess,
    /// A path starts with a path indicator.
    PathPrefix,
    /// A path's last component equals a file-name indicator.
    FileName,
    /// One `/`-separated component of a path equals a process indicator.
    PathComponent,
}

/// An indicator hit: what was looked up, what it matched and where the indicator came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorMatch {
    /// The value that was checked (as given by the module).
    pub input: String,
    /// The indicator's value.
    pub value: String,
    #[serde(rename = "type")]
    pub ioc_type: IocType,
    /// Collection name: malware name, report name or "Default collection".
    pub collection: String,
    /// Base name of the STIX2 file the indicator came from.
    pub file: String,
    pub rule: MatchRule,
    /// The indicator itself: its STIX id, validity, confidence, labels and marking.
    #[serde(flatten)]
    pub stix: IndicatorInfo,
}

/// What a STIX indicator says of itself, kept for every loaded indicator so that an alert
/// names the very indicator that matched and how far to trust it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorInfo {
    /// The STIX id (`indicator--…`).
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoked: bool,
    /// 0–100 (STIX's scale), when the indicator gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<u8>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// The Traffic Light Protocol level of its marking (`TLP:AMBER`…), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlp: Option<String>,
    /// Every marking definition it refers to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub markings: Vec<String>,
}

/// The TLP levels of the marking definitions STIX 2.1 predefines (TLP 1.0) and of the
/// OASIS TLP 2.0 definitions.
const TLP_MARKINGS: &[(&str, &str)] = &[
    (
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        "TLP:WHITE",
    ),
    (
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        "TLP:GREEN",
    ),
    (
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
        "TLP:AMBER",
    ),
    (
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
        "TLP:RED",
    ),
    (
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        "TLP:CLEAR",
    ),
    (
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        "TLP:GREEN",
    ),
    (
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        "TLP:AMBER",
    ),
    (
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        "TLP:AMBER+STRICT",
    ),
    (
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        "TLP:RED",
    ),
];

/// The TLP level among `markings`, the most restrictive when there are several.
fn tlp_of<'m>(markings: impl IntoIterator<Item = &'m str>) -> Option<&'static str> {
    const ORDER: [&str; 6] = [
        "TLP:CLEAR",
        "TLP:WHITE",
        "TLP:GREEN",
        "TLP:AMBER",
        "TLP:AMBER+STRICT",
        "TLP:RED",
    ];
    markings
        .into_iter()
        .filter_map(|m| {
            TLP_MARKINGS
                .iter()
                .find(|(id, _)| *id == m)
                .map(|(_, t)| *t)
        })
        .max_by_key(|t| ORDER.iter().position(|o| o == t))
}

impl IndicatorMatch {
    /// MVT-style alert message for this hit, e.g.
    /// `Found a known suspicious process name "Launch" matching indicators from "TestMalware"`.
    pub fn message(&self) -> String {
        let (x, ioc, c) = (&self.input, &self.value, &self.collection);
        let named = |what: &str| {
            format!("Found a known suspicious {what} \"{x}\" matching indicators from \"{c}\"")
        };
        let url_like =
            |what: &str| format!("Found a {what} {x} matching indicator \"{ioc}\" from \"{c}\"");
        match (self.ioc_type, self.rule) {
            (IocType::Processes, MatchRule::TruncatedProcess) => format!(
                "Found a truncated known suspicious process name \"{x}\" matching indicators from \"{c}\""
            ),
            (IocType::Processes, MatchRule::PathComponent) => {
                named("process name mentioned in file path")
            }
            (IocType::Processes, _) => named("process name"),
            (IocType::Domains, MatchRule::SubDomain) => {
                url_like("sub-domain with a suspicious top level")
            }
            (IocType::Domains, _) => url_like("known suspicious domain"),
            (IocType::IpAddresses, _) => url_like("known suspicious IP address"),
            (IocType::Urls, _) => url_like("known suspicious URL"),
            (IocType::Emails, _) => named("email address"),
            (IocType::FileNames, MatchRule::FileName) | (IocType::FilePaths, _) => {
                named("file path")
            }
            (IocType::FileNames, _) => named("file name"),
            (IocType::FilesMd5 | IocType::FilesSha1 | IocType::FilesSha256, _) => {
                named("file with hash")
            }
            (IocType::AppCertHashes, _) => named("app certificate with hash"),
            (IocType::AppIds, _) => named("app with ID"),
            (IocType::IosProfileIds, _) => named("profile ID"),
            (IocType::AndroidPropertyNames, _) => named("Android property"),
        }
    }
}

/// One loaded STIX2 file.
#[derive(Debug, Clone, Serialize)]
pub struct IndicatorFile {
    pub path: PathBuf,
    pub sha256: String,
    /// Indicators loaded from the file (new values only).
    pub indicators: usize,
    /// Patterns that could not be used (unsupported object path or operator), with the reason.
    pub unsupported: Vec<String>,
    pub collections: Vec<String>,
    /// Indicators not used because their author revoked them or their `valid_until` has
    /// passed (see [`Indicators::include_expired`]).
    pub left_out: LeftOut,
}

/// Indicators left out of matching, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    pub revoked: usize,
    pub expired: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read indicator file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a STIX 2 bundle: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

impl IocType {
    /// Every type, in declaration order (the index of a type is its position here).
    pub const ALL: [IocType; 14] = [
        IocType::Domains,
        IocType::IpAddresses,
        IocType::Urls,
        IocType::Processes,
        IocType::Emails,
        IocType::FileNames,
        IocType::FilePaths,
        IocType::FilesMd5,
        IocType::FilesSha1,
        IocType::FilesSha256,
        IocType::AppCertHashes,
        IocType::AppIds,
        IocType::IosProfileIds,
        IocType::AndroidPropertyNames,
    ];

    /// MVT's collection-list name (`domains`, `files_sha256`, …), as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            IocType::Domains => "domains",
            IocType::IpAddresses => "ip_addresses",
            IocType::Urls => "urls",
            IocType::Processes => "processes",
            IocType::Emails => "emails",
            IocType::FileNames => "file_names",
            IocType::FilePaths => "file_paths",
            IocType::FilesMd5 => "files_md5",
            IocType::FilesSha1 => "files_sha1",
            IocType::FilesSha256 => "files_sha256",
            IocType::AppCertHashes => "app_cert_hashes",
            IocType::AppIds => "app_ids",
            IocType::IosProfileIds => "ios_profile_ids",
            IocType::AndroidPropertyNames => "android_property_names",
        }
    }
}

impl fmt::Display for IocType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One collection (a malware, a report or a file's "Default collection") and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollectionSummary {
    /// STIX id of the malware or report; `"0"` for "Default collection" (as MVT).
    pub id: String,
    pub name: String,
    pub description: String,
    /// Base name of the STIX2 file.
    pub file: String,
    /// Path of the STIX2 file as given.
    pub path: PathBuf,
    /// SHA-256 of the STIX2 file.
    pub sha256: String,
    /// Distinct values the collection holds (duplicates within the collection count once).
    pub indicators: usize,
    /// The same, per type; types without values are left out.
    pub counts: BTreeMap<IocType, usize>,
}

const DEFAULT_COLLECTION: &str = "Default collection";
const UNNAMED_COLLECTION: &str = "Unnamed collection";
/// Deepest folder level searched by [`indicator_files`]; guards against pathological trees.
const MAX_FOLDER_DEPTH: usize = 64;
/// Longest excerpt of a pattern quoted in an "unsupported" note.
const EXCERPT_CHARS: usize = 120;

#[derive(Debug)]
struct Collection {
    id: String,
    name: String,
    description: String,
    file: String,
    path: PathBuf,
    sha256: String,
    counts: [usize; IocType::ALL.len()],
}

/// Where an indicator value came from. Kept small (the tables hold one per value): the value
/// as written, when it differs from its key, lives in `Indicators::originals`, and the
/// indicator's collection and identity in `Indicators::records`.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The indicator, by load order (see [`Records`]).
    indicator: u32,
    /// Index into `Indicators::originals`, or `NO_ORIGINAL` when the key is the value.
    original: u32,
}

const NO_ORIGINAL: u32 = u32::MAX;

impl Entry {
    /// Records `original` in `originals` when it differs from the key.
    fn new(originals: &mut Vec<Box<str>>, indicator: u32, original: &str, key: &str) -> Self {
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
type Table = KeyTable<Entry>;

/// Every loaded indicator, by load order: its collection, and what it says of itself. Kept
/// compact (a million indicators load in under a second): the strings of all indicators in
/// one buffer, the rarer properties only for the indicators that have them.
#[derive(Debug, Default)]
struct Records {
    /// Each indicator's collection, as runs: (first indicator, collection), in order. A
    /// bundle of one malware is one run, so no per-indicator array is needed.
    collection: CollectionRuns,
    /// How many indicators are recorded.
    count: u32,
    /// The strings of the indicators, as each keyed part wrote them (taken over, not copied).
    chunks: Vec<Chunk>,
    extras: FastMap<u32, Extras>,
}

/// The ids, `valid_from` and `valid_until` of consecutive indicators, one after another.
#[derive(Debug, Default)]
struct Chunk {
    /// The first indicator's position.
    first: u32,
    text: String,
    /// Where each indicator's three strings end in `text`.
    ends: Vec<[u32; 3]>,
}

/// Properties most indicators do not have.
#[derive(Debug, Default, Clone)]
struct Extras {
    revoked: bool,
    confidence: Option<u8>,
    labels: Vec<Box<str>>,
    markings: Vec<Box<str>>,
}

impl Extras {
    fn of(lifetime: &stix::Lifetime<'_>) -> Option<Extras> {
        let any = lifetime.revoked
            || lifetime.confidence.is_some()
            || !lifetime.labels.is_empty()
            || !lifetime.markings.is_empty();
        any.then(|| Extras {
            revoked: lifetime.revoked,
            confidence: lifetime.confidence,
            labels: lifetime.labels.iter().map(|l| (**l).into()).collect(),
            markings: lifetime.markings.iter().map(|m| (**m).into()).collect(),
        })
    }
}

/// Indicators' collections as runs of equal values.
#[derive(Debug, Default)]
struct CollectionRuns(Vec<(u32, u32)>);

impl CollectionRuns {
    /// Appends the collections of indicators `first..`, in order.
    fn extend(&mut self, first: u32, collections: &[u32]) {
        for (i, &c) in (first..).zip(collections) {
            if self.0.last().is_none_or(|&(_, last)| last != c) {
                self.0.push((i, c));
            }
        }
    }

    fn of(&self, indicator: u32) -> u32 {
        let at = self.0.partition_point(|&(first, _)| first <= indicator);
        at.checked_sub(1)
            .and_then(|i| self.0.get(i))
            .map_or(u32::MAX, |&(_, c)| c)
    }
}

/// A part's records, before they join [`Records`] (positions relative to the part).
#[derive(Default)]
struct PartRecords {
    text: String,
    ends: Vec<[u32; 3]>,
    extras: Vec<(u32, Extras)>,
    /// Filled by [`KeyedPart::assign`]: the collection of each of the part's indicators.
    collection: Vec<u32>,
}

impl PartRecords {
    fn push(&mut self, ordinal: u32, indicator: &stix::Indicator<'_>) {
        let mut end = |s: &str| {
            self.text.push_str(s);
            u32::try_from(self.text.len()).unwrap_or(u32::MAX)
        };
        let lifetime = &indicator.lifetime;
        let ends = [
            end(&indicator.id),
            end(lifetime.valid_from.as_deref().unwrap_or_default()),
            end(lifetime.valid_until.as_deref().unwrap_or_default()),
        ];
        self.ends.push(ends);
        if let Some(extras) = Extras::of(lifetime) {
            self.extras.push((ordinal, extras));
        }
    }
}

impl Records {
    fn len(&self) -> u32 {
        self.count
    }

    /// Appends a part's records; `base` is its first indicator's position.
    fn append(&mut self, part: &mut PartRecords, base: u32) {
        for (ordinal, extras) in part.extras.drain(..) {
            self.extras.insert(base + ordinal, extras);
        }
        self.collection.extend(base, &part.collection);
        let added = u32::try_from(part.collection.len()).unwrap_or(u32::MAX);
        self.count = self.count.saturating_add(added);
        part.collection = Vec::new();
        self.chunks.push(Chunk {
            first: base,
            text: std::mem::take(&mut part.text),
            ends: std::mem::take(&mut part.ends),
        });
    }

    fn collection(&self, indicator: u32) -> u32 {
        self.collection.of(indicator)
    }

    fn info(&self, indicator: u32) -> IndicatorInfo {
        let at = self.chunks.partition_point(|c| c.first <= indicator);
        let Some(chunk) = at.checked_sub(1).and_then(|c| self.chunks.get(c)) else {
            return IndicatorInfo::default();
        };
        let i = (indicator - chunk.first) as usize;
        let start = i
            .checked_sub(1)
            .and_then(|p| chunk.ends.get(p))
            .map_or(0, |e| e[2] as usize);
        let Some(&[id, from, until]) = chunk.ends.get(i) else {
            return IndicatorInfo::default();
        };
        let text = |a: usize, b: u32| chunk.text.get(a..b as usize).unwrap_or_default();
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let extras = self.extras.get(&indicator).cloned().unwrap_or_default();
        IndicatorInfo {
            id: text(start, id).to_string(),
            valid_from: some(text(id as usize, from)),
            valid_until: some(text(from as usize, until)),
            revoked: extras.revoked,
            confidence: extras.confidence,
            labels: extras.labels.iter().map(|l| l.to_string()).collect(),
            tlp: tlp_of(extras.markings.iter().map(|m| &**m)).map(str::to_string),
            markings: extras.markings.iter().map(|m| m.to_string()).collect(),
        }
    }
}

/// Which indicators may match: by default those their author revoked and those whose
/// `valid_until` has passed are left out.
#[derive(Debug, Clone)]
struct Validity {
    include_expired: bool,
    /// The time of the check, `YYYY-MM-DDTHH:MM:SS` (UTC), compared with `valid_until` as text.
    now: String,
}

impl Default for Validity {
    fn default() -> Self {
        Validity {
            include_expired: false,
            now: now_utc(),
        }
    }
}

/// The current time as STIX writes timestamps (`YYYY-MM-DDTHH:MM:SS`, UTC), to the second.
fn now_utc() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

impl Validity {
    /// Why an indicator must not match, if it must not: revoked, or expired. A `valid_until`
    /// that is not a STIX timestamp is not trusted to expire anything.
    fn left_out(&self, lifetime: &stix::Lifetime<'_>) -> Option<fn(&mut LeftOut)> {
        if self.include_expired {
            return None;
        }
        if lifetime.revoked {
            return Some(|l| l.revoked += 1);
        }
        let until = lifetime.valid_until.as_deref()?;
        let stamp = until.get(..19)?;
        let shape = stamp.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T' || b == b't',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        });
        // Compared as text, `t` read as `T`: both are UTC timestamps of the same shape.
        let stamp = stamp.bytes().map(|b| if b == b't' { b'T' } else { b });
        (shape && stamp.lt(self.now.bytes())).then_some(|l: &mut LeftOut| l.expired += 1)
    }
}

/// IP indicators, exact or CIDR: looked up once per prefix length in use (usually one).
#[derive(Debug, Default)]
struct IpTable {
    map: FastMap<(IpAddr, u8), Entry>,
    /// Prefix lengths in use per family, longest (most specific) first.
    v4_prefixes: Vec<u8>,
    v6_prefixes: Vec<u8>,
}

impl IpTable {
    fn lookup(&self, ip: IpAddr) -> Option<(&(IpAddr, u8), &Entry)> {
        let prefixes = if ip.is_ipv4() {
            &self.v4_prefixes
        } else {
            &self.v6_prefixes
        };
        prefixes
            .iter()
            .find_map(|&p| self.map.get_key_value(&(normalize::mask(ip, p), p)))
    }

    fn note_prefix(&mut self, ip: IpAddr, prefix: u8) {
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

fn ip_display(ip: IpAddr, prefix: u8) -> String {
    let full = if ip.is_ipv4() { 32 } else { 128 };
    if prefix == full {
        ip.to_string()
    } else {
        format!("{ip}/{prefix}")
    }
}

/// A value's lookup key in its type's table.
enum Key<'a> {
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
fn keyed_value(atom: pattern::Atom<'_>) -> Result<(Cow<'_, str>, Key<'_>), String> {
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
fn lower(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_uppercase) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

fn cert_hash(s: &str) -> Cow<'_, str> {
    match lower(s.trim()) {
        v if v.contains(':') => Cow::Owned(v.replace(':', "")),
        v => v,
    }
}

fn hash_type(hash: &str) -> IocType {
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
        IocType::Urls => Key::Str(
            ioc_type,
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
        IocType::AppCertHashes => Key::Str(ioc_type, cert_hash(value)),
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

/// Every loaded indicator, indexed for fast lookups. Immutable once loaded, shared across threads.
#[derive(Default)]
pub struct Indicators {
    files: Vec<IndicatorFile>,
    collections: Vec<Collection>,
    /// One table per string-keyed type, indexed by `IocType as usize` (IPs live in `ips`).
    tables: [Table; IocType::ALL.len()],
    ips: IpTable,
    /// First 16 characters of process indicators longer than 16 → the full indicator key.
    truncated: FastMap<Box<str>, Box<str>>,
    /// (collection, type, key) of values already held by an earlier collection, so that a
    /// collection still counts each of its values once.
    repeated: FastSet<(u32, IocType, String)>,
    /// Indicator values as written, for those whose key differs (`Bad.com.` → `bad.com`).
    originals: Vec<Box<str>>,
    /// The label counts of the domain indicators, as a set of bits (see [`label_bit`]): a host
    /// is looked up only at the suffix lengths some indicator has.
    domain_label_counts: u64,
    /// Every indicator's collection and identity, by load order.
    records: Records,
    validity: Validity,
}

fn labels(domain: &str) -> usize {
    1 + domain.bytes().filter(|&b| b == b'.').count()
}

/// The bit for a domain of `labels` labels in `Indicators::domain_label_counts` (64 or more
/// share the last bit).
fn label_bit(labels: usize) -> u64 {
    1 << (labels.clamp(1, 64) - 1)
}

impl fmt::Debug for Indicators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Indicators")
            .field("files", &self.files.len())
            .field("collections", &self.collections.len())
            .field("indicators", &self.len())
            .finish()
    }
}

/// The files a path stands for: the path itself, or every `*.stix2` / `*.json` file under a
/// folder (recursively, sorted; symbolic links to folders are not followed, to avoid loops).
pub fn indicator_files(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    if !fs::metadata(path).map_err(io)?.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found = Vec::new();
    walk(path, 0, &mut found)?;
    found.sort();
    Ok(found)
}

fn walk(dir: &Path, depth: usize, found: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(io)?;
        if file_type.is_dir() {
            if depth < MAX_FOLDER_DEPTH {
                walk(&path, depth + 1, found)?;
            }
            continue;
        }
        let wanted = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("stix2") || e.eq_ignore_ascii_case("json"));
        if wanted && path.is_file() {
            found.push(path);
        }
    }
    Ok(())
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Which collection an indicator belongs to, as MVT decides: the first report listing it,
/// else the first relationship from it to a malware (else the default collection).
struct Assigner<'b> {
    by_report: FastMap<&'b str, u32>,
    by_malware: FastMap<&'b str, u32>,
    /// The collection every indicator belongs to, when the bundle has a single malware or
    /// report that lists them all in order: then no map is needed.
    aligned: Option<u32>,
}

impl<'b> Assigner<'b> {
    /// `first` is the collection index of the bundle's first malware; reports follow.
    fn new(bundle: &'b stix::Bundle<'b>, first: u32) -> Self {
        let mut assigner = Self {
            by_report: FastMap::default(),
            by_malware: FastMap::default(),
            aligned: None,
        };
        // The two common shapes, checked by one sequential pass (no hashing): a relationship
        // per indicator to the only malware (MVT's files), or one report listing them all.
        let ids = || bundle.ids.iter().map(|id| &**id);
        let aligned = match (bundle.malware.as_slice(), bundle.reports.as_slice()) {
            ([only], []) => {
                bundle.proven_aligned(&only.id)
                    || ids().eq(bundle
                        .relationships()
                        .filter(|&(_, target)| target == only.id)
                        .map(|(source, _)| source))
            }
            ([], [only]) => ids().eq(only
                .object_refs
                .iter()
                .map(|r| &**r)
                .filter(|r| r.starts_with("indicator--"))),
            _ => false,
        };
        if aligned {
            assigner.aligned = Some(first);
            return assigner;
        }
        let malware_count = bundle.malware.len() as u32;
        for (j, report) in (malware_count..).zip(&bundle.reports) {
            for id in &report.object_refs {
                assigner.by_report.entry(&**id).or_insert(first + j);
            }
        }
        if malware_count > 0 {
            let mut malware_ids = FastMap::default();
            for (i, m) in (0..).zip(&bundle.malware) {
                malware_ids.entry(&*m.id).or_insert(first + i);
            }
            for (source, target) in bundle.relationships() {
                if let Some(&c) = malware_ids.get(target) {
                    assigner.by_malware.entry(source).or_insert(c);
                }
            }
        }
        assigner
    }

    /// The collection of every indicator, when they all share one (then no map was built).
    fn uniform(&self) -> Option<u32> {
        self.aligned
    }

    fn collection_of(&self, id: &str) -> Option<u32> {
        self.by_report
            .get(id)
            .copied()
            .or(self.aligned)
            .or_else(|| self.by_malware.get(id).copied())
    }
}

/// A string value copied into its type's table, waiting to be inserted.
type StagedValue = (IocType, Staged, Entry);

/// What one thread made of its share of a bundle's indicators: string values already hashed
/// and copied into a buffer per type (appended to the tables afterwards), IP values, the long
/// process names the truncation rule needs, and notes on what could not be used.
///
/// Values are keyed while the bundle is still being read, before anyone knows which
/// collection an indicator belongs to: until [`KeyedPart::assign`], the `collection` of each
/// value holds the position of its indicator in the part.
#[derive(Default)]
struct KeyedPart {
    /// By the table shard they go into (see [`table::shard`]), each in file order.
    staged: [Vec<StagedValue>; table::SHARDS],
    buffers: [String; IocType::ALL.len()],
    /// Values as written where they differ from their key; `Entry::original` indexes this
    /// part's list until the parts are joined.
    originals: Vec<Box<str>>,
    ips: Vec<(u32, Box<str>, IpAddr, u8)>,
    long_processes: Vec<Box<str>>,
    domain_label_counts: u64,
    unsupported: Vec<String>,
    /// Indicators keyed so far.
    indicators: u32,
    records: PartRecords,
    left_out: LeftOut,
}

impl KeyedPart {
    /// Parses the patterns of `indicators` (the next ones of this part) into keys; those
    /// `validity` leaves out are recorded but not keyed.
    fn key(&mut self, indicators: &[stix::Indicator<'_>], tables: &[Table], validity: &Validity) {
        let mut atoms = Vec::new();
        for indicator in indicators {
            let ordinal = self.indicators;
            self.indicators = self.indicators.saturating_add(1);
            self.records.push(ordinal, indicator);
            if let Some(count) = validity.left_out(&indicator.lifetime) {
                count(&mut self.left_out);
                continue;
            }
            let id = &*indicator.id;
            let Some(pattern) = indicator.pattern.as_deref() else {
                self.unsupported.push(format!("{id}: no pattern"));
                continue;
            };
            if let Some(kind) = indicator.pattern_type.as_deref()
                && !kind.eq_ignore_ascii_case("stix")
            {
                self.unsupported.push(format!(
                    "{id}: pattern type {} is not supported",
                    excerpt(kind)
                ));
                continue;
            }
            let notes = pattern::parse(pattern, &mut atoms);
            if !notes.is_empty() {
                let partly = if atoms.is_empty() {
                    ""
                } else {
                    "partly used: "
                };
                self.unsupported.push(format!(
                    "{id}: {partly}{}: {}",
                    excerpt(pattern),
                    notes.join("; ")
                ));
            }
            for atom in atoms.drain(..) {
                match keyed_value(atom) {
                    Ok((original, key)) => self.add(ordinal, &original, key, tables),
                    Err(reason) => self.unsupported.push(format!("{id}: {reason}")),
                }
            }
        }
    }

    fn add(&mut self, ordinal: u32, original: &str, key: Key<'_>, tables: &[Table]) {
        match key {
            Key::Str(t, key) => {
                if t == IocType::Domains {
                    self.domain_label_counts |= label_bit(labels(&key));
                }
                if t == IocType::Processes && key.chars().nth(16).is_some() {
                    self.long_processes.push((*key).into());
                }
                let table = &tables[t as usize];
                let buffer = &mut self.buffers[t as usize];
                if let Some(s) = Staged::into_buffer(buffer, table.hash(&key), &key) {
                    let entry = Entry::new(&mut self.originals, ordinal, original, &key);
                    self.staged[table::shard(s.hash)].push((t, s, entry));
                }
            }
            Key::Ip(ip, prefix) => self.ips.push((ordinal, original.into(), ip, prefix)),
        }
    }

    /// Points the values at their indicators' places in [`Records`] (the part's first
    /// indicator is `base`) and finds each indicator's collection. `ids` are those of the
    /// bundle from this part's first indicator on; it is left after this part's last one (or
    /// untouched when every indicator shares one collection: then no part reads it).
    fn assign<'i>(
        &mut self,
        ids: &mut impl Iterator<Item = &'i str>,
        assigner: &Assigner<'_>,
        default: u32,
        base: u32,
    ) {
        let count = self.indicators as usize;
        self.records.collection = match assigner.uniform() {
            Some(c) => vec![c; count],
            None => ids
                .by_ref()
                .take(count)
                .map(|id| assigner.collection_of(id).unwrap_or(default))
                .collect(),
        };
        // Indicators without an id left in `ids` (none in a well-formed part) take the default.
        self.records.collection.resize(count, default);
        for (.., entry) in self.staged.iter_mut().flatten() {
            entry.indicator = entry.indicator.saturating_add(base);
        }
        for (ordinal, ..) in &mut self.ips {
            *ordinal = ordinal.saturating_add(base);
        }
    }
}

/// Keys `indicators`, on two threads when there are many; returns what was made of each
/// share, in order.
fn key_in_parallel(
    indicators: &[stix::Indicator<'_>],
    tables: &[Table],
    validity: &Validity,
) -> Vec<KeyedPart> {
    let pieces: Vec<&[stix::Indicator<'_>]> = if indicators.len() >= PARALLEL_INDICATORS {
        let (head, tail) = indicators.split_at(indicators.len() / 2);
        vec![head, tail]
    } else {
        vec![indicators]
    };
    let key_piece = |i: usize| {
        let mut part = KeyedPart::default();
        part.key(pieces[i], tables, validity);
        part
    };
    let key_piece = &key_piece;
    std::thread::scope(|scope| {
        let Some(last) = pieces.len().checked_sub(1) else {
            return Vec::new();
        };
        let spawned: Vec<_> = (0..last)
            .map(|i| {
                let handle = std::thread::Builder::new().spawn_scoped(scope, move || key_piece(i));
                (i, handle)
            })
            .collect();
        let last = key_piece(last);
        let mut parts: Vec<_> = spawned
            .into_iter()
            .map(|(i, handle)| match handle {
                Ok(handle) => handle.join().unwrap_or_else(|_| key_piece(i)),
                Err(_) => key_piece(i),
            })
            .collect();
        parts.push(last);
        parts
    })
}

/// Where the keys and originals of a part went when it joined the tables (see
/// [`Indicators::join`]): its staged values are pointed there as they are inserted.
struct Rebase {
    /// Per type, where the part's key buffer starts in its table's (`None`: the table could
    /// not take it, past 4 GiB of keys, and its values are dropped).
    keys: [Option<u32>; IocType::ALL.len()],
    originals: usize,
}

impl Rebase {
    fn apply(&self, (t, staged, mut entry): StagedValue) -> Option<StagedValue> {
        let staged = staged.rebased(self.keys[t as usize]?);
        if entry.original != NO_ORIGINAL {
            entry.original = u32::try_from(self.originals + entry.original as usize)
                .ok()
                .filter(|&i| i != NO_ORIGINAL)
                .unwrap_or(NO_ORIGINAL);
        }
        Some((t, staged, entry))
    }
}

/// What filling one shard of the tables found: new values per collection and type, and
/// the values another collection stored first (which count once per collection).
struct ShardOutcome {
    new: Vec<[usize; IocType::ALL.len()]>,
    repeats: Vec<(u32, IocType, String)>,
}

/// Inserts the staged values (the parts in file order) that belong to shard `shard` into
/// `views` (that shard of every table, by type), region by region (see
/// [`KeyTable::region`]), each region in file order, so that of two equal values the
/// first in the file is still stored first. The regions are sorted by counting: linear in
/// the values.
fn fill_shard(
    shard: usize,
    mut views: Vec<table::ShardMut<'_, Entry>>,
    parts: &[(Rebase, [Vec<StagedValue>; table::SHARDS])],
    collections: usize,
    collection_of: &CollectionRuns,
) -> ShardOutcome {
    let collection = |e: &Entry| collection_of.of(e.indicator);
    let mut outcome = ShardOutcome {
        new: vec![[0; IocType::ALL.len()]; collections],
        repeats: Vec::new(),
    };
    let values = || {
        parts.iter().flat_map(|(rebase, staged)| {
            staged[shard]
                .iter()
                .filter_map(|&value| rebase.apply(value))
        })
    };
    let region = |(t, s, _): &StagedValue| views[*t as usize].region(s.hash);
    let mut next = vec![0usize; table::REGIONS + 1];
    for value in values() {
        next[region(&value) + 1] += 1;
    }
    for r in 1..next.len() {
        next[r] += next[r - 1];
    }
    let Some(first) = values().next() else {
        return outcome;
    };
    let mut sorted = vec![first; next[table::REGIONS]];
    for value in values() {
        let at = &mut next[region(&value)];
        sorted[*at] = value;
        *at += 1;
    }
    for (t, staged, entry) in sorted {
        let c = collection(&entry);
        match views[t as usize].insert_staged(staged, entry) {
            Inserted::New => {
                if let Some(counts) = outcome.new.get_mut(c as usize) {
                    counts[t as usize] += 1;
                }
            }
            Inserted::Existing(_, e) if collection(e) == c => {}
            Inserted::Existing(key, _) => outcome.repeats.push((c, t, key.to_string())),
        }
    }
    outcome
}

/// From this size on, a bundle's SHA-256 is computed on a thread of its own.
const HASH_BESIDE_FROM: usize = 4 << 20;

/// From this many indicators on, patterns are parsed on two threads.
const PARALLEL_INDICATORS: usize = 50_000;

fn excerpt(s: &str) -> String {
    match s.char_indices().nth(EXCERPT_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

impl Indicators {
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets revoked indicators and those past their `valid_until` match too (they are left
    /// out by default, and counted in [`IndicatorFile::left_out`]). Applies to files loaded
    /// after the call.
    pub fn include_expired(mut self, include: bool) -> Self {
        self.validity.include_expired = include;
        self
    }

    /// Judges `valid_until` against `now` (`YYYY-MM-DDTHH:MM:SS`, UTC) instead of the current
    /// time: for re-checking old results as of their date, and for tests.
    pub fn checked_at(mut self, now: &str) -> Self {
        self.validity.now = now.get(..19).unwrap_or(now).to_string();
        self
    }

    /// Loads a STIX2 file, or every `*.stix2` / `*.json` file under a folder (recursively).
    ///
    /// Stops at the first file that cannot be read or parsed (the files before it stay
    /// loaded); a caller that wants to skip bad files can use [`indicator_files`] and
    /// [`Indicators::load_file`].
    pub fn load_path(&mut self, path: &Path) -> Result<Vec<IndicatorFile>, LoadError> {
        indicator_files(path)?
            .iter()
            .map(|file| self.load_file(file))
            .collect()
    }

    /// Loads one STIX2 file. Anything but a regular file (a FIFO would block forever, a device
    /// never end) is refused before it is opened.
    pub fn load_file(&mut self, path: &Path) -> Result<IndicatorFile, LoadError> {
        let io = |source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        };
        if !fs::metadata(path).map_err(io)?.is_file() {
            return Err(LoadError::Invalid {
                path: path.to_path_buf(),
                reason: "not a regular file".into(),
            });
        }
        let bytes = fs::read(path).map_err(io)?;
        self.load_bundle(&bytes, path)
    }

    /// Loads one bundle from bytes; `path` names it in collections and errors.
    ///
    /// A file that is not a JSON bundle is an error and loads nothing; patterns or values that
    /// cannot be used are listed in [`IndicatorFile::unsupported`] and never fail the load.
    pub fn load_bundle(&mut self, bytes: &[u8], path: &Path) -> Result<IndicatorFile, LoadError> {
        if bytes.len() < HASH_BESIDE_FROM {
            return self.load_hashed(bytes, path, || sha256_hex(bytes));
        }
        // The file's SHA-256 (for the report) is a single sequential pass as long as a good
        // part of the load: it runs on a thread of its own from the start, filling the gaps
        // the single-threaded steps leave on the other cores.
        std::thread::scope(|scope| {
            let hasher = std::thread::Builder::new().spawn_scoped(scope, || sha256_hex(bytes));
            self.load_hashed(bytes, path, move || match hasher {
                Ok(handle) => handle.join().unwrap_or_else(|_| sha256_hex(bytes)),
                Err(_) => sha256_hex(bytes),
            })
        })
    }

    /// [`Indicators::load_bundle`], given how to obtain the file's SHA-256.
    fn load_hashed(
        &mut self,
        bytes: &[u8],
        path: &Path,
        sha256: impl FnOnce() -> String,
    ) -> Result<IndicatorFile, LoadError> {
        let invalid = |reason: String| LoadError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        // Large bundles are keyed while they are parsed, each piece on its parsing thread.
        let (tables, validity) = (&self.tables, &self.validity);
        let key = |part: &mut KeyedPart, indicators: &[stix::Indicator<'_>]| {
            part.key(indicators, tables, validity);
        };
        let (bundle, keyed) = stix::parse(bytes, &key).map_err(invalid)?;
        let first = self.collections.len();
        let malware_count = bundle.malware.len();
        let named_count = malware_count + bundle.reports.len();
        // Collection indices are u32 to keep entries small; no real bundle comes close.
        let default = u32::try_from(first + named_count)
            .map_err(|_| invalid("too many collections".to_string()))?;
        let first_index = default - named_count as u32;

        let file = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let collection = |id: &str, name: Option<&str>, description: Option<&str>| Collection {
            id: id.to_string(),
            // MVT requires a name; fall back on the id rather than dropping the collection.
            name: name
                .or_else(|| Some(id).filter(|id| !id.is_empty()))
                .unwrap_or(UNNAMED_COLLECTION)
                .to_string(),
            description: description.unwrap_or_default().to_string(),
            file: file.clone(),
            path: path.to_path_buf(),
            // Filled in once the file is hashed, below.
            sha256: String::new(),
            counts: [0; IocType::ALL.len()],
        };
        let named = bundle
            .malware
            .iter()
            .chain(bundle.reports.iter().map(|r| &r.named));
        for m in named {
            let c = collection(&m.id, m.name.as_deref(), m.description.as_deref());
            self.collections.push(c);
        }
        // Pushed now so values can be counted into it; removed again below if left empty.
        self.collections.push(collection(
            "0",
            Some(DEFAULT_COLLECTION),
            Some("Collection with IOCs unrelated to malware or reports"),
        ));
        let assigner = Assigner::new(&bundle, first_index);

        // The parallel parse keyed its pieces already; what serde parsed is keyed here,
        // on two threads when large.
        let mut parts = match keyed {
            Some(parts) => parts,
            None => key_in_parallel(&bundle.unkeyed, &self.tables, &self.validity),
        };
        let mut ids = bundle.ids.iter().map(|id| &**id);
        let mut base = self.records.len();
        let mut left_out = LeftOut::default();
        for part in &mut parts {
            part.assign(&mut ids, &assigner, default, base);
            base = base.saturating_add(part.indicators);
            left_out.revoked += part.left_out.revoked;
            left_out.expired += part.left_out.expired;
        }
        drop(assigner);

        let (added, unsupported) = self.store_parts(parts);
        let sha256 = sha256();
        for c in &mut self.collections[first..] {
            c.sha256.clone_from(&sha256);
        }
        // MVT keeps the default collection only when it received an indicator.
        if self
            .collections
            .last()
            .is_some_and(|c| c.counts.iter().sum::<usize>() == 0)
        {
            self.collections.pop();
        }

        for note in &unsupported {
            debug!(file = %path.display(), "unsupported indicator: {note}");
        }
        let loaded = IndicatorFile {
            path: path.to_path_buf(),
            sha256,
            indicators: added,
            unsupported,
            collections: self.collections[first..]
                .iter()
                .map(|c| c.name.clone())
                .collect(),
            left_out,
        };
        info!(
            file = %path.display(),
            indicators = loaded.indicators,
            unsupported = loaded.unsupported.len(),
            collections = loaded.collections.len(),
            "loaded STIX2 indicators"
        );
        self.files.push(loaded.clone());
        Ok(loaded)
    }

    /// The value of an indicator as written in its file.
    fn value<'a>(&'a self, key: &'a str, entry: &Entry) -> &'a str {
        self.originals
            .get(entry.original as usize)
            .map_or(key, |original| &**original)
    }

    /// Stores the keyed parts (in file order): their keys join the tables' buffers, then every
    /// string value is inserted table region by table region (in file order, each insert into
    /// a large table would be a cache miss). Returns how many values were new and the notes
    /// on values that could not be used.
    fn store_parts(&mut self, parts: Vec<KeyedPart>) -> (usize, Vec<String>) {
        let mut per_type = [(0usize, 0usize); IocType::ALL.len()];
        for part in &parts {
            for (t, ..) in part.staged.iter().flatten() {
                per_type[*t as usize].0 += 1;
            }
            for (total, buffer) in per_type.iter_mut().zip(&part.buffers) {
                total.1 += buffer.len();
            }
            per_type[IocType::IpAddresses as usize].0 += part.ips.len();
        }
        for (table, &(n, bytes)) in self.tables.iter_mut().zip(&per_type) {
            table.reserve(n, bytes);
        }
        self.ips
            .map
            .reserve(per_type[IocType::IpAddresses as usize].0);
        let mut staged = Vec::with_capacity(parts.len());
        let mut unsupported = Vec::new();
        let mut added = 0;
        for mut part in parts {
            let rebase = self.join(&mut part);
            for (c, original, ip, prefix) in &part.ips {
                added += usize::from(self.store_ip(*c, original, *ip, *prefix));
            }
            // The kernel-truncation prefixes, first in load order winning.
            for name in &part.long_processes {
                let prefix: String = name.chars().take(16).collect();
                self.truncated
                    .entry(prefix.into())
                    .or_insert_with(|| (**name).into());
            }
            unsupported.append(&mut part.unsupported);
            staged.push((rebase, part.staged));
        }
        // String values, each shard of the tables on a thread of its own.
        let collections = self.collections.len();
        let collection_of = &self.records.collection;
        let mut shards: [Vec<table::ShardMut<'_, Entry>>; table::SHARDS] =
            std::array::from_fn(|_| Vec::new());
        for table in &mut self.tables {
            for (views, view) in shards.iter_mut().zip(table.shards_mut()) {
                views.push(view);
            }
        }
        let [first, second] = shards;
        let staged = &staged;
        let (mine, theirs) = std::thread::scope(|scope| {
            let theirs = std::thread::Builder::new().spawn_scoped(scope, move || {
                fill_shard(1, second, staged, collections, collection_of)
            });
            let mine = fill_shard(0, first, staged, collections, collection_of);
            let theirs = theirs.ok().map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            });
            (mine, theirs)
        });
        // Without a second thread, the second shard is filled here.
        let theirs = theirs.unwrap_or_else(|| {
            let views = self.tables.iter_mut().map(|t| {
                let [_, second] = t.shards_mut();
                second
            });
            fill_shard(1, views.collect(), staged, collections, collection_of)
        });
        for outcome in [mine, theirs] {
            for (c, counts) in outcome.new.iter().enumerate() {
                for (t, &n) in counts.iter().enumerate() {
                    self.collections[c].counts[t] += n;
                    added += n;
                }
            }
            for (c, t, key) in outcome.repeats {
                added += usize::from(self.count_new(c, t, Some(key)));
            }
        }
        (added, unsupported)
    }

    /// Moves a part's key buffers and originals into the tables and `originals`; returns
    /// how to point its staged values at their new places.
    fn join(&mut self, part: &mut KeyedPart) -> Rebase {
        let mut bases = [None; IocType::ALL.len()];
        for ((base, table), buffer) in bases
            .iter_mut()
            .zip(&mut self.tables)
            .zip(&mut part.buffers)
        {
            *base = table.append_staged(buffer);
        }
        self.domain_label_counts |= part.domain_label_counts;
        let base = self.records.len();
        self.records.append(&mut part.records, base);
        let originals = self.originals.len();
        self.originals.append(&mut part.originals);
        Rebase {
            keys: bases,
            originals,
        }
    }

    /// Stores one IP value of indicator `indicator`; true when it is new for its collection.
    fn store_ip(&mut self, indicator: u32, original: &str, ip: IpAddr, prefix: u8) -> bool {
        let c = self.records.collection(indicator);
        let repeat_key = match self.ips.map.entry((ip, prefix)) {
            hash_map::Entry::Vacant(slot) => {
                let shown = ip_display(ip, prefix);
                slot.insert(Entry::new(&mut self.originals, indicator, original, &shown));
                self.ips.note_prefix(ip, prefix);
                None
            }
            hash_map::Entry::Occupied(e) if self.records.collection(e.get().indicator) == c => {
                return false;
            }
            hash_map::Entry::Occupied(_) => Some(ip_display(ip, prefix)),
        };
        self.count_new(c, IocType::IpAddresses, repeat_key)
    }

    /// Counts a stored value into collection `c`: a value first stored by another collection
    /// (`repeat_key`) counts once per collection, as MVT counts it.
    fn count_new(&mut self, c: u32, ioc_type: IocType, repeat_key: Option<String>) -> bool {
        let is_new = repeat_key.is_none_or(|k| self.repeated.insert((c, ioc_type, k)));
        if is_new {
            self.collections[c as usize].counts[ioc_type as usize] += 1;
        }
        is_new
    }

    /// Number of distinct indicators loaded (per collection, like MVT's count: a value two
    /// collections share counts in both).
    pub fn len(&self) -> usize {
        self.collections.iter().flat_map(|c| c.counts).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn files(&self) -> &[IndicatorFile] {
        &self.files
    }

    /// Every collection in load order, with its counts per type.
    pub fn collections_summary(&self) -> Vec<CollectionSummary> {
        self.collections
            .iter()
            .map(|c| CollectionSummary {
                id: c.id.clone(),
                name: c.name.clone(),
                description: c.description.clone(),
                file: c.file.clone(),
                path: c.path.clone(),
                sha256: c.sha256.clone(),
                indicators: c.counts.iter().sum(),
                counts: IocType::ALL
                    .iter()
                    .zip(c.counts)
                    .filter(|&(_, n)| n > 0)
                    .map(|(&t, n)| (t, n))
                    .collect(),
            })
            .collect()
    }

    /// Number of values per type over every collection.
    pub fn counts(&self) -> BTreeMap<IocType, usize> {
        let mut counts = BTreeMap::new();
        for c in &self.collections {
            for (&t, &n) in IocType::ALL.iter().zip(&c.counts) {
                if n > 0 {
                    *counts.entry(t).or_insert(0) += n;
                }
            }
        }
        counts
    }

    fn find(&self, ioc_type: IocType, key: &str) -> Option<(&str, &Entry)> {
        self.tables[ioc_type as usize].get_key_value(key)
    }

    fn hit(
        &self,
        input: &str,
        ioc_type: IocType,
        value: &str,
        entry: &Entry,
        rule: MatchRule,
    ) -> IndicatorMatch {
        let c = self.records.collection(entry.indicator);
        let (collection, file) = self
            .collections
            .get(c as usize)
            .map(|c| (c.name.clone(), c.file.clone()))
            .unwrap_or_default();
        IndicatorMatch {
            input: input.to_string(),
            value: value.to_string(),
            ioc_type,
            collection,
            file,
            rule,
            stix: self.records.info(entry.indicator),
        }
    }

    fn hit_entry(
        &self,
        input: &str,
        ioc_type: IocType,
        found: (&str, &Entry),
        rule: MatchRule,
    ) -> IndicatorMatch {
        let (key, entry) = found;
        self.hit(input, ioc_type, self.value(key, entry), entry, rule)
    }

    fn check_exact(&self, input: &str, ioc_type: IocType, key: &str) -> Option<IndicatorMatch> {
        let found = self.find(ioc_type, key)?;
        Some(self.hit_entry(input, ioc_type, found, MatchRule::Exact))
    }

    /// A URL, bare host name or IP address against URL, domain and IP indicators.
    pub fn check_url(&self, url: &str) -> Option<IndicatorMatch> {
        let s = url.trim();
        if s.is_empty() {
            return None;
        }
        if !self.tables[IocType::Urls as usize].is_empty() {
            if let Some(found) = self.check_exact(url, IocType::Urls, s) {
                return Some(found);
            }
            if let Some(canonical) = normalize::url(s)
                && let Some(found) = self.check_exact(url, IocType::Urls, &canonical)
            {
                return Some(found);
            }
        }
        // A bare host name in canonical form (most of what modules check) needs one pass.
        let plain =
            normalize::plain_host(s).or_else(|| normalize::plain_host(normalize::host_of(s)));
        let host = match plain {
            Some(plain) => Host::Name(Cow::Borrowed(plain)),
            None => normalize::host(normalize::host_of(s))?,
        };
        self.check_parsed_host(url, host)
    }

    /// A bare host name (a DNS query, a TLS server name, an HTTP Host header) or IP address
    /// against domain and IP indicators; URL indicators are not consulted.
    pub fn check_host(&self, host: &str) -> Option<IndicatorMatch> {
        let s = host.trim();
        if s.is_empty() {
            return None;
        }
        let parsed = match normalize::plain_host(s) {
            Some(plain) => Host::Name(Cow::Borrowed(plain)),
            None => normalize::host(s)?,
        };
        self.check_parsed_host(host, parsed)
    }

    /// An IP address (v4 or v6, optionally in brackets) against IP and CIDR indicators; a
    /// name is not an address and never matches.
    pub fn check_ip(&self, address: &str) -> Option<IndicatorMatch> {
        let s = address.trim();
        let bare = s
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(s);
        match normalize::host(bare)? {
            Host::Ip(ip) => self.check_parsed_host(address, Host::Ip(ip)),
            Host::Name(_) => None,
        }
    }

    fn check_parsed_host(&self, input: &str, host: Host<'_>) -> Option<IndicatorMatch> {
        match host {
            Host::Ip(ip) => {
                let ((net, prefix), entry) = self.ips.lookup(ip)?;
                let shown = ip_display(*net, *prefix);
                let value = self.value(&shown, entry);
                Some(self.hit(
                    input,
                    IocType::IpAddresses,
                    value,
                    entry,
                    MatchRule::IpAddress,
                ))
            }
            Host::Name(name) => {
                let domains = &self.tables[IocType::Domains as usize];
                if domains.is_empty() {
                    return None;
                }
                let depths = self.domain_label_counts;
                normalize::suffixes(&name).find_map(|(labels, suffix)| {
                    if depths & label_bit(labels) == 0 {
                        return None;
                    }
                    let found = self.find(IocType::Domains, suffix)?;
                    let rule = if suffix.len() == name.len() {
                        MatchRule::Domain
                    } else {
                        MatchRule::SubDomain
                    };
                    Some(self.hit_entry(input, IocType::Domains, found, rule))
                })
            }
        }
    }

    /// The first of several URLs (in order) that matches.
    pub fn check_urls<'a>(
        &self,
        urls: impl IntoIterator<Item = &'a str>,
    ) -> Option<IndicatorMatch> {
        urls.into_iter().find_map(|u| self.check_url(u))
    }

    /// A process name (or a path to an executable; its base name is compared).
    pub fn check_process(&self, name: &str) -> Option<IndicatorMatch> {
        let base = name.rsplit_once('/').map_or(name, |(_, base)| base);
        if base.is_empty() {
            return None;
        }
        if let Some(found) = self.check_exact(name, IocType::Processes, base) {
            return Some(found);
        }
        // The kernel truncates process names to 16 characters: such a name may be the start
        // of a longer indicator.
        if base.chars().count() == 16 {
            let full = self.truncated.get(base)?;
            let found = self.find(IocType::Processes, full)?;
            return Some(self.hit_entry(
                name,
                IocType::Processes,
                found,
                MatchRule::TruncatedProcess,
            ));
        }
        None
    }

    pub fn check_email(&self, email: &str) -> Option<IndicatorMatch> {
        let e = email.trim();
        let e = match e.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => &e[7..],
            _ => e,
        };
        self.check_exact(email, IocType::Emails, &lower(e))
    }

    pub fn check_file_name(&self, name: &str) -> Option<IndicatorMatch> {
        self.check_exact(name, IocType::FileNames, name)
    }

    /// A path against file-name (its base name) and file-path (prefix) indicators.
    pub fn check_file_path(&self, path: &str) -> Option<IndicatorMatch> {
        let base = path.rsplit_once('/').map_or(path, |(_, base)| base);
        if !base.is_empty()
            && let Some(found) = self.find(IocType::FileNames, base)
        {
            return Some(self.hit_entry(path, IocType::FileNames, found, MatchRule::FileName));
        }
        if self.tables[IocType::FilePaths as usize].is_empty() {
            return None;
        }
        // The path itself, then each parent folder: a prefix match on component boundaries
        // only (`/a/b` matches `/a/b/c`, never `/a/bc`).
        let mut candidate = path.trim_end_matches('/');
        while !candidate.is_empty() {
            if let Some(found) = self.find(IocType::FilePaths, candidate) {
                return Some(self.hit_entry(
                    path,
                    IocType::FilePaths,
                    found,
                    MatchRule::PathPrefix,
                ));
            }
            candidate = match candidate.rfind('/') {
                Some(slash) => candidate[..slash].trim_end_matches('/'),
                None => "",
            };
        }
        None
    }

    /// Any `/`-separated component of a path against process indicators.
    pub fn check_path_contains_process(&self, path: &str) -> Option<IndicatorMatch> {
        path.split('/')
            .filter(|c| !c.is_empty())
            .find_map(|component| {
                let found = self.find(IocType::Processes, component)?;
                Some(self.hit_entry(path, IocType::Processes, found, MatchRule::PathComponent))
            })
    }

    pub fn check_profile_id(&self, uuid: &str) -> Option<IndicatorMatch> {
        self.check_exact(uuid, IocType::IosProfileIds, &lower(uuid.trim()))
    }

    /// An MD5, SHA-1 or SHA-256 hash (chosen by length).
    pub fn check_file_hash(&self, hash: &str) -> Option<IndicatorMatch> {
        let h = hash.trim();
        self.check_exact(hash, hash_type(h), &lower(h))
    }

    pub fn check_app_cert_hash(&self, hash: &str) -> Option<IndicatorMatch> {
        self.check_exact(hash, IocType::AppCertHashes, &cert_hash(hash))
    }

    pub fn check_app_id(&self, app_id: &str) -> Option<IndicatorMatch> {
        self.check_exact(app_id, IocType::AppIds, &lower(app_id.trim()))
    }

    pub fn check_android_property(&self, name: &str) -> Option<IndicatorMatch> {
        self.check_exact(name, IocType::AndroidPropertyNames, &lower(name.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(patterns: &[&str]) -> Indicators {
        let mut ind = Indicators::new();
        let json = test_bundle_json("TestMalware", patterns);
        ind.load_bundle(json.as_bytes(), Path::new("/x/test.stix2"))
            .expect("test bundle loads");
        ind
    }

    #[test]
    fn keys_normalise_like_lookups() {
        let ind = load(&[
            "[domain-name:value = 'WWW.Example.ORG.']",
            "[email-addr:value = 'Foo@Example.org']",
            "[app:cert.sha256 = 'AB:CD']",
        ]);
        let hit = ind.check_url("https://example.org/").expect("hit");
        assert_eq!(hit.value, "WWW.Example.ORG.");
        assert_eq!(hit.rule, MatchRule::Domain);
        assert!(ind.check_email("mailto:FOO@example.ORG").is_some());
        assert!(ind.check_app_cert_hash("abcd").is_some());
        assert_eq!(ind.counts().values().sum::<usize>(), 3);
    }

    /// A bundle large enough to be keyed on two threads: values in the second half still
    /// lose to the same value earlier in the file, and every kind of value is stored.
    #[test]
    fn compact_bundles_are_keyed_on_two_threads_after_parsing() {
        // Under the size parsed in pieces, over the count keyed on two threads: collections
        // are assigned across the two shares.
        let n = PARALLEL_INDICATORS + 2_000;
        let mut objects = vec![
            r#"{"type":"malware","id":"m0","name":"Thirds"}"#.to_string(),
            r#"{"type":"malware","id":"m1","name":"Others"}"#.to_string(),
        ];
        for i in 0..n {
            objects.push(format!(
                r#"{{"type":"indicator","id":"i{i}","pattern":"[domain-name:value='h{i}.x']"}}"#
            ));
            objects.push(format!(
                r#"{{"type":"relationship","source_ref":"i{i}","target_ref":"m{}"}}"#,
                u8::from(i % 3 != 0)
            ));
        }
        let json = format!(r#"{{"objects":[{}]}}"#, objects.join(","));
        assert!(json.len() < 8 << 20, "parsed in one piece");
        let mut ind = Indicators::new();
        ind.load_bundle(json.as_bytes(), Path::new("compact.stix2"))
            .expect("loads");
        for i in [0, 1, n / 2 - 1, n / 2, n / 2 + 1, n - 2, n - 1] {
            let hit = ind.check_url(&format!("h{i}.x")).expect("hit");
            let expected = if i % 3 == 0 { "Thirds" } else { "Others" };
            assert_eq!(hit.collection, expected, "h{i}.x");
        }
        let counts: Vec<_> = ind
            .collections_summary()
            .into_iter()
            .map(|c| (c.name, c.indicators))
            .collect();
        let thirds = n.div_ceil(3);
        assert_eq!(
            counts,
            [("Thirds".into(), thirds), ("Others".into(), n - thirds)]
        );
    }

    #[test]
    fn large_bundles_assign_collections_after_keying() {
        // Large enough to be parsed (and keyed) in pieces: indicators linked to one of two
        // malware, listed in a report, or neither, spread over the whole file.
        let n = 40_000;
        let mut objects = vec![
            r#"{"type":"malware","id":"malware--a","name":"A"}"#.to_string(),
            r#"{"type":"report","id":"report--r","name":"R","object_refs":["indicator--7","indicator--39999"]}"#.to_string(),
        ];
        for i in 0..n {
            objects.push(format!(
                r#"{{"type":"indicator","id":"indicator--{i}","description":"{:0>200}","pattern":"[domain-name:value = 'host{i}.example.net']","pattern_type":"stix"}}"#,
                i
            ));
            let target = match i % 3 {
                0 => "malware--a",
                1 => "malware--b",
                _ => continue,
            };
            objects.push(format!(
                r#"{{"type":"relationship","source_ref":"indicator--{i}","target_ref":"{target}"}}"#
            ));
        }
        objects.push(r#"{"type":"malware","id":"malware--b","name":"B"}"#.to_string());
        let json = format!(r#"{{"type":"bundle","objects":[{}]}}"#, objects.join(","));
        assert!(json.len() > 8 << 20, "parsed in pieces");
        let mut ind = Indicators::new();
        ind.load_bundle(json.as_bytes(), Path::new("big.stix2"))
            .expect("loads");
        let collection = |i: usize| {
            ind.check_url(&format!("host{i}.example.net"))
                .expect("hit")
                .collection
        };
        assert_eq!(collection(0), "A");
        assert_eq!(collection(1), "B");
        assert_eq!(collection(2), "Default collection");
        assert_eq!(collection(7), "R", "a report wins over the relationship");
        assert_eq!(collection(39_999), "R");
        assert_eq!(collection(39_998), "Default collection");
        assert_eq!(collection(39_997), "B");
        let counts: Vec<_> = ind
            .collections_summary()
            .into_iter()
            .map(|c| (c.name, c.indicators))
            .collect();
        assert_eq!(
            counts,
            [
                ("A".to_string(), 13_333),
                ("B".to_string(), 13_332),
                ("R".to_string(), 2),
                ("Default collection".to_string(), 13_333),
            ]
        );
    }

    #[test]
    fn large_bundles_keep_file_order() {
        let filler: Vec<String> = (0..PARALLEL_INDICATORS)
            .map(|i| format!("[domain-name:value = 'host{i}.example.net']"))
            .collect();
        let mut patterns = vec!["[domain-name:value = 'Dup.Example.']"];
        patterns.extend(filler.iter().map(String::as_str));
        patterns.extend([
            "[domain-name:value = 'dup.example']",
            "[ipv4-addr:value = '192.0.2.0/24']",
            "[process:name = 'averyveryverylongdaemonname']",
            "[url:value = 'https://bad.example.org/x']",
            "[domain-name:value = 'WWW.Last.Example']",
        ]);
        let ind = load(&patterns);
        assert_eq!(
            ind.len(),
            PARALLEL_INDICATORS + 5,
            "the repeated value counts once"
        );
        let hit = ind.check_url("http://a.dup.example/").expect("hit");
        assert_eq!(
            (hit.value.as_str(), hit.rule),
            ("Dup.Example.", MatchRule::SubDomain)
        );
        let last = PARALLEL_INDICATORS - 1;
        assert!(ind.check_url(&format!("host{last}.example.net")).is_some());
        assert!(ind.check_url("host0.example.net").is_some());
        assert!(ind.check_url("https://192.0.2.77/").is_some());
        assert!(ind.check_process("averyveryverylo").is_none());
        assert!(
            ind.check_process("averyveryverylon").is_some(),
            "16-character truncation"
        );
        assert!(ind.check_url("https://bad.example.org/x").is_some());
        assert!(ind.check_url("example.net").is_none());
        // A value written differently from its key, in the last share: shown as written.
        let last = ind.check_url("https://cdn.last.example/").expect("hit");
        assert_eq!(last.value, "WWW.Last.Example");
    }
}
