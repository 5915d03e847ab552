//! The one module abstraction and output model every source of evidence uses.
//!
//! A [`Module`] reads one artifact and produces a [`ModuleOutput`] (records, timeline events,
//! alerts, URLs) or a [`ModuleError`]; [`run_modules`] runs a set of them in parallel so that
//! one failure only loses that module's output. Large modules write their records and timeline
//! rows through the [`spool`] as they go. iOS, Android and later sources implement the same
//! trait, each on its own context type.

pub mod module;
pub mod net;
pub mod spool;
pub mod text;

pub use module::{Module, ModuleError, ModuleRun, RunControl, run_modules};

use portcullis_indicators::IndicatorMatch;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How serious an alert is, ordered like MVT's levels so runs can be compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "INFORMATIONAL",
            Level::Low => "LOW",
            Level::Medium => "MEDIUM",
            Level::High => "HIGH",
            Level::Critical => "CRITICAL",
        }
    }

    /// The default next step for an alert of this level, in words a phone's owner can follow.
    pub fn default_advice(self, indicator_hit: bool) -> &'static str {
        if indicator_hit {
            return "This matches a published indicator of targeted spyware. Keep the phone as it is \
                    (do not reset, update or wipe it), keep this backup, and contact your security \
                    office or a digital-security helpline now.";
        }
        match self {
            Level::Critical | Level::High => {
                "This is a strong sign of compromise or tampering. Keep the phone and this backup as \
                 they are and ask your security office to review the evidence."
            }
            Level::Medium => {
                "This deserves a look by your security office; on its own it does not prove the phone \
                 is compromised."
            }
            Level::Low | Level::Informational => {
                "For the analyst's information; no action is needed from the phone's owner."
            }
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding: what matched, where, which indicator, and what to do about it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alert {
    pub level: Level,
    /// Slug of the module that raised it (MVT's slug).
    pub module: String,
    pub message: String,
    /// ISO time of the event (`YYYY-MM-DD HH:MM:SS.ffffff`), when known. Written as `""` when
    /// unknown, as MVT writes it, so the output files read the same.
    #[serde(with = "empty_as_none")]
    pub timestamp: Option<String>,
    /// Record field that matched, when the alert comes from a specific field.
    pub matched_field: Option<String>,
    /// The value of that field that matched.
    pub matched_value: Option<String>,
    pub indicator: Option<IndicatorMatch>,
    /// The evidence file (relative to the input) and record the alert is about.
    pub source: Option<String>,
    pub advice: String,
    /// The record that raised the alert.
    pub event: Value,
}

/// An optional text written as `""` when absent (and read back so), for fields MVT writes
/// that way.
mod empty_as_none {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(value.as_deref().unwrap_or_default())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        Ok(text.filter(|t| !t.is_empty()))
    }
}

/// `Some` unless empty: modules pass `""` for an event without a time.
fn known_time(timestamp: String) -> Option<String> {
    (!timestamp.is_empty()).then_some(timestamp)
}

impl Alert {
    /// An alert from a heuristic (no indicator involved).
    pub fn heuristic(
        level: Level,
        module: &str,
        message: impl Into<String>,
        timestamp: impl Into<String>,
        event: Value,
    ) -> Self {
        Alert {
            level,
            module: module.to_string(),
            message: message.into(),
            timestamp: known_time(timestamp.into()),
            matched_field: None,
            matched_value: None,
            indicator: None,
            source: None,
            advice: level.default_advice(false).to_string(),
            event,
        }
    }

    /// An alert for an indicator hit on `field` = `value` of `event`.
    pub fn indicator(
        level: Level,
        module: &str,
        hit: IndicatorMatch,
        field: &str,
        timestamp: impl Into<String>,
        event: Value,
    ) -> Self {
        Alert {
            message: hit.message(),
            matched_field: Some(field.to_string()),
            matched_value: Some(hit.input.clone()),
            indicator: Some(hit),
            advice: level.default_advice(true).to_string(),
            ..Alert::heuristic(level, module, String::new(), timestamp, event)
        }
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn with_advice(mut self, advice: impl Into<String>) -> Self {
        self.advice = advice.into();
        self
    }

    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn with_field(mut self, field: &str, value: impl Into<String>) -> Self {
        self.matched_field = Some(field.to_string());
        self.matched_value = Some(value.into());
        self
    }
}

/// One row of `timeline.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub timestamp: String,
    /// The module's MVT class name (e.g. `Datausage`): MVT's "Plugin" column. (`module`
    /// elsewhere always means the slug.)
    #[serde(rename = "module")]
    pub plugin: String,
    pub event: String,
    pub data: String,
}

