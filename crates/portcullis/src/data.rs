//! `portcullis data`: the OS-currency reference data ("is this iOS current?"), bundled in the
//! binary and replaceable by a newer SOFA feed or legacy-model table, checked by schema and
//! SHA-256.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use portcullis_posture::Snapshot;
use portcullis_posture::currency::{
    STALE_AFTER_DAYS, is_legacy_table, load_legacy_override, save_legacy, sha256_hex,
};

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Replace the OS-currency data with a SOFA iOS feed (v2 JSON), or the table of models
    /// Apple no longer updates with a newer one (schema portcullis-ios-legacy/1, see the data
    /// README), from a file or a URL. Only this command contacts the network, and only when
    /// given a URL.
    Update {
        /// A saved feed file, or an https:// URL to download it from.
        source: String,
        /// Refuse the feed unless its SHA-256 is this (64 hex digits).
        #[arg(long, value_name = "HEX")]
        sha256: Option<String>,
    },
    /// Show which OS-currency data checks use and its date.
    Show,
}

/// Where updated reference data is kept: `$PORTCULLIS_DATA_DIR`, else the user's data folder.
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PORTCULLIS_DATA_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("portcullis")
}

/// Most bytes accepted from a feed or table (the real feed is ~200 KB).
const MAX_FEED: u64 = 32 << 20;

fn fetch(source: &str) -> Result<Vec<u8>> {
    if source.starts_with("https://") || source.starts_with("http://") {
        let agent = portcullis_feeds::http::agent();
        return match portcullis_feeds::http::get(&agent, source, Default::default(), MAX_FEED)? {
            portcullis_feeds::http::Fetched::Body { bytes, .. } => Ok(bytes),
            portcullis_feeds::http::Fetched::NotModified => {
                bail!("{source}: answered 304 to a plain request")
            }
        };
    }
    let bytes = std::fs::read(source).with_context(|| format!("reading {source}"))?;
    if bytes.len() as u64 > MAX_FEED {
        bail!("{source} is larger than {MAX_FEED} bytes: not a SOFA feed");
    }
    Ok(bytes)
}

pub fn run(cmd: &DataCommand) -> Result<ExitCode> {
    match cmd {
        DataCommand::Update { source, sha256 } => {
            let bytes = fetch(source)?;
            let digest = sha256_hex(&bytes);
            if let Some(expected) = sha256
                && !expected.eq_ignore_ascii_case(&digest)
            {
                bail!("{source}: SHA-256 is {digest}, not the expected {expected}");
            }
            if is_legacy_table(&bytes) {
                return update_legacy(source, &bytes, &digest);
            }
            let snapshot = Snapshot::from_sofa_feed(&bytes)
                .with_context(|| format!("{source} is not a valid SOFA iOS feed"))?;
            let saved = snapshot.save(&data_dir())?;
            let info = snapshot.info();
            println!(
                "OS data updated: {} ({}), SHA-256 {digest}, saved to {}",
                info.date,
                info.source,
                saved.display()
            );
        }
        DataCommand::Show => {
            let dir = data_dir();
            let updated = matches!(Snapshot::load_override(&dir), Ok(Some(_)));
            let snapshot = Snapshot::load_or_bundled(&dir);
            let info = snapshot.info();
            let origin = |updated: bool| {
                if updated {
                    format!("updated copy in {}", dir.display())
                } else {
                    "bundled with this program".to_string()
                }
            };
            let legacy_updated = matches!(load_legacy_override(&dir),
                Ok(Some((t, _))) if t.as_of == snapshot.ios.legacy.as_of);
            println!("OS data: {} ({})", info.date, origin(updated));
            println!(
                "Legacy-model table: {} ({})",
                snapshot.ios.legacy.as_of,
                origin(legacy_updated)
            );
            for p in &info.parts {
                let age = p
                    .age_days
                    .map_or_else(String::new, |d| format!(" ({d} days old)"));
                println!("  {} ({}): as of {}{age}", p.part, p.name, p.as_of);
                if p.stale {
                    println!(
                        "    WARNING: {} is older than {STALE_AFTER_DAYS} days: checks may miss newer \
                         releases and newly exploited flaws; update the data",
                        p.part
                    );
                }
            }
            println!("SHA-256: {}", info.sha256);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Saves a newer legacy-model table; one older than the table in use is refused, so a newer
/// saved table is never overwritten by mistake.
fn update_legacy(source: &str, bytes: &[u8], digest: &str) -> Result<ExitCode> {
    let dir = data_dir();
    let in_use = Snapshot::load_or_bundled(&dir).ios.legacy.as_of;
    let table = portcullis_posture::legacy::LegacyTable::from_json(bytes)
        .map_err(|e| anyhow::anyhow!(e))
        .with_context(|| format!("{source} is not a valid legacy-model table"))?;
    if table.as_of < in_use {
        bail!(
            "{source}: the table is of {}, older than the one in use ({in_use}); not saved",
            table.as_of
        );
    }
    let (table, saved) = save_legacy(bytes, &dir)?;
    println!(
        "Legacy-model table updated: {} ({} models), SHA-256 {digest}, saved to {}",
        table.as_of,
        table.models.len(),
        saved.display()
    );
    Ok(ExitCode::SUCCESS)
}
