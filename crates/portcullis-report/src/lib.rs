//! What a Portcullis check found, as a [`Report`], and the files it is written to.
//!
//! Artifact modules produce [`portcullis_core::ModuleOutput`]s; the [`sink`] module turns a
//! finished [`Report`] into the files of a results folder and [`html`] into `report.html`.
//! Parsers never format output themselves.

pub mod guides;
pub mod html;
pub mod network;
pub mod sink;
pub mod submission;
pub mod time;

use std::collections::BTreeMap;

use portcullis_core::{Alert, Level};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use network::{DeviceAlerts, IndicatorContact, NetworkFile, NetworkSummary};
pub use submission::{MAX_OBSERVED, Observed, SUBMISSION_SCHEMA, Submission, SubmittedAlert};

/// How one module's run ended, for `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModuleSummary {
    /// The module's slug (`name` in report.json, as before).
    #[serde(rename = "name")]
    pub slug: String,
    pub records: usize,
    pub alerts: usize,
    /// Why the module could not run, naming the file; `None` when it ran or had no data.
    pub error: Option<String>,
    /// Set when the module found nothing to read (not an error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// One indicator file used in a check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndicatorFileInfo {
    pub path: String,
    pub sha256: String,
    pub indicators: usize,
    pub collections: Vec<String>,
    pub unsupported_patterns: usize,
    /// Why those patterns were not used (the first ones, when there are many).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported: Vec<String>,
    /// Indicators left out because their author revoked them, or their `valid_until` has
    /// passed (`--include-expired` uses them).
    #[serde(default)]
    pub left_out_revoked: usize,
    #[serde(default)]
    pub left_out_expired: usize,
    /// When the indicator set was published or last changed (ISO date or time), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

/// SHA-256 of one evidence file read during the check.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileHash {
    pub file_path: String,
    pub sha256: String,
}

/// What kind of acquisition was checked (`info.input_kind`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// Not recorded (a report made by hand or by an older version).
    #[default]
    Unknown,
    IosBackup,
    IosBackupEncrypted,
    AndroidBugreport,
    #[serde(rename = "androidqf")]
    AndroidQf,
    AndroidBackup,
    AndroidIntrusionLogs,
    /// Network, DNS and proxy logs and packet captures.
    NetworkLogs,
    /// An earlier results folder, re-checked without the evidence (`portcullis recheck`).
    Results,
}

impl InputKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Unknown => "unknown",
            InputKind::IosBackup => "ios_backup",
            InputKind::IosBackupEncrypted => "ios_backup_encrypted",
            InputKind::AndroidBugreport => "android_bugreport",
            InputKind::AndroidQf => "androidqf",
            InputKind::AndroidBackup => "android_backup",
            InputKind::AndroidIntrusionLogs => "android_intrusion_logs",
            InputKind::NetworkLogs => "network_logs",
            InputKind::Results => "results",
        }
    }
}

/// The facts about the run written to `info.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunInfo {
    pub tool: String,
    pub version: String,
    pub target_path: String,
    pub input_kind: InputKind,
    pub started: String,
    pub finished: String,
    pub ioc_files: Vec<IndicatorFileInfo>,
    /// Where the indicators came from, in words (installed collections, files given), or
    /// that there were none and only the built-in heuristics ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indicators_note: Option<String>,
    pub hashes: Vec<FileHash>,
}

/// The phone's platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    #[default]
    Ios,
    Android,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Ios => "ios",
            Platform::Android => "android",
        }
    }
}

/// What the evidence showed about the phone, as `report.json`'s `device`: the facts every
/// reader of a report needs (the summary line, the server's fleet view) as fields, every other
/// fact by its short name (`passcode_set`, `lockdown_mode`, `apps_installed`…), and the file
/// each was read from. A fact the evidence did not show is absent, never a default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// Absent for inputs that are not a phone's (network logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The name its owner gave it ("Jane's iPhone").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The model identifier (`iPhone10,6`, `Pixel 8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The model's marketing name, from the OS-currency data (`iPhone X`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// Android's security patch level (`2025-03-05`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_patch: Option<String>,
    /// Every other fact shown, by short name.
    #[serde(flatten)]
    pub facts: serde_json::Map<String, Value>,
    /// The file each fact (by short name) was read from.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, String>,
}

