//! Installed apps as listed in the backup's `Info.plist` (`Applications`): their App Store
//! metadata, install date and icon hash; apps from outside the App Store and apps matching
//! indicators are flagged.

use portcullis_core::{Alert, Level, ModuleOutput, Results, TimelineEvent};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::values::{Record, plist_date_iso, plist_to_json, py_str};
use crate::{Context, Module, ModuleError};

/// Installers that are the App Store or device management (MDM); anything else is sideloaded.
const TRUSTED_SOURCES: &[&str] = &[
    "com.apple.AppStore",
    "com.apple.AppStore.ProductPageExtension",
    "com.apple.dmd",
    "dmd",
];

pub struct Applications;

/// `com.apple.iTunesStore.downloadInfo.purchaseDate` ("2020-11-03T10:12:44Z") as ISO time. The
/// trailing `Z` means UTC (MVT read it as local time, shifting it by the analyst's offset).
fn purchase_iso(metadata: Option<&plist::Dictionary>) -> Option<String> {
    let date = metadata?
        .get("com.apple.iTunesStore.downloadInfo")?
        .as_dictionary()?
        .get("purchaseDate")?;
    match date {
        plist::Value::String(s) => s
            .parse::<jiff::Timestamp>()
            .ok()
            .map(portcullis_report::time::iso),
        plist::Value::Date(d) => Some(plist_date_iso(d)),
        _ => None,
    }
}

impl Applications {
    /// At most one alert per app: an indicator hit, else a missing bundle id, else a source
    /// other than the App Store or MDM. All but the first run without indicators too.
    fn check(&self, ctx: &Context<'_>, rec: &Record, name: &str) -> Option<Alert> {
        let bundle_id = rec.get("softwareVersionBundleId").and_then(Value::as_str);
        let isodate = rec.get("isodate").and_then(Value::as_str).unwrap_or("");
        let event = Value::Object(rec.clone());
        // The Applications key is itself the bundle id, so apps without metadata are checked too.
        let ids = [("softwareVersionBundleId", bundle_id), ("name", Some(name))];
        for (field, id) in ids {
            let Some(id) = id.filter(|s| !s.is_empty()) else {
                continue;
            };
            let hit = ctx
                .indicators
                .check_process(id)
                .or_else(|| ctx.indicators.check_app_id(id));
            if let Some(hit) = hit {
                return Some(
                    Alert::indicator(Level::Critical, self.slug(), hit, field, isodate, event)
                        .with_message(format!("Malicious application {id} identified")),
                );
            }
        }
        let Some(bundle_id) = bundle_id else {
            return Some(
                Alert::heuristic(
                    Level::Medium,
                    self.slug(),
                    format!(
                        "Suspicious application identified without softwareVersionBundleId: {name}"
                    ),
                    isodate,
                    event,
                )
                .with_field("name", name)
                .with_advice(
                    "This app has no App Store identity in its metadata, which is unusual for a \
                     normally installed app. If you do not recognise it, ask your security office \
                     to check it.",
                ),
            );
        };
        let source = rec
            .get("sourceApp")
            .and_then(Value::as_str)
            .unwrap_or("com.apple.AppStore");
        (!TRUSTED_SOURCES.contains(&source)).then(|| {
            Alert::heuristic(
                Level::Medium,
                self.slug(),
                format!("Suspicious app not installed from the App Store or MDM: {bundle_id}"),
                isodate,
                event,
            )
            .with_field("sourceApp", source)
            .with_advice(
                "This app was installed from outside the App Store and without device management. \
                 If you did not install it on purpose, ask your security office to check it.",
            )
        })
    }
}

