//! Modification times of the files the bugreport copied from the phone (`FS/…`).

use portcullis_core::ModuleOutput;

use crate::{Context, Module, ModuleError};

pub struct BugReportTimestamps;

impl Module<Context<'_>> for BugReportTimestamps {
    fn name(&self) -> &'static str {
        "BugReportTimestamps"
    }

    fn slug(&self) -> &'static str {
        "bugreport_timestamps"
    }

    /// `{path, modified_time}` for every `FS/*` entry and an `M---` timeline row each. Times are
    /// the archive's recorded time (a zip entry's date and time, a file's mtime) printed as UTC
    /// wall clock; MVT prints a folder's mtimes in the analyst's own time zone.
    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let files = ctx.find("FS/*");
        if files.is_empty() {
            return Err(ModuleError::NotFound(
                "no FS/ files in the bugreport".into(),
            ));
        }
        Ok(crate::modification_times(self.name(), files, ctx.spool))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bugreport::test_support::*;
    use crate::modified_iso;

    #[test]
    fn every_fs_file() {
        with_folder(
            &[
                ("FS/data/a", "1"),
                ("FS/b", "2"),
                ("dumpstate.txt", "x"),
                ("other/FS/c", "3"),
            ],
            |root| {
                let out = folder_context(root, &Default::default(), |ctx| {
                    BugReportTimestamps.run(ctx)
                })
                .unwrap();
                let paths: Vec<_> = records(&out)
                    .iter()
                    .map(|r| r["path"].as_str().unwrap().to_string())
                    .collect();
                assert_eq!(paths, ["FS/b", "FS/data/a"]);
                assert_eq!(out.timeline.len(), 2);
                assert_eq!(out.timeline[0].event, "M---");
                assert_eq!(out.timeline[0].timestamp.len(), 26);
            },
        );
        assert_eq!(modified_iso(Some(0)), "1970-01-01 00:00:00.000000");
        assert_eq!(modified_iso(None), "");
        assert_eq!(modified_iso(Some(i64::MAX)), "");
    }
}
