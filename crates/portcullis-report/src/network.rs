//! The network section of a report: what the logs and captures of a network check came to,
//! file by file, and whom the alerts are about.

use serde::{Deserialize, Serialize};

/// What a network check read and found, beside its alerts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetworkSummary {
    pub files: Vec<NetworkFile>,
    pub lines: u64,
    pub records: u64,
    pub malformed: u64,
    pub seconds: f64,
    pub lines_per_second: u64,
    /// Distinct client addresses seen (per file, up to a cap; `clients_over_cap` says when
    /// some were past it).
    pub clients_seen: usize,
    #[serde(default)]
    pub clients_over_cap: bool,
    /// The devices file given with `--devices`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices_file: Option<String>,
    /// DHCP leases seen in the logs, used to tie addresses to devices.
    pub leases_seen: usize,
    /// The alerts grouped by the device (and its owner) they are about; alerts that could not
    /// be tied to a device are grouped by client address.
    pub by_device: Vec<DeviceAlerts>,
    /// First and last contact of each client with each indicator, counting every hit (also
    /// those past the alerts listed).
    pub contacts: Vec<IndicatorContact>,
    /// Hits counted in `contacts` but not listed as alerts (past the cap per file).
    #[serde(default)]
    pub hits_not_listed: u64,
}

/// One file of a network check.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetworkFile {
    pub file: String,
    /// The format (`zeek`, `suricata`…) and module slug, when recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    pub compression: String,
    pub sha256: String,
    pub bytes: u64,
    pub lines: u64,
    pub records: u64,
    pub malformed: u64,
    /// Malformed lines by reason, each with the first line number and a quote.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed_lines: Vec<String>,
    /// Why reading stopped before the end (a damaged stream, a truncated capture).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Why the file could not be read at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The alerts about one device, or about one address no device could be tied to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeviceAlerts {
    /// The device, or `None` when the address could not be tied to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The client addresses the alerts came from.
    pub clients: Vec<String>,
    pub alerts: usize,
    /// The indicators (their values) matched, each once.
    pub indicators: Vec<String>,
}

/// Every contact of one client with one indicator.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IndicatorContact {
    /// The indicator's value and STIX id, and its collection.
    pub indicator: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub indicator_id: String,
    pub collection: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    pub contacts: u64,
    /// `YYYY-MM-DD HH:MM:SS.ffffff`, UTC, when the lines had times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
}
