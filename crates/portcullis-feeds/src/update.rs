//! `iocs update`: the bundled collections, every collection the index lists and every one
//! added from an address, each fetched conditionally, checked by loading it, and installed
//! whole. One that fails keeps its previous copy and is reported; the others go on.

use std::collections::BTreeSet;

use ureq::Agent;

use crate::http::{self, Fetched, Validators};
use crate::index::{self, IndexEntry};
use crate::licence;
use crate::store::{
    Installed, Lock, Manifest, SourceKind, Store, StoreError, name_from_title, now, sha256_hex,
    verify,
};

/// Most bytes accepted for one collection (the largest public one is ~20 MB).
pub const MAX_COLLECTION_BYTES: u64 = 512 << 20;

/// A collection shipped inside Portcullis, installed by `update` without the network.
#[derive(Debug, Clone, Copy)]
pub struct Bundled {
    pub name: &'static str,
    pub title: &'static str,
    pub bytes: &'static [u8],
    pub licence: &'static str,
    pub source: &'static str,
    pub authors: &'static [&'static str],
    pub references: &'static [&'static str],
}

/// What happened to one collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Installed for the first time.
    Installed,
    /// A newer copy replaced the installed one.
    Updated,
    /// The installed copy is current (the server said so, or sent the same bytes).
    Unchanged,
    /// Nothing installed changed; why.
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct EntryReport {
    pub name: String,
    pub title: String,
    pub source: String,
    pub outcome: Outcome,
    /// Usable indicators in the installed copy (0 when none is installed).
    pub indicators: usize,
}

#[derive(Debug, Default)]
pub struct UpdateReport {
    pub entries: Vec<EntryReport>,
    /// Index entries that could not be used, collections no longer listed…
    pub warnings: Vec<String>,
    /// Why the index could not be read, when it could not.
    pub index_error: Option<String>,
}

impl UpdateReport {
    /// Whether anything is current after the update: the command fails only when nothing
    /// could be updated at all.
    pub fn anything_current(&self) -> bool {
        self.entries
            .iter()
            .any(|e| !matches!(e.outcome, Outcome::Failed(_)))
    }
}

/// Where `update` looks.
#[derive(Debug, Clone, Copy)]
pub struct UpdateOptions<'a> {
    /// The index to read (when `None`: the one saved by an earlier update, else the public one).
    pub index_url: Option<&'a str>,
    pub raw_base: Option<&'a str>,
    pub bundled: &'a [Bundled],
}

/// Where one collection is fetched from and what the store should say about it.
struct Wanted {
    name: String,
    entry: Installed,
}

pub fn update(
    store: &Store,
    agent: &Agent,
    options: &UpdateOptions<'_>,
    progress: &dyn Fn(&str),
) -> Result<UpdateReport, StoreError> {
    let lock = store.lock()?;
    store.clean_incoming(&lock);
    let mut manifest = store.manifest()?;
    if let Some(url) = options.index_url {
        manifest.index_url = Some(url.to_string());
    }
    if let Some(base) = options.raw_base {
        manifest.raw_base = Some(base.to_string());
    }
    let mut report = UpdateReport::default();
    for b in options.bundled {
        let outcome = install_bundled(store, &lock, &mut manifest, b);
        report
            .entries
            .push(entry_report(&manifest, b.name, outcome));
    }
    store.save_manifest(&lock, &manifest)?;

    let index_url = manifest
        .index_url
        .clone()
        .unwrap_or_else(|| index::DEFAULT_INDEX_URL.into());
    let raw_base = manifest
        .raw_base
        .clone()
        .unwrap_or_else(|| index::DEFAULT_RAW_BASE.into());
    progress(&format!("reading the index {index_url}"));
    let mut wanted = Vec::new();
    match read_index(agent, &index_url, &raw_base) {
        Ok((entries, warnings)) => {
            report.warnings.extend(warnings);
            wanted.extend(from_index(&manifest, entries));
        }
        Err(e) => report.index_error = Some(e),
    }
    let listed: BTreeSet<String> = wanted.iter().map(|w| w.name.clone()).collect();
    for (name, installed) in &manifest.collections {
        match installed.kind {
            SourceKind::Url => wanted.push(Wanted {
                name: name.clone(),
                entry: installed.clone(),
            }),
            SourceKind::Index if !listed.contains(name) && report.index_error.is_none() => {
                report.warnings.push(format!(
                    "\"{name}\" is no longer listed by the index; it stays installed (remove it \
                     with `portcullis iocs remove {name}`)"
                ))
            }
            _ => {}
        }
    }
    let taxii: Vec<(String, Installed)> = manifest
        .collections
        .iter()
        .filter(|(_, i)| i.kind == SourceKind::Taxii)
        .map(|(n, i)| (n.clone(), i.clone()))
        .collect();
    for (name, entry) in taxii {
        progress(&format!(
            "synchronising the TAXII collection {}",
            entry.source
        ));
        let outcome = crate::taxii::sync(
            store,
            &lock,
            &mut manifest,
            agent,
            &name,
            entry,
            &std::thread::sleep,
        );
        report.entries.push(entry_report(&manifest, &name, outcome));
        store.save_manifest(&lock, &manifest)?;
    }
    for w in wanted {
        progress(&format!("fetching {}", w.entry.source));
        let outcome = refresh(store, &lock, &mut manifest, agent, &w.name, w.entry);
        report
            .entries
            .push(entry_report(&manifest, &w.name, outcome));
        store.save_manifest(&lock, &manifest)?;
    }
    Ok(report)
}

