//! Turning the times logs write into one scale (microseconds since the epoch, UTC) and back
//! into the `YYYY-MM-DD HH:MM:SS.ffffff` every Portcullis output uses.

use crate::line::RawTime;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Microseconds since the epoch, or `None` when the text is not a time of its kind.
pub fn micros(time: RawTime<'_>) -> Option<i64> {
    match time {
        RawTime::Unknown => None,
        RawTime::Micros(m) => Some(m),
        RawTime::Epoch(text) => epoch(text),
        RawTime::Iso(text) => iso(text),
        RawTime::Bind(text) => bind(text),
        RawTime::Syslog { text, year } => syslog(text, year),
        RawTime::Clf(text) => clf(text),
    }
}

/// `1300475167.096535`, `1300475167`, `1157689312.049`.
pub fn epoch(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || whole.len() > 12 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds: i64 = whole.parse().ok()?;
    let mut micros = 0i64;
    for (i, digit) in fraction.bytes().take(6).enumerate() {
        micros += i64::from(digit - b'0') * 10i64.pow(5 - i as u32);
    }
    seconds.checked_mul(1_000_000)?.checked_add(micros)
}

/// RFC 3339 or ISO 8601 (`+0000` offsets as Suricata writes them, `Z`, or none = UTC).
pub fn iso(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Some(ts.as_microsecond());
    }
    // Suricata's `+0000` (no colon) and zone-less times.
    if let Ok(zoned) =
        jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%.f%z", text).and_then(|t| t.to_timestamp())
    {
        return Some(zoned.as_microsecond());
    }
    let civil: jiff::civil::DateTime = text.parse().ok()?;
    Some(
        civil
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp()
            .as_microsecond(),
    )
}

/// BIND's `18-Mar-2019 08:36:08.442`.
pub fn bind(text: &str) -> Option<i64> {
    let (date, clock) = text.trim().split_once(' ')?;
    let mut parts = date.splitn(3, '-');
    let day: i8 = parts.next()?.parse().ok()?;
    let month = month(parts.next()?)?;
    let year: i16 = parts.next()?.parse().ok()?;
    civil(year, month, day, clock)
}

/// Syslog's `Mar 18 08:36:08` (day padded with a space: `Mar  8`), in `year`.
pub fn syslog(text: &str, year: i16) -> Option<i64> {
    let mut parts = text.split_whitespace();
    let month = month(parts.next()?)?;
    let day: i8 = parts.next()?.parse().ok()?;
    civil(year, month, day, parts.next()?)
}

/// The common log format's `03/Dec/2026:10:15:02 +0000`.
pub fn clf(text: &str) -> Option<i64> {
    let (clock, offset) = text
        .trim()
        .split_once(' ')
        .unwrap_or((text.trim(), "+0000"));
    let (date, clock) = clock.split_once(':')?;
    let mut parts = date.splitn(3, '/');
    let day: i8 = parts.next()?.parse().ok()?;
    let month = month(parts.next()?)?;
    let year: i16 = parts.next()?.parse().ok()?;
    let local = civil(year, month, day, clock)?;
    let sign = match offset.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = offset.get(1..)?;
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i64 = digits.get(..2)?.parse().ok()?;
    let minutes: i64 = digits.get(2..)?.parse().ok()?;
    local.checked_sub(sign * (hours * 3600 + minutes * 60) * 1_000_000)
}

fn month(name: &str) -> Option<i8> {
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(name))
        .map(|i| i as i8 + 1)
}

fn civil(year: i16, month: i8, day: i8, clock: &str) -> Option<i64> {
    let time: jiff::civil::Time = clock.parse().ok()?;
    let date = jiff::civil::Date::new(year, month, day).ok()?;
    let zoned = date
        .to_datetime(time)
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .ok()?;
    Some(zoned.timestamp().as_microsecond())
}

/// `YYYY-MM-DD HH:MM:SS.ffffff`, as every Portcullis output writes times.
pub fn display(micros: i64) -> String {
    match jiff::Timestamp::from_microsecond(micros) {
        Ok(ts) => ts.strftime("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_style_lands_on_the_same_instant() {
        let instant = 1_552_898_168_442_000;
        let want = Some(instant);
        assert_eq!(epoch("1552898168.442"), want);
        assert_eq!(iso("2019-03-18T08:36:08.442000+0000"), want);
        assert_eq!(iso("2019-03-18T08:36:08.442Z"), want);
        assert_eq!(iso("2019-03-18T08:36:08.442"), want);
        assert_eq!(bind("18-Mar-2019 08:36:08.442"), want);
        assert_eq!(syslog("Mar 18 08:36:08.442", 2019), want);
        assert_eq!(clf("18/Mar/2019:09:36:08.442 +0100"), want);
        assert_eq!(clf("18/Mar/2019:08:36:08.442 +0000"), want);
        assert_eq!(display(instant), "2019-03-18 08:36:08.442000");
        assert_eq!(syslog("Mar  8 08:36:08", 2019), Some(1_552_034_168_000_000));
    }

    #[test]
    fn masked_and_broken_times_are_unknown() {
        assert_eq!(epoch("XXXXXXXXXX.XXXXXX"), None);
        assert_eq!(epoch(""), None);
        assert_eq!(epoch("99999999999999999999"), None);
        assert_eq!(iso("yesterday"), None);
        assert_eq!(bind("31-Feb-2019 08:36:08"), None);
        assert_eq!(syslog("Foo 18 08:36:08", 2019), None);
        assert_eq!(clf("18/Mar/2019:08:36:08 0000"), None);
        assert_eq!(clf("18/Mar/2019"), None);
    }
}
