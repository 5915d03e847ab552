//! Zip archives (AndroidQF acquisitions, bug reports, decrypted age streams) read in place:
//! entries are decompressed into memory on demand and never extracted to disk, hostile entry
//! names are refused, and every read is bounded by the bytes it really produces.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Component, Path};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ::zip::ZipArchive;
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use crate::{Evidence, EvidenceError, FileEntry, FolderEvidence, Result, open_sqlite_bytes};

/// Caps that keep a hostile archive (zip bomb, millions of entries) from exhausting memory or
/// time. Sizes are counted on the bytes really decompressed, never on the sizes the archive
/// declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipLimits {
    /// Most bytes one entry may decompress to.
    pub max_entry_bytes: u64,
    /// Most bytes decompressed across every read of the archive (repeated reads count again).
    pub max_total_bytes: u64,
    /// Largest decompressed/compressed ratio allowed once an entry passes `ratio_min_bytes`.
    pub max_ratio: u64,
    /// Output size below which the ratio is not checked: small text compresses very well.
    pub ratio_min_bytes: u64,
    /// Most entries an archive may hold; beyond it `list`, `exists` and `read` refuse it.
    pub max_entries: usize,
}

impl Default for ZipLimits {
    fn default() -> Self {
        ZipLimits {
            max_entry_bytes: 2 << 30,
            max_total_bytes: 16 << 30,
            max_ratio: 200,
            ratio_min_bytes: 64 << 20,
            max_entries: 1_000_000,
        }
    }
}

/// Most refusals kept for [`ZipEvidence::skipped`]: an archive of hostile names stays bounded.
const MAX_SKIPPED: usize = 1000;

/// Largest buffer reserved up front from a declared size, which may be a lie.
const MAX_RESERVE: u64 = 64 << 20;

const CHUNK: usize = 1 << 16;

/// The bytes of an archive, shared by every concurrent reader.
#[derive(Clone)]
enum Backing {
    File(Arc<File>),
    Bytes(Arc<[u8]>),
}

/// A cursor over [`Backing`] that reads with positioned I/O, so cloning the `ZipArchive` gives
/// each read its own position and concurrent module reads never wait on a lock.
#[derive(Clone)]
struct SharedReader {
    backing: Backing,
    len: u64,
    pos: u64,
}

impl SharedReader {
    fn new(backing: Backing, len: u64) -> Self {
        SharedReader {
            backing,
            len,
            pos: 0,
        }
    }
}

impl Read for SharedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match &self.backing {
            Backing::File(file) => read_at(file, buf, self.pos)?,
            Backing::Bytes(bytes) => {
                let start = usize::try_from(self.pos)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let n = buf.len().min(bytes.len() - start);
                buf[..n].copy_from_slice(&bytes[start..start + n]);
                n
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SharedReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(off) => self.len.checked_add_signed(off),
            SeekFrom::Current(off) => self.pos.checked_add_signed(off),
        };
        self.pos = target.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the archive",
            )
        })?;
        Ok(self.pos)
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, pos)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, pos)
}

/// A regular-file entry that passed the name checks.
#[derive(Debug, Clone, Copy)]
struct Entry {
    index: usize,
    size: u64,
    modified: Option<i64>,
}

/// A zip archive served as read-only evidence, addressed by the entries' safe `/` paths.
pub struct ZipEvidence {
    name: String,
    archive: ZipArchive<SharedReader>,
    entry_count: usize,
    entries: BTreeMap<String, Entry>,
    skipped: Vec<String>,
    limits: ZipLimits,
    total_read: AtomicU64,
    hashes: Mutex<BTreeMap<String, String>>,
}

