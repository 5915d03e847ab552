//! `portcullis demo`: a small, realistic synthetic iOS backup with one planted indicator hit,
//! built with the project's own backup builder, then checked like any other backup.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use portcullis_ios::builder::BackupBuilder;

use crate::check::{CheckArgs, IndicatorArgs, exit_code};

/// The planted indicator: a domain in an SMS link, as in real Pegasus/Predator lures.
const PLANTED_DOMAIN: &str = "tracking-parcel-update.example";

/// Mac absolute time of the planted SMS (2024-03-12 09:14:05 UTC).
const SMS_DATE_MAC_NS: i64 = 732_014_045_000_000_000;

fn sms_db() -> String {
    format!(
        "CREATE TABLE handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, \
           country TEXT, service TEXT NOT NULL, uncanonicalized_id TEXT, person_centric_id TEXT);
         CREATE TABLE message (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, \
           text TEXT, replace INTEGER DEFAULT 0, service_center TEXT, handle_id INTEGER DEFAULT 0, \
           subject TEXT, country TEXT, attributedBody BLOB, version INTEGER DEFAULT 0, \
           type INTEGER DEFAULT 0, service TEXT, account TEXT, account_guid TEXT, \
           error INTEGER DEFAULT 0, date INTEGER, date_read INTEGER, date_delivered INTEGER, \
           is_delivered INTEGER DEFAULT 0, is_finished INTEGER DEFAULT 0, \
           is_from_me INTEGER DEFAULT 0, is_read INTEGER DEFAULT 0, cache_roomnames TEXT);
         INSERT INTO handle VALUES (1, '+447700900123', 'gb', 'SMS', NULL, NULL);
         INSERT INTO handle VALUES (2, '+447700900456', 'gb', 'iMessage', NULL, NULL);
         INSERT INTO message (guid, text, handle_id, service, account, date, date_read, is_from_me, is_read)
           VALUES ('6A1C3E2F-0D4B-4C55-9E1A-7F0B5C1D2E01', 'Your parcel is held at the depot. \
Reschedule delivery: https://{PLANTED_DOMAIN}/r/8841', 1, 'SMS', 'p:+447700900999', \
{SMS_DATE_MAC_NS}, 0, 0, 0);
         INSERT INTO message (guid, text, handle_id, service, account, date, date_read, is_from_me, is_read)
           VALUES ('0F9E8D7C-6B5A-4948-3726-150403020100', 'Committee papers are on the shared drive, \
see https://www.parliament.uk/business/committees/', 2, 'iMessage', 'e:member@example.org', \
{}, {}, 0, 1);",
        SMS_DATE_MAC_NS + 3_600_000_000_000,
        SMS_DATE_MAC_NS + 3_900_000_000_000,
    )
}

fn global_preferences() -> plist::Value {
    let mut d = plist::Dictionary::new();
    d.insert(
        "AppleLanguages".into(),
        plist::Value::Array(vec!["en-GB".into()]),
    );
    d.insert("AppleLocale".into(), "en_GB".into());
    d.insert("LDMGlobalEnabled".into(), false.into());
    plist::Value::Dictionary(d)
}

/// Writes the demo backup and its indicator bundle into `dir`; returns (backup, bundle) paths.
pub fn build(dir: &std::path::Path) -> Result<(PathBuf, PathBuf)> {
    let backup = BackupBuilder::new(&dir.join("backup"))?
        .info("Device Name", "Demo iPhone")
        .info("Serial Number", "DEMO0000000")
        .manifest_only("HomeDomain", "Library", 2)
        .manifest_only("HomeDomain", "Library/SMS", 2)
        .sqlite("HomeDomain", "Library/SMS/sms.db", &sms_db())?
        .plist(
            "HomeDomain",
            "Library/Preferences/.GlobalPreferences.plist",
            &global_preferences(),
        )?
        .finish()?;
    let bundle = dir.join("demo-indicators.stix2");
    let json = portcullis_indicators::test_bundle_json(
        "DemoSpyware",
        &[
            &format!("[domain-name:value = '{PLANTED_DOMAIN}']"),
            "[process:name = 'demo-implant']",
        ],
    );
    std::fs::write(&bundle, json).with_context(|| format!("writing {}", bundle.display()))?;
    Ok((backup, bundle))
}

pub fn run(dir: Option<PathBuf>) -> Result<ExitCode> {
    let dir = dir.unwrap_or_else(|| crate::check::new_results_folder("demo"));
    let (backup, bundle) = build(&dir)?;
    println!("Built a synthetic iOS backup at {}", backup.display());
    println!(
        "with a planted indicator ({PLANTED_DOMAIN}) in {}\n",
        bundle.display()
    );
    let args = CheckArgs {
        path: backup,
        kind: None,
        devices: None,
        // Its own planted collection only, so the demo reads the same on every machine.
        indicators: IndicatorArgs {
            iocs: vec![bundle],
            no_installed: true,
            include_expired: false,
        },
        output: Some(dir.join("results")),
        // The demo's folder is its own: a second run replaces its earlier results.
        force: true,
        json: false,
        password: Default::default(),
        age_identity: None,
        timezone: None,
        submit: None,
        token_file: None,
    };
    let (checked, _) = crate::check::check(&args)?;
    print!(
        "{}",
        crate::summary::render(&checked.report, &checked.output_dir)
    );
    Ok(ExitCode::from(exit_code(&checked.report)))
}
