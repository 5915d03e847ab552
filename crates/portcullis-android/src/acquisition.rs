//! Opening an Android acquisition of any kind and running every module set that applies to it,
//! including what an AndroidQF acquisition nests (its bugreport and `adb backup`).

use std::path::{Path, PathBuf};

use portcullis_core::{ModuleError, ModuleRun};
use portcullis_evidence::{Evidence, EvidenceError, FileEntry, FolderEvidence, ZipEvidence};
use portcullis_indicators::Indicators;

use crate::AndroidModule;
use crate::backup::{BackupError, open_backup};
use crate::detect::{AndroidKind, detect, detect_from_name};
use crate::{Context, RunControl, Shared, androidqf, backup, bugreport, intrusion, run_modules};
use portcullis_core::spool::Spool;
use portcullis_report::MainArtifact;

/// Most bytes an age-encrypted acquisition may decrypt to (it is held in memory).
pub const MAX_AGE_PLAINTEXT: u64 = 8 << 30;

/// Why an Android acquisition could not be opened at all.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{path}: an age-encrypted acquisition needs its key: give --age-identity FILE")]
    AgeIdentityRequired { path: PathBuf },
    #[error("{path}: {error}")]
    Backup { path: PathBuf, error: BackupError },
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
}

/// What opening and running an acquisition may need from the analyst.
#[derive(Default)]
pub struct Options<'a> {
    /// The `adb backup` password (standalone `.ab`, or AndroidQF's `backup.ab`).
    pub backup_password: Option<&'a str>,
    /// An age identity file for `.zip.age` acquisitions.
    pub age_identity: Option<&'a Path>,
    /// The device's IANA time zone, overriding what the acquisition records.
    pub timezone: Option<&'a str>,
}

/// An Android acquisition, opened read-only.
pub struct Acquisition {
    pub kind: AndroidKind,
    evidence: Box<dyn Evidence>,
    files: Vec<FileEntry>,
}

/// What running an acquisition's modules gave.
pub struct AndroidRun {
    pub runs: Vec<ModuleRun>,
    /// SHA-256 of every file read, by path (nested files as `outer!inner`).
    pub hashes: Vec<(String, String)>,
    /// The device's time zone, when the acquisition records it.
    pub timezone: Option<String>,
    /// Files refused or unreadable (links, bombs, escaping names) and problems met on the way,
    /// each naming the file (nested files as `outer!inner`).
    pub warnings: Vec<String>,
    /// The artifact the check depended on (a bugreport's dumpstate) and whether it was read.
    pub main_artifact: Option<MainArtifact>,
}

impl Acquisition {
    /// Opens `path` when it is an Android acquisition; `Ok(None)` when it is not one.
    pub fn open(path: &Path, options: &Options<'_>) -> Result<Option<Acquisition>, OpenError> {
        let by_name = detect_from_name(path);
        let evidence: Box<dyn Evidence> = match by_name {
            Some(AndroidKind::AdbBackup) if path.is_file() => {
                let file = std::fs::File::open(path).map_err(|e| EvidenceError::Io {
                    path: path.display().to_string(),
                    source: e,
                })?;
                let tar = open_backup(std::io::BufReader::new(file), options.backup_password)
                    .map_err(|error| OpenError::Backup {
                        path: path.to_path_buf(),
                        error,
                    })?;
                return Ok(Some(Acquisition::new(
                    AndroidKind::AdbBackup,
                    Box::new(tar),
                )?));
            }
            Some(AndroidKind::AndroidQf) if path.is_file() => {
                let identity =
                    options
                        .age_identity
                        .ok_or_else(|| OpenError::AgeIdentityRequired {
                            path: path.to_path_buf(),
                        })?;
                Box::new(portcullis_evidence::open_age_zip(
                    path,
                    identity,
                    MAX_AGE_PLAINTEXT,
                )?)
            }
            _ if path.is_dir() => Box::new(FolderEvidence::new(path)),
            _ if is_zip(path) => Box::new(ZipEvidence::open(path)?),
            _ => return Ok(None),
        };
        let files = evidence.list()?;
        let kind = match by_name {
            Some(kind) => Some(kind),
            None => detect(evidence.as_ref(), &files),
        };
        Ok(kind.map(|kind| Acquisition {
            kind,
            evidence,
            files,
        }))
    }

    fn new(kind: AndroidKind, evidence: Box<dyn Evidence>) -> Result<Acquisition, EvidenceError> {
        let files = evidence.list()?;
        Ok(Acquisition {
            kind,
            evidence,
            files,
        })
    }

