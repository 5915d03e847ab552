//! What an AndroidQF acquisition nests: its `backup.ab` (SMS), its `bugreport.zip`, and its
//! intrusion logs, each given as evidence the other module sets read.
//!
//! Unlike MVT, a wrong or missing backup password does not end the check: [`nested_backup`]
//! returns the error for the backup modules alone, and the AndroidQF and bugreport modules run
//! regardless.

use portcullis_evidence::{Evidence, EvidenceError, FileEntry, ZipEvidence};

use crate::backup::{BackupError, TarEvidence, open_backup};

/// The acquisition's `backup.ab`, opened.
#[derive(Debug)]
pub struct NestedBackup {
    /// Its path in the acquisition.
    pub path: String,
    pub evidence: TarEvidence,
}

/// Why the acquisition's `backup.ab` could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {error}")]
pub struct NestedBackupError {
    pub path: String,
    pub error: BackupError,
}

/// The first file whose path ends with `suffix` (MVT's rule for `backup.ab`/`bugreport.zip`).
fn first_ending<'a>(files: &'a [FileEntry], suffix: &str) -> Option<&'a FileEntry> {
    files.iter().find(|f| f.path.ends_with(suffix))
}

/// Opens the acquisition's `backup.ab` with `password` (needed only if it is encrypted).
/// `Ok(None)` when there is none. A [`NestedBackupError`] whose `error.is_password_problem()`
/// can be retried with another password.
pub fn nested_backup(
    evidence: &dyn Evidence,
    files: &[FileEntry],
    password: Option<&str>,
) -> Result<Option<NestedBackup>, NestedBackupError> {
    let Some(file) = first_ending(files, "backup.ab") else {
        return Ok(None);
    };
    let fail = |error| NestedBackupError {
        path: file.path.clone(),
        error,
    };
    let bytes = evidence
        .read(&file.path)
        .map_err(|e| fail(BackupError::Evidence(e)))?;
    let evidence = open_backup(&bytes[..], password).map_err(fail)?;
    Ok(Some(NestedBackup {
        path: file.path.clone(),
        evidence,
    }))
}

/// The acquisition's `bugreport.zip`, opened in memory.
#[derive(Debug)]
pub struct NestedBugreport {
    pub path: String,
    pub evidence: ZipEvidence,
}

/// Opens the acquisition's `bugreport.zip` in memory. `Ok(None)` when there is none (MVT then
/// skips the bugreport modules with a warning).
pub fn nested_bugreport(
    evidence: &dyn Evidence,
    files: &[FileEntry],
) -> Result<Option<NestedBugreport>, EvidenceError> {
    let Some(file) = first_ending(files, "bugreport.zip") else {
        return Ok(None);
    };
    let bytes = evidence.read(&file.path)?;
    Ok(Some(NestedBugreport {
        path: file.path.clone(),
        evidence: ZipEvidence::from_bytes(&file.path, bytes)?,
    }))
}

/// The acquisition's intrusion-log folder (`intrusion_logs/`, or `intrusion-logs/` as MVT's
/// documentation spells it) at any depth, as its own evidence; `None` when there is none.
pub fn nested_intrusion_logs<'a>(
    evidence: &'a dyn Evidence,
    files: &[FileEntry],
) -> Option<SubEvidence<'a>> {
    files.iter().find_map(|f| {
        ["intrusion_logs/", "intrusion-logs/"]
            .iter()
            .find_map(|dir| {
                let at = f.path.find(dir)?;
                (at == 0 || f.path.as_bytes()[at - 1] == b'/')
                    .then(|| SubEvidence::new(evidence, &f.path[..at + dir.len()]))
            })
    })
}

/// The files of another evidence under a folder prefix, with the prefix removed.
pub struct SubEvidence<'a> {
    inner: &'a dyn Evidence,
    /// Ends with `/`.
    prefix: String,
}

impl<'a> SubEvidence<'a> {
    pub fn new(inner: &'a dyn Evidence, folder: &str) -> Self {
        let mut prefix = folder.trim_end_matches('/').to_string();
        prefix.push('/');
        SubEvidence { inner, prefix }
    }

    /// The folder, as a path of the outer evidence (ends with `/`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn outer(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }
}

