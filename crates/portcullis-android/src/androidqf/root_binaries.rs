//! `root_binaries.json`: root tools AndroidQF found on the device. Each one is a HIGH alert:
//! on a phone its owner did not root, they mean it was rooted by someone else.

use portcullis_core::{Level, ModuleOutput, Results, TimelineEvent};
use serde_json::{Value, json};

use super::{heuristic, read_json_list, require};
use crate::reference::ROOT_BINARIES;
use crate::{Context, Module, ModuleError};

pub struct RootBinaries;

impl Module<Context<'_>> for RootBinaries {
    fn name(&self) -> &'static str {
        "RootBinaries"
    }

    fn slug(&self) -> &'static str {
        "root_binaries"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let file = require(ctx, "root_binaries.json")?;
        let paths = read_json_list(ctx, file, "paths")?;
        let mut out = ModuleOutput::spilling(ctx.spool);
        let mut records = Vec::new();
        for path in paths
            .iter()
            .filter_map(Value::as_str)
            .filter(|p| !p.trim().is_empty())
        {
            let binary = path.rsplit('/').next().unwrap_or(path).to_lowercase();
            let description = ROOT_BINARIES
                .iter()
                .find(|(name, _)| *name == binary)
                .map_or("Unknown root binary", |(_, d)| d);
            let record = json!({"path": path, "binary_name": binary, "description": description});
            out.push_timeline(TimelineEvent {
                timestamp: String::new(),
                plugin: self.name().into(),
                event: "root_binary_found".into(),
                data: format!("Root binary found: {path} (binary: {binary})"),
            });
            out.alerts.push(
                heuristic(
                    Level::High,
                    self.slug(),
                    format!("Found root binary \"{binary}\" at path \"{path}\""),
                    "",
                    &record,
                    &file.path,
                    "Tools that give full control of the phone (root) are on it. Unless you rooted \
                     this phone yourself, stop using it for sensitive work and ask your security \
                     office to examine it.",
                )
                .with_field("path", path),
            );
            records.push(record);
        }
        out.results = Results::List(records);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use portcullis_evidence::FolderEvidence;
    use portcullis_indicators::Indicators;

    use super::*;
    use crate::androidqf::test_support::{fixtures, records, run_on, with_folder};

    #[test]
    fn known_and_unknown_binaries() {
        let json =
            r#"["/system/xbin/SU", "/data/adb/magiskinit", "/vendor/bin/rootme", 7, "", null]"#;
        with_folder(&[("root_binaries.json", json)], |root| {
            let out = run_on(
                &RootBinaries,
                &FolderEvidence::new(root),
                &Indicators::new(),
            )
            .unwrap();
            let recs = records(&out);
            assert_eq!(recs.len(), 3);
            assert_eq!(recs[0]["binary_name"], "su");
            assert_eq!(recs[0]["description"], "SuperUser binary");
            assert_eq!(recs[1]["description"], "Magisk init binary");
            assert_eq!(recs[2]["description"], "Unknown root binary");
            assert_eq!(out.alerts.len(), 3);
            assert_eq!(
                out.timeline[2].data,
                "Root binary found: /vendor/bin/rootme (binary: rootme)"
            );
        });
        with_folder(&[("root_binaries.json", "{\"a\": 1}")], |root| {
            let err = run_on(
                &RootBinaries,
                &FolderEvidence::new(root),
                &Indicators::new(),
            )
            .unwrap_err();
            assert!(err.to_string().contains("root_binaries.json"), "{err}");
        });
    }

    /// §7.6: 4 binaries, 4 HIGH, 4 timeline rows.
    #[test]
    fn fixture_root_binaries() {
        let Some(dir) = fixtures() else { return };
        let ev = FolderEvidence::new(dir.join("androidqf"));
        let out = run_on(&RootBinaries, &ev, &Indicators::new()).unwrap();
        assert_eq!(out.results.len(), 4);
        assert_eq!(out.timeline.len(), 4);
        let messages: Vec<&str> = out.alerts.iter().map(|a| a.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "Found root binary \"su\" at path \"/system/bin/su\"",
                "Found root binary \"busybox\" at path \"/system/xbin/busybox\"",
                "Found root binary \"magisk\" at path \"/data/local/tmp/magisk\"",
                "Found root binary \"magiskhide\" at path \"/system/bin/magiskhide\"",
            ]
        );
        assert!(out.alerts.iter().all(|a| a.level == Level::High));
    }
}
