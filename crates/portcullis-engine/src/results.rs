//! The results folder of a check: never inside the evidence, however either path is spelt, and
//! never over earlier results unless asked.

use std::path::{Path, PathBuf};

use portcullis_core::spool::Spool;
use portcullis_report::sink::ResultsDir;

use crate::EngineError;

/// Refuses a results folder inside the evidence (the evidence is never written to) or one that
/// already holds files (unless `force`), then creates the folder. Large modules write their
/// records there as they go: the returned [`Spool`] names it for this check alone.
pub fn prepare(evidence: &Path, output: &Path, force: bool) -> Result<Spool, EngineError> {
    // Standard input (`-`) is no folder the results could be written into.
    if evidence != Path::new("-") && inside(output, evidence) {
        return Err(EngineError::OutputInsideEvidence {
            output: output.to_path_buf(),
            evidence: evidence.to_path_buf(),
        });
    }
    if !force
        && let Ok(mut entries) = std::fs::read_dir(output)
        && let Some(Ok(first)) = entries.next()
    {
        return Err(EngineError::OutputNotEmpty {
            output: output.to_path_buf(),
            holds: first.file_name().to_string_lossy().into_owned(),
        });
    }
    ResultsDir::create(output)?;
    Ok(Spool::new(output))
}

/// Whether `path` (which may not exist yet) is `evidence` or lies inside it, however either is
/// spelt: links and `..` are resolved, and on Unix any existing ancestor with the evidence's
/// device and inode (a bind mount, a hard-linked name) counts as the evidence.
pub fn inside(path: &Path, evidence: &Path) -> bool {
    let Ok(evidence) = std::fs::canonicalize(evidence) else {
        return false;
    };
    let resolved = resolve(path);
    if resolved.starts_with(&evidence) {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(target) = std::fs::metadata(&evidence) {
            return resolved.ancestors().any(|a| {
                std::fs::metadata(a)
                    .is_ok_and(|m| m.dev() == target.dev() && m.ino() == target.ino())
            });
        }
    }
    false
}

/// `path` made absolute with links resolved as the system will resolve them when the folder
/// is created: component by component, each existing prefix canonicalised (so a link is
/// followed), and `..` taking one component off what has been resolved so far.
fn resolve(path: &Path) -> PathBuf {
    use std::path::Component;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut resolved = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop();
            }
            other => {
                resolved.push(other);
                if let Ok(canonical) = std::fs::canonicalize(&resolved) {
                    resolved = canonical;
                }
            }
        }
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_a_folder_inside_the_evidence_are_recognised() {
        let tmp = tempfile::tempdir().unwrap();
        let evidence = tmp.path().join("backup");
        std::fs::create_dir(&evidence).unwrap();
        assert!(inside(&evidence.join("out"), &evidence));
        assert!(inside(
            &evidence.join("..").join("backup").join("x"),
            &evidence
        ));
        assert!(inside(
            &tmp.path().join("new").join("..").join("backup"),
            &evidence
        ));
        assert!(!inside(&tmp.path().join("out"), &evidence));
        assert!(!inside(&tmp.path().join("backup-results"), &evidence));
        #[cfg(unix)]
        {
            let link = tmp.path().join("link");
            std::os::unix::fs::symlink(&evidence, &link).unwrap();
            assert!(inside(&link.join("out"), &evidence));
            assert!(inside(&evidence.join("out"), &link));
        }
    }
}
