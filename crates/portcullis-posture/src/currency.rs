//! "Is this OS current?": a compact, dated snapshot of OS release data.
//!
//! The snapshot holds, for iOS, the newest release offered to each device model in each major
//! version, the models Apple still ships updates for, the final version of models it no longer
//! updates, and which releases fixed actively exploited flaws; for Android, which releases still
//! get security bulletins, which patch levels fixed actively exploited flaws, and end-of-update
//! dates of some models.
//!
//! A snapshot is compiled into the binary ([`Snapshot::bundled`], `data/os-currency.json`,
//! derived from SOFA's iOS feed plus hand-curated tables, see `data/README.md`). It can be
//! replaced by a newer SOFA feed ([`Snapshot::from_sofa_feed`]) saved in the data folder
//! ([`Snapshot::save`], [`Snapshot::load_or_bundled`]). Offline, the data can prove a phone
//! "older than the newest version we know of", never "current": every report shows its date.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use portcullis_report::{OsDataInfo, OsDataPart};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use crate::legacy::{LEGACY_SCHEMA, LegacyModel, LegacyRelease, LegacyTable};
use crate::version::{Version, compare};

/// [`SourceRef::part`] of SOFA's feed (supported models, releases, exploited flaws).
pub const PART_IOS_FEED: &str = "ios_feed";
/// [`SourceRef::part`] of the table of models Apple no longer updates.
pub const PART_IOS_LEGACY: &str = "ios_legacy";

/// A part of the data older than this many days at the time of a check is flagged as stale:
/// Apple and Google ship security releases about monthly, so a quarter-old table misses some.
pub const STALE_AFTER_DAYS: i64 = 90;

/// The `schema` value of snapshots this build reads and writes.
pub const SCHEMA: &str = "portcullis-os-currency/2";
/// File name of a saved snapshot in the data folder.
pub const FILE_NAME: &str = "os-currency.json";
/// File holding the SHA-256 (hex) of [`FILE_NAME`], checked on load.
pub const HASH_FILE_NAME: &str = "os-currency.json.sha256";
/// File name of a saved legacy-model table in the data folder (the file as published).
pub const LEGACY_FILE_NAME: &str = "ios-legacy.json";
/// File holding the SHA-256 (hex) of [`LEGACY_FILE_NAME`], checked on load.
pub const LEGACY_HASH_FILE_NAME: &str = "ios-legacy.json.sha256";

const BUNDLED: &str = include_str!("../data/os-currency.json");
/// The hand-curated tables SOFA does not carry, merged into every snapshot built from a feed.
const CURATED: &str = include_str!("../data/curated.json");

#[derive(Deserialize)]
struct Curated {
    sources: Vec<SourceRef>,
    ios_legacy: LegacyTable,
    android: AndroidData,
}

fn curated() -> Curated {
    serde_json::from_str(CURATED).expect("curated.json is valid")
}

#[derive(Debug, thiserror::Error)]
pub enum CurrencyError {
    #[error("not a SOFA iOS data feed (v2): {0}")]
    NotSofa(String),
    #[error("not a legacy-model table ({LEGACY_SCHEMA}): {0}")]
    NotLegacy(String),
    #[error("the data does not match its expected SHA-256: expected {expected}, got {actual}")]
    HashMismatch { expected: String, actual: String },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, CurrencyError>;

/// Where a part of the snapshot came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    /// Which part of the data it describes ([`PART_IOS_FEED`], [`PART_IOS_LEGACY`], …): each part
    /// is dated, and can go stale, on its own.
    pub part: String,
    pub name: String,
    pub url: String,
    /// The date or time the source describes.
    pub as_of: String,
    /// SHA-256 of the source document, when the snapshot was derived from a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// One iOS major version as the data knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IosMajor {
    pub major: u32,
    /// Newest release of this major (for some model).
    pub latest: String,
    pub released: String,
}

/// A device model Apple still ships updates for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IosModel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Newest version offered to this model, per major version.
    pub latest: BTreeMap<u32, String>,
}

/// One release that fixed an actively exploited flaw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fix {
    pub version: String,
    /// Only set when the release was for some models only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<Vec<String>>,
}

