//! What a check sends to the security office's server (`portcullis check --submit`): the
//! findings only. Device facts, posture results, alerts without the records that raised them,
//! the module summary, coverage, and the tool and indicator versions; never records, messages,
//! browsing history or the list of files read.

use portcullis_core::{Alert, Level};
use portcullis_indicators::IndicatorMatch;
use serde::{Deserialize, Serialize};

use crate::{Coverage, Device, InputKind, ModuleSummary, OsDataInfo, PostureFinding, Report};

/// The `schema` value of a submission.
pub const SUBMISSION_SCHEMA: &str = "portcullis-submission/1";

/// The most alerts and posture findings one submission may carry (a real check has tens).
pub const MAX_ITEMS: usize = 10_000;

/// The most observation digests one submission may carry (a phone's check sees a few
/// thousand hosts and apps; a week of an office's DNS log can see more, and is cut).
pub const MAX_OBSERVED: usize = 100_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    pub schema: String,
    pub tool_version: String,
    pub input_kind: InputKind,
    /// When the check finished (`report.json`'s `info.finished`).
    pub checked_at: String,
    pub indicator_files: Vec<SubmittedIndicatorFile>,
    pub device: Device,
    pub posture: Vec<PostureFinding>,
    pub alerts: Vec<SubmittedAlert>,
    pub modules: Vec<ModuleSummary>,
    pub coverage: Coverage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_data: Option<OsDataInfo>,
    /// Keyed digests of what the check looked up, for the server's re-check; never the
    /// values themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<Observed>,
}

/// What a check saw, as HMAC-SHA256 digests (hex, 128 bits) under the organisation's key
/// (`portcullis_indicators::Indicators::observed_digests`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observed {
    /// Which of the server's keys made them.
    pub key_id: String,
    /// Sorted, each once.
    pub digests: Vec<String>,
    /// Digests left out to keep within [`MAX_OBSERVED`].
    #[serde(default)]
    pub left_out: usize,
}

/// An indicator file by name and digest (not by its path on the analyst's machine).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmittedIndicatorFile {
    pub name: String,
    pub sha256: String,
    pub indicators: usize,
    pub collections: Vec<String>,
}

/// An alert without its record: what matched, which indicator, in which file, what to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmittedAlert {
    pub level: Level,
    pub module: String,
    pub message: String,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub matched_field: Option<String>,
    #[serde(default)]
    pub matched_value: Option<String>,
    #[serde(default)]
    pub indicator: Option<IndicatorMatch>,
    #[serde(default)]
    pub source: Option<String>,
    pub advice: String,
}

impl SubmittedAlert {
    fn of(alert: &Alert) -> SubmittedAlert {
        SubmittedAlert {
            level: alert.level,
            module: alert.module.clone(),
            message: alert.message.clone(),
            timestamp: alert.timestamp.clone(),
            matched_field: alert.matched_field.clone(),
            matched_value: alert.matched_value.clone(),
            indicator: alert.indicator.clone(),
            source: alert.source.clone(),
            advice: alert.advice.clone(),
        }
    }
}

impl Submission {
    pub fn from_report(report: &Report) -> Submission {
        Submission {
            schema: SUBMISSION_SCHEMA.to_string(),
            tool_version: report.info.version.clone(),
            input_kind: report.info.input_kind,
            checked_at: report.info.finished.clone(),
            indicator_files: report
                .info
                .ioc_files
                .iter()
                .map(|f| SubmittedIndicatorFile {
                    name: std::path::Path::new(&f.path)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| f.path.clone()),
                    sha256: f.sha256.clone(),
                    indicators: f.indicators,
                    collections: f.collections.clone(),
                })
                .collect(),
            device: report.device.clone(),
            posture: report.posture.clone(),
            alerts: report.alerts.iter().map(SubmittedAlert::of).collect(),
            modules: report.modules.clone(),
            coverage: report.coverage.clone(),
            os_data: report.os_data.clone(),
            observed: None,
        }
    }

    /// Why the document is not a submission this version accepts, if it is not.
    pub fn problem(&self) -> Option<String> {
        if self.schema != SUBMISSION_SCHEMA {
            return Some(format!(
                "schema {:?} is not {SUBMISSION_SCHEMA}",
                self.schema
            ));
        }
        if self.alerts.len() > MAX_ITEMS
            || self.posture.len() > MAX_ITEMS
            || self.modules.len() > MAX_ITEMS
        {
            return Some(format!(
                "more than {MAX_ITEMS} alerts, posture findings or modules"
            ));
        }
        if jiff::civil::DateTime::strptime(
            "%Y-%m-%d %H:%M:%S",
            self.checked_at.get(..19).unwrap_or(""),
        )
        .is_err()
        {
            return Some(format!("checked_at {:?} is not a time", self.checked_at));
        }
        if let Some(observed) = &self.observed {
            if observed.digests.len() > MAX_OBSERVED {
                return Some(format!("more than {MAX_OBSERVED} observation digests"));
            }
            if observed.key_id.is_empty() || observed.key_id.len() > 64 {
                return Some("observed.key_id must be 1 to 64 characters".into());
            }
            let digest = |d: &String| {
                d.len() == 32
                    && d.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            };
            if let Some(bad) = observed.digests.iter().find(|d| !digest(d)) {
                let shown: String = bad.chars().take(40).collect();
                return Some(format!(
                    "observed digest {shown:?} is not 32 lower-case hex digits"
                ));
            }
        }
        None
    }

    /// The most severe alert level, if any alert.
    pub fn highest_level(&self) -> Option<Level> {
        self.alerts.iter().map(|a| a.level).max()
    }
}

