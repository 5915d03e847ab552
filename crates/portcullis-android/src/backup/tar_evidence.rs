//! A tar archive read once, front to back, and served as [`Evidence`] from memory.
//!
//! Backups arrive as a stream (decrypted and inflated on the fly), so the archive cannot be
//! re-read: every regular file is kept in memory while it fits the [`TarLimits`], larger ones are
//! listed but refuse to be read. Names that would leave the archive (`..`, absolute paths) are
//! refused, links are never followed, and a damaged tail keeps the files read before it.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Mutex;

use portcullis_evidence::{Evidence, EvidenceError, FileEntry, checked_relative};
use sha2::{Digest, Sha256};
use tar::EntryType;

use super::{BackupError, CappedReader};

/// Bounds on what one backup may cost.
#[derive(Debug, Clone)]
pub struct TarLimits {
    /// Largest file kept in memory.
    pub max_entry: u64,
    /// Total size of the files kept in memory.
    pub max_total: u64,
    /// Most bytes read from the decoded stream (stops zlib bombs).
    pub max_stream: u64,
    /// Most archive members.
    pub max_entries: usize,
    /// Which members are kept in memory; the others are listed but not kept (a backup of
    /// every app can be gigabytes, and a zlib bomb of many members must not fill memory).
    pub keep: fn(&str) -> bool,
}

/// [`TarLimits::keep`] keeping every member.
pub fn keep_all(_: &str) -> bool {
    true
}

impl Default for TarLimits {
    fn default() -> Self {
        TarLimits {
            max_entry: 256 << 20,
            max_total: 1 << 30,
            max_stream: 64 << 30,
            max_entries: portcullis_evidence::MAX_ENTRIES,
            keep: keep_all,
        }
    }
}

/// Longest GNU long name or PAX header accepted (real ones are a few hundred bytes).
const MAX_NAME_RECORD: u64 = 1 << 20;

#[derive(Debug)]
enum Content {
    Kept(Vec<u8>),
    /// Larger than `max_entry`.
    TooLarge(u64),
    /// Did not fit in the `max_total` budget.
    OverBudget(u64),
    /// Not wanted by any module ([`TarLimits::keep`]).
    NotKept,
}

#[derive(Debug)]
struct Member {
    size: u64,
    modified: Option<i64>,
    content: Content,
}

/// Most warnings kept from one archive.
const MAX_WARNINGS: usize = 1000;

/// The regular files of a tar archive, in memory.
#[derive(Debug)]
pub struct TarEvidence {
    members: BTreeMap<String, Member>,
    warnings: Vec<String>,
    hashes: Mutex<BTreeMap<String, String>>,
}

/// Name overrides announced by a GNU long-name or PAX member for the member that follows.
#[derive(Default)]
struct PendingName {
    name: Option<Vec<u8>>,
}

impl TarEvidence {
    /// Reads a whole tar stream. Fails only when nothing could be read; damage after the first
    /// member is kept as a warning (see [`TarEvidence::warnings`]).
    pub fn from_tar(input: impl Read, limits: &TarLimits) -> Result<TarEvidence, BackupError> {
        let mut ev = TarEvidence {
            members: BTreeMap::new(),
            warnings: Vec::new(),
            hashes: Mutex::new(BTreeMap::new()),
        };
        match ev.walk(input, limits) {
            Ok(()) => Ok(ev),
            Err(err) if ev.members.is_empty() => Err(err),
            Err(err) => {
                tracing::warn!(
                    "backup archive damaged after {} files: {err}",
                    ev.members.len()
                );
                ev.warnings.push(format!(
                    "the archive is damaged after {} files; the rest was not read: {err}",
                    ev.members.len()
                ));
                Ok(ev)
            }
        }
    }

