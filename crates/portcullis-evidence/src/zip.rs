//! Zip archives (AndroidQF acquisitions, bug reports, decrypted age streams) read in place:
//! entries are decompressed on demand (into memory, or streamed) and never extracted to disk.
//!
//! Archives from a phone are hostile. Entries with escaping names, links and entries whose data
//! overlaps another's (the "overlapping files" zip bomb: many entries sharing one huge deflate
//! stream) are refused when the archive is indexed. An entry that declares more than the entry
//! limit, or a ratio no real file has, is refused before anything is inflated, and no entry may
//! produce more than it declares, so memory never exceeds what the limits allow. A refusal is
//! remembered: every later read of that entry gets the same error at once.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Component, Path};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ::zip::{CompressionMethod, ZipArchive};
use flate2::read::DeflateDecoder;
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use crate::{Evidence, EvidenceError, FileEntry, FolderEvidence, Result, open_sqlite_bytes};

/// Caps that keep a hostile archive (zip bomb, millions of entries) from exhausting memory or
/// time. Sizes are counted on the bytes really decompressed, never on the sizes the archive
/// declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipLimits {
    /// Most bytes one entry may decompress to (an entry declaring more is refused unread).
    pub max_entry_bytes: u64,
    /// Most bytes decompressed across every read of the archive in one check (repeated reads
    /// count again).
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
            max_entry_bytes: 1 << 30,
            max_total_bytes: 8 << 30,
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

/// A cursor over [`Backing`] that reads with positioned I/O, so each entry reader has its own
/// clone and position and concurrent module reads never wait on a lock.
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

/// A regular-file entry that passed the name and layout checks.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Declared decompressed size: no read may produce more.
    size: u64,
    modified: Option<i64>,
    header_start: u64,
    compressed_size: u64,
    method: CompressionMethod,
    crc32: u32,
}

/// Size of a local file header before its name and extra field.
const LOCAL_HEADER_LEN: u64 = 30;

/// A zip archive served as read-only evidence, addressed by the entries' safe `/` paths.
pub struct ZipEvidence {
    name: String,
    reader: SharedReader,
    entry_count: usize,
    entries: BTreeMap<String, Entry>,
    skipped: Vec<String>,
    /// Entries refused when read, by path: later reads get the same error without inflating.
    refused: Mutex<BTreeMap<String, String>>,
    limits: ZipLimits,
    total_read: Arc<AtomicU64>,
    hashes: Arc<Mutex<BTreeMap<String, String>>>,
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

    /// Entries refused, each as "<name in the archive>: <reason>": by the name and layout
    /// checks when the archive was opened, then those refused when read (oversized, damaged…).
    pub fn skipped(&self) -> Vec<String> {
        let mut out = self.skipped.clone();
        if let Ok(refused) = self.refused.lock() {
            out.extend(
                refused
                    .iter()
                    .map(|(path, reason)| format!("{path}: {reason}")),
            );
        }
        out
    }