impl Module<Context<'_>> for Applications {
    fn name(&self) -> &'static str {
        "Applications"
    }

    fn slug(&self) -> &'static str {
        "applications"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let source = crate::backup::INFO_PLIST;
        let info = ctx.backup.info_plist()?;
        let apps = info
            .as_dictionary()
            .ok_or_else(|| ModuleError::Parse {
                path: source.into(),
                reason: "top level is not a dictionary".into(),
            })?
            .get("Applications")
            .and_then(plist::Value::as_dictionary)
            .ok_or_else(|| ModuleError::NotFound(format!("{source} has no Applications list")))?;

        let mut out = ModuleOutput::spilling(ctx.spool);
        let mut records = Vec::with_capacity(apps.len());
        for (name, app) in apps {
            let app = app.as_dictionary();
            let field = |key: &str| app.and_then(|a| a.get(key)).and_then(plist::Value::as_data);
            let metadata = field("iTunesMetadata").and_then(|bytes| {
                match portcullis_evidence::property_list::parse(bytes) {
                    Ok(plist::Value::Dictionary(d)) => Some(d),
                    _ => {
                        tracing::warn!("{source}: iTunesMetadata of {name} is not a property list");
                        None
                    }
                }
            });
            let mut rec: Record = metadata
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), plist_to_json(v)))
                .collect();
            rec.insert("name".into(), name.clone().into());
            if let Some(icon) = field("PlaceholderIcon") {
                rec.insert(
                    "icon_sha256".into(),
                    hex::encode(Sha256::digest(icon)).into(),
                );
            }
            if let Some(iso) = purchase_iso(metadata.as_ref()) {
                rec.insert("isodate".into(), iso.clone().into());
                let text = |k: &str| rec.get(k).map(|v| py_str(Some(v))).unwrap_or_default();
                out.push_timeline(TimelineEvent {
                    timestamp: iso,
                    plugin: self.name().into(),
                    event: "app_installed".into(),
                    data: format!(
                        "App {name} version {} from {} installed from {}",
                        text("bundleShortVersionString"),
                        text("artistName"),
                        text("sourceApp"),
                    ),
                });
            }
            if let Some(alert) = self.check(ctx, &rec, name) {
                out.alerts.push(alert.with_source(source));
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
    use serde_json::json;

    use super::*;
    use crate::Backup;
    use crate::modules::test_support::{built, fixture_backup, indicators, list, run};

    fn metadata(entries: &[(&str, P)], purchase: Option<&str>) -> P {
        let mut d: Dictionary = entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        if let Some(date) = purchase {
            let mut download = Dictionary::new();
            download.insert("purchaseDate".into(), date.into());
            download.insert("accountInfo".into(), P::Dictionary(Dictionary::new()));
            d.insert(
                "com.apple.iTunesStore.downloadInfo".into(),
                P::Dictionary(download),
            );
        }
        let mut bytes = Vec::new();
        P::Dictionary(d).to_writer_binary(&mut bytes).unwrap();
        P::Data(bytes)
    }

    fn app(metadata: Option<P>, icon: Option<&[u8]>) -> P {
        let mut d = Dictionary::new();
        if let Some(m) = metadata {
            d.insert("iTunesMetadata".into(), m);
        }
        if let Some(icon) = icon {
            d.insert("PlaceholderIcon".into(), P::Data(icon.to_vec()));
        }
        d.insert("ApplicationSARP".into(), P::Data(vec![0; 4]));
        P::Dictionary(d)
    }

    fn applications() -> P {
        let mut apps = Dictionary::new();
        apps.insert(
            "com.example.news".into(),
            app(
                Some(metadata(
                    &[
                        ("artistName", "Example Media".into()),
                        ("bundleShortVersionString", "4.2".into()),
                        ("itemId", 123456789.into()),
                        ("itemName", "News".into()),
                        ("softwareVersionBundleId", "com.example.news".into()),
                        ("sourceApp", "com.apple.AppStore".into()),
                    ],
                    Some("2020-11-03T10:12:44Z"),
                )),
                Some(b"PNG"),
            ),
        );
        apps.insert(
            "com.sideload.tool".into(),
            app(
                Some(metadata(
                    &[
                        ("artistName", "Nobody".into()),
                        ("softwareVersionBundleId", "com.sideload.tool".into()),
                        ("sourceApp", "com.apple.Safari".into()),
                    ],
                    None,
                )),
                None,
            ),
        );
        apps.insert("com.nometadata.app".into(), app(None, None));
        apps.insert(
            "com.malware.blah".into(),
            app(
                Some(metadata(
                    &[("softwareVersionBundleId", "com.malware.blah".into())],
                    Some("2021-01-01T00:00:00Z"),
                )),
                None,
            ),
        );
        apps.insert(
            "com.broken.meta".into(),
            app(Some(P::Data(b"not a plist".to_vec())), None),
        );
        P::Dictionary(apps)
    }

    fn backup_with(apps: P) -> (tempfile::TempDir, Backup) {
        let (dir, root) = built(|b| Ok(b.info("Applications", apps)));
        (dir, Backup::open(&root).unwrap())
    }

    #[test]
    fn apps_metadata_timeline_heuristics_and_indicator() {
        let (_dir, backup) = backup_with(applications());
        let ind = indicators(&["[app:id = 'com.malware.blah']"]);
        let out = run(&Applications, &backup, &ind).unwrap();

        let recs = list(&out);
        assert_eq!(recs.len(), 5);
        let news = &recs[0];
        assert_eq!(news["name"], "com.example.news");
        assert_eq!(news["itemId"], 123456789);
        assert_eq!(news["isodate"], "2020-11-03 10:12:44.000000");
        assert_eq!(
            news["icon_sha256"],
            "796120837694d3f3f29259cfeb25091698c2a0aa87873658d840b4993ee889b3"
        );
        assert_eq!(
            news["com.apple.iTunesStore.downloadInfo"],
            json!({"purchaseDate": "2020-11-03T10:12:44Z", "accountInfo": {}})
        );
        assert_eq!(recs[2], json!({"name": "com.nometadata.app"}));
        assert_eq!(recs[4], json!({"name": "com.broken.meta"}));

        assert_eq!(out.timeline.len(), 2);
        assert_eq!(out.timeline[0].event, "app_installed");
        assert_eq!(
            out.timeline[0].data,
            "App com.example.news version 4.2 from Example Media installed from com.apple.AppStore"
        );
        assert_eq!(
            out.timeline[1].data,
            "App com.malware.blah version  from  installed from "
        );

        let summary: Vec<(Level, &str)> = out
            .alerts
            .iter()
            .map(|a| (a.level, a.message.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    Level::Medium,
                    "Suspicious app not installed from the App Store or MDM: com.sideload.tool"
                ),
                (
                    Level::Medium,
                    "Suspicious application identified without softwareVersionBundleId: com.nometadata.app"
                ),
                (
                    Level::Critical,
                    "Malicious application com.malware.blah identified"
                ),
                (
                    Level::Medium,
                    "Suspicious application identified without softwareVersionBundleId: com.broken.meta"
                ),
            ]
        );
        assert_eq!(
            out.alerts[2].timestamp.as_deref(),
            Some("2021-01-01 00:00:00.000000")
        );
        assert_eq!(out.alerts[2].source.as_deref(), Some("Info.plist"));

        // Heuristics do not depend on indicators being loaded.
        let out = run(&Applications, &backup, &Indicators::new()).unwrap();
        assert_eq!(out.alerts.len(), 3);
        assert!(out.alerts.iter().all(|a| a.level == Level::Medium));
    }

    #[test]
    fn process_indicator_on_bundle_id() {
        let (_dir, backup) = backup_with(applications());
        let ind = indicators(&["[process:name = 'com.nometadata.app']"]);
        let out = run(&Applications, &backup, &ind).unwrap();
        let hit = out
            .alerts
            .iter()
            .find(|a| a.level == Level::Critical)
            .expect("critical alert");
        assert_eq!(
            hit.message,
            "Malicious application com.nometadata.app identified"
        );
        assert_eq!(hit.matched_field.as_deref(), Some("name"));
    }

    #[test]
    fn corrupt_info_plist_names_the_file() {
        let (_dir, root) = built(Ok);
        std::fs::write(root.join("Info.plist"), b"\x89PNG not a plist").unwrap();
        let backup = Backup::open(&root).unwrap();
        let err = run(&Applications, &backup, &Indicators::new()).unwrap_err();
        assert!(!matches!(err, ModuleError::NotFound(_)), "{err}");
        assert!(err.to_string().contains("Info.plist"), "{err}");

        // A backup without the Applications key has nothing to report.
        let (_dir, root) = built(Ok);
        let backup = Backup::open(&root).unwrap();
        assert!(matches!(
            run(&Applications, &backup, &Indicators::new()),
            Err(ModuleError::NotFound(_))
        ));
    }

    #[test]
    fn fixture_has_no_applications_key() {
        let Some(backup) = fixture_backup() else {
            return;
        };
        assert!(matches!(
            run(&Applications, &backup, &Indicators::new()),
            Err(ModuleError::NotFound(_))
        ));
    }
}
