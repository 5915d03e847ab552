//! `logs/*`: the modification time of every log file AndroidQF copied, as timeline rows.

use portcullis_core::ModuleOutput;

use super::depth;
use crate::{Context, Module, ModuleError};

/// Whether `path` is under `logs/` at the acquisition root or one folder down.
fn is_log(path: &str) -> bool {
    let rest = match path.split_once('/') {
        Some(("logs", rest)) => Some(rest),
        Some((_, rest)) => rest.strip_prefix("logs/"),
        None => None,
    };
    rest.is_some_and(|r| !r.is_empty()) && depth(path) >= 1
}

pub struct AqfLogTimestamps;

impl Module<Context<'_>> for AqfLogTimestamps {
    fn name(&self) -> &'static str {
        "AQFLogTimestamps"
    }

    fn slug(&self) -> &'static str {
        "aqf_log_timestamps"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let logs: Vec<_> = ctx.files.iter().filter(|f| is_log(&f.path)).collect();
        if logs.is_empty() {
            return Err(ModuleError::NotFound(
                "no logs/ folder at the acquisition root or one folder down".into(),
            ));
        }
        Ok(crate::modification_times(self.name(), logs, ctx.spool))
    }
}

#[cfg(test)]
mod tests {
    use portcullis_evidence::FileEntry;
    use portcullis_indicators::Indicators;

    use super::*;
    use crate::androidqf::test_support::records;

    #[test]
    fn log_files_at_both_levels() {
        assert!(is_log("logs/a.log"));
        assert!(is_log("acq/logs/a/b.log"));
        assert!(!is_log("logs"));
        assert!(!is_log("a/b/logs/c"));
        assert!(!is_log("acq/logsx/c"));
        assert!(!is_log("acq/logs/"));

        let files = vec![
            FileEntry {
                path: "acq/logs/main.log".into(),
                size: 3,
                modified: Some(1_700_000_000),
            },
            FileEntry {
                path: "acq/logs/old.log".into(),
                size: 3,
                modified: None,
            },
            FileEntry {
                path: "acq/ps.txt".into(),
                size: 3,
                modified: Some(1),
            },
        ];
        let ev = portcullis_evidence::FolderEvidence::new("/nonexistent");
        let ind = Indicators::new();
        let ctx = Context {
            evidence: &ev,
            files: &files,
            indicators: &ind,
            timezone: None,
            shared: &crate::Shared::default(),
            spool: None,
        };
        let out = AqfLogTimestamps.run(&ctx).unwrap();
        let recs = records(&out);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0]["modified_time"], "2023-11-14 22:13:20.000000");
        assert_eq!(recs[1]["modified_time"], "");
        assert_eq!(out.timeline[0].event, "M---");
        assert_eq!(out.timeline[0].data, "acq/logs/main.log");

        let ctx = Context {
            files: &files[2..],
            ..ctx
        };
        assert!(matches!(
            AqfLogTimestamps.run(&ctx),
            Err(ModuleError::NotFound(_))
        ));
    }
}