    /// Keeps a warning for the report (a bounded number: a hostile archive may hold millions).
    fn warn(&mut self, warning: String) {
        tracing::debug!("backup archive: {warning}");
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(warning);
        } else if self.warnings.len() == MAX_WARNINGS {
            self.warnings
                .push("… and more refused members (not listed)".to_string());
        }
    }

    fn walk(&mut self, input: impl Read, limits: &TarLimits) -> Result<(), BackupError> {
        let mut archive = tar::Archive::new(input);
        let entries = archive
            .entries()
            .map_err(BackupError::from_stream)?
            // Raw: long names and PAX records are read here, with a size cap.
            .raw(true);
        let mut pending = PendingName::default();
        let mut kept_total = 0u64;
        let mut count = 0usize;
        for entry in entries {
            let mut entry = entry.map_err(BackupError::from_stream)?;
            count += 1;
            if count > limits.max_entries {
                return Err(BackupError::TooLarge {
                    what: "the number of archive members".into(),
                    limit: limits.max_entries as u64,
                });
            }
            let kind = entry.header().entry_type();
            match kind {
                EntryType::GNULongName => {
                    pending.name = Some(read_record(&mut entry, "long file name")?);
                    continue;
                }
                EntryType::XHeader => {
                    let record = read_record(&mut entry, "PAX header")?;
                    if let Some(path) = pax_path(&record) {
                        pending.name = Some(path);
                    }
                    continue;
                }
                _ => {}
            }
            let raw_name = pending
                .name
                .take()
                .unwrap_or_else(|| entry.path_bytes().into_owned());
            let shown = String::from_utf8_lossy(&raw_name).into_owned();
            let not_read = match kind {
                EntryType::Regular | EntryType::Continuous => None,
                EntryType::Symlink => Some("a symbolic link, not followed"),
                EntryType::Link => Some("a hard link, not followed"),
                EntryType::Char | EntryType::Block => Some("a device file, not read"),
                EntryType::Fifo => Some("a FIFO, not read"),
                _ => continue,
            };
            if let Some(what) = not_read {
                self.warn(format!("{shown}: {what}"));
                continue;
            }
            let Some(path) = safe_name(&shown) else {
                self.warn(format!(
                    "refused a member whose name leaves the archive: {shown:?}"
                ));
                continue;
            };
            let size = entry.size();
            let modified = entry
                .header()
                .mtime()
                .ok()
                .and_then(|t| i64::try_from(t).ok());
            let content = if !(limits.keep)(&path) {
                Content::NotKept
            } else if size > limits.max_entry {
                Content::TooLarge(limits.max_entry)
            } else if kept_total.saturating_add(size) > limits.max_total {
                Content::OverBudget(limits.max_total)
            } else {
                let mut data = Vec::with_capacity(size.min(1 << 20) as usize);
                // The tar reader yields at most the member's recorded size.
                entry
                    .read_to_end(&mut data)
                    .map_err(BackupError::from_stream)?;
                if (data.len() as u64) < size {
                    return Err(BackupError::Corrupt(format!(
                        "{path}: the member is truncated"
                    )));
                }
                kept_total += size;
                Content::Kept(data)
            };
            self.members.insert(
                path,
                Member {
                    size,
                    modified,
                    content,
                },
            );
        }
        Ok(())
    }

    fn member(&self, path: &str) -> portcullis_evidence::Result<&Member> {
        self.members
            .get(path.trim_start_matches("./"))
            .ok_or_else(|| EvidenceError::NotFound {
                path: path.to_string(),
            })
    }
}

/// Reads a long-name or PAX member, refusing oversized ones.
fn read_record(entry: &mut impl Read, what: &'static str) -> Result<Vec<u8>, BackupError> {
    let mut data = Vec::new();
    CappedReader::new(entry, MAX_NAME_RECORD, what)
        .read_to_end(&mut data)
        .map_err(BackupError::from_stream)?;
    while data.last() == Some(&0) {
        data.pop();
    }
    Ok(data)
}

/// The `path` of PAX records (`"<len> path=<value>\n"`…).
fn pax_path(mut record: &[u8]) -> Option<Vec<u8>> {
    let mut found = None;
    while !record.is_empty() {
        let space = record.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&record[..space]).ok()?.parse().ok()?;
        if len <= space || len > record.len() {
            return found;
        }
        let field = &record[space + 1..len];
        let field = field.strip_suffix(b"\n").unwrap_or(field);
        if let Some(value) = field.strip_prefix(b"path=") {
            found = Some(value.to_vec());
        }
        record = &record[len..];
    }
    found
}

