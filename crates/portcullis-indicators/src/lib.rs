//! STIX 2.1 indicators: loading bundles into named collections, and matching values against them.
//!
//! Loading follows MVT (collections per `malware` and `report`, then "Default collection"); the
//! patterns are parsed by a real STIX patterning parser; every lookup is a hash probe on a
//! normalised key, so checking a value costs the same with ten or a million indicators.
//! The matching rules are written down, with examples, in `docs/matching.md`.

mod build;
mod bundle;
mod cache;
mod files;
mod identity;
mod keys;
mod matching;
mod normalize;
mod observed;
mod pattern;
#[cfg(test)]
mod proptests;
mod stix;
mod table;
#[cfg(test)]
mod tests;
mod types;

/// The fast paths of loading beside the readers they stand in for, for the fuzz targets
/// (`fuzz/`): only with the `fuzzing` feature.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    pub use crate::pattern::fuzzing::*;
    pub use crate::stix::fuzzing::*;
}

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

pub use bundle::test_bundle_json;
pub use cache::{CacheError, CacheHeader, CacheSource};
pub use files::indicator_files;
pub use observed::{IndicatorDigest, ObservedKind};
pub use types::{
    CollectionSummary, IndicatorFile, IndicatorInfo, IndicatorMatch, IocType, LeftOut, LoadError,
    LoadedValue, MatchRule, tlp_of,
};

use build::Collection;
use identity::{Records, Validity};
use keys::{IpTable, Table};

/// The maps of the tables and of loading: foldhash (a folded multiply, 8 bytes at a time,
/// seeded at random per map, so keys cannot be chosen in advance to collide); SipHash made
/// hashing the largest cost of loading a million indicators.
type FastState = hashbrown::DefaultHashBuilder;
type FastMap<K, V> = HashMap<K, V, FastState>;
type FastSet<K> = HashSet<K, FastState>;

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
    /// What the `check_*` methods were asked about, when [`Indicators::observe`] was called.
    observer: Option<Box<observed::Observer>>,
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

    /// The most restrictive TLP level (`TLP:AMBER`…) among the loaded indicators' markings,
    /// when any is marked: how widely the set may be shared.
    pub fn strictest_tlp(&self) -> Option<&'static str> {
        self.records.strictest_tlp()
    }

    /// Whether revoked and expired indicators are used (see [`Indicators::include_expired`]).
    pub fn includes_expired(&self) -> bool {
        self.validity.include_expired
    }

    /// Judges `valid_until` against `now` (`YYYY-MM-DDTHH:MM:SS`, UTC) instead of the current
    /// time: for re-checking old results as of their date, and for tests.
    pub fn checked_at(mut self, now: &str) -> Self {
        self.validity.now = now.get(..19).unwrap_or(now).to_string();
        self
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

    /// Every value that can match, once each, in load order (an indicator's values in type
    /// and value order), with the collection and indicator that hold it: for exports. A value
    /// two collections share comes once, under the one loaded first (the one a match names);
    /// revoked and expired indicators left out at load are not in it. Holds one small entry per
    /// value while it runs (to give a stable order), never their text.
    pub fn values(&self) -> impl Iterator<Item = LoadedValue<'_>> {
        let mut order: Vec<(u32, IocType, std::borrow::Cow<'_, str>)> = Vec::new();
        for t in IocType::ALL {
            for (key, entry) in self.tables[t as usize].iter() {
                order.push((entry.indicator, t, self.value(key, entry).into()));
            }
        }
        for (&(ip, prefix), entry) in &self.ips.map {
            let value = match self.originals.get(entry.original as usize) {
                Some(original) => std::borrow::Cow::Borrowed(&**original),
                None => keys::ip_display(ip, prefix).into(),
            };
            order.push((entry.indicator, IocType::IpAddresses, value));
        }
        order.sort_unstable();
        order.into_iter().map(move |(indicator, ioc_type, value)| {
            let c = self.records.collection(indicator);
            LoadedValue {
                value,
                ioc_type,
                collection: self.collections.get(c as usize).map_or("", |c| &c.name),
                id: self.records.id(indicator),
                tlp: self.records.tlp(indicator),
            }
        })
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
}