    fn new(name: String, backing: Backing, len: u64) -> Result<Self> {
        let reader = SharedReader::new(backing, len);
        let archive = ZipArchive::new(reader.clone()).map_err(|e| EvidenceError::Unreadable {
            path: name.clone(),
            reason: format!("not a readable zip archive ({e})"),
        })?;
        let (entries, skipped) = index_entries(&archive);
        Ok(ZipEvidence {
            name,
            entry_count: archive.len(),
            reader,
            entries,
            skipped,
            refused: Mutex::new(BTreeMap::new()),
            limits: ZipLimits::default(),
            total_read: Arc::new(AtomicU64::new(0)),
            hashes: Arc::new(Mutex::new(BTreeMap::new())),
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

    /// The entry at `path`, or why it cannot be read: refused before (remembered), missing,
    /// or declaring a size or ratio beyond the limits (refused now, without inflating).
    fn readable_entry(&self, path: &str) -> Result<Entry> {
        self.check_entry_count()?;
        if let Some(reason) = self.refused.lock().ok().and_then(|r| r.get(path).cloned()) {
            return Err(self.entry_error(path, reason));
        }
        let entry = *self
            .entries
            .get(path)
            .ok_or_else(|| EvidenceError::NotFound {
                path: path.to_string(),
            })?;
        let limits = self.limits;
        let compressed = entry.compressed_size.max(1);
        let refusal = if entry.size > limits.max_entry_bytes {
            Some(format!(
                "declares {} bytes, more than the {}-byte entry limit",
                entry.size, limits.max_entry_bytes
            ))
        } else if entry.size > limits.ratio_min_bytes
            && entry.size > limits.max_ratio.saturating_mul(compressed)
        {
            Some(format!(
                "declares more than {}:1 from {compressed} compressed bytes (a zip bomb?)",
                limits.max_ratio
            ))
        } else {
            None
        };
        match refusal {
            Some(reason) => Err(self.refuse(path, reason)),
            None => Ok(entry),
        }
    }

    /// Remembers that `path` is refused, so no module inflates it again, and returns the error.
    fn refuse(&self, path: &str, reason: String) -> EvidenceError {
        if let Ok(mut refused) = self.refused.lock()
            && refused.len() < MAX_SKIPPED
        {
            refused.insert(path.to_string(), reason.clone());
        }
        self.entry_error(path, reason)
    }

    /// A streaming reader of the entry's decompressed bytes, checking the caps, the declared
    /// size and the CRC as it goes, and recording the SHA-256 when it reaches the end.
    fn entry_reader(&self, path: &str, entry: Entry) -> Result<EntryReader> {
        let damaged = |reason: String| self.entry_error(path, format!("damaged entry ({reason})"));
        let mut header = [0u8; LOCAL_HEADER_LEN as usize];
        let mut at = self.reader.clone();
        at.seek(SeekFrom::Start(entry.header_start))
            .and_then(|_| at.read_exact(&mut header))
            .map_err(|e| damaged(format!("local header unreadable: {e}")))?;
        if &header[..4] != b"PK\x03\x04" {
            return Err(damaged("no local header where the directory points".into()));
        }
        let name_len = u64::from(u16::from_le_bytes([header[26], header[27]]));
        let extra_len = u64::from(u16::from_le_bytes([header[28], header[29]]));
        let data_start = entry.header_start + LOCAL_HEADER_LEN + name_len + extra_len;
        if data_start.saturating_add(entry.compressed_size) > self.reader.len {
            return Err(damaged("data runs past the end of the archive".into()));
        }
        at.seek(SeekFrom::Start(data_start))
            .map_err(|e| damaged(e.to_string()))?;
        let raw = at.take(entry.compressed_size);
        let decoder = match entry.method {
            CompressionMethod::Stored => Decoder::Stored(raw),
            CompressionMethod::Deflated => Decoder::Deflated(Box::new(DeflateDecoder::new(raw))),
            other => {
                return Err(self.entry_error(
                    path,
                    format!("unsupported entry (compression method {other:?} is not built in)"),
                ));
            }
        };
        Ok(EntryReader {
            path: path.to_string(),
            entry,
            limits: self.limits,
            decoder,
            produced: 0,
            crc: flate2::Crc::new(),
            sha256: Sha256::new(),
            total_read: Arc::clone(&self.total_read),
            hashes: Arc::clone(&self.hashes),
            done: false,
        })
    }

    /// Reads a whole entry into memory. A refusal by a cap is remembered for later reads.
    fn read_entry(&self, path: &str) -> Result<Vec<u8>> {
        let entry = self.readable_entry(path)?;
        let mut reader = self.entry_reader(path, entry)?;
        let mut out = Vec::with_capacity(entry.size.min(MAX_RESERVE) as usize);
        match reader.read_to_end(&mut out) {
            Ok(_) => Ok(out),
            Err(e) => Err(self.read_failed(path, e)),
        }
    }

    /// The error for a failed read of `path`; a cap's refusal is remembered.
    fn read_failed(&self, path: &str, error: io::Error) -> EvidenceError {
        let reason = error.to_string();
        if error.kind() == io::ErrorKind::FileTooLarge {
            self.refuse(path, reason)
        } else {
            self.entry_error(path, reason)
        }
    }
}

/// A streamed entry whose errors name the entry and archive, and which remembers a refusal by
/// a cap in its archive.
struct RefusalMemo<'a> {
    evidence: &'a ZipEvidence,
    inner: EntryReader,
}

impl Read for RefusalMemo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted {
                return e;
            }
            let error = self.evidence.read_failed(&self.inner.path, e);
            io::Error::new(io::ErrorKind::InvalidData, error.to_string())
        })
    }
}

/// How an entry's bytes are stored.
enum Decoder {
    Stored(io::Take<SharedReader>),
    Deflated(Box<DeflateDecoder<io::Take<SharedReader>>>),
}