fn entry_report(manifest: &Manifest, name: &str, outcome: Outcome) -> EntryReport {
    let installed = manifest.collections.get(name);
    EntryReport {
        name: name.to_string(),
        title: installed.map(|i| i.title.clone()).unwrap_or_default(),
        source: installed.map(|i| i.source.clone()).unwrap_or_default(),
        indicators: installed.map_or(0, Installed::indicators),
        outcome,
    }
}

fn read_index(
    agent: &Agent,
    url: &str,
    raw_base: &str,
) -> Result<(Vec<IndexEntry>, Vec<String>), String> {
    let bytes = match http::get(agent, url, Validators::default(), index::MAX_INDEX_BYTES) {
        Ok(Fetched::Body { bytes, .. }) => bytes,
        Ok(Fetched::NotModified) => return Err(format!("{url}: answered 304 unasked")),
        Err(e) => return Err(format!("the index could not be read: {e}")),
    };
    let text = String::from_utf8(bytes).map_err(|_| format!("{url}: the index is not UTF-8"))?;
    index::parse(&text, raw_base).map_err(|e| format!("{url}: {e}"))
}

/// Index entries as the store should hold them; two entries whose names collide get a suffix.
fn from_index(manifest: &Manifest, entries: Vec<IndexEntry>) -> Vec<Wanted> {
    let mut taken = BTreeSet::new();
    entries
        .into_iter()
        .map(|e| {
            let base = name_from_title(&e.title);
            let mut name = base.clone();
            let mut n = 2;
            while !taken.insert(name.clone()) {
                name = format!("{base}-{n}");
                n += 1;
            }
            let held = manifest
                .collections
                .get(&name)
                .filter(|i| i.source == e.url && i.kind == SourceKind::Index);
            let mut entry = held
                .cloned()
                .unwrap_or_else(|| Installed::empty(SourceKind::Index, &e.url));
            entry.title = e.title;
            entry.authors = e.authors;
            entry.references = e.references;
            entry.licence = e
                .repository
                .as_deref()
                .and_then(licence::known)
                .map(str::to_string);
            Wanted { name, entry }
        })
        .collect()
}

fn install_bundled(store: &Store, lock: &Lock, manifest: &mut Manifest, b: &Bundled) -> Outcome {
    let digest = sha256_hex(b.bytes);
    let held = manifest.collections.get(b.name);
    if held.is_some_and(|i| i.sha256 == digest && file_matches(store, i)) {
        return Outcome::Unchanged;
    }
    let first = held.is_none();
    let verified = match verify(b.bytes, b.name) {
        Ok(v) => v,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let when = now();
    let entry = Installed {
        file: String::new(),
        title: b.title.into(),
        kind: SourceKind::Bundled,
        source: b.source.into(),
        sha256: verified.sha256,
        bytes: b.bytes.len() as u64,
        installed_at: when.clone(),
        checked_at: when,
        etag: None,
        last_modified: None,
        licence: Some(b.licence.into()),
        tlp: verified.tlp,
        authors: b.authors.iter().map(|s| s.to_string()).collect(),
        references: b.references.iter().map(|s| s.to_string()).collect(),
        counts: verified.counts,
        last_error: None,
        state: None,
    };
    match store.install(lock, manifest, b.name, entry, b.bytes) {
        Ok(_) if first => Outcome::Installed,
        Ok(_) => Outcome::Updated,
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// Whether the installed file is the one the manifest describes (a process stopped between
/// the two writes leaves them apart; the next update then fetches unconditionally).
fn file_matches(store: &Store, installed: &Installed) -> bool {
    std::fs::read(store.collections_dir().join(&installed.file))
        .is_ok_and(|bytes| sha256_hex(&bytes) == installed.sha256)
}

fn refresh(
    store: &Store,
    lock: &Lock,
    manifest: &mut Manifest,
    agent: &Agent,
    name: &str,
    mut entry: Installed,
) -> Outcome {
    let held = manifest.collections.contains_key(name) && file_matches(store, &entry);
    let validators = if held {
        Validators {
            etag: entry.etag.as_deref(),
            last_modified: entry.last_modified.as_deref(),
        }
    } else {
        Validators::default()
    };
    let fetched = http::get(agent, &entry.source, validators, MAX_COLLECTION_BYTES);
    let when = now();
    let outcome = match fetched {
        Ok(Fetched::NotModified) => Ok(None),
        Ok(Fetched::Body {
            bytes,
            etag,
            last_modified,
        }) => {
            entry.etag = etag;
            entry.last_modified = last_modified;
            if held && sha256_hex(&bytes) == entry.sha256 {
                Ok(None)
            } else {
                verify(&bytes, &entry.source)
                    .map(|v| Some((v, bytes)))
                    .map_err(|e| e.to_string())
            }
        }
        Err(e) => Err(e.to_string()),
    };
    match outcome {
        Ok(None) => {
            entry.checked_at = when;
            entry.last_error = None;
            manifest.collections.insert(name.to_string(), entry);
            Outcome::Unchanged
        }
        Ok(Some((verified, bytes))) => {
            entry.sha256 = verified.sha256;
            entry.counts = verified.counts;
            entry.tlp = verified.tlp;
            entry.bytes = bytes.len() as u64;
            entry.installed_at = when.clone();
            entry.checked_at = when;
            entry.last_error = None;
            match store.install(lock, manifest, name, entry, &bytes) {
                Ok(_) if held => Outcome::Updated,
                Ok(_) => Outcome::Installed,
                Err(e) => Outcome::Failed(e.to_string()),
            }
        }
        Err(why) => {
            if let Some(installed) = manifest.collections.get_mut(name) {
                installed.last_error = Some(why.clone());
            }
            Outcome::Failed(why)
        }
    }
}
