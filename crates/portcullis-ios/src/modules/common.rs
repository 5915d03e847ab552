//! Helpers shared by the artifact modules: finding and reading their files in the backup,
//! extracting links, and turning indicator hits into alerts and records into timeline rows, so
//! each module only describes its own artifact.

use portcullis_core::spool::RecordSpool;
use portcullis_core::{Alert, Level, ModuleOutput, TimelineEvent};
use portcullis_indicators::{IndicatorMatch, Indicators};
use rusqlite::Connection;
use serde_json::Value;

use crate::backup::{ManifestEntry, stored_path};
use crate::{Backup, Context, IosModule, ModuleError};

/// HomeDomain-Library/SMS/sms.db, read by the SMS and SMSAttachments modules.
pub(crate) const SMS_DB_IDS: &[&str] = &["3d0d7e5fb2ce288813306e4d4636395e047a3d28"];

/// AppDomainGroup-group.org.mozilla.ios.Firefox-profile.profile/browser.db, read by the
/// FirefoxHistory and FirefoxFavicon modules.
pub(crate) const FIREFOX_BROWSER_DB_IDS: &[&str] = &["2e57c396a35b0d1bcbc624725002d98bd61d142b"];

/// The Firefox database, as named when it is missing.
pub(crate) const FIREFOX_BROWSER_DB: &str = "Firefox browser.db";

/// Opens the first of `ids` stored in the backup (MVT's fixed-id lookup). Returns the connection
/// and the stored path, which records and alerts use to name the file.
pub(crate) fn open_fixed(
    backup: &Backup,
    ids: &[&str],
    what: &str,
) -> Result<(Connection, String), ModuleError> {
    let id = backup
        .first_stored(ids)
        .ok_or_else(|| ModuleError::NotFound(what.to_string()))?;
    let conn = backup.open_sqlite(&id)?;
    Ok((conn, stored_path(&id)))
}

/// Reads the first of `ids` stored in the backup as a property list whose top level must be a
/// dictionary. Returns the dictionary and the stored path, as [`open_fixed`] does.
pub(crate) fn read_fixed_dictionary(
    backup: &Backup,
    ids: &[&str],
    what: &str,
) -> Result<(plist::Dictionary, String), ModuleError> {
    let id = backup
        .first_stored(ids)
        .ok_or_else(|| ModuleError::NotFound(what.to_string()))?;
    let source = stored_path(&id);
    let dict = backup
        .read_plist(&id)?
        .into_dictionary()
        .ok_or_else(|| ModuleError::Parse {
            path: source.clone(),
            reason: "top level is not a dictionary".into(),
        })?;
    Ok((dict, source))
}

/// Every file stored in the backup whose Manifest.db relativePath matches one of `patterns`
/// (`*` wildcard, any domain), each once, in Manifest.db order. Rows listed in Manifest.db whose
/// file was not copied into the backup are skipped, as MVT does; none at all is `NotFound`.
pub(crate) fn stored_matches(
    backup: &Backup,
    patterns: &[&str],
) -> Result<Vec<ManifestEntry>, ModuleError> {
    let mut found: Vec<ManifestEntry> = Vec::new();
    let mut listed = false;
    for pattern in patterns {
        for entry in backup.find_by_relative_path(pattern)? {
            listed = true;
            if backup.has_file(&entry.file_id) && !found.iter().any(|f| f.file_id == entry.file_id)
            {
                found.push(entry);
            }
        }
    }
    if found.is_empty() {
        let names = patterns.join(", ");
        return Err(ModuleError::NotFound(if listed {
            format!("{names}: listed in Manifest.db but not stored in the backup")
        } else {
            names
        }));
    }
    Ok(found)
}

/// The property lists of an artifact kept in several files (configuration profiles, profile
/// events), read by [`read_stored_plists`].
pub(crate) struct StoredPlists {
    /// Each file that could be read: its Manifest.db row, stored path and contents.
    pub(crate) files: Vec<(ManifestEntry, String, plist::Value)>,
    /// The first read error. A damaged file is logged and skipped so it does not hide the
    /// others; its error is for the caller to report when nothing else was found.
    pub(crate) first_error: Option<ModuleError>,
}

/// Reads every file among `entries` (Manifest.db rows) that is stored in the backup; none stored
/// at all is `NotFound(what)`.
pub(crate) fn read_stored_plists(
    backup: &Backup,
    entries: Vec<ManifestEntry>,
    what: &str,
) -> Result<StoredPlists, ModuleError> {
    let stored: Vec<_> = entries
        .into_iter()
        .filter(|e| backup.has_file(&e.file_id))
        .collect();
    if stored.is_empty() {
        return Err(ModuleError::NotFound(what.to_string()));
    }
    let mut plists = StoredPlists {
        files: Vec::new(),
        first_error: None,
    };
    for entry in stored {
        match backup.read_plist(&entry.file_id) {
            Ok(plist) => {
                let source = stored_path(&entry.file_id);
                plists.files.push((entry, source, plist));
            }
            Err(e) => {
                tracing::warn!(
                    "{}: {} ({}): {e}",
                    entry.domain,
                    entry.relative_path,
                    entry.file_id
                );
                plists.first_error.get_or_insert(e.into());
            }
        }
    }
    Ok(plists)
}

