//! Loading: parsing bundles, keying their patterns in parallel, assigning collections as MVT
//! does, and filling the tables.

use std::collections::hash_map;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use tracing::{debug, info};

use crate::FastMap;
use crate::files::{indicator_files, sha256_hex};
use crate::identity::{PartRecords, Records, Validity};
use crate::keys::{Entry, Key, NO_ORIGINAL, Table, ip_display, keyed_value, label_bit, labels};
use crate::table::{Inserted, Staged};
use crate::types::{IndicatorFile, IocType, LeftOut, LoadError};
use crate::{Indicators, pattern, stix, table};

const DEFAULT_COLLECTION: &str = "Default collection";
const UNNAMED_COLLECTION: &str = "Unnamed collection";
/// Longest excerpt of a pattern quoted in an "unsupported" note.
const EXCERPT_CHARS: usize = 120;

#[derive(Debug)]
pub(crate) struct Collection {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) file: String,
    pub(crate) path: PathBuf,
    pub(crate) sha256: String,
    pub(crate) counts: [usize; IocType::ALL.len()],
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
pub(crate) struct KeyedPart {
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
            self.records.push(indicator);
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
    records: &Records,
) -> ShardOutcome {
    let collection = |e: &Entry| records.collection(e.indicator);
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
pub(crate) const PARALLEL_INDICATORS: usize = 50_000;

pub(crate) fn excerpt(s: &str) -> String {
    match s.char_indices().nth(EXCERPT_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

impl Indicators {
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
    pub(crate) fn value<'a>(&'a self, key: &'a str, entry: &Entry) -> &'a str {
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
        let records = &self.records;
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
                fill_shard(1, second, staged, collections, records)
            });
            let mine = fill_shard(0, first, staged, collections, records);
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
            fill_shard(1, views.collect(), staged, collections, records)
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
}
