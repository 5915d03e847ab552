//! Timestamp conversions used by artifact modules.
//!
//! Every time in records and outputs is an "ISO time" string `YYYY-MM-DD HH:MM:SS.ffffff` in UTC
//! (the format MVT writes), so runs of both tools line up.

use jiff::Timestamp;

/// Seconds between 1970-01-01 and 2001-01-01 (Apple's "Mac absolute time" epoch).
pub const MAC_EPOCH_OFFSET: f64 = 978_307_200.0;

/// Seconds between 1601-01-01 and 1970-01-01 (Chrome/WebKit "Windows" epoch).
const CHROME_EPOCH_OFFSET_SECS: i64 = 11_644_473_600;

/// Formats a timestamp as an ISO time string.
pub fn iso(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%d %H:%M:%S.%6f").to_string()
}

/// Unix seconds (possibly fractional) to ISO time; `None` when out of range or not finite.
pub fn from_unix(secs: f64) -> Option<String> {
    if !secs.is_finite() {
        return None;
    }
    let whole = secs.floor();
    let micros = ((secs - whole) * 1_000_000.0).round() as i64;
    let ts = Timestamp::from_second(whole as i64).ok()?;
    let ts = ts
        .checked_add(jiff::SignedDuration::from_micros(micros))
        .ok()?;
    Some(iso(ts))
}

/// Unix milliseconds to ISO time.
pub fn from_unix_millis(ms: i64) -> Option<String> {
    Timestamp::from_millisecond(ms).ok().map(iso)
}

/// Mac absolute time (seconds since 2001-01-01 UTC) to ISO time.
///
/// Like MVT, an integer of exactly 18 digits is nanoseconds (as `sms.db` stores them) and is
/// reduced to its first 9 digits.
pub fn from_mac_absolute(value: f64) -> Option<String> {
    let secs = if value.fract() == 0.0 && value.abs() >= 1e17 && value.abs() < 1e18 {
        (value / 1e9).trunc()
    } else {
        value
    };
    from_unix(secs + MAC_EPOCH_OFFSET)
}

/// Mac absolute time given as an SQLite integer.
pub fn from_mac_absolute_int(value: i64) -> Option<String> {
    let digits = value.unsigned_abs().checked_ilog10().map_or(1, |d| d + 1);
    let secs = if digits == 18 {
        value / 1_000_000_000
    } else {
        value
    };
    from_unix(secs as f64 + MAC_EPOCH_OFFSET)
}

/// Chrome time (microseconds since 1601-01-01) to ISO time.
pub fn from_chrome(micros: i64) -> Option<String> {
    let ts = Timestamp::from_microsecond(micros).ok()?;
    let ts = ts
        .checked_sub(jiff::SignedDuration::from_secs(CHROME_EPOCH_OFFSET_SECS))
        .ok()?;
    Some(iso(ts))
}

/// The current time as ISO time.
pub fn now() -> String {
    iso(Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_and_mac_times() {
        assert_eq!(
            from_unix(1_700_000_000.0).unwrap(),
            "2023-11-14 22:13:20.000000"
        );
        assert_eq!(
            from_mac_absolute(0.0).unwrap(),
            "2001-01-01 00:00:00.000000"
        );
        assert_eq!(
            from_mac_absolute(588_901_981.253102).unwrap(),
            "2019-08-30 23:53:01.253102"
        );
        assert_eq!(
            from_mac_absolute_int(588_901_981_000_000_000).unwrap(),
            "2019-08-30 23:53:01.000000"
        );
        assert_eq!(from_chrome(0).unwrap(), "1601-01-01 00:00:00.000000");
        assert!(from_unix(f64::NAN).is_none());
        assert!(from_unix(1e30).is_none());
    }
}