/// An actively exploited iOS flaw and the releases that fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExploitedCve {
    pub cve: String,
    pub fixed_in: Vec<Fix>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IosData {
    pub majors: Vec<IosMajor>,
    pub models: BTreeMap<String, IosModel>,
    /// Models SOFA no longer lists, with their final releases.
    pub legacy: LegacyTable,
    pub exploited: Vec<ExploitedCve>,
}

/// An Android release and when it left the security bulletins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AndroidRelease {
    pub release: String,
    pub sdk: u32,
    /// Last bulletin that covered it (`YYYY-MM-DD`); `None` while still covered.
    #[serde(default)]
    pub eol: Option<String>,
    /// The bulletin (or page) the row was checked against.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A patch level that fixed actively exploited flaws.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AndroidExploitedFix {
    /// Security patch level (`YYYY-MM-01` or `YYYY-MM-05`).
    pub patch: String,
    pub cves: Vec<String>,
    /// The monthly bulletin that flags them.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The end of a model's guaranteed security updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelEol {
    /// `YYYY-MM-DD`.
    pub eol: String,
    /// The maker's page the date was checked against.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AndroidData {
    pub releases: Vec<AndroidRelease>,
    pub exploited: Vec<AndroidExploitedFix>,
    /// `ro.product.model` → end of guaranteed security updates.
    #[serde(default)]
    pub models_eol: BTreeMap<String, ModelEol>,
}

/// The OS-currency data a posture check is judged against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub schema: String,
    /// The date the iOS feed describes (`YYYY-MM-DD`); each part's own date is its source's
    /// `as_of`.
    pub date: String,
    /// One per part of the data, feed first.
    pub sources: Vec<SourceRef>,
    pub ios: IosData,
    pub android: AndroidData,
}

/// What the data says about one iPhone/iPad and its iOS version. `None` = cannot tell.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IosAssessment {
    pub model_name: Option<String>,
    /// Apple still ships updates for the model.
    pub supported: Option<bool>,
    /// Newest version offered to the model on the device's branch (or its final version).
    pub latest_for_model: Option<String>,
    /// Newest version with security fixes on that branch: what "behind" is judged against
    /// (older than `latest_for_model` when a final release only renewed certificates).
    pub latest_security_for_model: Option<String>,
    pub behind_latest: Option<bool>,
    pub newest_major: Option<u32>,
    pub newer_major_available: Option<bool>,
    /// Actively exploited flaws fixed in a release the device could install but has not.
    pub missing_exploited: Option<Vec<String>>,
    /// The release of the model's branch that renewed the certificates iMessage, FaceTime and
    /// activation need after January 2027 (unsupported models only).
    pub certificate_release: Option<String>,
    /// The device runs an iOS older than that, so those services stop in January 2027. False
    /// for supported models on a current branch; unknown for old models without such a release.
    pub below_certificate_release: Option<bool>,
}

