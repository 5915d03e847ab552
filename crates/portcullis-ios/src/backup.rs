//! An iTunes/Finder/libimobiledevice backup folder: `Info.plist`, `Manifest.db` and the files
//! stored under `<id[0:2]>/<id>` where `id = sha1(domain + "-" + relativePath)`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use portcullis_evidence::{Evidence, EvidenceError, FolderEvidence};
use rusqlite::Connection;
use sha1::{Digest, Sha1};

pub const MANIFEST_DB: &str = "Manifest.db";
pub const INFO_PLIST: &str = "Info.plist";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}: no such file or folder")]
    Missing(PathBuf),
    #[error(
        "{0} is not an iOS backup: expected a folder holding Info.plist and Manifest.db \
         (or exactly one such sub-folder)"
    )]
    NotABackup(PathBuf),
    #[error(
        "{path} holds {} iOS backups ({}): give the folder of the one to check, e.g. {}",
        names.len(),
        names.join(", "),
        path.join(names.first().map(String::as_str).unwrap_or_default()).display()
    )]
    SeveralBackups { path: PathBuf, names: Vec<String> },
    #[error("{path}: the backup is encrypted; give its password to check it")]
    Encrypted { path: PathBuf },
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    #[error(transparent)]
    Encryption(#[from] crate::encrypted::EncryptionError),
}

/// One row of Manifest.db's `Files` table.
#[derive(Debug, Clone)]
pub struct ManifestEntry {
    pub file_id: String,
    pub domain: String,
    pub relative_path: String,
    pub flags: i64,
    /// The NSKeyedArchiver `MBFile` blob.
    pub file: Option<Vec<u8>>,
}

/// A backup opened for reading. Shared by all modules; lookups are serialised on one connection.
pub struct Backup {
    root: PathBuf,
    evidence: Box<dyn Evidence>,
    /// Manifest.db, or why it could not be opened: modules that find their files by fixed
    /// backup id still run when it is damaged.
    manifest: Result<Mutex<Connection>, String>,
}

/// The backup id of a file: `sha1(domain-relativePath)` in hex.
pub fn file_id(domain: &str, relative_path: &str) -> String {
    let mut h = Sha1::new();
    h.update(domain.as_bytes());
    h.update(b"-");
    h.update(relative_path.as_bytes());
    hex::encode(h.finalize())
}

/// Where a backup file with this id is stored, relative to the backup root.
pub fn stored_path(file_id: &str) -> String {
    let prefix = file_id.get(..2).unwrap_or(file_id);
    format!("{prefix}/{file_id}")
}

/// Finds the backup folder at `path`: the folder itself, or its only sub-folder that is one.
pub fn locate(path: &Path) -> Result<PathBuf, BackupError> {
    if !path.exists() {
        return Err(BackupError::Missing(path.to_path_buf()));
    }
    let is_backup = |p: &Path| p.join(INFO_PLIST).is_file() && p.join(MANIFEST_DB).is_file();
    if is_backup(path) {
        return Ok(path.to_path_buf());
    }
    if path.is_dir() {
        let mut candidates: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|_| BackupError::NotABackup(path.to_path_buf()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir() && is_backup(p))
            .collect();
        match candidates.as_slice() {
            [] => {}
            [only] => return Ok(only.clone()),
            _ => {
                candidates.sort();
                return Err(BackupError::SeveralBackups {
                    path: path.to_path_buf(),
                    names: candidates
                        .iter()
                        .filter_map(|c| c.file_name())
                        .map(|n| n.to_string_lossy().into_owned())
                        .collect(),
                });
            }
        }
    }
    Err(BackupError::NotABackup(path.to_path_buf()))
}

/// Whether the backup's Manifest.plist says it is encrypted.
pub fn is_encrypted(root: &Path) -> bool {
    FolderEvidence::new(root)
        .read_plist("Manifest.plist")
        .ok()
        .and_then(|v| {
            v.as_dictionary()
                .and_then(|d| d.get("IsEncrypted"))
                .and_then(|v| v.as_boolean())
        })
        .unwrap_or(false)
}

impl Backup {
    /// Opens a plain (unencrypted) backup folder.
    pub fn open(path: &Path) -> Result<Backup, BackupError> {
        let root = locate(path)?;
        Self::from_evidence(root.clone(), Box::new(FolderEvidence::new(root)))
    }

    /// Opens an encrypted backup folder; files are decrypted in memory as modules read them.
    pub fn open_encrypted(
        path: &Path,
        secret: &crate::encrypted::Secret,
    ) -> Result<Backup, BackupError> {
        let root = locate(path)?;
        let evidence = crate::encrypted::EncryptedEvidence::open(&root, secret)?;
        Self::from_evidence(root, Box::new(evidence))
    }

