//! System properties (`getprop`), from the dumpstate's `SYSTEM PROPERTIES` block: device facts,
//! how old the security patch is, and property names that indicators name.
//!
//! [`parse_getprop`] and [`check_properties`] also serve AndroidQF's `getprop.txt`.

use std::sync::LazyLock;

use jiff::civil::Date;
use portcullis_core::{Alert, Level, ModuleOutput, Results};
use portcullis_indicators::Indicators;
use regex::Regex;
use serde_json::{Value, json};

use super::text;
use crate::{Context, Module, ModuleError};

/// Properties whose values are logged for the analyst.
const INTERESTING_PROPERTIES: &[&str] = &[
    "gsm.sim.operator.alpha",
    "gsm.sim.operator.iso-country",
    "persist.sys.timezone",
    "ro.boot.serialno",
    "ro.build.version.sdk",
    "ro.build.version.security_patch",
    "ro.product.cpu.abi",
    "ro.product.locale",
    "ro.product.vendor.manufacturer",
    "ro.product.vendor.model",
    "ro.product.vendor.name",
];

/// A security patch older than this many days (six months of 31 days) is flagged.
const PATCH_MAX_AGE_DAYS: i32 = 6 * 31;

pub struct DumpsysGetProp;

impl Module<Context<'_>> for DumpsysGetProp {
    fn name(&self) -> &'static str {
        "DumpsysGetProp"
    }

    fn slug(&self) -> &'static str {
        "dumpsys_get_prop"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let dumpstate = super::dumpstate::load(ctx)?;
        let block = dumpstate.system_properties().ok_or_else(|| {
            ModuleError::NotFound(format!("{}: no SYSTEM PROPERTIES section", dumpstate.path))
        })?;
        let records = parse_getprop(block);
        let source = format!("{} (SYSTEM PROPERTIES)", dumpstate.path);
        let alerts = check_properties(
            &records,
            ctx.indicators,
            self.slug(),
            &source,
            analysis_date(),
        );
        Ok(ModuleOutput {
            results: Results::List(records),
            alerts,
            ..ModuleOutput::default()
        })
    }
}

static PROPERTY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[(.+?)\]: \[(.+?)\]").expect("valid property pattern"));

/// `{name, value}` for every `[name]: [value]` line with a non-empty value.
pub(crate) fn parse_getprop(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|line| PROPERTY.captures(line.trim()))
        .map(|c| json!({"name": &c[1], "value": &c[2]}))
        .collect()
}

/// Today's date (UTC), against which the security patch level is judged.
pub(crate) fn analysis_date() -> Date {
    jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
}

/// The MEDIUM alert for a security patch level (`YYYY-MM-DD`) more than 186 days older than
/// `today`; `None` when recent or unreadable.
fn patch_alert(record: &Value, today: Date, slug: &str, source: &str) -> Option<Alert> {
    let level = text(record, "value");
    let patch: Date = match level.trim().parse() {
        Ok(d) => d,
        Err(_) => {
            tracing::warn!("{source}: unreadable security patch level {level:?}");
            return None;
        }
    };
    let age = (today - patch).get_days();
    (age > PATCH_MAX_AGE_DAYS).then(|| {
        Alert::heuristic(
            Level::Medium,
            slug,
            format!("This phone has not received security updates for more than six months (last update: {level})."),
            "",
            record.clone(),
        )
        .with_advice(
            "The phone is missing months of security fixes that spyware exploits. Install every \
             available update (Settings > System > Software update); if none is offered, the \
             phone is no longer supported and should be replaced.",
        )
        .with_field("value", level)
        .with_source(source)
    })
}

/// Logs the device facts, and returns the alerts: the security patch older than six months
/// before `today` (MEDIUM; `today` is a parameter so results do not drift with the calendar in
/// tests) and property names that indicators list (CRITICAL).
pub(crate) fn check_properties(
    records: &[Value],
    indicators: &Indicators,
    slug: &str,
    source: &str,
    today: Date,
) -> Vec<Alert> {
    let mut alerts = Vec::new();
    for record in records {
        let name = text(record, "name");
        if INTERESTING_PROPERTIES.contains(&name) {
            tracing::info!("{name}: {}", text(record, "value"));
        }
        if name == "ro.build.version.security_patch" {
            alerts.extend(patch_alert(record, today, slug, source));
        }
    }
    for record in records {
        if let Some(hit) = indicators.check_android_property(text(record, "name")) {
            alerts.push(
                Alert::indicator(Level::Critical, slug, hit, "name", "", record.clone())
                    .with_source(source),
            );
        }
    }
    alerts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bugreport::test_support::*;

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn mvt_fixture() {
        let Some(props) = fixture_text("getprop.txt") else {
            return;
        };
        let records = parse_getprop(&props);
        assert_eq!(records.len(), 13);
        assert_eq!(
            records[0],
            json!({"name": "af.fast_track_multiplier", "value": "1"})
        );
        let ind = indicators(&["[android-property:name = 'dalvik.vm.appimageformat']"]);
        let alerts = check_properties(&records, &ind, "s", "f", date("2024-01-01"));
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].level, Level::Critical);
    }

    #[test]
    fn security_patch_age() {
        let records =
            parse_getprop("[ro.build.version.security_patch]: [2023-01-05]\r\n[empty]: []\n");
        assert_eq!(records.len(), 1);
        let none = Indicators::new();
        assert!(check_properties(&records, &none, "s", "f", date("2023-07-10")).is_empty());
        let alerts = check_properties(&records, &none, "s", "f", date("2023-07-11"));
        assert_eq!(
            alerts[0].message,
            "This phone has not received security updates for more than six months (last update: 2023-01-05)."
        );
        let bad = parse_getprop("[ro.build.version.security_patch]: [soon]");
        assert!(check_properties(&bad, &none, "s", "f", date("2030-01-01")).is_empty());
    }

    #[test]
    fn dumpstate_block() {
        let dump = "------ SYSTEM PROPERTIES (getprop) ------\n[ro.build.version.security_patch]: [2000-01-01]\n\
                    [sys.foobar]: [1]\n------ 0.02s was the duration of 'SYSTEM PROPERTIES' ------\n[late]: [x]\n";
        let out = run_on_dumpstate(&DumpsysGetProp, dump, &test_stix2());
        assert_eq!(records(&out).len(), 2);
        assert_eq!(
            (
                count(&out.alerts, Level::Medium),
                count(&out.alerts, Level::Critical)
            ),
            (1, 1)
        );
        assert!(parse_getprop("[a]: [b\n[[]]: [[]]\n\u{0}").len() <= 1);
    }
}
