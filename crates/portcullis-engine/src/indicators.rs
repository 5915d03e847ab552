//! Loading the indicators a check is asked to use. Running without the indicators the analyst
//! asked for would give false comfort, so a named file that cannot be read, a folder without
//! indicator files, and a set that turns out to hold no usable indicator are errors; a bad file
//! found in a folder is skipped with a warning for the report.

use std::path::{Path, PathBuf};

use portcullis_indicators::{Indicators, LoadError, indicator_files};

/// Indicators ready for a check, with the warnings met while loading them.
#[derive(Default)]
pub struct LoadedIndicators {
    pub indicators: Indicators,
    /// Files skipped (not a bundle…), each named, for the report's warnings.
    pub warnings: Vec<String>,
    /// Where the indicators came from, or that there were none, for the summary and report.
    pub note: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IndicatorsError {
    #[error("cannot read indicators at {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {kind}, not an indicator file or folder")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{0}: no indicator files (*.stix2 or *.json) in this folder")]
    NoFiles(PathBuf),
    #[error("{path}: none of its {files} file(s) is a STIX 2 bundle (see the warnings above)")]
    NoBundle { path: PathBuf, files: usize },
    #[error(
        "the indicator files given hold no usable indicator ({left_out} revoked or expired by \
         their authors, which --include-expired uses; {unsupported} unsupported patterns); a \
         check against them would match nothing"
    )]
    NoneUsable { left_out: usize, unsupported: usize },
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// Loads every indicator path given (a STIX 2.1 file, or a folder searched for them).
/// Revoked indicators and those past their `valid_until` are left out (and counted per file)
/// unless `include_expired`.
pub fn load(paths: &[PathBuf], include_expired: bool) -> Result<LoadedIndicators, IndicatorsError> {
    let mut loaded = LoadedIndicators {
        indicators: Indicators::new().include_expired(include_expired),
        warnings: Vec::new(),
        note: None,
    };
    for path in paths {
        load_path(path, &mut loaded)?;
    }
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    if !paths.is_empty() && loaded.indicators.is_empty() {
        let files = loaded.indicators.files();
        return Err(IndicatorsError::NoneUsable {
            left_out: files
                .iter()
                .map(|f| f.left_out.revoked + f.left_out.expired)
                .sum(),
            unsupported: files.iter().map(|f| f.unsupported.len()).sum(),
        });
    }
    Ok(loaded)
}

fn load_path(path: &Path, loaded: &mut LoadedIndicators) -> Result<(), IndicatorsError> {
    let meta = std::fs::metadata(path).map_err(|source| IndicatorsError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    if let Some(kind) = portcullis_evidence::irregular_kind(meta.file_type()) {
        return Err(IndicatorsError::NotRegular {
            path: path.to_path_buf(),
            kind,
        });
    }
    let files = indicator_files(path)?;
    if meta.is_dir() && files.is_empty() {
        return Err(IndicatorsError::NoFiles(path.to_path_buf()));
    }
    let mut bundles = 0;
    for file in &files {
        match loaded.indicators.load_file(file) {
            Ok(f) => {
                bundles += 1;
                if !f.unsupported.is_empty() {
                    tracing::info!(
                        "{}: {} pattern(s) not supported, skipped",
                        f.path.display(),
                        f.unsupported.len()
                    );
                }
            }
            Err(e) if meta.is_dir() => loaded.warnings.push(format!("indicators: skipped {e}")),
            Err(e) => return Err(e.into()),
        }
    }
    if bundles == 0 {
        return Err(IndicatorsError::NoBundle {
            path: path.to_path_buf(),
            files: files.len(),
        });
    }
    Ok(())
}
