//! Who was it: an address at a time, mapped to a member's device. The security office's
//! devices file says which address or MAC is whose, and when; DHCP leases seen in the logs
//! (Zeek `dhcp.log`) say which MAC held an address when. An address that changed hands
//! during the day is attributed by the time of each alert, never by the address alone.

use std::io::Read;
use std::path::Path;

use crate::check::SeenLease;
use crate::time;

/// Rows read from a devices file at most.
const MAX_ROWS: usize = 1_000_000;

/// Why a devices file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DevicesError {
    #[error("{file}: {source}")]
    Read {
        file: String,
        #[source]
        source: csv::Error,
    },
    #[error("{file}, line {line}: {reason}")]
    Row {
        file: String,
        line: u64,
        reason: String,
    },
    #[error("{file}: more than {MAX_ROWS} rows")]
    TooLarge { file: String },
}

/// An address or a MAC (lower case, `:`-separated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Address(String),
    Mac(String),
}

/// One row of the devices file: this address or MAC is this member's device, from `valid_from`
/// until before `valid_to` (microseconds, UTC; `None` = without limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub key: Key,
    pub device: String,
    pub owner: String,
    pub valid_from: Option<i64>,
    pub valid_to: Option<i64>,
}

impl DeviceRow {
    fn holds_at(&self, at: Option<i64>) -> bool {
        match at {
            Some(t) => {
                self.valid_from.is_none_or(|f| t >= f) && self.valid_to.is_none_or(|u| t < u)
            }
            // Without a time only a row without limits can be trusted.
            None => self.valid_from.is_none() && self.valid_to.is_none(),
        }
    }
}

/// The devices file: `address or MAC, device, owner, valid from, valid to`, one row per
/// device address. A first row naming the columns is skipped; times are ISO dates or
/// date-times (UTC unless an offset is given); a `valid to` date alone covers that whole day.
#[derive(Debug, Clone, Default)]
pub struct Devices {
    pub rows: Vec<DeviceRow>,
    /// The file as given, for the report.
    pub file: String,
}

impl Devices {
    pub fn load(path: &Path) -> Result<Devices, DevicesError> {
        let file = path.display().to_string();
        let reader = std::fs::File::open(path).map_err(|e| DevicesError::Read {
            file: file.clone(),
            source: e.into(),
        })?;
        Devices::read(reader, &file)
    }

    /// Reads a devices file from `reader`; `file` names it in errors.
    pub fn read(reader: impl Read, file: &str) -> Result<Devices, DevicesError> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .from_reader(reader);
        let mut rows = Vec::new();
        for (index, record) in csv.records().enumerate() {
            let record = record.map_err(|source| DevicesError::Read {
                file: file.to_string(),
                source,
            })?;
            let line = record.position().map_or(index as u64 + 1, |p| p.line());
            let field = |i: usize| record.get(i).unwrap_or("");
            if index == 0 && is_header(field(0)) {
                continue;
            }
            if record.iter().all(str::is_empty) {
                continue;
            }
            if rows.len() >= MAX_ROWS {
                return Err(DevicesError::TooLarge {
                    file: file.to_string(),
                });
            }
            let row_error = |reason: String| DevicesError::Row {
                file: file.to_string(),
                line,
                reason,
            };
            let key = parse_key(field(0)).ok_or_else(|| {
                row_error(format!(
                    "{:?} is neither an IP address nor a MAC address",
                    field(0)
                ))
            })?;
            if field(1).is_empty() {
                return Err(row_error("the device column is empty".into()));
            }
            let valid_from = parse_bound(field(3), false)
                .map_err(|_| row_error(format!("valid from {:?} is not a date", field(3))))?;
            let valid_to = parse_bound(field(4), true)
                .map_err(|_| row_error(format!("valid to {:?} is not a date", field(4))))?;
            if let (Some(from), Some(to)) = (valid_from, valid_to)
                && to <= from
            {
                return Err(row_error("valid to is not after valid from".into()));
            }
            rows.push(DeviceRow {
                key,
                device: field(1).to_string(),
                owner: field(2).to_string(),
                valid_from,
                valid_to,
            });
        }
        Ok(Devices {
            rows,
            file: file.to_string(),
        })
    }

    fn find(&self, key: &Key, at: Option<i64>) -> Option<&DeviceRow> {
        self.rows.iter().find(|r| r.key == *key && r.holds_at(at))
    }
}

fn is_header(first: &str) -> bool {
    let first = first.to_ascii_lowercase();
    ["address", "mac", "ip", "address or mac"].contains(&first.as_str())
}

fn parse_key(text: &str) -> Option<Key> {
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Some(Key::Address(ip.to_string()));
    }
    mac(text).map(Key::Mac)
}

/// `90:b1:1c:99:49:29`, `90-B1-1C-99-49-29`, lower-cased with colons.
fn mac(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split([':', '-']).collect();
    let valid = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    valid.then(|| parts.join(":").to_ascii_lowercase())
}

/// A validity bound: empty = none; a date alone starts that day, or (an end) ends it.
fn parse_bound(text: &str, end: bool) -> Result<Option<i64>, ()> {
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>()
        && text.len() == 10
    {
        let day = if end {
            date.tomorrow().map_err(|_| ())?
        } else {
            date
        };
        let start = day
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .map_err(|_| ())?;
        return Ok(Some(start.timestamp().as_microsecond()));
    }
    time::iso(text).map(Some).ok_or(())
}

