//! Modification times of the files the bugreport copied from the phone (`FS/…`).

use portcullis_core::{ModuleOutput, Results, TimelineEvent};
use serde_json::json;

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
        let mut out = ModuleOutput::spilling(ctx.spool);
        let mut records = Vec::new();
        for file in ctx.find("FS/*") {
            let modified = modified_iso(file.modified);
            out.push_timeline(TimelineEvent {
                timestamp: modified.clone(),
                module: self.name().into(),
                event: "M---".into(),
                data: file.path.clone(),
            });
            records.push(json!({"path": file.path, "modified_time": modified}));
        }
        if records.is_empty() {
            return Err(ModuleError::NotFound(
                "no FS/ files in the bugreport".into(),
            ));
        }
        out.results = Results::List(records);
        Ok(out)
    }
}

/// A listing's modification time (Unix seconds) as ISO time, "" when unknown.
pub(crate) fn modified_iso(modified: Option<i64>) -> String {
    modified
        .and_then(|s| portcullis_report::time::from_unix(s as f64))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bugreport::test_support::*;

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