/// SOFA's v2 iOS feed, as far as the snapshot needs it (missing fields are schema errors).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SofaFeed {
    version: String,
    update_hash: String,
    last_check: String,
    #[serde(rename = "OSVersions")]
    os_versions: Vec<SofaOs>,
    devices: BTreeMap<String, SofaDevice>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SofaDevice {
    marketing_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SofaOs {
    #[serde(rename = "OSVersion")]
    os_version: String,
    latest: SofaRelease,
    security_releases: Vec<SofaRelease>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SofaRelease {
    product_version: String,
    release_date: String,
    #[serde(default)]
    supported_devices: Option<Vec<String>>,
    #[serde(rename = "ActivelyExploitedCVEs")]
    actively_exploited_cves: Vec<String>,
    #[serde(rename = "CVEs")]
    cves: serde_json::Map<String, serde_json::Value>,
    device_scope: String,
}

/// SHA-256 of `bytes` in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Snapshot {
    /// The snapshot compiled into this build.
    pub fn bundled() -> Snapshot {
        Snapshot::from_json(BUNDLED.as_bytes()).expect("bundled os-currency.json is valid")
    }

    /// Parses a snapshot in this project's format, checking its schema.
    pub fn from_json(bytes: &[u8]) -> std::result::Result<Snapshot, String> {
        let snap: Snapshot = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        snap.validate()?;
        Ok(snap)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.schema != SCHEMA {
            return Err(format!(
                "schema is {:?}, this build reads {SCHEMA:?}",
                self.schema
            ));
        }
        if crate::version::parse_date(&self.date).is_none() {
            return Err(format!("date {:?} is not YYYY-MM-DD", self.date));
        }
        if self.ios.models.is_empty() || self.ios.majors.is_empty() {
            return Err("no iOS models or versions".into());
        }
        for (model, entry) in &self.ios.models {
            for v in entry.latest.values() {
                Version::parse(v).ok_or_else(|| format!("{model}: bad version {v:?}"))?;
            }
        }
        self.ios
            .legacy
            .validate()
            .map_err(|e| format!("legacy table: {e}"))?;
        // Every Android row cites where it was checked.
        let cited = |what: String, source: &str| {
            (!source.trim().is_empty())
                .then_some(())
                .ok_or_else(|| format!("{what}: no source"))
        };
        for fix in &self.android.exploited {
            crate::version::parse_date(&fix.patch)
                .ok_or_else(|| format!("bad patch level {:?}", fix.patch))?;
            cited(format!("patch level {}", fix.patch), &fix.source)?;
        }
        for r in &self.android.releases {
            cited(format!("Android {}", r.release), &r.source)?;
        }
        for (model, e) in &self.android.models_eol {
            crate::version::parse_date(&e.eol)
                .ok_or_else(|| format!("{model}: bad date {:?}", e.eol))?;
            cited(model.clone(), &e.source)?;
        }
        Ok(())
    }

    /// Builds a snapshot from SOFA's iOS data feed (v2, `ios_data_feed.json`). The feed gives
    /// the iOS part; the tables SOFA does not carry (final versions of models it no longer
    /// lists, and the Android data) come from this build's curated tables
    /// (`data/curated.json`).
    pub fn from_sofa_feed(bytes: &[u8]) -> Result<Snapshot> {
        let feed: SofaFeed =
            serde_json::from_slice(bytes).map_err(|e| CurrencyError::NotSofa(e.to_string()))?;
        if !feed.version.starts_with("2.") {
            return Err(CurrencyError::NotSofa(format!(
                "feed version {:?}; only the v2 feed is read",
                feed.version
            )));
        }
        let date = feed.last_check.get(..10).unwrap_or("").to_string();
        if crate::version::parse_date(&date).is_none() {
            return Err(CurrencyError::NotSofa(format!(
                "LastCheck {:?} is not a date",
                feed.last_check
            )));
        }
        if feed.os_versions.is_empty() {
            return Err(CurrencyError::NotSofa("no OSVersions".into()));
        }

        let mut majors = Vec::new();
        let mut models: BTreeMap<String, IosModel> = BTreeMap::new();
        let mut exploited: BTreeMap<String, Vec<Fix>> = BTreeMap::new();
        for os in &feed.os_versions {
            let major: u32 = os.os_version.trim().parse().map_err(|_| {
                CurrencyError::NotSofa(format!("OSVersion {:?} is not a number", os.os_version))
            })?;
            let releases = std::iter::once(&os.latest).chain(&os.security_releases);
            for rel in releases.clone() {
                let v = Version::parse(&rel.product_version).ok_or_else(|| {
                    CurrencyError::NotSofa(format!("bad ProductVersion {:?}", rel.product_version))
                })?;
                if v.major() != major {
                    return Err(CurrencyError::NotSofa(format!(
                        "release {} listed under major {major}",
                        rel.product_version
                    )));
                }
                for device in rel.supported_devices.iter().flatten() {
                    let entry = models.entry(device.clone()).or_insert_with(|| IosModel {
                        name: feed.devices.get(device).map(|d| d.marketing_name.clone()),
                        latest: BTreeMap::new(),
                    });
                    let slot = entry.latest.entry(major).or_insert_with(|| "0".into());
                    if compare(&rel.product_version, slot) == Some(Ordering::Greater) {
                        *slot = rel.product_version.clone();
                    }
                }
            }
            // An exploited CVE counts as fixed by every release listing it (SOFA marks the
            // CVE as exploited in each), so a backport on an older branch is recognised.
            for rel in &os.security_releases {
                for (cve, detail) in &rel.cves {
                    let flagged = rel.actively_exploited_cves.contains(cve)
                        || detail.get("ActivelyExploited") == Some(&serde_json::Value::Bool(true));
                    if !flagged {
                        continue;
                    }
                    let devices = (rel.device_scope != "universal")
                        .then(|| rel.supported_devices.clone())
                        .flatten()
                        .filter(|d| !d.is_empty());
                    let fixes = exploited.entry(cve.clone()).or_default();
                    let fix = Fix {
                        version: rel.product_version.clone(),
                        devices,
                    };
                    if !fixes.contains(&fix) {
                        fixes.push(fix);
                    }
                }
            }
            majors.push(IosMajor {
                major,
                latest: os.latest.product_version.clone(),
                released: os.latest.release_date.get(..10).unwrap_or("").to_string(),
            });
        }
        majors.sort_by_key(|m| std::cmp::Reverse(m.major));
        for fixes in exploited.values_mut() {
            fixes.sort_by(|a, b| compare(&b.version, &a.version).unwrap_or(Ordering::Equal));
        }
        let curated = curated();
        let mut sources = vec![SourceRef {
            part: PART_IOS_FEED.into(),
            name: "SOFA iOS data feed v2 (macadmins/sofa)".into(),
            url: "https://sofafeed.macadmins.io/v2/ios_data_feed.json".into(),
            as_of: feed.last_check.clone(),
            sha256: Some(sha256_hex(bytes)),
            note: format!("UpdateHash {}", feed.update_hash),
        }];
        sources.extend(curated.sources);
        let mut snap = Snapshot {
            schema: SCHEMA.into(),
            date,
            sources,
            ios: IosData {
                majors,
                models,
                legacy: LegacyTable::default(),
                exploited: exploited
                    .into_iter()
                    .map(|(cve, fixed_in)| ExploitedCve { cve, fixed_in })
                    .collect(),
            },
            android: curated.android,
        };
        snap.set_legacy(curated.ios_legacy, None);
        snap.validate().map_err(CurrencyError::NotSofa)?;
        Ok(snap)
    }

    /// Puts `table` in as the legacy part (its source entry too, with the SHA-256 of the file
    /// it came from). Models the iOS feed lists are left out: Apple updates them again.
    pub fn set_legacy(&mut self, mut table: LegacyTable, sha256: Option<String>) {
        table.models.retain(|m, _| !self.ios.models.contains_key(m));
        let source = SourceRef {
            part: PART_IOS_LEGACY.into(),
            name: table.name.clone(),
            url: table.url.clone(),
            as_of: table.as_of.clone(),
            sha256,
            note: table.note.clone(),
        };
        self.sources.retain(|s| s.part != PART_IOS_LEGACY);
        // Right after the feed's source, as in every snapshot.
        self.sources.insert(1.min(self.sources.len()), source);
        self.ios.legacy = table;
    }

    /// [`Snapshot::from_sofa_feed`] after checking the feed's SHA-256 (hex, any case).
    pub fn from_sofa_feed_verified(bytes: &[u8], expected_sha256: &str) -> Result<Snapshot> {
        let actual = sha256_hex(bytes);
        if !actual.eq_ignore_ascii_case(expected_sha256.trim()) {
            return Err(CurrencyError::HashMismatch {
                expected: expected_sha256.trim().to_lowercase(),
                actual,
            });
        }
        Snapshot::from_sofa_feed(bytes)
    }

    /// The snapshot as written to disk (pretty JSON).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("snapshot serialises");
        s.push('\n');
        s
    }

    /// Writes the snapshot into `data_dir` (created if missing) with its SHA-256 beside it.
    /// Returns the snapshot file's path.
    pub fn save(&self, data_dir: &Path) -> Result<PathBuf> {
        save_with_hash(
            data_dir,
            FILE_NAME,
            HASH_FILE_NAME,
            self.to_json().as_bytes(),
        )
    }

    /// The snapshot saved in `data_dir`, if there is one. Errors when it is there but damaged:
    /// its SHA-256 does not match, or it does not parse as this schema.
    pub fn load_override(data_dir: &Path) -> Result<Option<Snapshot>> {
        let Some(bytes) = load_with_hash(data_dir, FILE_NAME, HASH_FILE_NAME)? else {
            return Ok(None);
        };
        Snapshot::from_json(&bytes)
            .map(Some)
            .map_err(|reason| CurrencyError::Invalid {
                path: data_dir.join(FILE_NAME),
                reason,
            })
    }

    /// The saved snapshot in `data_dir` when it is valid and not older than the bundled one;
    /// otherwise the bundled snapshot (a damaged saved one is logged, not fatal).
    /// The newest legacy table known wins: the saved one, else this build's (a snapshot saved
    /// by an older build carries that build's table).
    pub fn load_or_bundled(data_dir: &Path) -> Snapshot {
        let bundled = Snapshot::bundled();
        let mut snap = Snapshot::load_feed_or(data_dir, bundled.clone());
        if bundled.ios.legacy.as_of > snap.ios.legacy.as_of {
            snap.set_legacy(bundled.ios.legacy, None);
        }
        match load_legacy_override(data_dir) {
            Ok(Some((table, sha))) if table.as_of >= snap.ios.legacy.as_of => {
                snap.set_legacy(table, Some(sha));
            }
            Ok(Some((table, _))) => tracing::info!(
                "saved legacy table of {} is older than the one of {}; using the newer",
                table.as_of,
                snap.ios.legacy.as_of
            ),
            Ok(None) => {}
            Err(e) => tracing::warn!("ignoring saved legacy table: {e}"),
        }
        snap
    }

    /// The saved snapshot when valid and not older than `bundled`, else `bundled`.
    fn load_feed_or(data_dir: &Path, bundled: Snapshot) -> Snapshot {
        match Snapshot::load_override(data_dir) {
            Ok(Some(saved)) if saved.date >= bundled.date => saved,
            Ok(Some(saved)) => {
                tracing::info!(
                    "saved OS data of {} is older than the bundled data of {}; using the bundled",
                    saved.date,
                    bundled.date
                );
                bundled
            }
            Ok(None) => bundled,
            Err(e) => {
                tracing::warn!("ignoring saved OS data: {e}");
                bundled
            }
        }
    }

    /// Date, origin and hash of the data, for a report made today.
    pub fn info(&self) -> OsDataInfo {
        self.info_on(crate::today())
    }

    /// Date, origin and hash of the data, and each part's date and age on `today`.
    pub fn info_on(&self, today: jiff::civil::Date) -> OsDataInfo {
        let parts = self
            .sources
            .iter()
            .map(|s| {
                let age_days = crate::version::parse_date(&s.as_of)
                    .map(|d| crate::version::days_between(d, today));
                OsDataPart {
                    part: s.part.clone(),
                    name: s.name.clone(),
                    as_of: s.as_of.get(..10).unwrap_or(&s.as_of).to_string(),
                    age_days,
                    stale: age_days.is_none_or(|d| d > STALE_AFTER_DAYS),
                }
            })
            .collect();
        let source = self
            .sources
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        OsDataInfo {
            date: self.date.clone(),
            source,
            sha256: sha256_hex(self.to_json().as_bytes()),
            parts,
        }
    }

    /// The marketing name of an iOS model, when the data knows it.
    pub fn ios_model_name(&self, model: &str) -> Option<String> {
        self.ios
            .models
            .get(model)
            .and_then(|m| m.name.clone())
            .or_else(|| self.ios.legacy.models.get(model).map(|l| l.name.clone()))
    }

    /// Whether an identifier like `iPhone19,1` is newer than every model of its family the data
    /// knows (so its absence says nothing); `None` when the family is unknown.
    fn newer_than_known(&self, model: &str) -> Option<bool> {
        let split = |m: &str| -> Option<(String, u32)> {
            let family: String = m.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
            let rest = &m[family.len()..];
            let num: u32 = rest.split(',').next()?.parse().ok()?;
            Some((family, num))
        };
        let (family, num) = split(model)?;
        let max = self
            .ios
            .models
            .keys()
            .chain(self.ios.legacy.models.keys())
            .filter_map(|m| split(m))
            .filter(|(f, _)| *f == family)
            .map(|(_, n)| n)
            .max()?;
        Some(num > max)
    }

    /// Judges an iOS device by the newest version offered for *its* model (not the newest iOS
    /// overall: a fully patched phone on its last supported branch is not outdated).
    pub fn assess_ios(&self, model: Option<&str>, version: Option<&str>) -> IosAssessment {
        let mut out = IosAssessment::default();
        let Some(model) = model else {
            return out;
        };
        out.model_name = self.ios_model_name(model);
        let version = version.and_then(Version::parse);
        if let Some(entry) = self.ios.models.get(model) {
            out.supported = Some(true);
            let newest_major = entry.latest.keys().max().copied();
            out.newest_major = newest_major;
            let Some(v) = version else {
                return out;
            };
            let Some(newest_major) = newest_major else {
                return out;
            };
            let newest = &entry.latest[&newest_major];
            if let Some(latest) = entry.latest.get(&v.major()) {
                out.latest_for_model = Some(latest.clone());
                out.latest_security_for_model = Some(latest.clone());
                out.behind_latest = Version::parse(latest).map(|l| v < l);
            } else if v.major() > newest_major {
                // Newer than the data: it cannot be shown to be behind.
                out.latest_for_model = Some(newest.clone());
                out.latest_security_for_model = Some(newest.clone());
                out.behind_latest = Some(false);
            } else {
                // An older branch no longer offered to this model.
                out.latest_for_model = Some(newest.clone());
                out.latest_security_for_model = Some(newest.clone());
                out.behind_latest = Some(true);
            }
            out.newer_major_available = Some(v.major() < newest_major);
            let majors: BTreeSet<u32> = entry.latest.keys().copied().collect();
            out.missing_exploited = Some(self.missing_exploited(model, &v, &majors));
            // The January 2026 renewals were for iOS 12, 15 and 16; a branch the feed still
            // carries is current.
            let oldest_current = self.ios.majors.iter().map(|m| m.major).min();
            if oldest_current.is_some_and(|m| v.major() >= m) {
                out.below_certificate_release = Some(false);
            }
        } else if let Some(legacy) = self.ios.legacy.models.get(model) {
            out.supported = Some(false);
            out.latest_for_model = Some(legacy.latest.clone());
            out.latest_security_for_model = Some(legacy.latest_security.clone());
            let major = Version::parse(&legacy.latest).map(|l| l.major());
            out.newest_major = major;
            if let (Some(v), Some(security), Some(major)) =
                (&version, Version::parse(&legacy.latest_security), major)
            {
                out.behind_latest = Some(*v < security);
                out.newer_major_available = Some(v.major() < major);
                out.missing_exploited =
                    Some(self.missing_exploited(model, v, &BTreeSet::from([major])));
            }
            if let Some((cert, release)) = self.ios.legacy.certificate_release(legacy) {
                out.certificate_release = Some(release.version.clone());
                out.below_certificate_release = version.as_ref().map(|v| *v < cert);
            }
        } else if self.newer_than_known(model) == Some(false) {
            out.supported = Some(false);
        }
        out
    }

    /// Exploited CVEs fixed in a release newer than `v` on a branch the model can run, and not
    /// fixed on the device's own branch at or below `v`. The fixes are the feed's and, for a
    /// legacy model, those of the legacy releases offered to it.
    fn missing_exploited(&self, model: &str, v: &Version, majors: &BTreeSet<u32>) -> Vec<String> {
        let applies = |fix: &Fix| {
            fix.devices
                .as_ref()
                .is_none_or(|d| d.iter().any(|m| m == model))
        };
        let mut fixes: BTreeMap<&str, Vec<Version>> = BTreeMap::new();
        for cve in &self.ios.exploited {
            let versions = cve
                .fixed_in
                .iter()
                .filter(|f| applies(f))
                .filter_map(|f| Version::parse(&f.version));
            fixes.entry(&cve.cve).or_default().extend(versions);
        }
        let legacy = &self.ios.legacy;
        for (pv, rel) in legacy
            .models
            .get(model)
            .into_iter()
            .flat_map(|m| legacy.releases_for(m))
        {
            for cve in &rel.exploited {
                fixes.entry(cve).or_default().push(pv.clone());
            }
        }
        fixes
            .into_iter()
            .filter(|(_, versions)| {
                let fixed_here = versions.iter().any(|pv| pv.major() == v.major() && pv <= v);
                let offered_newer = versions
                    .iter()
                    .any(|pv| majors.contains(&pv.major()) && pv > v);
                offered_newer && !fixed_here
            })
            .map(|(cve, _)| cve.to_string())
            .collect()
    }

    /// Exploited Android flaws fixed at a patch level newer than `patch` (`YYYY-MM-DD`).
    pub fn android_missing_exploited(&self, patch: &str) -> Option<Vec<String>> {
        let patch = crate::version::parse_date(patch)?;
        Some(
            self.android
                .exploited
                .iter()
                .filter(|f| crate::version::parse_date(&f.patch).is_some_and(|p| p > patch))
                .flat_map(|f| f.cves.iter().cloned())
                .collect(),
        )
    }

    /// Whether an Android release (by SDK level) still gets security bulletins on `today`.
    pub fn android_release_supported(&self, sdk: u32, today: jiff::civil::Date) -> Option<bool> {
        let max = self.android.releases.iter().map(|r| r.sdk).max()?;
        let min = self.android.releases.iter().map(|r| r.sdk).min()?;
        if sdk > max {
            return Some(true); // newer than the data
        }
        if sdk < min {
            return Some(false);
        }
        let release = self.android.releases.iter().find(|r| r.sdk == sdk)?;
        Some(match &release.eol {
            None => true,
            Some(eol) => crate::version::parse_date(eol).is_some_and(|d| d > today),
        })
    }

    /// Whether an Android model is past its maker's update period on `today`; `None` when the
    /// data does not know the model.
    pub fn android_model_past_eol(&self, model: &str, today: jiff::civil::Date) -> Option<bool> {
        let eol = self
            .android
            .models_eol
            .iter()
            .find(|(m, _)| m.eq_ignore_ascii_case(model.trim()))?
            .1;
        Some(crate::version::parse_date(&eol.eol)? <= today)
    }
}