/// Whose device an address was at a time, and how that is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub device: String,
    /// Empty when only a DHCP host name is known.
    pub owner: String,
    /// How the address was tied to the device: `devices file` or `DHCP lease of <mac>`.
    pub via: String,
}

/// Attributes addresses at times to devices, from the devices file and the leases seen.
pub struct Attribution<'a> {
    devices: Option<&'a Devices>,
    /// Leases sorted by address, then time.
    leases: Vec<&'a SeenLease>,
}

impl<'a> Attribution<'a> {
    pub fn new(devices: Option<&'a Devices>, leases: &'a [SeenLease]) -> Attribution<'a> {
        let mut leases: Vec<&SeenLease> = leases.iter().filter(|l| l.time.is_some()).collect();
        leases.sort_by(|a, b| (&a.address, a.time).cmp(&(&b.address, b.time)));
        Attribution { devices, leases }
    }

    /// Whether anything can be attributed at all.
    pub fn is_empty(&self) -> bool {
        self.devices.is_none_or(|d| d.rows.is_empty()) && self.leases.is_empty()
    }

    /// The device `address` was at `at`: a devices-file row for the address first, then the
    /// lease that held the address then (the MAC's row in the devices file, or the DHCP host
    /// name the device gave).
    pub fn who(&self, address: &str, at: Option<i64>) -> Option<Owner> {
        let address = address
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.to_string())
            .unwrap_or_else(|_| address.to_string());
        if let Some(row) = self
            .devices
            .and_then(|d| d.find(&Key::Address(address.clone()), at))
        {
            return Some(Owner {
                device: row.device.clone(),
                owner: row.owner.clone(),
                via: "devices file".into(),
            });
        }
        let lease = self.lease(&address, at?)?;
        let via = format!("DHCP lease of {}", lease.mac);
        if let Some(row) = self
            .devices
            .and_then(|d| d.find(&Key::Mac(lease.mac.clone()), at))
        {
            return Some(Owner {
                device: row.device.clone(),
                owner: row.owner.clone(),
                via,
            });
        }
        lease.host_name.as_ref().map(|host| Owner {
            device: host.clone(),
            owner: String::new(),
            via,
        })
    }

    /// The latest lease of `address` granted at or before `at` that had not run out (a lease
    /// without a length holds until the next lease of the address).
    fn lease(&self, address: &str, at: i64) -> Option<&'a SeenLease> {
        let start = self
            .leases
            .partition_point(|l| l.address.as_str() < address);
        let of_address = self.leases[start..]
            .iter()
            .take_while(|l| l.address == address);
        let latest = of_address
            .take_while(|l| l.time.is_some_and(|t| t <= at))
            .last()?;
        let granted = latest.time?;
        let ends = latest
            .seconds
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| granted.saturating_add((s * 1_000_000.0) as i64));
        ends.is_none_or(|end| at < end).then_some(*latest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<i64> {
        time::iso(text)
    }

    #[test]
    fn rows_are_read_with_their_validity() {
        let devices = Devices::read(
            "address or MAC,device,owner,valid from,valid to\n\
             10.0.0.5,iPhone 15,A. Member,2026-12-01,2026-12-02\n\
             90-B1-1C-99-49-29,Pixel 8,B. Member,,\n"
                .as_bytes(),
            "devices.csv",
        )
        .unwrap();
        assert_eq!(devices.rows.len(), 2);
        assert_eq!(devices.rows[1].key, Key::Mac("90:b1:1c:99:49:29".into()));
        let first = &devices.rows[0];
        assert!(first.holds_at(at("2026-12-02T23:59:59Z")));
        assert!(!first.holds_at(at("2026-12-03T00:00:00Z")));
        assert!(!first.holds_at(at("2026-11-30T23:59:59Z")));
        assert!(!first.holds_at(None));
    }

    #[test]
    fn bad_rows_name_the_file_and_line() {
        let err = Devices::read(
            "10.0.0.5,phone,me\nnot-an-address,x,y\n".as_bytes(),
            "d.csv",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "d.csv, line 2: \"not-an-address\" is neither an IP address nor a MAC address"
        );
        let err = Devices::read("10.0.0.5,phone,me,yesterday\n".as_bytes(), "d.csv").unwrap_err();
        assert_eq!(
            err.to_string(),
            "d.csv, line 1: valid from \"yesterday\" is not a date"
        );
    }

    #[test]
    fn leases_without_a_length_hold_until_the_next() {
        let lease = |time: &str, mac: &str, seconds: Option<f64>| SeenLease {
            time: at(time),
            address: "10.0.0.9".into(),
            mac: mac.into(),
            host_name: Some(format!("host-{mac}")),
            seconds,
        };
        let leases = vec![
            lease("2026-12-03T12:00:00Z", "bb", None),
            lease("2026-12-03T08:00:00Z", "aa", None),
            lease("2026-12-03T20:00:00Z", "cc", Some(60.0)),
        ];
        let who = Attribution::new(None, &leases);
        let device = |t: &str| who.who("10.0.0.9", at(t)).map(|o| o.device);
        assert_eq!(device("2026-12-03T07:59:59Z"), None);
        assert_eq!(device("2026-12-03T09:00:00Z").as_deref(), Some("host-aa"));
        assert_eq!(device("2026-12-03T12:00:00Z").as_deref(), Some("host-bb"));
        assert_eq!(device("2026-12-03T20:00:59Z").as_deref(), Some("host-cc"));
        assert_eq!(device("2026-12-03T20:01:00Z"), None);
        assert_eq!(who.who("10.0.0.10", at("2026-12-03T09:00:00Z")), None);
    }
}
