//! `check-bugreport`: the modules reading an `adb bugreport` (zip or unpacked folder), one file
//! per artifact, plus the dumpstate locator they share.
//!
//! Every `dumpsys` parser takes the text of its section, so the same code reads a bugreport's
//! dumpstate, AndroidQF's `dumpsys.txt` or a bare section saved on its own. The parsers tolerate
//! vendor layouts: sections and blocks are found by their header lines at any indentation, with
//! CRLF line ends, tabs, blank lines inside blocks and fields in any order.

mod accessibility;
mod activities;
pub(crate) mod adb_state;
mod appops;
mod battery_daily;
mod battery_history;
mod dbinfo;
pub(crate) mod dumpstate;
pub(crate) mod getprop;
pub(crate) mod packages;
mod platform_compat;
mod receivers;
mod resolver;
#[cfg(test)]
pub(crate) mod test_support;
mod timestamps;
mod tombstone_proto;
mod tombstones;

use std::sync::LazyLock;

use portcullis_core::{Alert, Level, ModuleOutput};
use portcullis_indicators::Indicators;
use regex::Regex;
use serde_json::Value;

use crate::AndroidModule;
use crate::{Context, Module, ModuleError};

/// Every bugreport module, in MVT's order.
pub fn modules() -> Vec<&'static AndroidModule> {
    vec![
        &ACCESSIBILITY,
        &ACTIVITIES,
        &APPOPS,
        &BATTERY_DAILY,
        &BATTERY_HISTORY,
        &DBINFO,
        &getprop::DumpsysGetProp,
        &PACKAGES,
        &PLATFORM_COMPAT,
        &RECEIVERS,
        &adb_state::DumpsysAdbState,
        &timestamps::BugReportTimestamps,
        &tombstones::Tombstones,
    ]
}

/// What a `dumpsys` parser is given: the section's text, where it came from, the indicators,
/// and the module it runs for (its names go into timeline rows and alerts).
pub(crate) struct Section<'a> {
    pub(crate) text: &'a str,
    pub(crate) source: &'a str,
    pub(crate) indicators: &'a Indicators,
    pub(crate) name: &'static str,
    pub(crate) slug: &'static str,
}

/// A module that reads one `dumpsys` section, declared as data: its names, the service, and the
/// parser that turns the section into records, timeline rows and alerts.
pub(crate) struct Dumpsys {
    name: &'static str,
    slug: &'static str,
    service: &'static str,
    analyse: fn(&Section<'_>) -> ModuleOutput,
}

impl Module<Context<'_>> for Dumpsys {
    fn name(&self) -> &'static str {
        self.name
    }

    fn slug(&self) -> &'static str {
        self.slug
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        with_section(ctx, self.service, |text, source| {
            (self.analyse)(&Section {
                text,
                source,
                indicators: ctx.indicators,
                name: self.name,
                slug: self.slug,
            })
        })
    }
}