/// A URL seen in a message, for `urls.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UrlRecord {
    pub url: String,
    pub timestamp: String,
    pub source: String,
}

/// A module's results: most are a list of records, a few (e.g. `backup_info`) one object.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Results {
    List(Vec<Value>),
    Object(serde_json::Map<String, Value>),
    /// A large list already written to a file in the results folder (see [`spool`]).
    #[serde(skip_deserializing)]
    Spooled(spool::SpooledRecords),
}

impl Default for Results {
    fn default() -> Self {
        Results::List(Vec::new())
    }
}

impl Results {
    pub fn len(&self) -> usize {
        match self {
            Results::List(v) => v.len(),
            Results::Object(m) => m.len(),
            Results::Spooled(s) => s.count,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Everything one module produced on one input.
#[derive(Debug, Clone, Default)]
pub struct ModuleOutput {
    pub results: Results,
    pub timeline: Vec<TimelineEvent>,
    pub alerts: Vec<Alert>,
    pub urls: Vec<UrlRecord>,
    /// Kept by `push_timeline` to drop duplicate rows quickly, and to spill them.
    pub timeline_index: TimelineIndex,
}

impl ModuleOutput {
    /// An output whose timeline rows spill into `spool` (the check's results folder) past
    /// [`spool::TIMELINE_SPILL_AFTER`] rows; with `None`, as with `default()`, they stay in memory.
    pub fn spilling(spool: Option<&spool::Spool>) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        out.timeline_index.spool = spool.cloned();
        out
    }

    /// Adds a timeline row, dropping exact duplicates as MVT does per module. Constant time per
    /// row: modules emit millions of rows on large backups. Past
    /// [`spool::TIMELINE_SPILL_AFTER`] rows, and when the output was made with a spool
    /// ([`ModuleOutput::spilling`]), the rows held so far are sorted and written to a run file
    /// there (merged into `timeline.csv` at the end), so memory stays flat however large the
    /// phone's history.
    pub fn push_timeline(&mut self, event: TimelineEvent) {
        if !self.timeline_index.first_time(&event) {
            return;
        }
        self.timeline.push(event);
        // Checked once per full batch: with no spool the rows simply stay in memory.
        if self
            .timeline
            .len()
            .is_multiple_of(spool::TIMELINE_SPILL_AFTER)
            && let Some(spool) = &self.timeline_index.spool
            && let Some(run) = spool::TimelineRun::spill(spool, &mut self.timeline)
        {
            self.timeline_index.runs.push(run);
        }
    }

    /// Timeline rows in all, held and spilled.
    pub fn timeline_len(&self) -> usize {
        let spilled: usize = self.timeline_index.runs.iter().map(|run| run.rows).sum();
        self.timeline.len() + spilled
    }

    /// Run files of timeline rows already written out, in the order they were produced.
    pub fn timeline_runs(&self) -> &[spool::TimelineRun] {
        &self.timeline_index.runs
    }
}

/// Which timeline rows a module has produced, for [`ModuleOutput::push_timeline`]: a 128-bit
/// hash of each row (two independently, randomly seeded hashes: two distinct rows colliding
/// is not a practical possibility, and the seeds cannot be known in advance to force it), so
/// that rows already written to disk are still recognised.
#[derive(Debug, Clone, Default)]
pub struct TimelineIndex {
    hashers: (hashbrown::DefaultHashBuilder, hashbrown::DefaultHashBuilder),
    seen: hashbrown::HashSet<u128>,
    runs: Vec<spool::TimelineRun>,
    spool: Option<spool::Spool>,
}

impl TimelineIndex {
    fn first_time(&mut self, event: &TimelineEvent) -> bool {
        use std::hash::BuildHasher;
        let high = u128::from(self.hashers.0.hash_one(event));
        let low = u128::from(self.hashers.1.hash_one(event));
        self.seen.insert(high << 64 | low)
    }
}
