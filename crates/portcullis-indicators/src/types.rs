//! The public types: what an indicator describes, what a match says, what a load reports.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The kind of value an indicator describes. Serialised with MVT's collection-list names so
/// alerts read the same as MVT's (`domains`, `processes`, `files_sha256`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IocType {
    Domains,
    IpAddresses,
    Urls,
    /// URL paths (`/hass/upload-log.php`): `url:value` indicators without a scheme or host.
    UrlPaths,
    Processes,
    Emails,
    FileNames,
    FilePaths,
    FilesMd5,
    FilesSha1,
    FilesSha256,
    AppCertHashes,
    AppIds,
    IosProfileIds,
    AndroidPropertyNames,
    /// TLS certificate fingerprints (`x509-certificate:hashes.…`), seen in network logs.
    CertHashes,
}

/// Which rule made a match; decides the alert wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchRule {
    /// The whole value equals the indicator.
    Exact,
    /// A URL's host equals a domain indicator.
    Domain,
    /// A URL's host is a sub-domain of a domain indicator.
    SubDomain,
    /// A URL's host is an IP address equal to the indicator.
    IpAddress,
    /// A 16-character (kernel-truncated) process name is a prefix of the indicator.
    TruncatedProcess,
    /// A path starts with a path indicator.
    PathPrefix,
    /// A URL's path (on any host) is a URL-path indicator, or below one.
    UrlPath,
    /// A path's last component equals a file-name indicator.
    FileName,
    /// One `/`-separated component of a path equals a process indicator.
    PathComponent,
}

/// An indicator hit: what was looked up, what it matched and where the indicator came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorMatch {
    /// The value that was checked (as given by the module).
    pub input: String,
    /// The indicator's value.
    pub value: String,
    #[serde(rename = "type")]
    pub ioc_type: IocType,
    /// Collection name: malware name, report name or "Default collection".
    pub collection: String,
    /// Base name of the STIX2 file the indicator came from.
    pub file: String,
    pub rule: MatchRule,
    /// The indicator itself: its STIX id, validity, confidence, labels and marking.
    #[serde(flatten)]
    pub stix: IndicatorInfo,
}

/// What a STIX indicator says of itself, kept for every loaded indicator so that an alert
/// names the very indicator that matched and how far to trust it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorInfo {
    /// The STIX id (`indicator--…`).
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoked: bool,
    /// 0–100 (STIX's scale), when the indicator gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<u8>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// The Traffic Light Protocol level of its marking (`TLP:AMBER`…), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlp: Option<String>,
    /// Every marking definition it refers to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub markings: Vec<String>,
}

/// The TLP levels of the marking definitions STIX 2.1 predefines (TLP 1.0) and of the
/// OASIS TLP 2.0 definitions.
const TLP_MARKINGS: &[(&str, &str)] = &[
    (
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        "TLP:WHITE",
    ),
    (
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        "TLP:GREEN",
    ),
    (
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
        "TLP:AMBER",
    ),
    (
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
        "TLP:RED",
    ),
    (
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        "TLP:CLEAR",
    ),
    (
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        "TLP:GREEN",
    ),
    (
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        "TLP:AMBER",
    ),
    (
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        "TLP:AMBER+STRICT",
    ),
    (
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        "TLP:RED",
    ),
];

/// The TLP level among `markings` (marking-definition ids), the most restrictive when there
/// are several.
pub fn tlp_of<'m>(markings: impl IntoIterator<Item = &'m str>) -> Option<&'static str> {
    const ORDER: [&str; 6] = [
        "TLP:CLEAR",
        "TLP:WHITE",
        "TLP:GREEN",
        "TLP:AMBER",
        "TLP:AMBER+STRICT",
        "TLP:RED",
    ];
    markings
        .into_iter()
        .filter_map(|m| {
            TLP_MARKINGS
                .iter()
                .find(|(id, _)| *id == m)
                .map(|(_, t)| *t)
        })
        .max_by_key(|t| ORDER.iter().position(|o| o == t))
}