pub(crate) use portcullis_core::text::find_links;

/// An indicator matching `field` of `event`, as the CRITICAL alert naming `source` that most
/// modules raise for a hit.
/// A module's records could not be written to its spool file in the results folder.
pub(crate) fn spool_error(slug: &str, source: std::io::Error) -> ModuleError {
    ModuleError::Parse {
        path: format!("{slug}.json"),
        reason: format!("cannot write the records: {source}"),
    }
}

pub(crate) fn critical_indicator_alert(
    slug: &str,
    hit: IndicatorMatch,
    field: &str,
    timestamp: impl Into<String>,
    event: Value,
    source: &str,
) -> Alert {
    Alert::indicator(Level::Critical, slug, hit, field, timestamp, event).with_source(source)
}

/// The first of `urls` (record field, URL) that matches an indicator, as a CRITICAL alert on
/// `event` naming `source`. Empty URLs are skipped.
pub(crate) fn url_alert<'a>(
    indicators: &Indicators,
    slug: &str,
    urls: impl IntoIterator<Item = (&'a str, &'a str)>,
    timestamp: &str,
    event: &Value,
    source: &str,
) -> Option<Alert> {
    urls.into_iter()
        .filter(|(_, url)| !url.is_empty())
        .find_map(|(field, url)| indicators.check_url(url).map(|hit| (field, hit)))
        .map(|(field, hit)| {
            critical_indicator_alert(slug, hit, field, timestamp, event.clone(), source)
        })
}

/// The output of a module whose records each carry URLs (visits, favicons, observed domains):
/// every record is kept, put on the timeline when it has a time, and checked against URL
/// indicators, so the browser modules only describe their rows.
pub(crate) struct UrlRecords<'a> {
    module: &'a IosModule,
    indicators: &'a Indicators,
    /// Timeline event name of every record.
    event: &'static str,
    /// Record field holding the record's ISO time.
    time_field: &'static str,
    /// Record fields holding URLs, checked in this order.
    url_fields: &'static [&'static str],
    out: ModuleOutput,
    records: RecordSpool,
    /// The first failure to write to the spool file, reported by `finish`.
    spool_failed: Option<std::io::Error>,
}

impl<'a> UrlRecords<'a> {
    pub(crate) fn new(
        module: &'a IosModule,
        ctx: &Context<'a>,
        event: &'static str,
        time_field: &'static str,
        url_fields: &'static [&'static str],
    ) -> Self {
        UrlRecords {
            module,
            indicators: ctx.indicators,
            event,
            time_field,
            url_fields,
            out: ModuleOutput::spilling(ctx.spool),
            records: RecordSpool::new(module.slug(), ctx.spool),
            spool_failed: None,
        }
    }

    /// Adds `record`, described on the timeline by `data`; its alert names `source`.
    pub(crate) fn add(&mut self, record: Value, data: String, source: &str) {
        let time = record[self.time_field].as_str();
        push_event(&mut self.out, self.module.name(), time, self.event, data);
        let urls = self
            .url_fields
            .iter()
            .map(|field| (*field, record[*field].as_str().unwrap_or("")));
        self.out.alerts.extend(url_alert(
            self.indicators,
            self.module.slug(),
            urls,
            time.unwrap_or(""),
            &record,
            source,
        ));
        if self.spool_failed.is_none()
            && let Err(e) = self.records.push(record)
        {
            self.spool_failed = Some(e);
        }
    }

    /// The module's output, with the records as its results.
    pub(crate) fn finish(mut self) -> Result<ModuleOutput, ModuleError> {
        let slug = self.module.slug();
        if let Some(e) = self.spool_failed {
            return Err(spool_error(slug, e));
        }
        self.out.results = self.records.finish().map_err(|e| spool_error(slug, e))?;
        Ok(self.out)
    }
}

/// Adds a timeline row when the event has a time (rows without one cannot be placed).
pub(crate) fn push_event(
    out: &mut ModuleOutput,
    module: &str,
    timestamp: Option<&str>,
    event: &str,
    data: String,
) {
    if let Some(ts) = timestamp.filter(|t| !t.is_empty()) {
        out.push_timeline(TimelineEvent {
            timestamp: ts.to_string(),
            plugin: module.to_string(),
            event: event.to_string(),
            data,
        });
    }
}