impl Device {
    /// The device of `platform` with `facts` by short name: those that have a field of their
    /// own go there (when they are text), the rest stay in [`Device::facts`].
    pub fn new(
        platform: Platform,
        mut facts: serde_json::Map<String, Value>,
        sources: BTreeMap<String, String>,
    ) -> Self {
        let mut take = |key: &str| {
            facts.get(key)?.is_string().then_some(())?;
            facts.shift_remove(key)?.as_str().map(str::to_string)
        };
        Device {
            platform: Some(platform),
            name: take("name"),
            model: take("model"),
            model_name: take("model_name"),
            os_version: take("os_version"),
            build: take("build"),
            security_patch: take("security_patch"),
            facts,
            sources,
        }
    }

    /// The phone in one line for a person: `“Jane's iPhone”, iPhone X (iPhone10,6), iOS
    /// 16.7.12 (20H364)`, or "Unknown device".
    pub fn line(&self) -> String {
        fn non_empty(s: &Option<String>) -> Option<&str> {
            s.as_deref().filter(|s| !s.is_empty())
        }
        let mut parts = Vec::new();
        if let Some(name) = non_empty(&self.name) {
            parts.push(format!("“{name}”"));
        }
        match (non_empty(&self.model_name), non_empty(&self.model)) {
            (Some(name), Some(id)) => parts.push(format!("{name} ({id})")),
            (Some(model), None) | (None, Some(model)) => parts.push(model.to_string()),
            (None, None) => {}
        }
        if let Some(version) = non_empty(&self.os_version) {
            let os = match self.platform {
                Some(Platform::Android) => "Android",
                _ => "iOS",
            };
            let build = non_empty(&self.build).map_or(String::new(), |b| format!(" ({b})"));
            parts.push(format!("{os} {version}{build}"));
        }
        if parts.is_empty() {
            "Unknown device".into()
        } else {
            parts.join(", ")
        }
    }

    /// The text facts that have a field of their own, by short name.
    fn named(&self) -> [(&'static str, Option<&str>); 7] {
        [
            ("platform", self.platform.map(Platform::as_str)),
            ("name", self.name.as_deref()),
            ("model", self.model.as_deref()),
            ("model_name", self.model_name.as_deref()),
            ("os_version", self.os_version.as_deref()),
            ("build", self.build.as_deref()),
            ("security_patch", self.security_patch.as_deref()),
        ]
    }

    /// A known fact by short name, whether it has a field of its own or not.
    pub fn get(&self, key: &str) -> Option<Value> {
        match self.named().into_iter().find(|&(name, _)| name == key) {
            Some((_, value)) => value.map(Value::from),
            None => self.facts.get(key).filter(|v| !v.is_null()).cloned(),
        }
    }

    /// A known text fact by short name (`None` for an empty one).
    pub fn text(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    /// Every known fact as (short name, value): the named ones first, then the others.
    pub fn known(&self) -> impl Iterator<Item = (&str, Value)> {
        let named = self
            .named()
            .into_iter()
            .filter_map(|(key, value)| Some((key, Value::from(value?))));
        let others = self
            .facts
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(key, value)| (key.as_str(), value.clone()));
        named.chain(others)
    }
}

/// What a device check found, as written to `report.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub info: RunInfo,
    /// What the evidence showed about the phone (model, OS version, name…).
    pub device: Device,
    pub modules: Vec<ModuleSummary>,
    pub alerts: Vec<Alert>,
    /// The device's security settings, checked against the posture rules (worst first).
    #[serde(default)]
    pub posture: Vec<PostureFinding>,
    /// The OS-currency data the posture check used ("is this iOS/Android current?").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_data: Option<OsDataInfo>,
    /// Parts of the input that were refused or could not be read (an archive entry escaping
    /// its folder, an oversized entry, a link…), and other problems met on the way (an
    /// indicator file skipped), each naming the file; the rest was checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// How much of the input the check could read: the verdict means only as much.
    #[serde(default)]
    pub coverage: Coverage,
    /// Set when this report re-checks an earlier results folder: what is new since then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recheck: Option<Recheck>,
    /// Set for a check of network logs and captures: what they came to, file by file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkSummary>,
}

