//! Read-only access to evidence: every file a module reads goes through here, so size caps, path
//! checks and the SHA-256 record of inputs live in one place.
//!
//! The [`Evidence`] trait is what artifact readers see. [`FolderEvidence`] serves a plain folder
//! (an iOS backup, an unpacked acquisition); other sources (encrypted backups, archives) implement
//! the same trait so modules never know which one they got.

pub mod age;
#[cfg(any(test, feature = "hostile-inputs"))]
pub mod hostile;
pub mod json;
pub mod property_list;
pub mod sqlite;
pub mod zip;

pub use self::age::{open_age_zip, open_age_zip_with_passphrase};
pub use self::sqlite::open_sqlite_bytes;
pub use self::zip::{ZipEvidence, ZipLimits};

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;
use sha2::{Digest, Sha256};

/// Largest file read into memory (plists, small databases): hostile inputs must not exhaust RAM.
pub const DEFAULT_MAX_READ: u64 = 512 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("{path}: file not found")]
    NotFound { path: String },
    #[error("{path}: refusing a path that leaves the evidence folder")]
    UnsafePath { path: String },
    /// A symbolic link, FIFO, device or socket where a file was expected: links could make
    /// outside files pass for evidence, and opening a FIFO blocks forever.
    #[error("{path}: {kind}, not read (only regular files are evidence)")]
    NotRegular { path: String, kind: &'static str },
    #[error("{path}: {size} bytes is larger than the {limit}-byte limit")]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a readable SQLite database ({source})")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
    #[error("{path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{path}: not a valid property list ({source})")]
    Plist {
        path: String,
        source: property_list::PlistError,
    },
    /// The key given (an age identity, a passphrase) does not open this encrypted file.
    #[error("this {key_kind} cannot decrypt {path}")]
    CannotDecrypt {
        path: String,
        key_kind: &'static str,
    },
}

impl EvidenceError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, EvidenceError::NotFound { .. })
    }
}

pub type Result<T> = std::result::Result<T, EvidenceError>;

/// Most entries listed from one source: a hostile archive or folder must not exhaust memory.
pub const MAX_ENTRIES: usize = 2_000_000;

/// One file of an evidence source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// `/`-separated path relative to the source's root.
    pub path: String,
    pub size: u64,
    /// Modification time (Unix seconds) as the source records it, when it does.
    pub modified: Option<i64>,
}

/// A read-only source of evidence files addressed by `/`-separated paths relative to its root.
pub trait Evidence: Send + Sync {
    /// Every regular file, sorted by path (symbolic links are not followed).
    fn list(&self) -> Result<Vec<FileEntry>>;

    /// Whether the file exists (and is a regular file).
    fn exists(&self, path: &str) -> bool;

    /// The whole file, up to the read limit. Records its SHA-256.
    fn read(&self, path: &str) -> Result<Vec<u8>>;

    /// Opens an SQLite database read-only, without ever writing next to the evidence.
    fn open_sqlite(&self, path: &str) -> Result<Connection>;

    /// SHA-256 of every file read so far, by relative path.
    fn hashes(&self) -> Vec<(String, String)>;

    /// The file as a stream, for artifacts too large to hold whole (a streamed JSON list).
    /// The same caps apply as to [`Evidence::read`]; the SHA-256 is recorded once the stream has
    /// been read to its end.
    fn open(&self, path: &str) -> Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(std::io::Cursor::new(self.read(path)?)))
    }

    /// Parts of the source refused (links, special files, escaping names, oversized or damaged
    /// archive entries), each as "<path>: <reason>", for the report's warnings.
    fn refused(&self) -> Vec<String> {
        Vec::new()
    }

    /// Reads and parses a binary or XML property list.
    fn read_plist(&self, path: &str) -> Result<plist::Value> {
        let bytes = self.read(path)?;
        property_list::parse(&bytes).map_err(|source| EvidenceError::Plist {
            path: path.to_string(),
            source,
        })
    }
}

/// Rejects absolute paths and `..` so hostile names (from a manifest, an archive) cannot escape.
pub fn checked_relative(path: &str) -> Result<PathBuf> {
    let p = Path::new(path);
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => {
                return Err(EvidenceError::UnsafePath {
                    path: path.to_string(),
                });
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(EvidenceError::UnsafePath {
            path: path.to_string(),
        });
    }
    Ok(out)
}

/// What a file system entry is, when it is not a regular file or folder (`None` for those).
pub fn irregular_kind(kind: std::fs::FileType) -> Option<&'static str> {
    if kind.is_file() || kind.is_dir() {
        return None;
    }
    if kind.is_symlink() {
        return Some("a symbolic link");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if kind.is_socket() {
            return Some("a socket");
        }
        if kind.is_block_device() || kind.is_char_device() {
            return Some("a device file");
        }
    }
    Some("not a regular file")
}