/// The report of a typical check worth submitting: an iPhone with a CRITICAL indicator hit in
/// an SMS link (the message's text is `message_text`, which a submission must never carry) and
/// Lockdown Mode off, finished at `checked_at`. One definition for the server's tests, the fuzz
/// seeds and the load test.
pub fn example_report(checked_at: &str, message_text: &str) -> Report {
    use portcullis_indicators::{IndicatorInfo, IndicatorMatch, IocType, MatchRule};
    let mut report = Report::default();
    report.info.version = "0.1.0".into();
    report.info.finished = checked_at.into();
    report.device.platform = Some(crate::Platform::Ios);
    report.device.model = Some("iPhone14,2".into());
    report.device.os_version = Some("18.1".into());
    let indicator = IndicatorMatch {
        input: "https://evil-parcel.example/t".into(),
        value: "evil-parcel.example".into(),
        ioc_type: IocType::Domains,
        collection: "Test spyware".into(),
        file: "test.stix2".into(),
        rule: MatchRule::Domain,
        stix: IndicatorInfo {
            id: "indicator--00000000-0000-4000-8000-000000000001".into(),
            ..IndicatorInfo::default()
        },
    };
    report.alerts.push(
        Alert::indicator(
            Level::Critical,
            "sms",
            indicator,
            "links",
            "2026-12-01 09:00:00.000000",
            serde_json::json!({ "text": message_text }),
        )
        .with_source("sms.db, ROWID 7"),
    );
    report.posture.push(crate::PostureFinding {
        id: "IOS-005".into(),
        severity: Level::High,
        status: crate::PostureStatus::Fail,
        title: "Lockdown Mode is off".into(),
        evidence: "LDMGlobalEnabled is absent".into(),
        advice: "Turn on Lockdown Mode in Settings, Privacy & Security.".into(),
        guidance: Vec::new(),
        artefact: false,
    });
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_submission_carries_findings_not_records() {
        let mut report = Report::default();
        report.info.version = "0.1.0".into();
        report.info.finished = "2026-12-04 10:00:00.000000".into();
        report.info.target_path = "/home/analyst/cases/jane/backup".into();
        report.device.model = Some("iPhone14,2".into());
        report.alerts.push(
            Alert::heuristic(
                Level::High,
                "sms",
                "Exploit-like message",
                "2026-12-01 09:00:00.000000",
                json!({ "text": "Your parcel: https://evil.example/x", "address": "+441234567890" }),
            )
            .with_field("url", "https://evil.example/x")
            .with_source("sms.db, ROWID 7"),
        );
        let submission = Submission::from_report(&report);
        let text = serde_json::to_string(&submission).unwrap();
        assert!(!text.contains("Your parcel"), "{text}");
        assert!(!text.contains("+441234567890"));
        assert!(!text.contains("/home/analyst"));
        assert!(text.contains("https://evil.example/x") && text.contains("sms.db, ROWID 7"));
        assert_eq!(submission.highest_level(), Some(Level::High));
        assert_eq!(submission.problem(), None);
        let back: Submission = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back.alerts[0].matched_value.as_deref(),
            Some("https://evil.example/x")
        );

        let mut wrong = submission.clone();
        wrong.schema = "something else".into();
        assert!(wrong.problem().unwrap().contains("schema"));
        let mut observed = submission.clone();
        observed.observed = Some(Observed {
            key_id: "k1".into(),
            digests: vec!["0123456789abcdef0123456789abcdef".into()],
            left_out: 0,
        });
        assert_eq!(observed.problem(), None);
        observed.observed.as_mut().unwrap().digests[0] = "evil.example".into();
        assert!(
            observed
                .problem()
                .unwrap()
                .contains("\"evil.example\" is not 32")
        );
        let report_json = serde_json::to_string(&report).unwrap();
        assert!(
            serde_json::from_str::<Submission>(&report_json).is_err(),
            "a report.json is not a submission"
        );
    }
}
