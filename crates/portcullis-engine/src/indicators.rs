//! Loading the indicators a check is asked to use. Running without the indicators the analyst
//! asked for would give false comfort, so a named file that cannot be read, a folder without
//! indicator files, and a set that turns out to hold no usable indicator are errors; a bad file
//! found in a folder is skipped with a warning for the report.

use std::path::{Path, PathBuf};

use portcullis_indicators::{CacheHeader, CacheSource, Indicators, LoadError, indicator_files};

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
         their authors, which --include-expired uses; {unsupported} unsupported patterns{first}); \
         a check against them would match nothing"
    )]
    NoneUsable {
        left_out: usize,
        unsupported: usize,
        /// `, the first in FILE: WHY`, so the analyst sees what to fix.
        first: String,
    },
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// The folder of installed collections, and where its compiled cache lives.
#[derive(Debug, Clone, Copy)]
pub struct Installed<'a> {
    pub folder: &'a Path,
    /// The cache file: read when it was compiled from the folder's files as they are now,
    /// else compiled again after the files are loaded.
    pub cache: &'a Path,
}

/// Loads every indicator path given (a STIX 2.1 file, or a folder searched for them).
/// Revoked indicators and those past their `valid_until` are left out (and counted per file)
/// unless `include_expired`.
pub fn load(paths: &[PathBuf], include_expired: bool) -> Result<LoadedIndicators, IndicatorsError> {
    load_with_installed(None, paths, include_expired)
}

/// [`load`], after the installed collections (through their cache).
pub fn load_with_installed(
    installed: Option<Installed<'_>>,
    paths: &[PathBuf],
    include_expired: bool,
) -> Result<LoadedIndicators, IndicatorsError> {
    let mut loaded = LoadedIndicators {
        indicators: Indicators::new().include_expired(include_expired),
        warnings: Vec::new(),
        note: None,
    };
    if let Some(installed) = installed {
        load_installed(installed, &mut loaded)?;
    }
    for path in paths {
        load_path(path, &mut loaded)?;
    }
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    if (installed.is_some() || !paths.is_empty()) && loaded.indicators.is_empty() {
        let files = loaded.indicators.files();
        return Err(IndicatorsError::NoneUsable {
            left_out: files
                .iter()
                .map(|f| f.left_out.revoked + f.left_out.expired)
                .sum(),
            unsupported: files.iter().map(|f| f.unsupported.len()).sum(),
            first: files
                .iter()
                .find_map(|f| Some((f, f.unsupported.first()?)))
                .map(|(f, why)| {
                    let why: String = why.chars().take(400).collect();
                    format!(", the first in {}: {why}", f.path.display())
                })
                .unwrap_or_default(),
        });
    }
    Ok(loaded)
}

/// The installed folder from its cache when the cache is current; else from its files, and
/// the cache compiled again when every file loaded (a skipped file is then warned about
/// again next time). A cache that cannot be read or written only costs time.
fn load_installed(
    installed: Installed<'_>,
    loaded: &mut LoadedIndicators,
) -> Result<(), IndicatorsError> {
    let sources = cache_sources(installed.folder)?;
    let include_expired = loaded.indicators.includes_expired();
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let current = |header: &CacheHeader| {
        header.sources == sources
            && header.include_expired == include_expired
            && header.good_until.as_ref().is_none_or(|until| *until > now)
    };
    if let Ok(bytes) = std::fs::read(installed.cache) {
        match Indicators::cache_header(&bytes) {
            Ok(header) if current(&header) => match Indicators::from_cache(&bytes) {
                Ok(indicators) => {
                    tracing::info!(
                        "installed collections read from {}",
                        installed.cache.display()
                    );
                    loaded.indicators = indicators;
                    return Ok(());
                }
                Err(e) => tracing::warn!("{}: {e}; compiling it again", installed.cache.display()),
            },
            Ok(_) => tracing::info!("{}: out of date", installed.cache.display()),
            Err(e) => tracing::info!("{}: {e}", installed.cache.display()),
        }
    }
    let warnings = loaded.warnings.len();
    load_path(installed.folder, loaded)?;
    if loaded.warnings.len() == warnings {
        let bytes = loaded.indicators.to_cache(&sources);
        if let Err(e) = write_atomic(installed.cache, &bytes) {
            tracing::warn!("cannot write {}: {e}", installed.cache.display());
        }
    }
    Ok(())
}

/// The folder's indicator files with their sizes and modification times.
fn cache_sources(folder: &Path) -> Result<Vec<CacheSource>, IndicatorsError> {
    let mut sources = Vec::new();
    for path in indicator_files(folder)? {
        let meta = std::fs::metadata(&path).map_err(|source| IndicatorsError::Unreadable {
            path: path.clone(),
            source,
        })?;
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
        sources.push(CacheSource {
            path,
            size: meta.len(),
            modified_ns,
        });
    }
    Ok(sources)
}

/// Written whole or not at all: two checks compiling at once each rename a complete file.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(".cache.{}.partial", std::process::id()));
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
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
