//! The installed collections in the user's data folder:
//!
//! ```text
//! <data>/iocs/collections/<name>.stix2   the STIX files a check loads (nothing else lives here)
//! <data>/iocs/manifest.json              provenance of each: source, times, SHA-256, licence…
//! <data>/iocs/incoming/                  downloads being written; never loaded
//! <data>/iocs/cache/                     the collections compiled, for a fast start
//! <data>/iocs/lock                       held while the store changes
//! ```
//!
//! A file is installed by writing it whole into `incoming/`, syncing it and renaming it over
//! the old copy, so a process killed mid-install leaves the old copy in place; the manifest is
//! replaced the same way after it.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use portcullis_indicators::Indicators;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const MANIFEST_SCHEMA: &str = "portcullis-iocs/1";
/// Most bytes of a manifest read back (thousands of collections fit in 1 MiB).
const MAX_MANIFEST: u64 = 16 << 20;

/// Where an installed collection came from, which decides how `update` refreshes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Listed by the public index; refreshed by `update`.
    Index,
    /// Shipped inside Portcullis; reinstalled by `update` when this build carries another one.
    Bundled,
    /// Added from an address; refreshed by `update`.
    Url,
    /// Added from a file; refreshed only by adding it again.
    File,
    /// A TAXII 2.1 collection; synchronised by `update`.
    Taxii,
}

/// One installed collection and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    /// The file name in `collections/`.
    pub file: String,
    /// A human name (the index entry's name, or the file's).
    pub title: String,
    pub kind: SourceKind,
    /// The address (or path) it was fetched from.
    pub source: String,
    pub sha256: String,
    pub bytes: u64,
    /// When this content was installed (RFC 3339, UTC).
    pub installed_at: String,
    /// When the source was last reached and found current or newer.
    pub checked_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// The licence, when the publisher states one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence: Option<String>,
    /// The most restrictive TLP marking its indicators carry, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlp: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// Usable indicators per type (`domains`, `urls`…), as loaded when installed.
    pub counts: BTreeMap<String, usize>,
    /// The last update's failure, kept until an update succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Kind-specific state (a TAXII collection's cursor), kept as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<serde_json::Value>,
}

impl Installed {
    /// An entry of `kind` from `source` with nothing installed yet, for the caller to fill.
    pub fn empty(kind: SourceKind, source: &str) -> Installed {
        Installed {
            file: String::new(),
            title: String::new(),
            kind,
            source: source.to_string(),
            sha256: String::new(),
            bytes: 0,
            installed_at: String::new(),
            checked_at: String::new(),
            etag: None,
            last_modified: None,
            licence: None,
            tlp: None,
            authors: Vec::new(),
            references: Vec::new(),
            counts: BTreeMap::new(),
            last_error: None,
            state: None,
        }
    }

    pub fn indicators(&self) -> usize {
        self.counts.values().sum()
    }
}

/// Every installed collection, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    /// The index `update` reads and the base its GitHub entries are fetched through, when not
    /// the public defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_base: Option<String>,
    #[serde(default)]
    pub collections: BTreeMap<String, Installed>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged ({reason}); remove it and run `portcullis iocs update` again")]
    Manifest { path: PathBuf, reason: String },
    #[error("no installed collection is named \"{0}\" (see `portcullis iocs list`)")]
    Unknown(String),
    #[error("{origin}: not a STIX 2.1 indicator bundle: {reason}")]
    NotABundle { origin: String, reason: String },
    #[error("{0}: not a collection name (letters, digits, '-', '_' and '.' only)")]
    BadName(String),
}

/// A STIX bundle checked by loading it: what it holds, to record in the manifest.
#[derive(Debug, Clone)]
pub struct Verified {
    pub counts: BTreeMap<String, usize>,
    pub sha256: String,
    /// The most restrictive TLP marking of its indicators, when any is marked.
    pub tlp: Option<String>,
}

