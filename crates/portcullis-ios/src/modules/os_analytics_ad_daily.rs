//! `com.apple.osanalytics.addaily.plist`: daily network-usage baselines per process, which name
//! processes that used the network (spyware processes included).

use portcullis_report::{Alert, Level, ModuleOutput, Results, TimelineEvent};
use serde_json::{Value, json};

use super::sms::shown;
use crate::values::{plist_date_iso, plist_to_json};
use crate::{Context, Module, ModuleError};

/// HomeDomain-Library/Preferences/com.apple.osanalytics.addaily.plist
const BACKUP_IDS: &[&str] = &["f65b5fafc69bbd3c60be019c6e938e146825fa83"];

pub struct OsAnalyticsAdDaily;

impl Module for OsAnalyticsAdDaily {
    fn name(&self) -> &'static str {
        "OSAnalyticsADDaily"
    }

    fn slug(&self) -> &'static str {
        "os_analytics_ad_daily"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let id = ctx
            .backup
            .first_stored(BACKUP_IDS)
            .ok_or_else(|| ModuleError::NotFound("com.apple.osanalytics.addaily.plist".into()))?;
        let source = crate::backup::stored_path(&id);
        let plist = ctx.backup.read_plist(&id)?;
        let baseline = plist
            .as_dictionary()
            .ok_or_else(|| ModuleError::Parse {
                path: source.clone(),
                reason: "top level is not a dictionary".into(),
            })?
            .get("netUsageBaseline")
            .and_then(plist::Value::as_dictionary);

        let mut out = ModuleOutput::default();
        let mut records = Vec::new();
        for (package, values) in baseline.into_iter().flatten() {
            // [date, wifi_in, wifi_out, wwan_in, wwan_out]; missing items stay null.
            let values = values.as_array().map(Vec::as_slice).unwrap_or_default();
            let item = |i: usize| values.get(i).map_or(Value::Null, plist_to_json);
            let ts = match values.first() {
                Some(plist::Value::Date(d)) => plist_date_iso(d),
                _ => String::new(),
            };
            let record = json!({
                "package": package,
                "ts": ts,
                "wifi_in": item(1),
                "wifi_out": item(2),
                "wwan_in": item(3),
                "wwan_out": item(4),
            });
            out.push_timeline(TimelineEvent {
                timestamp: ts.clone(),
                module: self.name().into(),
                event: "osanalytics_addaily".into(),
                data: format!(
                    "{package} WIFI IN: {}, WIFI OUT: {} - WWAN IN: {}, WWAN OUT: {}",
                    shown(record.get("wifi_in")),
                    shown(record.get("wifi_out")),
                    shown(record.get("wwan_in")),
                    shown(record.get("wwan_out")),
                ),
            });
            if let Some(hit) = ctx.indicators.check_process(package) {
                out.alerts.push(
                    Alert::indicator(
                        Level::Critical,
                        self.slug(),
                        hit,
                        "package",
                        ts,
                        record.clone(),
                    )
                    .with_source(source.clone()),
                );
            }
            records.push(record);
        }
        out.results = Results::List(records);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use plist::{Dictionary, Value as P};
    use portcullis_indicators::Indicators;

    use super::*;
    use crate::Backup;
    use crate::builder::BackupBuilder;
    use crate::modules::sms::tests::{fixture, run, spy_indicators};

    const REL: &str = "Library/Preferences/com.apple.osanalytics.addaily.plist";

    fn date(unix: u64) -> P {
        P::Date((UNIX_EPOCH + Duration::from_secs(unix)).into())
    }

    fn backup_with(dir: &std::path::Path, value: &P) -> Backup {
        let root = BackupBuilder::new(dir)
            .unwrap()
            .plist("HomeDomain", REL, value)
            .unwrap()
            .finish()
            .unwrap();
        Backup::open(&root).unwrap()
    }

    #[test]
    fn baselines_timeline_and_process_hit() {
        let mut baseline = Dictionary::new();
        baseline.insert(
            "com.apple.mobilesafari".into(),
            P::Array(vec![
                date(1_600_000_000),
                1024.into(),
                2048.into(),
                10.into(),
                20.into(),
            ]),
        );
        baseline.insert(
            "Launch".into(),
            P::Array(vec![
                date(1_600_000_600),
                5.5.into(),
                0.into(),
                0.into(),
                7.into(),
            ]),
        );
        baseline.insert(
            "truncated".into(),
            P::Array(vec![date(1_600_000_900), 1.into()]),
        );
        let mut top = Dictionary::new();
        top.insert("netUsageBaseline".into(), P::Dictionary(baseline));
        top.insert("lastReset".into(), date(1_600_000_000));
        let dir = tempfile::tempdir().unwrap();
        let backup = backup_with(dir.path(), &P::Dictionary(top));
        let ind = spy_indicators(&["[process:name = 'Launch']"]);
        let out = run(&OsAnalyticsAdDaily, &backup, &ind).unwrap();

        let Results::List(recs) = &out.results else {
            panic!("list expected")
        };
        assert_eq!(recs.len(), 3);
        assert_eq!(
            recs[0],
            json!({"package": "com.apple.mobilesafari", "ts": "2020-09-13 12:26:40.000000",
                   "wifi_in": 1024, "wifi_out": 2048, "wwan_in": 10, "wwan_out": 20})
        );
        assert_eq!(recs[2]["wifi_out"], Value::Null);
        assert_eq!(out.timeline.len(), 3);
        assert_eq!(out.timeline[0].event, "osanalytics_addaily");
        assert_eq!(
            out.timeline[0].data,
            "com.apple.mobilesafari WIFI IN: 1024, WIFI OUT: 2048 - WWAN IN: 10, WWAN OUT: 20"
        );
        assert_eq!(
            out.timeline[2].data,
            "truncated WIFI IN: 1, WIFI OUT: None - WWAN IN: None, WWAN OUT: None"
        );
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].level, Level::Critical);
        assert_eq!(out.alerts[0].matched_value.as_deref(), Some("Launch"));
        assert_eq!(out.alerts[0].timestamp, "2020-09-13 12:36:40.000000");

        assert!(
            run(&OsAnalyticsAdDaily, &backup, &Indicators::new())
                .unwrap()
                .alerts
                .is_empty()
        );
    }

    #[test]
    fn corrupt_or_unexpected_plist() {
        let dir = tempfile::tempdir().unwrap();
        let root = BackupBuilder::new(dir.path())
            .unwrap()
            .file("HomeDomain", REL, b"\x00\x01\x02 garbage")
            .unwrap()
            .finish()
            .unwrap();
        let backup = Backup::open(&root).unwrap();
        let err = run(&OsAnalyticsAdDaily, &backup, &Indicators::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("f6/f65b5fafc69bbd3c60be019c6e938e146825fa83"),
            "{err}"
        );

        // A plist without netUsageBaseline has no records.
        let dir = tempfile::tempdir().unwrap();
        let backup = backup_with(dir.path(), &P::Dictionary(Dictionary::new()));
        let out = run(&OsAnalyticsAdDaily, &backup, &Indicators::new()).unwrap();
        assert!(out.results.is_empty());
    }

    #[test]
    fn fixture_has_no_addaily() {
        let Some(backup) = fixture() else { return };
        assert!(matches!(
            run(&OsAnalyticsAdDaily, &backup, &Indicators::new()),
            Err(ModuleError::NotFound(_))
        ));
    }
}