/// The member name as a `/`-separated relative path, or `None` when it would leave the archive.
fn safe_name(name: &str) -> Option<String> {
    if name.starts_with('/') || name.contains('\\') || name.contains('\0') {
        return None;
    }
    let rel = checked_relative(name).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(parts.join("/"))
}

impl Evidence for TarEvidence {
    fn list(&self) -> portcullis_evidence::Result<Vec<FileEntry>> {
        Ok(self
            .members
            .iter()
            .map(|(path, m)| FileEntry {
                path: path.clone(),
                size: m.size,
                modified: m.modified,
            })
            .collect())
    }

    fn exists(&self, path: &str) -> bool {
        self.member(path).is_ok()
    }

    fn read(&self, path: &str) -> portcullis_evidence::Result<Vec<u8>> {
        let member = self.member(path)?;
        match &member.content {
            Content::Kept(data) => {
                let digest = hex::encode(Sha256::digest(data));
                if let Ok(mut hashes) = self.hashes.lock() {
                    hashes.insert(path.to_string(), digest);
                }
                Ok(data.clone())
            }
            Content::TooLarge(limit) => Err(EvidenceError::TooLarge {
                path: path.to_string(),
                size: member.size,
                limit: *limit,
            }),
            Content::NotKept => Err(EvidenceError::Unreadable {
                path: path.to_string(),
                reason: "not kept in memory: no module reads it".into(),
            }),
            Content::OverBudget(limit) => Err(EvidenceError::Unreadable {
                path: path.to_string(),
                reason: format!(
                    "not kept in memory: the backup's files exceed the {limit}-byte budget"
                ),
            }),
        }
    }

    fn open_sqlite(&self, path: &str) -> portcullis_evidence::Result<rusqlite::Connection> {
        let bytes = self.read(path)?;
        portcullis_evidence::open_sqlite_bytes(path, bytes)
    }

    fn hashes(&self) -> Vec<(String, String)> {
        self.hashes
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// Problems met while reading (refused names and links, damage), for the report.
    fn refused(&self) -> Vec<String> {
        self.warnings.clone()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tar archive holding `files` (directories are implied).
    pub(crate) fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o600);
            header.set_mtime(1_646_519_315);
            header.set_entry_type(EntryType::Regular);
            builder.append_data(&mut header, path, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    /// A raw 512-byte header block with a given name and type (names the tar crate's builder
    /// refuses to write, like `../x`).
    fn raw_member(name: &[u8], kind: u8, data: &[u8]) -> Vec<u8> {
        let mut header = tar::Header::new_old();
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_size(data.len() as u64);
        header.set_mode(0o600);
        header.set_entry_type(EntryType::new(kind));
        header.set_cksum();
        let mut out = header.as_bytes().to_vec();
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(512), 0);
        out
    }

    #[test]
    fn files_are_served_and_hashed() {
        let long = format!("apps/{}/f/data", "x".repeat(150));
        let tar = tar_of(&[
            ("apps/a/f/one", b"1"),
            ("./apps/a/f/two", b"22"),
            (&long, b"333"),
        ]);
        let ev = TarEvidence::from_tar(&tar[..], &TarLimits::default()).unwrap();
        let listed = ev.list().unwrap();
        let paths: Vec<&str> = listed.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["apps/a/f/one", "apps/a/f/two", long.as_str()]);
        assert_eq!(listed[0].modified, Some(1_646_519_315));
        assert_eq!(ev.read(&long).unwrap(), b"333");
        assert!(ev.exists("apps/a/f/two"));
        assert!(!ev.exists("apps/a/f"));
        assert!(ev.read("nope").unwrap_err().is_not_found());
        assert_eq!(
            ev.hashes(),
            [(long.clone(), hex::encode(Sha256::digest(b"333")))]
        );
        assert!(ev.open_sqlite("apps/a/f/one").is_err());
        assert!(ev.refused().is_empty());
    }

