//! `ps.txt` (`ps -A` output): every running process, and process names matching app-id or
//! process indicators.

use portcullis_core::{Alert, Level, ModuleOutput, Results};
use serde_json::{Value, json};

use super::{read_text, require};
use crate::reference::PROCESS_IOC_SKIP;
use crate::{Context, Module, ModuleError};

/// One `ps -A` line as MVT records it (with its `aprocress` spelling), or `None` when the line
/// does not have the columns. Columns: `[LABEL] USER PID PPID VSZ RSS [WCHAN] ADDR S NAME`.
fn parse_line(line: &str) -> Option<Value> {
    let mut cols: Vec<&str> = line.split_whitespace().collect();
    if cols.is_empty() {
        return None;
    }
    // WCHAN can be empty, which leaves 8 columns.
    if cols.len() == 8 {
        cols.insert(5, "");
    }
    let label = if cols[0].starts_with("u:r") {
        cols.remove(0)
    } else {
        ""
    };
    if cols.len() == 8 {
        cols.insert(5, "");
    }
    if cols.len() < 9 {
        return None;
    }
    let number = |i: usize| cols[i].parse::<i64>().ok();
    let name = cols[8..].join(" ");
    Some(json!({
        "user": cols[0],
        "pid": number(1)?,
        "ppid": number(2)?,
        "virtual_memory_size": number(3)?,
        "resident_set_size": number(4)?,
        "wchan": cols[5],
        "aprocress": cols[6],
        "stat": cols[7],
        "proc_name": name.trim_matches(|c| c == '[' || c == ']'),
        "label": label,
    }))
}

pub struct AqfProcesses;

impl Module<Context<'_>> for AqfProcesses {
    fn name(&self) -> &'static str {
        "AQFProcesses"
    }

    fn slug(&self) -> &'static str {
        "aqf_processes"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let file = require(ctx, "ps.txt")?;
        let text = read_text(ctx, file)?;
        let mut out = ModuleOutput::default();
        let mut records = Vec::new();
        let mut skipped = 0usize;
        for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let Some(record) = parse_line(line) else {
                skipped += 1;
                continue;
            };
            let name = record["proc_name"].as_str().unwrap_or_default();
            if !name.is_empty() && !PROCESS_IOC_SKIP.contains(&name) {
                let hit = ctx
                    .indicators
                    .check_app_id(name)
                    .or_else(|| ctx.indicators.check_process(name));
                if let Some(hit) = hit {
                    out.alerts.push(
                        Alert::indicator(
                            Level::Critical,
                            self.slug(),
                            hit,
                            "proc_name",
                            "",
                            record.clone(),
                        )
                        .with_source(file.path.clone()),
                    );
                }
            }
            records.push(record);
        }
        if skipped > 0 {
            tracing::warn!(
                "{}: skipped {skipped} line(s) that are not ps -A rows",
                file.path
            );
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
    use crate::androidqf::test_support::{fixtures, indicators, records, run_on, with_folder};

    const PS: &str = "USER PID PPID VSZ RSS WCHAN ADDR S NAME
root 1 0 57912 2084 0 0 S init
u:r:kernel:s0 root 2 0 0 0 0 0 S [kthreadd]
u0_a1 300 1 100 50 0 R com.example.app:remote
system 400 1 1 1 0 0 S gatekeeperd
shell 500 1 1 1 do_sys 0 S my tool
garbage line
root x 0 1 1 0 0 S bad_pid

u0_a2 600 1 1 1 0 0 S com.spy.agent
u0_a3 700 1 1 1 0 0 S Launch
";

    #[test]
    fn rows_labels_missing_wchan_and_indicators() {
        with_folder(&[("ps.txt", PS)], |root| {
            let ev = FolderEvidence::new(root);
            let ind = indicators(&[
                "[app:id = 'com.spy.agent']",
                "[process:name = 'Launch']",
                "[process:name = 'gatekeeperd']",
            ]);
            let out = run_on(&AqfProcesses, &ev, &ind).unwrap();
            let recs = records(&out);
            assert_eq!(recs.len(), 7);
            assert_eq!(recs[0]["pid"], 1);
            assert_eq!(recs[0]["label"], "");
            assert_eq!(recs[1]["label"], "u:r:kernel:s0");
            assert_eq!(recs[1]["proc_name"], "kthreadd");
            assert_eq!(recs[2]["wchan"], "");
            assert_eq!(recs[2]["aprocress"], "0");
            assert_eq!(recs[2]["stat"], "R");
            assert_eq!(recs[4]["proc_name"], "my tool");
            let hits: Vec<&str> = out
                .alerts
                .iter()
                .map(|a| a.matched_value.as_deref().unwrap())
                .collect();
            assert_eq!(
                hits,
                ["com.spy.agent", "Launch"],
                "gatekeeperd is never checked"
            );
            assert_eq!(
                out.alerts[1].message,
                "Found a known suspicious process name \"Launch\" matching indicators from \"TestMalware\""
            );
        });
    }

    #[test]
    fn empty_and_binary_files() {
        with_folder(&[("a/ps.txt", "")], |root| {
            let out = run_on(
                &AqfProcesses,
                &FolderEvidence::new(root),
                &Indicators::new(),
            )
            .unwrap();
            assert!(out.results.is_empty());
        });
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ps.txt"),
            [0xFFu8, 0, 0x80, b'\n', 0xC3, 0x28],
        )
        .unwrap();
        let out = run_on(
            &AqfProcesses,
            &FolderEvidence::new(dir.path()),
            &Indicators::new(),
        )
        .unwrap();
        assert!(out.results.is_empty());
    }

    #[test]
    fn fixture_processes() {
        let Some(dir) = fixtures() else { return };
        let out = run_on(
            &AqfProcesses,
            &FolderEvidence::new(dir.join("androidqf")),
            &crate::androidqf::test_support::test_stix2(),
        )
        .unwrap();
        assert_eq!(out.results.len(), 15);
        assert!(out.alerts.is_empty());
        assert!(out.timeline.is_empty());
        assert_eq!(records(&out)[0]["proc_name"], "init");
    }
}