impl fmt::Debug for ZipEvidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZipEvidence")
            .field("name", &self.name)
            .field("entries", &self.entries.len())
            .field("skipped", &self.skipped.len())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl ZipEvidence {
    /// Opens a zip on disk in place; records the archive's own SHA-256 under its path.
    pub fn open(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let io_err = |source| FolderEvidence::io_err(&name, source);
        let file = File::open(path).map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        let sha256 = sha256_reader(&file).map_err(io_err)?;
        let evidence = Self::new(name.clone(), Backing::File(Arc::new(file)), len)?;
        evidence.record_hash(&name, sha256);
        Ok(evidence)
    }

    /// A zip held in memory (a nested bugreport.zip, a decrypted age stream), so its plaintext
    /// never touches the disk; records its SHA-256 under `name`.
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<Self> {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let len = bytes.len() as u64;
        let evidence = Self::new(name.to_string(), Backing::Bytes(bytes.into()), len)?;
        evidence.record_hash(name, sha256);
        Ok(evidence)
    }

    /// Replaces the default [`ZipLimits`].
    pub fn with_limits(mut self, limits: ZipLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The archive's name (its path, or the name given to [`ZipEvidence::from_bytes`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Entries refused by the name checks, each as "<name in the archive>: <reason>".
    pub fn skipped(&self) -> Vec<String> {
        self.skipped.clone()
    }

    fn new(name: String, backing: Backing, len: u64) -> Result<Self> {
        let archive = ZipArchive::new(SharedReader::new(backing, len)).map_err(|e| {
            EvidenceError::Unreadable {
                path: name.clone(),
                reason: format!("not a readable zip archive ({e})"),
            }
        })?;
        let (entries, skipped) = index_entries(&archive);
        Ok(ZipEvidence {
            name,
            entry_count: archive.len(),
            archive,
            entries,
            skipped,
            limits: ZipLimits::default(),
            total_read: AtomicU64::new(0),
            hashes: Mutex::new(BTreeMap::new()),
        })
    }

    pub(crate) fn record_hash(&self, key: &str, sha256: String) {
        if let Ok(mut map) = self.hashes.lock() {
            map.insert(key.to_string(), sha256);
        }
    }

    fn check_entry_count(&self) -> Result<()> {
        if self.entry_count > self.limits.max_entries {
            return Err(EvidenceError::Unreadable {
                path: self.name.clone(),
                reason: format!(
                    "{} entries is more than the {}-entry limit",
                    self.entry_count, self.limits.max_entries
                ),
            });
        }
        Ok(())
    }

    fn entry_error(&self, path: &str, reason: String) -> EvidenceError {
        EvidenceError::Unreadable {
            path: path.to_string(),
            reason: format!("{reason} (in {})", self.name),
        }
    }

    /// Decompresses one entry in chunks, checking every cap before keeping a chunk, so a bomb
    /// is stopped after at most one chunk past the limit.
    fn read_entry(&self, path: &str, entry: Entry) -> Result<Vec<u8>> {
        // The zip crate reports a method it lacks (bzip2, zstd…: only stored and deflate are
        // built in) as `Unsupported`, at open or at the first read.
        let failed = |e: io::Error| {
            let what = match e.kind() {
                io::ErrorKind::Unsupported => "unsupported entry",
                _ => "damaged entry",
            };
            self.entry_error(path, format!("{what} ({e})"))
        };
        let mut archive = self.archive.clone();
        let file = archive
            .by_index(entry.index)
            .map_err(|e| failed(e.into()))?;
        let compressed = file.compressed_size().max(1);
        let limits = self.limits;
        let reserve = entry.size.min(limits.max_entry_bytes).min(MAX_RESERVE);
        let mut out = Vec::with_capacity(reserve as usize);
        let reader = file.take(limits.max_entry_bytes.saturating_add(1));
        for_each_chunk(reader, failed, |chunk| {
            let n = chunk.len() as u64;
            let produced = out.len() as u64 + n;
            let total = self.total_read.fetch_add(n, Ordering::Relaxed) + n;
            let refusal = if produced > limits.max_entry_bytes {
                format!(
                    "decompresses to more than the {}-byte entry limit",
                    limits.max_entry_bytes
                )
            } else if total > limits.max_total_bytes {
                format!(
                    "the archive has decompressed more than its {}-byte total limit",
                    limits.max_total_bytes
                )
            } else if produced > limits.ratio_min_bytes
                && produced > limits.max_ratio.saturating_mul(compressed)
            {
                format!(
                    "decompresses more than {}:1 from {compressed} compressed bytes (a zip bomb?)",
                    limits.max_ratio
                )
            } else {
                out.extend_from_slice(chunk);
                return Ok(());
            };
            Err(self.entry_error(path, refusal))
        })?;
        Ok(out)
    }
}

impl Evidence for ZipEvidence {
    fn list(&self) -> Result<Vec<FileEntry>> {
        self.check_entry_count()?;
        Ok(self
            .entries
            .iter()
            .map(|(path, e)| FileEntry {
                path: path.clone(),
                size: e.size,
                modified: e.modified,
            })
            .collect())
    }

    fn exists(&self, path: &str) -> bool {
        self.check_entry_count().is_ok() && self.entries.contains_key(path)
    }

    fn read(&self, path: &str) -> Result<Vec<u8>> {
        self.check_entry_count()?;
        let entry = *self
            .entries
            .get(path)
            .ok_or_else(|| EvidenceError::NotFound {
                path: path.to_string(),
            })?;
        let bytes = self.read_entry(path, entry)?;
        self.record_hash(path, hex::encode(Sha256::digest(&bytes)));
        Ok(bytes)
    }

    /// Reads the database into memory; a `-wal` beside it in the archive is not merged.
    fn open_sqlite(&self, path: &str) -> Result<Connection> {
        open_sqlite_bytes(path, self.read(path)?)
    }

    fn hashes(&self) -> Vec<(String, String)> {
        self.hashes
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }
}

/// Sorts the central directory into readable regular files and refused entries.
fn index_entries(archive: &ZipArchive<SharedReader>) -> (BTreeMap<String, Entry>, Vec<String>) {
    let mut entries = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut refused = 0usize;
    let mut refuse = |name: &str, reason: &str| {
        refused += 1;
        if refused <= MAX_SKIPPED {
            skipped.push(format!("{name}: {reason}"));
        }
    };
    if archive.has_duplicate_names() {
        refuse(
            "(archive)",
            "duplicate entry names: only one entry of each name is readable",
        );
    }
    for index in 0..archive.len() {
        let Ok(entry) = archive.by_index_data(index) else {
            refuse(
                &format!("entry #{index}"),
                "unreadable central directory record",
            );
            continue;
        };
        let name = match entry.name() {
            Ok(name) => name.into_owned(),
            Err(_) => {
                refuse(
                    &String::from_utf8_lossy(entry.name_raw()),
                    "name is not valid text",
                );
                continue;
            }
        };
        if entry.is_dir() {
            continue;
        }
        if entry.is_symlink() {
            refuse(&name, "symbolic link, not followed");
            continue;
        }
        let path = match checked_entry_path(&name, entry.enclosed_name().as_deref()) {
            Ok(path) => path,
            Err(reason) => {
                refuse(&name, reason);
                continue;
            }
        };
        if entry.encrypted() {
            refuse(&name, "encrypted with a zip password");
            continue;
        }
        if entries.contains_key(&path) {
            refuse(&name, "same path as an earlier entry");
            continue;
        }
        let modified = entry.last_modified().and_then(|t| {
            zip_time_as_utc(
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
            )
        });
        entries.insert(
            path,
            Entry {
                index,
                size: entry.size(),
                modified,
            },
        );
    }
    if refused > MAX_SKIPPED {
        skipped.push(format!(
            "… and {} more refused entries",
            refused - MAX_SKIPPED
        ));
    }
    (entries, skipped)
}

/// The entry's `/` path, or why it is refused. `enclosed` is the zip crate's check (no `..`
/// above the root, no NUL); absolute names are refused here because that check only strips them.
fn checked_entry_path(
    name: &str,
    enclosed: Option<&Path>,
) -> std::result::Result<String, &'static str> {
    let bytes = name.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if name.starts_with(['/', '\\']) || drive {
        return Err("absolute path");
    }
    if name.contains('\0') {
        return Err("name contains a NUL byte");
    }
    let enclosed = enclosed.ok_or("path escapes the archive")?;
    let mut parts = Vec::new();
    for component in enclosed.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str().ok_or("name is not valid text")?),
            _ => return Err("path escapes the archive"),
        }
    }
    if parts.is_empty() {
        return Err("empty name");
    }
    Ok(parts.join("/"))
}