/// Most refusals a folder keeps for [`Evidence::refused`].
const MAX_REFUSED: usize = 1000;

/// Evidence in a folder on disk, never written to. Only regular files are read: symbolic
/// links (to a file or a folder, anywhere below the root), FIFOs, devices and sockets are
/// refused and named, so nothing outside the folder can pass for evidence and nothing blocks.
#[derive(Debug)]
pub struct FolderEvidence {
    root: PathBuf,
    max_read: u64,
    hashes: Mutex<BTreeMap<String, String>>,
    refused: Mutex<BTreeMap<String, &'static str>>,
}

impl FolderEvidence {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FolderEvidence {
            root: root.into(),
            max_read: DEFAULT_MAX_READ,
            hashes: Mutex::new(BTreeMap::new()),
            refused: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn with_max_read(mut self, limit: u64) -> Self {
        self.max_read = limit;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The full path of a regular file inside the root, reached without following a link:
    /// every component below the root is checked (not followed), so a linked folder is refused
    /// as surely as a linked file.
    fn regular_file(&self, path: &str) -> Result<PathBuf> {
        let relative = checked_relative(path)?;
        let mut full = self.root.clone();
        let parts: Vec<_> = relative.components().collect();
        for (i, part) in parts.iter().enumerate() {
            full.push(part);
            let meta = std::fs::symlink_metadata(&full).map_err(|e| Self::io_err(path, e))?;
            let last = i + 1 == parts.len();
            let kind = meta.file_type();
            let problem = match irregular_kind(kind) {
                Some(problem) => Some(problem),
                None if last && !kind.is_file() => Some("a folder"),
                None if !last && !kind.is_dir() => Some("not a folder"),
                None => None,
            };
            if let Some(kind) = problem {
                let shown = parts[..=i]
                    .iter()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                if kind != "a folder" {
                    self.note_refused(&shown, kind);
                }
                return Err(EvidenceError::NotRegular { path: shown, kind });
            }
        }
        Ok(full)
    }

    /// A checked regular file opened for reading, with its size, refused past the read limit.
    fn open_capped(&self, path: &str) -> Result<(File, u64)> {
        let (file, _) = self.open_regular(path)?;
        let size = file.metadata().map_err(|e| Self::io_err(path, e))?.len();
        if size > self.max_read {
            return Err(EvidenceError::TooLarge {
                path: path.to_string(),
                size,
                limit: self.max_read,
            });
        }
        Ok((file, size))
    }

    fn note_refused(&self, path: &str, kind: &'static str) {
        if let Ok(mut refused) = self.refused.lock()
            && refused.len() < MAX_REFUSED
        {
            refused.insert(path.to_string(), kind);
        }
    }

    /// Opens a checked regular file and makes sure the opened file is still one.
    fn open_regular(&self, path: &str) -> Result<(File, PathBuf)> {
        let full = self.regular_file(path)?;
        let file = File::open(&full).map_err(|e| Self::io_err(path, e))?;
        let meta = file.metadata().map_err(|e| Self::io_err(path, e))?;
        if let Some(kind) =
            irregular_kind(meta.file_type()).or((!meta.is_file()).then_some("a folder"))
        {
            return Err(EvidenceError::NotRegular {
                path: path.to_string(),
                kind,
            });
        }
        Ok((file, full))
    }

    fn io_err(path: &str, source: std::io::Error) -> EvidenceError {
        if source.kind() == std::io::ErrorKind::NotFound {
            EvidenceError::NotFound {
                path: path.to_string(),
            }
        } else {
            EvidenceError::Io {
                path: path.to_string(),
                source,
            }
        }
    }

    fn record_hash(&self, path: &str, sha256: String) {
        if let Ok(mut map) = self.hashes.lock() {
            map.insert(path.to_string(), sha256);
        }
    }

    /// Hashes a file by streaming it, so large databases are not loaded for hashing.
    fn hash_file(&self, path: &str, mut file: File) -> Result<()> {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf).map_err(|e| Self::io_err(path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        self.record_hash(path, hex::encode(hasher.finalize()));
        Ok(())
    }
}

impl Evidence for FolderEvidence {
    fn list(&self) -> Result<Vec<FileEntry>> {
        let mut out = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let entries =
                std::fs::read_dir(&dir).map_err(|e| Self::io_err(&dir.display().to_string(), e))?;
            for entry in entries.flatten() {
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                let path = entry.path();
                if let Some(problem) = irregular_kind(kind) {
                    if let Ok(rel) = path.strip_prefix(&self.root) {
                        self.note_refused(&rel.to_string_lossy().replace('\\', "/"), problem);
                    }
                } else if kind.is_dir() {
                    stack.push(path);
                } else if kind.is_file() {
                    let Ok(rel) = path.strip_prefix(&self.root) else {
                        continue;
                    };
                    let meta = entry.metadata().ok();
                    out.push(FileEntry {
                        path: rel.to_string_lossy().replace('\\', "/"),
                        size: meta.as_ref().map_or(0, |m| m.len()),
                        modified: meta
                            .and_then(|m| m.modified().ok())
                            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                            .map(|d| d.as_secs() as i64),
                    });
                    if out.len() > MAX_ENTRIES {
                        return Err(EvidenceError::Unreadable {
                            path: self.root.display().to_string(),
                            reason: format!("more than {MAX_ENTRIES} files"),
                        });
                    }
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn exists(&self, path: &str) -> bool {
        self.regular_file(path).is_ok()
    }

    fn read(&self, path: &str) -> Result<Vec<u8>> {
        let (file, size) = self.open_capped(path)?;
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(self.max_read)
            .read_to_end(&mut bytes)
            .map_err(|e| Self::io_err(path, e))?;
        self.record_hash(path, hex::encode(Sha256::digest(&bytes)));
        Ok(bytes)
    }

    fn open_sqlite(&self, path: &str) -> Result<Connection> {
        let (file, full) = self.open_regular(path)?;
        self.hash_file(path, file)?;
        // A `-wal` beside it is merged only when it too is a regular file (a link is refused).
        if let Ok(wal) = self.regular_file(&format!("{path}-wal")) {
            // An uncheckpointed WAL holds recent rows; SQLite would write to apply it, so the
            // database and its WAL are read into memory and merged there instead.
            return sqlite::open_with_wal(path, &full, &wal);
        }
        sqlite::open_immutable(path, &full)
    }

    fn hashes(&self) -> Vec<(String, String)> {
        self.hashes
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    fn open(&self, path: &str) -> Result<Box<dyn Read + Send + '_>> {
        let (file, _) = self.open_capped(path)?;
        Ok(Box::new(HashingReader {
            inner: Some(file),
            hasher: Sha256::new(),
            path: path.to_string(),
            hashes: &self.hashes,
        }))
    }

    fn refused(&self) -> Vec<String> {
        self.refused
            .lock()
            .map(|r| {
                r.iter()
                    .map(|(path, kind)| format!("{path}: {kind}, not read"))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A file streamed through SHA-256; the hash is recorded when the stream reaches its end.
struct HashingReader<'a> {
    /// `None` once the end was reached and the hash recorded.
    inner: Option<File>,
    hasher: Sha256,
    path: String,
    hashes: &'a Mutex<BTreeMap<String, String>>,
}

impl Read for HashingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(file) = self.inner.as_mut() else {
            return Ok(0);
        };
        let n = file.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.inner = None;
            let digest = std::mem::take(&mut self.hasher).finalize();
            if let Ok(mut map) = self.hashes.lock() {
                map.insert(self.path.clone(), hex::encode(digest));
            }
        } else {
            self.hasher.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// A text file's contents as a string, whatever a phone tool or shell wrote it in: a UTF-8
/// byte-order mark is dropped, UTF-16 with a byte-order mark (what `adb shell getprop >
/// file` gives in Windows PowerShell) is decoded, and anything else is read as UTF-8 with
/// invalid bytes replaced, so one bad byte never hides the rest of the file.
pub fn decode_text(bytes: &[u8]) -> String {
    let utf16 = |bytes: &[u8], unit: fn([u8; 2]) -> u16| {
        let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    };
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

#[cfg(test)]
mod text_tests {
    use super::decode_text;

    #[test]
    fn byte_order_marks_choose_the_encoding() {
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for unit in "[ro.build.version.release]: [14] é".encode_utf16() {
            le.extend(unit.to_le_bytes());
            be.extend(unit.to_be_bytes());
        }
        assert_eq!(decode_text(&le), "[ro.build.version.release]: [14] é");
        assert_eq!(decode_text(&be), "[ro.build.version.release]: [14] é");
        assert_eq!(decode_text(b"\xEF\xBB\xBFa=1"), "a=1");
        // A lone surrogate and an odd trailing byte cost one character, not the file.
        assert_eq!(
            decode_text(&[0xFF, 0xFE, 0x00, 0xD8, b'a', 0, 7]),
            "\u{FFFD}a"
        );
        assert_eq!(decode_text(b"init\xe9\nnext"), "init\u{FFFD}\nnext");
    }
}