impl Evidence for SubEvidence<'_> {
    fn list(&self) -> portcullis_evidence::Result<Vec<FileEntry>> {
        Ok(self
            .inner
            .list()?
            .into_iter()
            .filter_map(|f| {
                let path = f.path.strip_prefix(&self.prefix)?.to_string();
                Some(FileEntry { path, ..f })
            })
            .collect())
    }

    fn exists(&self, path: &str) -> bool {
        self.inner.exists(&self.outer(path))
    }

    fn read(&self, path: &str) -> portcullis_evidence::Result<Vec<u8>> {
        self.inner.read(&self.outer(path))
    }

    fn open_sqlite(&self, path: &str) -> portcullis_evidence::Result<rusqlite::Connection> {
        self.inner.open_sqlite(&self.outer(path))
    }

    fn hashes(&self) -> Vec<(String, String)> {
        self.inner
            .hashes()
            .into_iter()
            .filter_map(|(p, h)| Some((p.strip_prefix(&self.prefix)?.to_string(), h)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use portcullis_evidence::FolderEvidence;

    use super::*;
    use crate::androidqf::test_support::{fixtures, with_folder};

    #[test]
    fn sub_evidence_views_one_folder() {
        let files = [
            ("acq/intrusion_logs/day1.txt", "a"),
            ("acq/intrusion_logs/sub/day2.txt", "b"),
            ("acq/getprop.txt", "c"),
        ];
        with_folder(&files, |root| {
            let ev = FolderEvidence::new(root);
            let listing = ev.list().unwrap();
            let sub = nested_intrusion_logs(&ev, &listing).unwrap();
            assert_eq!(sub.prefix(), "acq/intrusion_logs/");
            let paths: Vec<String> = sub.list().unwrap().into_iter().map(|f| f.path).collect();
            assert_eq!(paths, ["day1.txt", "sub/day2.txt"]);
            assert_eq!(sub.read("sub/day2.txt").unwrap(), b"b");
            assert!(sub.exists("day1.txt"));
            assert!(sub.read("../getprop.txt").is_err());
            assert_eq!(sub.hashes().len(), 1);
            assert_eq!(
                sub.open_sqlite("day1.txt").is_ok(),
                ev.open_sqlite("acq/intrusion_logs/day1.txt").is_ok()
            );
            assert!(nested_backup(&ev, &listing, None).unwrap().is_none());
            assert!(nested_bugreport(&ev, &listing).unwrap().is_none());
        });
        with_folder(&[("my_intrusion_logs/x.txt", "a")], |root| {
            let ev = FolderEvidence::new(root);
            assert!(nested_intrusion_logs(&ev, &ev.list().unwrap()).is_none());
        });
        with_folder(&[("intrusion-logs/x.txt", "a")], |root| {
            let ev = FolderEvidence::new(root);
            assert!(nested_intrusion_logs(&ev, &ev.list().unwrap()).is_some());
        });
    }

    #[test]
    fn damaged_nested_archives_name_the_file() {
        with_folder(
            &[
                ("acq/backup.ab", "ANDROID BACKUP\n9\n"),
                ("acq/bugreport.zip", "PK"),
            ],
            |root| {
                let ev = FolderEvidence::new(root);
                let listing = ev.list().unwrap();
                let err = nested_backup(&ev, &listing, None).unwrap_err();
                assert_eq!(err.path, "acq/backup.ab");
                assert!(err.to_string().starts_with("acq/backup.ab: "), "{err}");
                assert!(!err.error.is_password_problem());
                let err = nested_bugreport(&ev, &listing).unwrap_err();
                assert!(err.to_string().contains("acq/bugreport.zip"), "{err}");
            },
        );
    }

    /// §7.6: the plain nested backup; the encrypted one needs `123456`, and a wrong or missing
    /// password is an error of the backup alone.
    #[test]
    fn fixture_nested_backups() {
        let Some(dir) = fixtures() else { return };
        let ev = FolderEvidence::new(dir.join("androidqf"));
        let listing = ev.list().unwrap();
        let backup = nested_backup(&ev, &listing, None).unwrap().unwrap();
        assert_eq!(backup.path, "backup.ab");
        assert_eq!(backup.evidence.list().unwrap().len(), 2);

        let ev = FolderEvidence::new(dir.join("androidqf_encrypted"));
        let listing = ev.list().unwrap();
        let err = nested_backup(&ev, &listing, None).unwrap_err();
        assert!(matches!(err.error, BackupError::PasswordRequired));
        let err = nested_backup(&ev, &listing, Some("wrong")).unwrap_err();
        assert!(matches!(err.error, BackupError::WrongPassword));
        assert!(err.to_string().contains("Invalid backup password"), "{err}");
        let backup = nested_backup(&ev, &listing, Some("123456"))
            .unwrap()
            .unwrap();
        assert_eq!(
            backup.evidence.list().unwrap().len(),
            2,
            "_manifest and the SMS file"
        );
    }
}