/// Zip (DOS) times are local wall-clock time without a zone; they are read as if UTC, so a
/// timestamp may be off by the acquiring machine's UTC offset.
fn zip_time_as_utc(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Option<i64> {
    let civil = jiff::civil::DateTime::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        // DOS times have two-second resolution and may say 60 seconds; clamp to a valid time.
        i8::try_from(second.min(59)).ok()?,
        0,
    )
    .ok()?;
    jiff::tz::TimeZone::UTC
        .to_timestamp(civil)
        .ok()
        .map(|t| t.as_second())
}

/// Streams a reader through SHA-256, so large archives are not loaded for hashing.
pub(crate) fn sha256_reader(reader: impl Read) -> io::Result<String> {
    let mut hasher = Sha256::new();
    for_each_chunk(
        reader,
        |e| e,
        |chunk| {
            hasher.update(chunk);
            Ok(())
        },
    )?;
    Ok(hex::encode(hasher.finalize()))
}

/// Feeds `reader` to `sink` a chunk at a time (retrying interrupted reads), so callers can check
/// limits or hash without holding more than one chunk.
fn for_each_chunk<E>(
    mut reader: impl Read,
    io_error: impl Fn(io::Error) -> E,
    mut sink: impl FnMut(&[u8]) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => sink(&buf[..n])?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(e)),
        }
    }
}