impl IndicatorMatch {
    /// MVT-style alert message for this hit, e.g.
    /// `Found a known suspicious process name "Launch" matching indicators from "TestMalware"`.
    pub fn message(&self) -> String {
        let (x, ioc, c) = (&self.input, &self.value, &self.collection);
        let named = |what: &str| {
            format!("Found a known suspicious {what} \"{x}\" matching indicators from \"{c}\"")
        };
        let url_like =
            |what: &str| format!("Found a {what} {x} matching indicator \"{ioc}\" from \"{c}\"");
        match (self.ioc_type, self.rule) {
            (IocType::Processes, MatchRule::TruncatedProcess) => format!(
                "Found a truncated known suspicious process name \"{x}\" matching indicators from \"{c}\""
            ),
            (IocType::Processes, MatchRule::PathComponent) => {
                named("process name mentioned in file path")
            }
            (IocType::Processes, _) => named("process name"),
            (IocType::Domains, MatchRule::SubDomain) => {
                url_like("sub-domain with a suspicious top level")
            }
            (IocType::Domains, _) => url_like("known suspicious domain"),
            (IocType::IpAddresses, _) => url_like("known suspicious IP address"),
            (IocType::Urls, _) => url_like("known suspicious URL"),
            (IocType::UrlPaths, _) => url_like("known suspicious URL path"),
            (IocType::Emails, _) => named("email address"),
            (IocType::FileNames, MatchRule::FileName) | (IocType::FilePaths, _) => {
                named("file path")
            }
            (IocType::FileNames, _) => named("file name"),
            (IocType::FilesMd5 | IocType::FilesSha1 | IocType::FilesSha256, _) => {
                named("file with hash")
            }
            (IocType::AppCertHashes, _) => named("app certificate with hash"),
            (IocType::AppIds, _) => named("app with ID"),
            (IocType::IosProfileIds, _) => named("profile ID"),
            (IocType::AndroidPropertyNames, _) => named("Android property"),
            (IocType::CertHashes, _) => named("TLS certificate with fingerprint"),
        }
    }
}

/// One loaded value, as [`crate::Indicators::values`] lists them for exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedValue<'a> {
    /// The value as written in its file (trimmed).
    pub value: std::borrow::Cow<'a, str>,
    pub ioc_type: IocType,
    /// The collection's name (malware, report or "Default collection").
    pub collection: &'a str,
    /// The STIX id of the indicator holding it.
    pub id: String,
    /// The TLP level of the indicator's markings (`TLP:AMBER`…), when it has one.
    pub tlp: Option<&'static str>,
}

/// One loaded STIX2 file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndicatorFile {
    pub path: PathBuf,
    pub sha256: String,
    /// Indicators loaded from the file (new values only).
    pub indicators: usize,
    /// Patterns that could not be used (unsupported object path or operator), with the reason.
    pub unsupported: Vec<String>,
    pub collections: Vec<String>,
    /// Indicators not used because their author revoked them or their `valid_until` has
    /// passed (see [`Indicators::include_expired`]).
    pub left_out: LeftOut,
}

/// Indicators left out of matching, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    pub revoked: usize,
    pub expired: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read indicator file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a STIX 2 bundle: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

impl IocType {
    /// Every type, in declaration order (the index of a type is its position here).
    pub const ALL: [IocType; 16] = [
        IocType::Domains,
        IocType::IpAddresses,
        IocType::Urls,
        IocType::UrlPaths,
        IocType::Processes,
        IocType::Emails,
        IocType::FileNames,
        IocType::FilePaths,
        IocType::FilesMd5,
        IocType::FilesSha1,
        IocType::FilesSha256,
        IocType::AppCertHashes,
        IocType::AppIds,
        IocType::IosProfileIds,
        IocType::AndroidPropertyNames,
        IocType::CertHashes,
    ];

    /// MVT's collection-list name (`domains`, `files_sha256`, …), as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            IocType::Domains => "domains",
            IocType::IpAddresses => "ip_addresses",
            IocType::Urls => "urls",
            IocType::UrlPaths => "url_paths",
            IocType::Processes => "processes",
            IocType::Emails => "emails",
            IocType::FileNames => "file_names",
            IocType::FilePaths => "file_paths",
            IocType::FilesMd5 => "files_md5",
            IocType::FilesSha1 => "files_sha1",
            IocType::FilesSha256 => "files_sha256",
            IocType::AppCertHashes => "app_cert_hashes",
            IocType::AppIds => "app_ids",
            IocType::IosProfileIds => "ios_profile_ids",
            IocType::AndroidPropertyNames => "android_property_names",
            IocType::CertHashes => "cert_hashes",
        }
    }
}

impl fmt::Display for IocType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One collection (a malware, a report or a file's "Default collection") and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollectionSummary {
    /// STIX id of the malware or report; `"0"` for "Default collection" (as MVT).
    pub id: String,
    pub name: String,
    pub description: String,
    /// Base name of the STIX2 file.
    pub file: String,
    /// Path of the STIX2 file as given.
    pub path: PathBuf,
    /// SHA-256 of the STIX2 file.
    pub sha256: String,
    /// Distinct values the collection holds (duplicates within the collection count once).
    pub indicators: usize,
    /// The same, per type; types without values are left out.
    pub counts: BTreeMap<IocType, usize>,
}
