//! `com.apple.identityservices.idstatuscache.plist`: which accounts (phone numbers, e-mail
//! addresses) the phone looked up on iMessage/FaceTime, and when. Spyware delivery over iMessage
//! has left lookups of attacker accounts and of odd, NUL-padded identifiers here.

use std::collections::HashMap;

use portcullis_core::{Alert, Level, ModuleOutput, Results, TimelineEvent};
use serde_json::json;

use super::common::{critical_indicator_alert, read_fixed_dictionary};
use crate::values::{plist_mac_iso, plist_to_json, py_str};
use crate::{Context, Module, ModuleError};

/// HomeDomain-Library/Preferences/com.apple.identityservices.idstatuscache.plist
const BACKUP_IDS: &[&str] = &["6b97989189901ceaa4e5be9b7f05fb584120e27b"];

pub struct IdStatusCache;

impl Module<Context<'_>> for IdStatusCache {
    fn name(&self) -> &'static str {
        "IDStatusCache"
    }

    fn slug(&self) -> &'static str {
        "id_status_cache"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let (services, source) = read_fixed_dictionary(
            ctx.backup,
            BACKUP_IDS,
            "com.apple.identityservices.idstatuscache.plist",
        )?;

        let mut records = Vec::new();
        for (package, users) in &services {
            let Some(users) = users.as_dictionary() else {
                continue;
            };
            for (user, entry) in users {
                let Some(entry) = entry.as_dictionary() else {
                    continue;
                };
                // Entries without both fields are not lookups (MVT skips them too).
                let (Some(date), Some(status)) = (entry.get("LookupDate"), entry.get("IDStatus"))
                else {
                    continue;
                };
                records.push(json!({
                    "package": package,
                    "user": user.replace('\0', "\\x00"),
                    "isodate": plist_mac_iso(date).unwrap_or_default(),
                    "idstatus": plist_to_json(status),
                }));
            }
        }
        let mut occurrences: HashMap<String, usize> = HashMap::new();
        for r in &records {
            *occurrences
                .entry(r["user"].as_str().unwrap_or_default().to_string())
                .or_default() += 1;
        }

        let mut out = ModuleOutput::spilling(ctx.spool);
        for record in &mut records {
            let user = record["user"].as_str().unwrap_or_default().to_string();
            record["occurrences"] = occurrences.get(&user).copied().unwrap_or(1).into();
            let isodate = record["isodate"].as_str().unwrap_or_default().to_string();
            out.push_timeline(TimelineEvent {
                timestamp: isodate.clone(),
                plugin: self.name().into(),
                event: "lookup".into(),
                data: format!(
                    "Lookup of {user} within {} (Status {})",
                    py_str(record.get("package")),
                    py_str(record.get("idstatus")),
                ),
            });

            if let Some(email) = user.strip_prefix("mailto:")
                && let Some(hit) = ctx.indicators.check_email(email.trim_matches('\''))
            {
                out.alerts.push(critical_indicator_alert(
                    self.slug(),
                    hit,
                    "user",
                    isodate,
                    record.clone(),
                    &source,
                ));
                continue;
            }
            // Runs with or without indicators (MVT only ran it when indicators were loaded).
            if user.contains("\\x00\\x00") {
                out.alerts.push(
                    Alert::heuristic(
                        Level::High,
                        self.slug(),
                        "Found an ID Status Cache entry with suspicious patterns",
                        isodate,
                        record.clone(),
                    )
                    .with_field("user", user.clone())
                    .with_source(source.clone())
                    .with_advice(
                        "The phone looked up an iMessage account with a malformed name, a pattern \
                         seen in zero-click spyware attacks. Keep the phone and this backup \
                         unchanged and ask a digital-security helpline to review it.",
                    ),
                );
            }
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

    const REL: &str = "Library/Preferences/com.apple.identityservices.idstatuscache.plist";

    fn lookup(date: f64, status: i64) -> P {
        let mut d = Dictionary::new();
        d.insert("IDStatus".into(), status.into());
        d.insert("LookupDate".into(), date.into());
        P::Dictionary(d)
    }

    fn cache() -> P {
        let mut madrid = Dictionary::new();
        madrid.insert("mailto:foobar@example.org".into(), lookup(600000000.5, 1));
        madrid.insert("tel:+15555550100".into(), lookup(600000100.0, 2));
        madrid.insert("mailto:x\0\0\0@icloud.com".into(), lookup(600000200.0, 1));
        madrid.insert("tel:+15555550199".into(), P::Dictionary(Dictionary::new()));
        let mut facetime = Dictionary::new();
        facetime.insert("tel:+15555550100".into(), lookup(600000300.0, 1));
        let mut top = Dictionary::new();
        top.insert("com.apple.madrid".into(), P::Dictionary(madrid));
        top.insert("com.apple.ess".into(), P::Dictionary(facetime));
        top.insert("LastSaveVersion".into(), 3.into());
        P::Dictionary(top)
    }

    #[test]
    fn lookups_occurrences_heuristic_and_email_hit() {
        let (_dir, root) = with_plist("HomeDomain", REL, &cache());
        let backup = Backup::open(&root).unwrap();
        let ind = indicators(&["[email-addr:value = 'foobar@example.org']"]);
        let out = run(&IdStatusCache, &backup, &ind).unwrap();

        let recs = list(&out);
        assert_eq!(
            recs.len(),
            4,
            "entries without LookupDate/IDStatus are skipped"
        );
        assert_eq!(
            recs[0],
            json!({"package": "com.apple.madrid", "user": "mailto:foobar@example.org",
                   "isodate": "2020-01-06 10:40:00.500000", "idstatus": 1, "occurrences": 1})
        );
        assert_eq!(recs[1]["occurrences"], 2);
        assert_eq!(recs[2]["user"], "mailto:x\\x00\\x00\\x00@icloud.com");
        assert_eq!(recs[3]["package"], "com.apple.ess");

        assert_eq!(out.timeline.len(), 4);
        assert_eq!(out.timeline[0].event, "lookup");
        assert_eq!(
            out.timeline[1].data,
            "Lookup of tel:+15555550100 within com.apple.madrid (Status 2)"
        );

        assert_eq!(out.alerts.len(), 2, "{:#?}", out.alerts);
        assert_eq!(out.alerts[0].level, Level::Critical);
        assert_eq!(
            out.alerts[0].matched_value.as_deref(),
            Some("foobar@example.org")
        );
        assert_eq!(
            out.alerts[0].timestamp.as_deref(),
            Some("2020-01-06 10:40:00.500000")
        );
        assert_eq!(out.alerts[1].level, Level::High);
        assert_eq!(
            out.alerts[1].message,
            "Found an ID Status Cache entry with suspicious patterns"
        );

        // The NUL pattern is flagged even without indicators.
        let out = run(&IdStatusCache, &backup, &Indicators::new()).unwrap();
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].level, Level::High);
    }

    #[test]
    fn corrupt_plist_names_the_file() {
        let (_dir, root) = with_file("HomeDomain", REL, b"bplist00\xff\xff not really");
        let backup = Backup::open(&root).unwrap();
        let err = run(&IdStatusCache, &backup, &Indicators::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("6b/6b97989189901ceaa4e5be9b7f05fb584120e27b"),
            "{err}"
        );

        let (_dir, root) = with_plist("HomeDomain", REL, &P::Array(vec![1.into()]));
        let backup = Backup::open(&root).unwrap();
        assert!(matches!(
            run(&IdStatusCache, &backup, &Indicators::new()),
            Err(ModuleError::Parse { .. })
        ));
    }

    #[test]
    fn fixture_has_no_id_status_cache() {
        let Some(backup) = fixture_backup() else {
            return;
        };
        assert!(matches!(
            run(&IdStatusCache, &backup, &Indicators::new()),
            Err(ModuleError::NotFound(_))
        ));
    }
}