/// A re-check of an earlier check's saved records against the indicators of today. The
/// report's `alerts` are the indicator hits of the re-check: the first `new_alerts` of them
/// were not in the earlier results, the rest were already reported.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Recheck {
    /// The earlier results folder.
    pub results_dir: String,
    /// Which tool wrote it: `portcullis` or `mvt`.
    pub written_by: String,
    /// When the earlier check ran, as it recorded it (MVT records local time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<String>,
    /// The indicator files the earlier check used.
    #[serde(default)]
    pub earlier_indicator_files: Vec<String>,
    /// Alerts of any kind the earlier check raised.
    pub earlier_alerts: usize,
    pub new_alerts: usize,
    /// Indicators now loaded that were created after the earlier check (their STIX `created`).
    pub indicators_added: usize,
    /// Indicators revoked, or past their `valid_until`, since the earlier check.
    pub indicators_withdrawn: usize,
    /// The indicators behind the new alerts that were added since the earlier check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added_and_matched: Vec<IndicatorChange>,
    /// Earlier indicator alerts whose indicator is now revoked, expired or gone: each may have
    /// been a false alarm.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withdrawn_alerts: Vec<WithdrawnAlert>,
}

/// An indicator that changed since the earlier check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorChange {
    pub id: String,
    /// Its STIX pattern.
    pub pattern: String,
    /// Its `created` (added) or `modified` (withdrawn) time.
    pub when: String,
    /// The indicator file it is in.
    pub file: String,
}

/// An earlier alert no longer backed by an indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawnAlert {
    pub module: String,
    pub message: String,
    /// The indicator's value, and its id when the earlier results recorded it.
    pub indicator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indicator_id: Option<String>,
    /// Revoked, expired, or not in today's indicators.
    pub why: String,
}

/// The artifact an acquisition's check depends on (an iOS backup's Manifest.db, a bugreport's
/// dumpstate): without it "nothing found" means nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MainArtifact {
    /// What it is, e.g. `dumpstate` or `Manifest.db`.
    pub name: String,
    /// Where it is in the input, when found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Why it could not be read; `None` when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Whether the check read what it needed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CoverageStatus {
    /// Every module ran or had nothing to read, and nothing was refused.
    #[default]
    Complete,
    /// Some modules failed or some files were refused; the rest was checked.
    Partial,
    /// The main artifact could not be read, or no module could read anything: the absence
    /// of alerts says nothing about the phone.
    Incomplete,
}

impl CoverageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CoverageStatus::Complete => "complete",
            CoverageStatus::Partial => "partial",
            CoverageStatus::Incomplete => "incomplete",
        }
    }
}

/// What the check could and could not read (`report.json`'s `coverage`). The details are in
/// `modules` (each failure's error) and `warnings` (each refused file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub status: CoverageStatus,
    /// The status in one plain sentence.
    pub explanation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_artifact: Option<MainArtifact>,
    pub modules_run: usize,
    /// Modules that read records (or found their artifact empty).
    pub modules_with_data: usize,
    /// Modules whose artifact is not in this acquisition.
    pub modules_without_data: usize,
    /// Modules that could not read their artifact: named in `modules` with their error.
    pub modules_failed: usize,
    /// Files refused or unreadable: named in `warnings`.
    pub refused: usize,
}