impl Dumpsys {
    const fn new(
        name: &'static str,
        slug: &'static str,
        service: &'static str,
        analyse: fn(&Section<'_>) -> ModuleOutput,
    ) -> Dumpsys {
        Dumpsys {
            name,
            slug,
            service,
            analyse,
        }
    }
}

// The modules reading one section each (MVT's class name, slug, `dumpsys` service, parser).
pub(crate) static ACCESSIBILITY: Dumpsys = Dumpsys::new(
    "DumpsysAccessibility",
    "dumpsys_accessibility",
    "accessibility",
    |s| accessibility::analyse(s.text, s.indicators, s.slug, s.source),
);
pub(crate) static ACTIVITIES: Dumpsys =
    Dumpsys::new("DumpsysActivities", "dumpsys_activities", "package", |s| {
        records_checking_app_ids(activities::parse(s.text), s.indicators, s.slug, s.source)
    });
pub(crate) static APPOPS: Dumpsys =
    Dumpsys::new("DumpsysAppops", "dumpsys_appops", "appops", |s| {
        appops::analyse(s.text, s.indicators, s.name, s.slug, s.source)
    });
pub(crate) static BATTERY_DAILY: Dumpsys = Dumpsys::new(
    "DumpsysBatteryDaily",
    "dumpsys_battery_daily",
    "batterystats",
    |s| battery_daily::analyse(s.text, s.indicators, s.name, s.slug, s.source),
);
pub(crate) static BATTERY_HISTORY: Dumpsys = Dumpsys::new(
    "DumpsysBatteryHistory",
    "dumpsys_battery_history",
    "batterystats",
    |s| {
        records_checking_app_ids(
            battery_history::parse(s.text),
            s.indicators,
            s.slug,
            s.source,
        )
    },
);
pub(crate) static DBINFO: Dumpsys = Dumpsys::new("DumpsysDBInfo", "dbinfo", "dbinfo", |s| {
    dbinfo::analyse(s.text, s.indicators, s.slug, s.source)
});
pub(crate) static PACKAGES: Dumpsys =
    Dumpsys::new("DumpsysPackages", "dumpsys_packages", "package", |s| {
        packages::analyse(s.text, s.indicators, s.name, s.slug, s.source)
    });
pub(crate) static PLATFORM_COMPAT: Dumpsys = Dumpsys::new(
    "DumpsysPlatformCompat",
    "dumpsys_platform_compat",
    "platform_compat",
    |s| {
        records_checking_app_ids(
            platform_compat::parse(s.text),
            s.indicators,
            s.slug,
            s.source,
        )
    },
);
pub(crate) static RECEIVERS: Dumpsys =
    Dumpsys::new("DumpsysReceivers", "dumpsys_receivers", "package", |s| {
        receivers::analyse(s.text, s.indicators, s.slug, s.source)
    });

/// Runs `analyse` on the text of `dumpsys <service>` with the place it came from
/// (`<dumpstate path> (dumpsys <service>)`), or says why there is none.
fn with_section(
    ctx: &Context<'_>,
    service: &str,
    analyse: impl FnOnce(&str, &str) -> ModuleOutput,
) -> Result<ModuleOutput, ModuleError> {
    let dumpstate = dumpstate::load(ctx)?;
    let section = dumpstate.section(service).ok_or_else(|| {
        ModuleError::NotFound(format!("{}: no dumpsys {service} section", dumpstate.path))
    })?;
    Ok(analyse(
        section,
        &format!("{} (dumpsys {service})", dumpstate.path),
    ))
}

/// Width of a line's leading white space, a tab counting as 8 columns.
fn indent(line: &str) -> usize {
    line.chars()
        .take_while(|c| c.is_whitespace())
        .map(|c| if c == '\t' { 8 } else { 1 })
        .sum()
}

static WALL_CLOCK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?")
        .expect("valid wall-clock pattern")
});

/// A device wall-clock time (`YYYY-MM-DD HH:MM:SS[.fff…]`, anything after it such as a UTC
/// offset ignored) as ISO time, kept in the device's local time as MVT does.
pub(crate) fn wall_clock_iso(raw: &str) -> Option<String> {
    let c = WALL_CLOCK.captures(raw.trim())?;
    let num = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<i32>().ok());
    let frac = c.get(7).map_or("", |m| m.as_str());
    let micros: i32 = format!("{frac:0<6}").get(..6)?.parse().ok()?;
    let dt = jiff::civil::DateTime::new(
        i16::try_from(num(1)?).ok()?,
        i8::try_from(num(2)?).ok()?,
        i8::try_from(num(3)?).ok()?,
        i8::try_from(num(4)?).ok()?,
        i8::try_from(num(5)?).ok()?,
        i8::try_from(num(6)?).ok()?,
        micros * 1000,
    )
    .ok()?;
    Some(dt.strftime("%Y-%m-%d %H:%M:%S.%6f").to_string())
}

/// [`wall_clock_iso`], or the (trimmed) raw text when it is not a full date and time, as MVT
/// keeps raw values.
fn wall_clock_or_raw(raw: &str) -> String {
    wall_clock_iso(raw).unwrap_or_else(|| raw.trim().to_string())
}

/// A CRITICAL alert when `package` is a known malicious app id.
fn app_id_alert(
    indicators: &Indicators,
    slug: &str,
    package: &str,
    timestamp: &str,
    event: &Value,
    source: &str,
) -> Option<Alert> {
    let hit = indicators.check_app_id(package)?;
    Some(
        Alert::indicator(
            Level::Critical,
            slug,
            hit,
            "package_name",
            timestamp,
            event.clone(),
        )
        .with_source(source),
    )
}

/// `records` as a module's output, with a CRITICAL alert for each whose `package_name` is a
/// known malicious app.
fn records_checking_app_ids(
    records: Vec<Value>,
    indicators: &Indicators,
    slug: &str,
    source: &str,
) -> ModuleOutput {
    ModuleOutput {
        alerts: records
            .iter()
            .filter_map(|r| app_id_alert(indicators, slug, text(r, "package_name"), "", r, source))
            .collect(),
        results: portcullis_core::Results::List(records),
        ..ModuleOutput::default()
    }
}