    /// Runs every module set that applies. A nested part that cannot be opened (a damaged
    /// bugreport.zip, a wrong backup password) is reported as that part's error; the rest runs.
    /// Large modules write their timeline rows into `spool` (the check's results folder) as
    /// they go; `None` keeps everything in memory.
    pub fn run(
        &self,
        indicators: &Indicators,
        options: &Options<'_>,
        spool: Option<&Spool>,
        control: &RunControl<'_>,
    ) -> AndroidRun {
        let shared = Shared::default();
        let mut ctx = Context {
            evidence: self.evidence.as_ref(),
            files: &self.files,
            indicators,
            timezone: None,
            shared: &shared,
            spool,
        };
        let timezone = match (options.timezone, self.kind) {
            (Some(tz), _) => Some(tz.to_string()),
            (None, AndroidKind::AndroidQf) => androidqf::acquisition_timezone(&ctx),
            _ => None,
        };
        ctx.timezone = timezone.as_deref();
        let mut runs = run_modules(&ctx, &self.module_set(), control);
        let mut hashes = self.evidence.hashes();
        let mut warnings = self.evidence.refused();
        if self.kind == AndroidKind::AndroidQf {
            self.run_nested(
                &ctx,
                options,
                control,
                &mut runs,
                &mut hashes,
                &mut warnings,
            );
        }
        warnings.extend(shared.warnings());
        AndroidRun {
            runs,
            hashes,
            timezone,
            warnings,
            main_artifact: shared.main_artifact(),
        }
    }

    fn module_set(&self) -> Vec<&'static AndroidModule> {
        match self.kind {
            AndroidKind::Bugreport => bugreport::modules(),
            AndroidKind::AndroidQf => androidqf::modules(),
            AndroidKind::AdbBackup => backup::modules(),
            AndroidKind::IntrusionLogs => intrusion::modules(),
        }
    }

    /// The parts AndroidQF nests: bugreport.zip, backup.ab, intrusion logs.
    fn run_nested(
        &self,
        outer: &Context<'_>,
        options: &Options<'_>,
        control: &RunControl<'_>,
        runs: &mut Vec<ModuleRun>,
        hashes: &mut Vec<(String, String)>,
        warnings: &mut Vec<String>,
    ) {
        let mut run_on = |evidence: &dyn Evidence,
                          prefix: &str,
                          modules: Vec<&'static AndroidModule>,
                          runs: &mut Vec<ModuleRun>| {
            let files = match evidence.list() {
                Ok(files) => files,
                Err(e) => {
                    runs.push(failed("Nested", "nested", e.into()));
                    return;
                }
            };
            let shared = Shared::default();
            let ctx = Context {
                evidence,
                files: &files,
                indicators: outer.indicators,
                timezone: outer.timezone,
                shared: &shared,
                spool: outer.spool,
            };
            runs.extend(run_modules(&ctx, &modules, control));
            hashes.extend(
                evidence
                    .hashes()
                    .into_iter()
                    .map(|(path, sha)| (format!("{prefix}!{path}"), sha)),
            );
            warnings.extend(
                evidence
                    .refused()
                    .into_iter()
                    .chain(shared.warnings())
                    .map(|w| format!("{prefix}!{w}")),
            );
        };
        match androidqf::nested_bugreport(outer.evidence, outer.files) {
            Ok(Some(nested)) => run_on(&nested.evidence, &nested.path, bugreport::modules(), runs),
            Ok(None) => {
                tracing::info!("no bugreport.zip in the acquisition: bugreport modules skipped")
            }
            Err(e) => runs.push(failed("Bugreport", "bugreport", e.into())),
        }
        match androidqf::nested_backup(outer.evidence, outer.files, options.backup_password) {
            Ok(Some(nested)) => run_on(&nested.evidence, &nested.path, backup::modules(), runs),
            Ok(None) => {}
            Err(e) => {
                for m in backup::modules() {
                    runs.push(failed(
                        m.name(),
                        m.slug(),
                        ModuleError::Parse {
                            path: e.path.clone(),
                            reason: e.error.to_string(),
                        },
                    ));
                }
            }
        }
        if let Some(logs) = androidqf::nested_intrusion_logs(outer.evidence, outer.files) {
            let prefix = logs.prefix().to_string();
            run_on(&logs, &prefix, intrusion::modules(), runs);
        }
    }
}

fn failed(name: &'static str, slug: &'static str, error: ModuleError) -> ModuleRun {
    ModuleRun {
        class_name: name,
        slug,
        outcome: Err(error),
    }
}

fn is_zip(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"PK\x03\x04"
}