impl Coverage {
    /// Judges coverage from the module outcomes, the refused parts and the main artifact.
    pub fn assess(
        modules: &[ModuleSummary],
        refused: usize,
        main_artifact: Option<MainArtifact>,
    ) -> Coverage {
        let failed = modules.iter().filter(|m| m.error.is_some()).count();
        let without = modules
            .iter()
            .filter(|m| m.error.is_none() && m.skipped.is_some())
            .count();
        let with_data = modules.len() - failed - without;
        let main_problem = main_artifact
            .as_ref()
            .and_then(|m| m.problem.as_ref().map(|p| (m.name.as_str(), p.as_str())));
        let (status, explanation) = if let Some((name, problem)) = main_problem {
            (
                CoverageStatus::Incomplete,
                format!(
                    "The check is incomplete: the {name} could not be read ({problem}), so                      finding nothing means nothing."
                ),
            )
        } else if with_data == 0 {
            (
                CoverageStatus::Incomplete,
                "The check is incomplete: no module could read anything from this input, so                  finding nothing means nothing."
                    .to_string(),
            )
        } else if failed > 0 || refused > 0 {
            let mut parts = Vec::new();
            if failed > 0 {
                parts.push(format!(
                    "{failed} of {} module{} could not read {}",
                    modules.len(),
                    if modules.len() == 1 { "" } else { "s" },
                    if failed == 1 {
                        "its data"
                    } else {
                        "their data"
                    }
                ));
            }
            if refused > 0 {
                parts.push(format!(
                    "{refused} file{} refused or unreadable",
                    if refused == 1 { " was" } else { "s were" }
                ));
            }
            (
                CoverageStatus::Partial,
                format!(
                    "The check is partial: {}. Only what could be read was checked.",
                    parts.join(" and ")
                ),
            )
        } else {
            (
                CoverageStatus::Complete,
                "Every module ran on what this input holds.".to_string(),
            )
        };
        Coverage {
            status,
            explanation,
            main_artifact,
            modules_run: modules.len(),
            modules_with_data: with_data,
            modules_without_data: without,
            modules_failed: failed,
            refused,
        }
    }
}

/// Outcome of one posture rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostureStatus {
    /// The setting is as it should be.
    Pass,
    /// The setting needs changing (or the device has a problem).
    Fail,
    /// The evidence does not show the setting: never counted as a pass.
    Unknown,
}

impl PostureStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PostureStatus::Pass => "pass",
            PostureStatus::Fail => "fail",
            PostureStatus::Unknown => "unknown",
        }
    }
}

/// One posture check on the device: its rule, result, what the evidence showed and what to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostureFinding {
    /// Rule id, e.g. `IOS-005`.
    pub id: String,
    pub severity: Level,
    pub status: PostureStatus,
    /// The finding's headline: what is wrong when the rule fails ("Lockdown Mode is off"),
    /// the good state otherwise ("Lockdown Mode is on").
    #[serde(default)]
    pub title: String,
    /// What the evidence showed, naming the file it came from.
    pub evidence: String,
    /// What the phone's owner should do (for a pass: a short confirmation).
    pub advice: String,
    /// The guidance the rule follows (NCSC, CISA, Apple, Google…).
    #[serde(default)]
    pub guidance: Vec<String>,
    /// Set when the acquisition itself may have caused the observation (e.g. USB debugging).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub artefact: bool,
}

/// The OS-currency reference data a report was judged against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsDataInfo {
    /// The date the data describes (`YYYY-MM-DD`): newer releases are unknown to the check.
    pub date: String,
    /// Where it came from (e.g. "bundled" or the SOFA feed).
    pub source: String,
    pub sha256: String,
    /// Each part of the data (iOS feed, legacy-model table, Android tables) with its own date:
    /// one stale part makes its verdicts stale whatever the other parts' dates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<OsDataPart>,
}

/// One separately dated part of the OS-currency data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsDataPart {
    /// `ios_feed`, `ios_legacy`, `android_releases`, `android_exploited`, `android_models_eol`.
    pub part: String,
    pub name: String,
    /// The date the part describes (`YYYY-MM-DD`).
    pub as_of: String,
    /// Days from `as_of` to the check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_days: Option<i64>,
    /// Older than the project's limit (90 days) at the time of the check.
    #[serde(default)]
    pub stale: bool,
}

impl Report {
    /// Whether the report must lead with incident steps: an alert at HIGH or above exists.
    pub fn incident(&self) -> bool {
        self.max_level() >= Some(Level::High)
    }

    /// Highest alert level present, if any.
    pub fn max_level(&self) -> Option<Level> {
        self.alerts.iter().map(|a| a.level).max()
    }

    pub fn count_at(&self, level: Level) -> usize {
        self.alerts.iter().filter(|a| a.level == level).count()
    }
}