/// A record's string field ("" when absent).
fn text<'v>(record: &'v Value, key: &str) -> &'v str {
    record.get(key).and_then(Value::as_str).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bugreport::test_support::*;

    #[test]
    fn wall_clock_times() {
        assert_eq!(
            wall_clock_iso("2022-03-29 18:37:30.315").unwrap(),
            "2022-03-29 18:37:30.315000"
        );
        assert_eq!(
            wall_clock_iso(" 2023-04-12 12:32:40.518290770+0200").unwrap(),
            "2023-04-12 12:32:40.518290"
        );
        assert_eq!(
            wall_clock_iso("2021-09-29 17:43:49+0200").unwrap(),
            "2021-09-29 17:43:49.000000"
        );
        assert_eq!(
            wall_clock_iso("2008-12-31 16:00:00").unwrap(),
            "2008-12-31 16:00:00.000000"
        );
        assert!(wall_clock_iso("2022-13-45 99:00:00").is_none());
        assert!(wall_clock_iso("2022-08-16").is_none());
        assert!(wall_clock_iso("garbage").is_none());
        assert_eq!(wall_clock_or_raw(" 2022-08-16"), "2022-08-16");
        assert_eq!(indent("\t  x"), 10);
    }

    #[test]
    fn module_list_follows_mvt() {
        let slugs: Vec<_> = modules().iter().map(|m| m.slug()).collect();
        assert_eq!(
            slugs,
            [
                "dumpsys_accessibility",
                "dumpsys_activities",
                "dumpsys_appops",
                "dumpsys_battery_daily",
                "dumpsys_battery_history",
                "dbinfo",
                "dumpsys_get_prop",
                "dumpsys_packages",
                "dumpsys_platform_compat",
                "dumpsys_receivers",
                "dumpsys_adb",
                "bugreport_timestamps",
                "tombstones",
            ]
        );
    }

    /// `check-bugreport` on MVT's bugreport folder (§7.5), with and without test.stix2.
    #[test]
    fn mvt_bugreport_fixture() {
        let Some(root) = fixture("bugreport") else {
            return;
        };
        for stix in [false, true] {
            let indicators = if stix {
                test_stix2()
            } else {
                Indicators::new()
            };
            let runs = folder_context(&root, &indicators, |ctx| {
                crate::run_modules(ctx, &modules(), &Default::default())
            });
            let mut timeline = 0;
            let mut alerts = Vec::new();
            for run in &runs {
                let (records, rows) = match &run.outcome {
                    Ok(out) => {
                        alerts.extend(out.alerts.iter().cloned());
                        (out.results.len(), out.timeline.len())
                    }
                    Err(ModuleError::NotFound(_)) => (0, 0),
                    Err(e) => panic!("{}: {e}", run.slug),
                };
                timeline += rows;
                let expected = match run.slug {
                    "dumpsys_appops" => (12, 16),
                    "dumpsys_packages" => (2, 6),
                    "dumpsys_platform_compat" => (2, 0),
                    "bugreport_timestamps" => (2, 2),
                    "tombstones" => (2, 2),
                    _ => (0, 0),
                };
                assert_eq!((records, rows), expected, "{}", run.slug);
            }
            assert_eq!(timeline, 26);
            let mut messages: Vec<_> = alerts
                .iter()
                .map(|a| (a.level, a.module.as_str(), a.message.as_str()))
                .collect();
            messages.sort();
            assert_eq!(
                messages,
                [
                    (
                        Level::Medium,
                        "dumpsys_appops",
                        "Package 'org.mozilla.firefox' had risky permission 'REQUEST_INSTALL_PACKAGES' set to 'Unknown' at "
                    ),
                    (
                        Level::Medium,
                        "tombstones",
                        "Potentially suspicious crash in process 'UsbFfs-worker' running as UID '2000' in tombstone 'tombstone_00' at 2021-09-29 17:43:49.000000"
                    ),
                    (
                        Level::Medium,
                        "tombstones",
                        "Potentially suspicious crash in process 'tzts_daemon' running as UID '1000' in tombstone 'tombstone_01' at 2023-08-21 23:28:59.000000"
                    ),
                ],
                "stix: {stix}"
            );
            assert!(
                alerts
                    .iter()
                    .all(|a| !a.advice.is_empty() && a.source.is_some())
            );
            let packages = runs.iter().find(|r| r.slug == "dumpsys_packages").unwrap();
            let Ok(out) = &packages.outcome else {
                unreachable!()
            };
            let portcullis_core::Results::List(list) = &out.results else {
                panic!("packages is a list")
            };
            assert_eq!(text(&list[1], "package_name"), "com.instagram.android");
            assert_eq!(text(&list[0], "installer"), "");
            assert_eq!(text(&list[1], "installer"), "com.android.vending");
            let perms = |i: usize| list[i]["permissions"].as_array().unwrap().len();
            assert_eq!((perms(0), perms(1)), (4, 32));
            let tombstones = runs.iter().find(|r| r.slug == "tombstones").unwrap();
            let Ok(out) = &tombstones.outcome else {
                unreachable!()
            };
            assert_eq!(test_support::records(out)[1]["pid"], 3559);
        }
    }
}
