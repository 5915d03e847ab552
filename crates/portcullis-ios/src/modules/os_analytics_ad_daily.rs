//! `com.apple.osanalytics.addaily.plist`: daily network-usage baselines per process, which name
//! processes that used the network (spyware processes included).

use portcullis_core::{ModuleOutput, Results, TimelineEvent};
use serde_json::{Value, json};

use super::common::{critical_indicator_alert, read_fixed_dictionary};
use crate::values::{plist_date_iso, plist_to_json, py_str};
use crate::{Context, Module, ModuleError};

/// HomeDomain-Library/Preferences/com.apple.osanalytics.addaily.plist
const BACKUP_IDS: &[&str] = &["f65b5fafc69bbd3c60be019c6e938e146825fa83"];

pub struct OsAnalyticsAdDaily;

impl Module<Context<'_>> for OsAnalyticsAdDaily {
    fn name(&self) -> &'static str {
        "OSAnalyticsADDaily"
    }

    fn slug(&self) -> &'static str {
        "os_analytics_ad_daily"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let (plist, source) = read_fixed_dictionary(
            ctx.backup,
            BACKUP_IDS,
            "com.apple.osanalytics.addaily.plist",
        )?;
        let baseline = plist
            .get("netUsageBaseline")
            .and_then(plist::Value::as_dictionary);

        let mut out = ModuleOutput::spilling(ctx.spool);
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
                plugin: self.name().into(),
                event: "osanalytics_addaily".into(),
                data: format!(
                    "{package} WIFI IN: {}, WIFI OUT: {} - WWAN IN: {}, WWAN OUT: {}",
                    py_str(record.get("wifi_in")),
                    py_str(record.get("wifi_out")),
                    py_str(record.get("wwan_in")),
                    py_str(record.get("wwan_out")),
                ),
            });
            if let Some(hit) = ctx.indicators.check_process(package) {
                out.alerts.push(critical_indicator_alert(
                    self.slug(),
                    hit,
                    "package",
                    ts,
                    record.clone(),
                    &source,
                ));
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
    use crate::modules::test_support::{
        fixture_backup, indicators, list, run, with_file, with_plist,
    };
    use portcullis_core::Level;

    const REL: &str = "Library/Preferences/com.apple.osanalytics.addaily.plist";

    fn date(unix: u64) -> P {
        P::Date((UNIX_EPOCH + Duration::from_secs(unix)).into())
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
        let (_dir, root) = with_plist("HomeDomain", REL, &P::Dictionary(top));
        let backup = Backup::open(&root).unwrap();
        let ind = indicators(&["[process:name = 'Launch']"]);
        let out = run(&OsAnalyticsAdDaily, &backup, &ind).unwrap();

        let recs = list(&out);
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
        assert_eq!(
            out.alerts[0].timestamp.as_deref(),
            Some("2020-09-13 12:36:40.000000")
        );

        assert!(
            run(&OsAnalyticsAdDaily, &backup, &Indicators::new())
                .unwrap()
                .alerts
                .is_empty()
        );
    }

    #[test]
    fn corrupt_or_unexpected_plist() {
        let (_dir, root) = with_file("HomeDomain", REL, b"\x00\x01\x02 garbage");
        let backup = Backup::open(&root).unwrap();
        let err = run(&OsAnalyticsAdDaily, &backup, &Indicators::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("f6/f65b5fafc69bbd3c60be019c6e938e146825fa83"),
            "{err}"
        );

        // A plist without netUsageBaseline has no records.
        let (_dir, root) = with_plist("HomeDomain", REL, &P::Dictionary(Dictionary::new()));
        let backup = Backup::open(&root).unwrap();
        let out = run(&OsAnalyticsAdDaily, &backup, &Indicators::new()).unwrap();
        assert!(out.results.is_empty());
    }

    #[test]
    fn fixture_has_no_addaily() {
        let Some(backup) = fixture_backup() else {
            return;
        };
        assert!(matches!(
            run(&OsAnalyticsAdDaily, &backup, &Indicators::new()),
            Err(ModuleError::NotFound(_))
        ));
    }
}
