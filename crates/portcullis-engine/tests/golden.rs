//! Golden tests, yara-x style: each folder of `tests/data/` holds a self-made `input/` (and
//! `iocs.stix2` when the case needs indicators) and `expected.json`, what the check of that
//! input must report in brief: the input kind, coverage, records per module, failed modules,
//! and every alert with the indicator it names. A reviewer sees what each module produces by
//! reading the two side by side. `GOLDEN_UPDATE=1 cargo test -p portcullis-engine --test
//! golden` rewrites the expected files (review the diff before committing it).

use std::path::Path;

use portcullis_engine::{CheckOptions, Input, Secrets};
use portcullis_posture::Snapshot;
use serde_json::{Map, Value, json};

/// What a report says, in brief.
fn brief(report: &portcullis_report::Report) -> Value {
    let mut records = Map::new();
    let mut failed = Map::new();
    for m in &report.modules {
        if m.records > 0 {
            records.insert(m.slug.clone(), m.records.into());
        }
        if let Some(error) = &m.error {
            failed.insert(m.slug.clone(), error.clone().into());
        }
    }
    let alerts: Vec<Value> = report
        .alerts
        .iter()
        .map(|a| {
            let mut alert = json!({
                "level": a.level,
                "module": a.module,
                "message": a.message,
            });
            if let Some(ind) = &a.indicator {
                alert["indicator"] = json!({"id": ind.stix.id, "collection": ind.collection});
            }
            alert
        })
        .collect();
    json!({
        "input_kind": report.info.input_kind,
        "coverage": report.coverage.status,
        "records": records,
        "failed": failed,
        "alerts": alerts,
        "warnings": report.warnings,
    })
}

fn run_case(case: &Path) -> Value {
    let input = case.join("input");
    let iocs: Vec<_> = [case.join("iocs.stix2")]
        .into_iter()
        .filter(|p| p.exists())
        .collect();
    let indicators = portcullis_engine::indicators::load(&iocs, false).unwrap();
    let out = tempfile::tempdir().unwrap();
    let snapshot = Snapshot::bundled();
    let options = CheckOptions::new(out.path(), &snapshot);
    let kind = Input::detect(&input).unwrap();
    let checked =
        portcullis_engine::check(&input, &kind, &indicators, &Secrets::default(), &options)
            .unwrap();
    brief(&checked.report)
}

#[test]
fn every_case_reports_what_its_expected_file_says() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut cases: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("input").is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 3, "the golden cases are missing");
    let update = std::env::var_os("GOLDEN_UPDATE").is_some();
    for case in cases {
        let got = run_case(&case);
        let expected_file = case.join("expected.json");
        if update {
            let text = serde_json::to_string_pretty(&got).unwrap() + "\n";
            std::fs::write(&expected_file, text).unwrap();
            continue;
        }
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(&expected_file)
                .unwrap_or_else(|e| panic!("{}: {e}", expected_file.display())),
        )
        .unwrap();
        assert_eq!(
            got,
            expected,
            "{}: the check's report differs from expected.json",
            case.display()
        );
    }
}
