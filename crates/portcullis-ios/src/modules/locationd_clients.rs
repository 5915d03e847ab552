//! `locationd/clients.plist`: every app, bundle and daemon that asked for the phone's location, and
//! when it last did. Spyware processes have shown up here under their own names.

use portcullis_core::{Alert, Level, ModuleOutput, Results, TimelineEvent};
use serde_json::Value;

use super::common::read_fixed_dictionary;
use crate::values::{Record, plist_mac_iso, plist_to_json};
use crate::{Context, Module, ModuleError};

/// RootDomain-Library/Caches/locationd/clients.plist
const BACKUP_IDS: &[&str] = &["a690d7769cce8904ca2b67320b107c8fe5f79412"];

/// Client keys holding Mac absolute times, in the order MVT lists them.
const TIMESTAMPS: &[&str] = &[
    "ConsumptionPeriodBegin",
    "ReceivingLocationInformationTimeStopped",
    "VisitTimeStopped",
    "LocationTimeStopped",
    "BackgroundLocationTimeStopped",
    "SignificantTimeStopped",
    "NonPersistentSignificantTimeStopped",
    "FenceTimeStopped",
    "BeaconRegionTimeStopped",
];

pub struct LocationdClients;

impl LocationdClients {
    /// The first indicator hit of a client: its process name, bundle id, then its paths.
    fn check(
        &self,
        ctx: &Context<'_>,
        rec: &Record,
        package: &str,
    ) -> Option<(&'static str, portcullis_indicators::IndicatorMatch)> {
        let ind = ctx.indicators;
        let name = package.rsplit('/').next().unwrap_or(package);
        if let Some(hit) = ind.check_process(name) {
            return Some(("package", hit));
        }
        let string = |key: &str| rec.get(key).and_then(Value::as_str);
        if let Some(hit) = string("BundleId").and_then(|b| ind.check_process(b)) {
            return Some(("BundleId", hit));
        }
        // `Registered` is sometimes a flag, sometimes the path of the registered executable.
        ["BundlePath", "Executable", "Registered"]
            .into_iter()
            .find_map(|key| {
                string(key)
                    .and_then(|p| ind.check_file_path(p))
                    .map(|hit| (key, hit))
            })
    }
}