/// Checks a legacy-model table published in this project's format and saves it, as given,
/// into `data_dir` with its SHA-256 beside it. Returns the table and the saved file's path.
pub fn save_legacy(bytes: &[u8], data_dir: &Path) -> Result<(LegacyTable, PathBuf)> {
    let table = LegacyTable::from_json(bytes).map_err(CurrencyError::NotLegacy)?;
    let path = save_with_hash(data_dir, LEGACY_FILE_NAME, LEGACY_HASH_FILE_NAME, bytes)?;
    Ok((table, path))
}

/// The legacy table saved in `data_dir` and its SHA-256, if there is one; errors when it is
/// there but damaged (hash or schema).
pub fn load_legacy_override(data_dir: &Path) -> Result<Option<(LegacyTable, String)>> {
    let Some(bytes) = load_with_hash(data_dir, LEGACY_FILE_NAME, LEGACY_HASH_FILE_NAME)? else {
        return Ok(None);
    };
    let table = LegacyTable::from_json(&bytes).map_err(|reason| CurrencyError::Invalid {
        path: data_dir.join(LEGACY_FILE_NAME),
        reason,
    })?;
    Ok(Some((table, sha256_hex(&bytes))))
}

/// Whether `bytes` claim to be a legacy-model table (by their `schema`, any version), so an
/// update can tell one from a SOFA feed.
pub fn is_legacy_table(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Schema {
        schema: String,
    }
    let prefix = LEGACY_SCHEMA.split('/').next().unwrap_or(LEGACY_SCHEMA);
    serde_json::from_slice::<Schema>(bytes).is_ok_and(|s| s.schema.starts_with(prefix))
}

