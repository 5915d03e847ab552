//! Device wall-clock times: Android records instants (epoch seconds, milliseconds or
//! nanoseconds), MVT shows them in the device's time zone when it is known, as ISO times
//! without an offset.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// The IANA zone `name`, or `None` (with a warning) when it is empty or unknown, so callers fall
/// back to UTC.
pub(crate) fn zone(name: Option<&str>) -> Option<TimeZone> {
    let name = name.map(str::trim).filter(|n| !n.is_empty())?;
    match TimeZone::get(name) {
        Ok(tz) => Some(tz),
        Err(e) => {
            tracing::warn!("unknown time zone \"{name}\" ({e}); times are shown in UTC");
            None
        }
    }
}

/// `ts` as an ISO time in `zone` (UTC when `None`).
pub(crate) fn iso(ts: Timestamp, zone: Option<&TimeZone>) -> String {
    match zone {
        Some(tz) => ts
            .to_zoned_datetime(tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S.%6f")
            .to_string(),
        None => portcullis_report::time::iso(ts),
    }
}

/// An instant given as a JSON number of `per_second` units since the epoch (1 for seconds,
/// 1000 for milliseconds, 10^9 for nanoseconds); fractions are kept to the nanosecond.
pub(crate) fn from_epoch(value: &serde_json::Value, per_second: i64) -> Option<Timestamp> {
    let per_second = i128::from(per_second);
    let nanos_per_unit = 1_000_000_000 / per_second;
    let nanos = match value {
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i128::from(i).checked_mul(nanos_per_unit)?
            } else if let Some(u) = n.as_u64() {
                i128::from(u).checked_mul(nanos_per_unit)?
            } else {
                // Whole units and the fraction apart, so 1700000000.25 s stays .250000.
                let f = n.as_f64()?;
                if !f.is_finite() || f.abs() > 1e20 {
                    return None;
                }
                let whole = f.floor();
                let fraction = ((f - whole) * nanos_per_unit as f64).round() as i128;
                (whole as i128).checked_mul(nanos_per_unit)? + fraction
            }
        }
        serde_json::Value::String(s) => {
            i128::from(s.trim().parse::<i64>().ok()?).checked_mul(nanos_per_unit)?
        }
        _ => return None,
    };
    Timestamp::from_nanosecond(nanos).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn instants_in_a_zone() {
        let ts = from_epoch(&json!(1_700_000_000_000i64), 1000).unwrap();
        assert_eq!(iso(ts, None), "2023-11-14 22:13:20.000000");
        let paris = zone(Some("Europe/Paris")).unwrap();
        assert_eq!(iso(ts, Some(&paris)), "2023-11-14 23:13:20.000000");
        let ns = from_epoch(&json!(1_700_000_002_123_456_789i64), 1_000_000_000).unwrap();
        assert_eq!(iso(ns, None), "2023-11-14 22:13:22.123456");
        assert_eq!(
            iso(from_epoch(&json!(1_593_109_532.5), 1).unwrap(), None),
            "2020-06-25 18:25:32.500000"
        );
        assert_eq!(
            iso(from_epoch(&json!("1550155672"), 1).unwrap(), None),
            "2019-02-14 14:47:52.000000"
        );
        assert!(from_epoch(&json!(1e300), 1).is_none());
        assert!(from_epoch(&json!(i64::MAX), 1).is_none());
        assert!(from_epoch(&json!(u64::MAX), 1000).is_none());
        assert!(from_epoch(&json!("soon"), 1).is_none());
        assert!(from_epoch(&json!(null), 1).is_none());
        assert!(zone(Some("Mars/Olympus")).is_none());
        assert!(zone(Some("  ")).is_none());
        assert!(zone(None).is_none());
    }
}