/// Loads `bytes` as the check would; a bundle that does not load is refused.
pub fn verify(bytes: &[u8], source: &str) -> Result<Verified, StoreError> {
    let mut indicators = Indicators::new().include_expired(true);
    let file = indicators
        .load_bundle(bytes, Path::new(source))
        .map_err(|e| StoreError::NotABundle {
            origin: source.into(),
            reason: e.to_string(),
        })?;
    let counts = indicators
        .counts()
        .into_iter()
        .map(|(t, n)| (t.as_str().to_string(), n))
        .collect();
    Ok(Verified {
        tlp: indicators.strictest_tlp().map(str::to_string),
        counts,
        sha256: file.sha256,
    })
}

/// The store under a data folder.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// Held while the store changes: two updates at once would interleave manifests.
pub struct Lock(#[allow(dead_code)] File);

impl Store {
    pub fn new(data_dir: &Path) -> Store {
        Store {
            root: data_dir.join("iocs"),
        }
    }

    /// The folder a check loads: installed STIX files only.
    pub fn collections_dir(&self) -> PathBuf {
        self.root.join("collections")
    }

    /// The compiled cache of the collections folder (one per choice of `--include-expired`):
    /// rebuilt by a check when a file changed, never loaded as a collection.
    pub fn cache_path(&self, include_expired: bool) -> PathBuf {
        let name = if include_expired {
            "indicators-all.bin"
        } else {
            "indicators.bin"
        };
        self.root.join("cache").join(name)
    }

    fn manifest_path(&self) -> PathBuf {
        self.root.join("manifest.json")
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Takes the store's lock, creating the store's folders; waits for another update.
    pub fn lock(&self) -> Result<Lock, StoreError> {
        for dir in [self.collections_dir(), self.root.join("incoming")] {
            fs::create_dir_all(&dir).map_err(Self::io(&dir))?;
        }
        let path = self.root.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(Self::io(&path))?;
        file.lock().map_err(Self::io(&path))?;
        Ok(Lock(file))
    }

    /// The manifest; an empty one when nothing was installed yet.
    pub fn manifest(&self) -> Result<Manifest, StoreError> {
        let path = self.manifest_path();
        let bytes = match File::open(&path) {
            Ok(f) => {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_MANIFEST), &mut bytes)
                    .map_err(Self::io(&path))?;
                bytes
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Manifest {
                    schema: MANIFEST_SCHEMA.into(),
                    ..Manifest::default()
                });
            }
            Err(e) => return Err(Self::io(&path)(e)),
        };
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Manifest {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if manifest.schema != MANIFEST_SCHEMA {
            return Err(StoreError::Manifest {
                path,
                reason: format!("schema {:?}, expected {MANIFEST_SCHEMA}", manifest.schema),
            });
        }
        Ok(manifest)
    }

    pub fn save_manifest(&self, _lock: &Lock, manifest: &Manifest) -> Result<(), StoreError> {
        let mut bytes = serde_json::to_vec_pretty(manifest).expect("a manifest serialises");
        bytes.push(b'\n');
        self.write_atomic(&self.manifest_path(), &bytes)
    }

    /// Whether any collection is installed (a check then uses them by default).
    pub fn installed_files(&self) -> Vec<PathBuf> {
        let dir = self.collections_dir();
        let mut files: Vec<PathBuf> = fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "stix2") && p.is_file())
            .collect();
        files.sort();
        files
    }

    /// Writes `bytes` as collection `name` (replacing the old copy atomically) and records
    /// `entry` for it in `manifest` (saved by the caller).
    pub fn install(
        &self,
        lock: &Lock,
        manifest: &mut Manifest,
        name: &str,
        mut entry: Installed,
        bytes: &[u8],
    ) -> Result<PathBuf, StoreError> {
        check_name(name)?;
        entry.file = format!("{name}.stix2");
        let path = self.collections_dir().join(&entry.file);
        self.write_atomic(&path, bytes)?;
        manifest.collections.insert(name.to_string(), entry);
        let _ = lock;
        Ok(path)
    }

    /// Removes collection `name` and its manifest entry (saved by the caller).
    pub fn remove(
        &self,
        _lock: &Lock,
        manifest: &mut Manifest,
        name: &str,
    ) -> Result<Installed, StoreError> {
        let entry = manifest
            .collections
            .remove(name)
            .ok_or_else(|| StoreError::Unknown(name.into()))?;
        let path = self.collections_dir().join(&entry.file);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Self::io(&path)(e)),
            _ => Ok(entry),
        }
    }

    /// Whole-or-nothing replacement: a temporary file in `incoming/`, synced, then renamed.
    /// Leftovers of an interrupted install are removed first.
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let incoming = self.root.join("incoming");
        fs::create_dir_all(&incoming).map_err(Self::io(&incoming))?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let temp = incoming.join(format!("{name}.{}.partial", std::process::id()));
        let result = (|| {
            let mut file = File::create(&temp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            fs::rename(&temp, path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result.map_err(Self::io(path))
    }

    /// Removes downloads left in `incoming/` by a process that was stopped.
    pub fn clean_incoming(&self, _lock: &Lock) {
        for entry in fs::read_dir(self.root.join("incoming"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// A name safe as a file name: it is joined to the collections folder.
fn check_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadName(name.into()))
    }
}

/// A collection name from a title: `NSO Group Pegasus Indicators of Compromise` →
/// `nso-group-pegasus`.
pub fn name_from_title(title: &str) -> String {
    let mut name = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_lowercase());
        } else if !name.ends_with('-') && !name.is_empty() {
            name.push('-');
        }
    }
    let name = name.trim_end_matches('-');
    let name = ["-indicators-of-compromise", "-iocs", "-indicators"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(name);
    let name: String = name.chars().take(80).collect();
    if name.is_empty() {
        "collection".into()
    } else {
        name
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Now, as RFC 3339 UTC to the second.
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_titles() {
        assert_eq!(
            name_from_title("NSO Group Pegasus Indicators of Compromise"),
            "nso-group-pegasus"
        );
        assert_eq!(
            name_from_title("Operation Triangulation IOCs"),
            "operation-triangulation"
        );
        assert_eq!(name_from_title("../../etc"), "etc");
        assert_eq!(name_from_title("ü"), "collection");
        assert!(check_name("../x").is_err());
        assert!(check_name(".hidden").is_err());
        assert!(check_name("iran-state-linked").is_ok());
    }

    #[test]
    fn a_bundle_is_verified_with_its_counts_and_strictest_tlp() {
        let patterns = [
            "[domain-name:value = 'a.example']",
            "[domain-name:value = 'b.example']",
        ];
        let plain = portcullis_indicators::test_bundle_json("M", &patterns);
        let verified = verify(plain.as_bytes(), "m.stix2").unwrap();
        assert_eq!(verified.counts.get("domains"), Some(&2));
        assert_eq!(verified.tlp, None);
        // The first indicator GREEN, the second AMBER (TLP 2.0 ids): AMBER is the strictest.
        let mut bundle: serde_json::Value = serde_json::from_str(&plain).unwrap();
        let mark = |bundle: &mut serde_json::Value, at: usize, id: &str| {
            bundle["objects"][at]["object_marking_refs"] = serde_json::json!([id]);
        };
        mark(
            &mut bundle,
            1,
            "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        );
        let green = verify(bundle.to_string().as_bytes(), "m.stix2").unwrap();
        assert_eq!(green.tlp.as_deref(), Some("TLP:GREEN"));
        mark(
            &mut bundle,
            3,
            "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        );
        let amber = verify(bundle.to_string().as_bytes(), "m.stix2").unwrap();
        assert_eq!(amber.tlp.as_deref(), Some("TLP:AMBER"));
    }
}