    #[test]
    fn escaping_names_links_and_pax_paths() {
        let mut tar = raw_member(b"../../etc/passwd", b'0', b"evil");
        tar.extend(raw_member(b"/abs/path", b'0', b"evil"));
        tar.extend(raw_member(b"link", b'2', b""));
        tar.extend(raw_member(b"dir/", b'5', b""));
        let pax = b"30 path=apps/pax/name/is/long\n";
        tar.extend(raw_member(b"PaxHeader", b'x', pax));
        tar.extend(raw_member(b"short", b'0', b"pax data"));
        tar.extend(raw_member(b"ok", b'0', b"fine"));
        tar.extend([0u8; 1024]);
        let ev = TarEvidence::from_tar(&tar[..], &TarLimits::default()).unwrap();
        let paths: Vec<String> = ev.list().unwrap().into_iter().map(|f| f.path).collect();
        assert_eq!(paths, ["apps/pax/name/is/long", "ok"]);
        assert_eq!(ev.read("apps/pax/name/is/long").unwrap(), b"pax data");
        // The two escaping names and the link are named for the report.
        assert_eq!(
            ev.refused(),
            [
                "refused a member whose name leaves the archive: \"../../etc/passwd\"",
                "refused a member whose name leaves the archive: \"/abs/path\"",
                "link: a symbolic link, not followed",
            ]
        );
        assert!(ev.read("../../etc/passwd").is_err());
    }

    #[test]
    fn size_limits_keep_the_listing() {
        let tar = tar_of(&[("a", &[1u8; 100]), ("b", &[2u8; 10]), ("c", &[3u8; 60])]);
        let limits = TarLimits {
            max_entry: 80,
            max_total: 65,
            ..TarLimits::default()
        };
        let ev = TarEvidence::from_tar(&tar[..], &limits).unwrap();
        assert_eq!(ev.list().unwrap().len(), 3);
        assert!(matches!(
            ev.read("a"),
            Err(EvidenceError::TooLarge { size: 100, .. })
        ));
        assert_eq!(ev.read("b").unwrap(), [2u8; 10]);
        let err = ev.read("c").unwrap_err();
        assert!(err.to_string().contains("budget"), "{err}");

        let many = TarLimits {
            max_entries: 2,
            ..TarLimits::default()
        };
        let ev = TarEvidence::from_tar(&tar[..], &many).unwrap();
        assert_eq!(ev.list().unwrap().len(), 2);
        assert_eq!(ev.refused().len(), 1);
    }

    #[test]
    fn damage_keeps_what_came_before() {
        let tar = tar_of(&[("a", b"first"), ("b", &[7u8; 5000])]);
        let ev = TarEvidence::from_tar(&tar[..1500], &TarLimits::default()).unwrap();
        assert_eq!(ev.read("a").unwrap(), b"first");
        assert!(!ev.exists("b"));
        assert_eq!(ev.refused().len(), 1, "{:?}", ev.refused());

        assert!(TarEvidence::from_tar(&tar[..515], &TarLimits::default()).is_err());
        assert!(TarEvidence::from_tar(&[0xFFu8; 512][..], &TarLimits::default()).is_err());
        let empty = TarEvidence::from_tar(&[][..], &TarLimits::default()).unwrap();
        assert!(empty.list().unwrap().is_empty());
        // A long-name record claiming gigabytes is refused before it is read.
        let mut huge = raw_member(b"././@LongLink", b'L', b"");
        huge[124..136].copy_from_slice(b"77777777777\0");
        let mut h = tar::Header::new_old();
        h.as_mut_bytes().copy_from_slice(&huge[..512]);
        h.set_cksum();
        huge[..512].copy_from_slice(h.as_bytes());
        huge.extend(vec![b'a'; 3 << 20]);
        assert!(TarEvidence::from_tar(&huge[..], &TarLimits::default()).is_err());
    }

    #[test]
    fn pax_records_are_parsed_defensively() {
        assert_eq!(pax_path(b"12 path=abc\n"), Some(b"abc".to_vec()));
        assert_eq!(
            pax_path(b"13 uid=12345\n12 path=abc\n"),
            Some(b"abc".to_vec())
        );
        assert_eq!(pax_path(b"99 path=abc\n"), None);
        assert_eq!(pax_path(b"x path=abc\n"), None);
        assert_eq!(pax_path(b"1 path=abc\n"), None);
        assert_eq!(pax_path(b""), None);
    }
}
