//! Helpers shared by the module tests of the AndroidQF, backup and intrusion-log modules.

use std::path::PathBuf;

use portcullis_evidence::Evidence;
use portcullis_indicators::Indicators;

pub(crate) use crate::bugreport::test_support::{
    count, indicators, records, test_stix2, with_folder,
};
use portcullis_core::ModuleOutput;

use crate::AndroidModule;
use crate::{Context, ModuleError};

/// The shared MVT fixtures folder, or `None` (with a note) where it is absent.
pub(crate) fn fixtures() -> Option<PathBuf> {
    portcullis_testkit::shared_fixture("mvt")
}

/// Calls `f` with a context over `evidence` (listed here), no indicators and zone `timezone`.
pub(crate) fn with_context<R>(
    evidence: &dyn Evidence,
    timezone: Option<&str>,
    f: impl FnOnce(&Context<'_>) -> R,
) -> R {
    let files = evidence.list().expect("test evidence lists");
    f(&Context {
        evidence,
        files: &files,
        indicators: &Indicators::new(),
        timezone,
        shared: &crate::Shared::default(),
        spool: None,
    })
}

/// Runs `module` on `evidence` (listed here) with no device time zone.
pub(crate) fn run_on(
    module: &AndroidModule,
    evidence: &dyn Evidence,
    indicators: &Indicators,
) -> Result<ModuleOutput, ModuleError> {
    run_on_tz(module, evidence, indicators, None)
}

/// Runs `module` on `evidence` with the given device time zone.
pub(crate) fn run_on_tz(
    module: &AndroidModule,
    evidence: &dyn Evidence,
    indicators: &Indicators,
    timezone: Option<&str>,
) -> Result<ModuleOutput, ModuleError> {
    let files = evidence.list().expect("test evidence lists");
    module.run(&Context {
        evidence,
        files: &files,
        indicators,
        timezone,
        shared: &crate::Shared::default(),
        spool: None,
    })
}