/// Writes `bytes` as `name` in `data_dir` (created if missing) and their SHA-256 as `hash_name`.
fn save_with_hash(data_dir: &Path, name: &str, hash_name: &str, bytes: &[u8]) -> Result<PathBuf> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CurrencyError::Io { path, source }
    };
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let path = data_dir.join(name);
    let hash_path = data_dir.join(hash_name);
    // Write to a temporary name first so a crash never leaves a half-written file.
    let tmp = data_dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::write(&hash_path, format!("{}\n", sha256_hex(bytes))).map_err(io(&hash_path))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok(path)
}

/// The bytes of `name` in `data_dir` when they match the SHA-256 in `hash_name`; `None` when
/// there is no such file.
fn load_with_hash(data_dir: &Path, name: &str, hash_name: &str) -> Result<Option<Vec<u8>>> {
    let path = data_dir.join(name);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(CurrencyError::Io { path, source }),
    };
    let hash_path = data_dir.join(hash_name);
    let expected = std::fs::read_to_string(&hash_path).map_err(|source| CurrencyError::Io {
        path: hash_path.clone(),
        source,
    })?;
    let expected = expected
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_lowercase();
    let actual = sha256_hex(&bytes);
    if expected != actual {
        return Err(CurrencyError::HashMismatch { expected, actual });
    }
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_snapshot_is_valid_and_dated() {
        let s = Snapshot::bundled();
        assert_eq!(s.schema, SCHEMA);
        assert!(crate::version::parse_date(&s.date).is_some());
        assert!(!s.sources.is_empty());
        assert!(s.ios.models.contains_key("iPhone11,2"));
        assert!(s.ios.legacy.models.contains_key("iPhone9,3"));
        assert!(!s.android.releases.is_empty());
        let info = s.info();
        assert_eq!(info.date, s.date);
        assert_eq!(info.sha256.len(), 64);
    }

    #[test]
    fn save_and_load_check_the_hash() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Snapshot::load_override(dir.path()).unwrap().is_none());
        let mut s = Snapshot::bundled();
        s.date = "2099-01-01".into();
        s.save(dir.path()).unwrap();
        assert_eq!(Snapshot::load_override(dir.path()).unwrap().unwrap(), s);
        assert_eq!(Snapshot::load_or_bundled(dir.path()).date, "2099-01-01");

        // Tampering is detected and the bundled data is used instead.
        let path = dir.path().join(FILE_NAME);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("2099-01-01", "2099-01-02");
        std::fs::write(&path, text).unwrap();
        assert!(matches!(
            Snapshot::load_override(dir.path()),
            Err(CurrencyError::HashMismatch { .. })
        ));
        assert_eq!(
            Snapshot::load_or_bundled(dir.path()).date,
            Snapshot::bundled().date
        );

        // An older saved snapshot does not replace newer bundled data.
        let mut old = Snapshot::bundled();
        old.date = "2001-01-01".into();
        old.save(dir.path()).unwrap();
        assert_eq!(
            Snapshot::load_or_bundled(dir.path()).date,
            Snapshot::bundled().date
        );
    }

    #[test]
    fn wrong_schema_is_rejected() {
        let mut s = Snapshot::bundled();
        s.schema = "other/9".into();
        let err = Snapshot::from_json(s.to_json().as_bytes()).unwrap_err();
        assert!(err.contains("schema"), "{err}");
        assert!(matches!(
            Snapshot::from_sofa_feed(b"{\"Version\":\"2.0\"}"),
            Err(CurrencyError::NotSofa(_))
        ));
        assert!(matches!(
            Snapshot::from_sofa_feed(b"not json"),
            Err(CurrencyError::NotSofa(_))
        ));
        assert!(matches!(
            Snapshot::from_sofa_feed_verified(b"{}", "00"),
            Err(CurrencyError::HashMismatch { .. })
        ));
    }
}
