//! The table of iOS models Apple no longer updates (SOFA's feed drops them): for each model its
//! newest release and newest release with security fixes, and the releases of those old
//! branches that fixed exploited flaws or renewed the certificates iMessage, FaceTime and
//! activation need. Hand-curated (`data/curated.json`, key `ios_legacy`), replaceable by an
//! office's own file in the same format (`data/README.md`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::version::{Version, parse_date};

/// The `schema` value of legacy tables this build reads.
pub const LEGACY_SCHEMA: &str = "portcullis-ios-legacy/1";

/// The legacy-model table, as published (the same document in `curated.json` and in an update).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegacyTable {
    pub schema: String,
    /// The day the table was last checked against its sources (`YYYY-MM-DD`).
    pub as_of: String,
    pub name: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// Releases of the old branches that matter to the checks.
    #[serde(default)]
    pub releases: Vec<LegacyRelease>,
    /// Model identifier (`iPhone9,3`) → what it can still install.
    pub models: BTreeMap<String, LegacyModel>,
}

/// A model Apple no longer updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegacyModel {
    pub name: String,
    /// Newest release offered to the model.
    pub latest: String,
    /// Newest release with security fixes (older than `latest` when that only renewed
    /// certificates).
    pub latest_security: String,
    /// The advisory or page the versions were checked against.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Caveats of the source (a value inferred or unconfirmed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A release of an old branch. It applies to every legacy model on that major version whose
/// `latest` is at or above it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegacyRelease {
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Actively exploited CVEs it fixed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exploited: Vec<String>,
    /// It renewed the certificates iMessage, FaceTime and activation need after January 2027.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub certificate: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl LegacyTable {
    /// Parses and checks a table (schema, dates, versions, CVE ids).
    pub fn from_json(bytes: &[u8]) -> Result<LegacyTable, String> {
        let table: LegacyTable = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        table.validate()?;
        Ok(table)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.schema != LEGACY_SCHEMA {
            return Err(format!(
                "schema is {:?}, this build reads {LEGACY_SCHEMA:?}",
                self.schema
            ));
        }
        if parse_date(&self.as_of).is_none() {
            return Err(format!("as_of {:?} is not YYYY-MM-DD", self.as_of));
        }
        if self.models.is_empty() {
            return Err("no models".into());
        }
        let version = |what: &str, v: &str| {
            Version::parse(v).ok_or_else(|| format!("{what}: bad version {v:?}"))
        };
        for (id, m) in &self.models {
            let latest = version(id, &m.latest)?;
            let security = version(id, &m.latest_security)?;
            if security > latest || security.major() != latest.major() {
                return Err(format!(
                    "{id}: latest_security {} is not on the branch of latest {} or newer",
                    m.latest_security, m.latest
                ));
            }
            if m.source.trim().is_empty() {
                return Err(format!("{id}: no source"));
            }
        }
        for r in &self.releases {
            version("release", &r.version)?;
            if let Some(d) = &r.date
                && parse_date(d).is_none()
            {
                return Err(format!(
                    "release {}: date {d:?} is not YYYY-MM-DD",
                    r.version
                ));
            }
            if let Some(bad) = r.exploited.iter().find(|c| !c.starts_with("CVE-")) {
                return Err(format!("release {}: {bad:?} is not a CVE id", r.version));
            }
            if r.source.trim().is_empty() {
                return Err(format!("release {}: no source", r.version));
            }
        }
        Ok(())
    }

    /// The releases offered to `model` (same major as its newest release, not newer than it).
    pub fn releases_for<'a>(
        &'a self,
        model: &LegacyModel,
    ) -> impl Iterator<Item = (Version, &'a LegacyRelease)> + 'a {
        let latest = Version::parse(&model.latest);
        self.releases.iter().filter_map(move |r| {
            let v = Version::parse(&r.version)?;
            let latest = latest.as_ref()?;
            (v.major() == latest.major() && v <= *latest).then_some((v, r))
        })
    }

    /// The first certificate-renewal release offered to `model`, if it got one.
    pub fn certificate_release(&self, model: &LegacyModel) -> Option<(Version, &LegacyRelease)> {
        self.releases_for(model)
            .filter(|(_, r)| r.certificate)
            .min_by(|a, b| a.0.cmp(&b.0))
    }
}