/// One entry's decompressed bytes as a stream (see [`ZipEvidence::entry_reader`]); a cap's
/// refusal is an `io::ErrorKind::FileTooLarge` error.
struct EntryReader {
    path: String,
    entry: Entry,
    limits: ZipLimits,
    decoder: Decoder,
    produced: u64,
    crc: flate2::Crc,
    sha256: Sha256,
    total_read: Arc<AtomicU64>,
    hashes: Arc<Mutex<BTreeMap<String, String>>>,
    done: bool,
}

impl EntryReader {
    fn fail(&self, kind: io::ErrorKind, reason: String) -> io::Error {
        io::Error::new(kind, reason)
    }

    /// Checks the caps after `n` more bytes were produced.
    fn account(&mut self, n: usize) -> io::Result<()> {
        let n = n as u64;
        self.produced += n;
        let total = self.total_read.fetch_add(n, Ordering::Relaxed) + n;
        let limits = self.limits;
        if self.produced > self.entry.size {
            return Err(self.fail(
                io::ErrorKind::InvalidData,
                format!(
                    "damaged entry (inflates to more than the {} bytes it declares)",
                    self.entry.size
                ),
            ));
        }
        if total > limits.max_total_bytes {
            return Err(self.fail(
                io::ErrorKind::FileTooLarge,
                format!(
                    "the archive has decompressed more than its {}-byte total limit",
                    limits.max_total_bytes
                ),
            ));
        }
        Ok(())
    }

    /// At the end of the data: the CRC must match, then the SHA-256 is recorded.
    fn finish(&mut self) -> io::Result<()> {
        self.done = true;
        let crc = std::mem::replace(&mut self.crc, flate2::Crc::new()).sum();
        if crc != self.entry.crc32 {
            return Err(self.fail(
                io::ErrorKind::InvalidData,
                format!(
                    "damaged entry (CRC-32 {crc:08x}, the archive says {:08x})",
                    self.entry.crc32
                ),
            ));
        }
        let digest = std::mem::take(&mut self.sha256).finalize();
        if let Ok(mut map) = self.hashes.lock() {
            map.insert(self.path.clone(), hex::encode(digest));
        }
        Ok(())
    }
}

impl Read for EntryReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let n = match &mut self.decoder {
            Decoder::Stored(r) => r.read(buf),
            Decoder::Deflated(r) => r.read(buf),
        }
        .map_err(|e| match e.kind() {
            io::ErrorKind::Interrupted => e,
            _ => self.fail(io::ErrorKind::InvalidData, format!("damaged entry ({e})")),
        })?;
        if n == 0 {
            self.finish()?;
            return Ok(0);
        }
        self.account(n)?;
        self.crc.update(&buf[..n]);
        self.sha256.update(&buf[..n]);
        Ok(n)
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
        self.read_entry(path)
    }

    fn open(&self, path: &str) -> Result<Box<dyn Read + Send + '_>> {
        let entry = self.readable_entry(path)?;
        Ok(Box::new(RefusalMemo {
            evidence: self,
            inner: self.entry_reader(path, entry)?,
        }))
    }

    fn refused(&self) -> Vec<String> {
        self.skipped()
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
                size: entry.size(),
                modified,
                header_start: entry.header_start(),
                compressed_size: entry.compressed_size(),
                method: entry.compression(),
                crc32: entry.crc32(),
            },
        );
    }
    for path in overlapping(&entries) {
        entries.remove(&path);
        refuse(
            &path,
            "its data overlaps another entry's (a zip bomb?); neither is read",
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

/// Entries whose stored data overlaps another's. In a real archive every entry's local header
/// and data come after the previous entry's; the "overlapping files" bomb points many entries
/// at one highly compressed stream so that each inflates it again. The local header's name and
/// extra field are not counted, so only real overlaps are found.
fn overlapping(entries: &BTreeMap<String, Entry>) -> Vec<String> {
    let mut spans: Vec<(u64, u64, &String)> = entries
        .iter()
        .map(|(path, e)| {
            let end = e
                .header_start
                .saturating_add(LOCAL_HEADER_LEN)
                .saturating_add(e.compressed_size);
            (e.header_start, end, path)
        })
        .collect();
    spans.sort();
    let mut out = std::collections::BTreeSet::new();
    let mut furthest: Option<(u64, &String)> = None;
    for (start, end, path) in spans {
        if let Some((reach, owner)) = furthest
            && start < reach
        {
            out.insert(owner.clone());
            out.insert(path.clone());
        }
        if furthest.is_none_or(|(reach, _)| end > reach) {
            furthest = Some((end, path));
        }
    }
    out.into_iter().collect()
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