impl Module<Context<'_>> for LocationdClients {
    fn name(&self) -> &'static str {
        "LocationdClients"
    }

    fn slug(&self) -> &'static str {
        "locationd_clients"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let (clients, source) =
            read_fixed_dictionary(ctx.backup, BACKUP_IDS, "locationd clients.plist")?;

        let mut out = ModuleOutput::spilling(ctx.spool);
        let mut records = Vec::new();
        for (key, client) in &clients {
            let Some(client) = client.as_dictionary() else {
                continue;
            };
            let package = key.strip_suffix(':').unwrap_or(key).to_string();
            // Data values (ClientStorageToken) become base64 through plist_to_json.
            let mut rec: Record = client
                .iter()
                .map(|(k, v)| {
                    let value = match (TIMESTAMPS.contains(&k.as_str()), plist_mac_iso(v)) {
                        (true, Some(iso)) => Value::String(iso),
                        _ => plist_to_json(v),
                    };
                    (k.clone(), value)
                })
                .collect();
            rec.insert("package".into(), package.clone().into());

            for key in TIMESTAMPS {
                if let Some(Value::String(ts)) = rec.get(*key) {
                    out.push_timeline(TimelineEvent {
                        timestamp: ts.clone(),
                        plugin: self.name().into(),
                        event: (*key).into(),
                        data: format!("{key} from {package}"),
                    });
                }
            }
            if let Some((field, hit)) = self.check(ctx, &rec, &package) {
                out.alerts.push(
                    Alert::indicator(
                        Level::High,
                        self.slug(),
                        hit,
                        field,
                        "",
                        Value::Object(rec.clone()),
                    )
                    .with_source(source.clone()),
                );
            }
            records.push(Value::Object(rec));
        }
        out.results = Results::List(records);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use plist::{Dictionary, Value as P};
    use portcullis_indicators::Indicators;

    use super::*;
    use crate::Backup;
    use crate::modules::test_support::{
        fixture_backup, indicators, list, run, with_file, with_plist,
    };

    const REL: &str = "Library/Caches/locationd/clients.plist";

    fn client(entries: &[(&str, P)]) -> P {
        P::Dictionary(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn clients() -> P {
        let mut top = Dictionary::new();
        top.insert(
            "com.apple.Maps".into(),
            client(&[
                ("Authorization", 2.into()),
                ("BundleId", "com.apple.Maps".into()),
                ("BundlePath", "/Applications/Maps.app".into()),
                ("Executable", "/Applications/Maps.app/Maps".into()),
                ("Registered", "/Applications/Maps.app/Maps".into()),
                ("ConsumptionPeriodBegin", 600000000.0.into()),
                ("LocationTimeStopped", 600000100.25.into()),
                ("ClientStorageToken", P::Data(vec![1, 2, 3])),
                ("Whitelisted", false.into()),
            ]),
        );
        top.insert(
            "com.apple.locationd.bundle-/System/Library/LocationBundles/Launch:".into(),
            client(&[
                ("Registered", true.into()),
                ("SignificantTimeStopped", 600000200.0.into()),
            ]),
        );
        top.insert(
            "com.example.tracker".into(),
            client(&[
                ("BundleId", "com.example.tracker".into()),
                ("Executable", "/private/var/tmp/hooker/tracker".into()),
                ("BeaconRegionTimeStopped", 600000300.0.into()),
            ]),
        );
        top.insert("Version".into(), 7.into());
        P::Dictionary(top)
    }

    #[test]
    fn clients_timeline_and_indicator_hits() {
        let (_dir, root) = with_plist("RootDomain", REL, &clients());
        let backup = Backup::open(&root).unwrap();
        let ind = indicators(&[
            "[process:name = 'Launch']",
            "[file:path = '/private/var/tmp/hooker']",
        ]);
        let out = run(&LocationdClients, &backup, &ind).unwrap();

        let recs = list(&out);
        assert_eq!(recs.len(), 3, "non-dictionary values are not clients");
        let maps = &recs[0];
        assert_eq!(maps["package"], "com.apple.Maps");
        assert_eq!(maps["ConsumptionPeriodBegin"], "2020-01-06 10:40:00.000000");
        assert_eq!(maps["LocationTimeStopped"], "2020-01-06 10:41:40.250000");
        assert_eq!(maps["ClientStorageToken"], "AQID");
        assert_eq!(maps["Authorization"], 2);
        assert_eq!(maps["Whitelisted"], false);
        assert_eq!(
            recs[1]["package"],
            "com.apple.locationd.bundle-/System/Library/LocationBundles/Launch"
        );

        assert_eq!(out.timeline.len(), 4);
        assert_eq!(out.timeline[0].event, "ConsumptionPeriodBegin");
        assert_eq!(
            out.timeline[0].data,
            "ConsumptionPeriodBegin from com.apple.Maps"
        );
        assert_eq!(out.timeline[1].event, "LocationTimeStopped");
        assert_eq!(
            out.timeline[2].data,
            "SignificantTimeStopped from com.apple.locationd.bundle-/System/Library/LocationBundles/Launch"
        );

        assert_eq!(out.alerts.len(), 2, "{:#?}", out.alerts);
        assert!(out.alerts.iter().all(|a| a.level == Level::High));
        assert_eq!(out.alerts[0].matched_field.as_deref(), Some("package"));
        assert_eq!(out.alerts[0].matched_value.as_deref(), Some("Launch"));
        assert_eq!(out.alerts[1].matched_field.as_deref(), Some("Executable"));

        let out = run(&LocationdClients, &backup, &Indicators::new()).unwrap();
        assert!(out.alerts.is_empty());
    }

    #[test]
    fn corrupt_plist_names_the_file() {
        let (_dir, root) = with_file(
            "RootDomain",
            REL,
            b"<?xml version=\"1.0\"?><plist><dict><key>",
        );
        let backup = Backup::open(&root).unwrap();
        let err = run(&LocationdClients, &backup, &Indicators::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("a6/a690d7769cce8904ca2b67320b107c8fe5f79412"),
            "{err}"
        );
    }

    #[test]
    fn fixture_has_no_locationd_clients() {
        let Some(backup) = fixture_backup() else {
            return;
        };
        assert!(matches!(
            run(&LocationdClients, &backup, &Indicators::new()),
            Err(ModuleError::NotFound(_))
        ));
    }
}
