//! Which files a path given with `--iocs` stands for.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::types::LoadError;

/// Deepest folder level searched by [`indicator_files`]; guards against pathological trees.
const MAX_FOLDER_DEPTH: usize = 64;

/// The files a path stands for: the path itself, or every `*.stix2` / `*.json` file under a
/// folder (recursively, sorted; symbolic links to folders are not followed, to avoid loops).
pub fn indicator_files(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    if !fs::metadata(path).map_err(io)?.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found = Vec::new();
    walk(path, 0, &mut found)?;
    found.sort();
    Ok(found)
}

fn walk(dir: &Path, depth: usize, found: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(io)?;
        if file_type.is_dir() {
            if depth < MAX_FOLDER_DEPTH {
                walk(&path, depth + 1, found)?;
            }
            continue;
        }
        let wanted = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("stix2") || e.eq_ignore_ascii_case("json"));
        if wanted && path.is_file() {
            found.push(path);
        }
    }
    Ok(())
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