    /// Opens a backup through any evidence source (e.g. one that decrypts on read).
    pub fn from_evidence(
        root: PathBuf,
        evidence: Box<dyn Evidence>,
    ) -> Result<Backup, BackupError> {
        let manifest = match evidence.open_sqlite(MANIFEST_DB) {
            Ok(conn) => Ok(Mutex::new(conn)),
            Err(_) if is_encrypted(&root) => {
                return Err(BackupError::Encrypted { path: root });
            }
            Err(e) => {
                tracing::warn!("{e}");
                Err(e.to_string())
            }
        };
        Ok(Backup {
            root,
            evidence,
            manifest,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Manifest.db, the backup's index: whether it could be read. Without it only the few
    /// modules that find their files by fixed backup id can run.
    pub fn main_artifact(&self) -> portcullis_report::MainArtifact {
        portcullis_report::MainArtifact {
            name: MANIFEST_DB.to_string(),
            path: Some(MANIFEST_DB.to_string()),
            problem: self.manifest.as_ref().err().cloned(),
        }
    }

    pub fn evidence(&self) -> &dyn Evidence {
        self.evidence.as_ref()
    }

    /// The Manifest.db connection, or the error that made it unusable.
    fn manifest(&self) -> Result<std::sync::MutexGuard<'_, Connection>, EvidenceError> {
        match &self.manifest {
            Ok(m) => Ok(m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())),
            Err(reason) => Err(EvidenceError::Unreadable {
                path: MANIFEST_DB.to_string(),
                reason: reason.clone(),
            }),
        }
    }

    /// Runs a query on Manifest.db's `Files` table (`WHERE` clause and parameters).
    fn query_files(
        &self,
        where_clause: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<ManifestEntry>, EvidenceError> {
        let conn = self.manifest()?;
        let wrap = |source| EvidenceError::Sqlite {
            path: MANIFEST_DB.to_string(),
            source,
        };
        let sql = format!(
            "SELECT fileID, domain, relativePath, flags, file FROM Files WHERE {where_clause} \
             ORDER BY rowid"
        );
        let mut stmt = conn.prepare(&sql).map_err(wrap)?;
        let rows = stmt
            .query_map(params, |r| {
                Ok(ManifestEntry {
                    file_id: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                    domain: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    relative_path: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    flags: r.get::<_, Option<i64>>(3)?.unwrap_or_default(),
                    file: r.get::<_, Option<Vec<u8>>>(4).unwrap_or(None),
                })
            })
            .map_err(wrap)?;
        rows.collect::<Result<_, _>>().map_err(wrap)
    }

    /// Files whose relativePath matches `pattern`, where `*` is a wildcard (MVT's rule).
    pub fn find_by_relative_path(
        &self,
        pattern: &str,
    ) -> Result<Vec<ManifestEntry>, EvidenceError> {
        if pattern.contains('*') {
            let like = pattern.replace('*', "%");
            self.query_files("relativePath LIKE ?1", &[&like])
        } else {
            self.query_files("relativePath = ?1", &[&pattern])
        }
    }

    /// Files of one backup domain.
    pub fn find_by_domain(&self, domain: &str) -> Result<Vec<ManifestEntry>, EvidenceError> {
        self.query_files("domain = ?1", &[&domain])
    }

    /// Every row of the `Files` table, streamed to `each` in rowid order.
    pub fn for_each_file(&self, mut each: impl FnMut(ManifestEntry)) -> Result<(), EvidenceError> {
        let wrap = |source| EvidenceError::Sqlite {
            path: MANIFEST_DB.to_string(),
            source,
        };
        let conn = self.manifest()?;
        let mut stmt = conn
            .prepare("SELECT fileID, domain, relativePath, flags, file FROM Files ORDER BY rowid")
            .map_err(wrap)?;
        let mut rows = stmt.query([]).map_err(wrap)?;
        while let Some(r) = rows.next().map_err(wrap)? {
            each(ManifestEntry {
                file_id: r
                    .get::<_, Option<String>>(0)
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
                domain: r
                    .get::<_, Option<String>>(1)
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
                relative_path: r
                    .get::<_, Option<String>>(2)
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
                flags: r
                    .get::<_, Option<i64>>(3)
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
                file: r.get::<_, Option<Vec<u8>>>(4).ok().flatten(),
            });
        }
        Ok(())
    }

    /// Whether the file with this backup id is stored in the backup.
    pub fn has_file(&self, file_id: &str) -> bool {
        self.evidence.exists(&stored_path(file_id))
    }

    /// The first of `file_ids` stored in the backup, as MVT's fixed-id lookup does.
    pub fn first_stored(&self, file_ids: &[&str]) -> Option<String> {
        file_ids
            .iter()
            .find(|id| self.has_file(id))
            .map(|id| id.to_string())
    }

    pub fn read_file(&self, file_id: &str) -> Result<Vec<u8>, EvidenceError> {
        self.evidence.read(&stored_path(file_id))
    }

    pub fn read_plist(&self, file_id: &str) -> Result<plist::Value, EvidenceError> {
        self.evidence.read_plist(&stored_path(file_id))
    }

    pub fn open_sqlite(&self, file_id: &str) -> Result<Connection, EvidenceError> {
        self.evidence.open_sqlite(&stored_path(file_id))
    }

    /// The backup's `Info.plist`.
    pub fn info_plist(&self) -> Result<plist::Value, EvidenceError> {
        self.evidence.read_plist(INFO_PLIST)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_ids_are_sha1_of_domain_and_path() {
        assert_eq!(
            file_id("HomeDomain", "Library/SMS/sms.db"),
            "3d0d7e5fb2ce288813306e4d4636395e047a3d28"
        );
        assert_eq!(stored_path("3d0d7e5f"), "3d/3d0d7e5f");
        assert_eq!(stored_path("a"), "a/a");
    }
}
