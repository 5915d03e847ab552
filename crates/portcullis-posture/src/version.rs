//! Dotted OS versions ("18.7.10") compared numerically, and dates.

use std::cmp::Ordering;

/// A parsed dotted version; missing components count as 0 ("18.7" == "18.7.0").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(Vec<u32>);

impl Version {
    /// Parses "18.7.10" (a trailing non-numeric suffix such as " (a)" is ignored); `None` when it
    /// does not start with a number.
    pub fn parse(s: &str) -> Option<Version> {
        let head: String = s
            .trim()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let parts: Option<Vec<u32>> = head
            .split('.')
            .filter(|p| !p.is_empty())
            .map(|p| p.parse().ok())
            .collect();
        let parts = parts?;
        if parts.is_empty() {
            return None;
        }
        Some(Version(parts))
    }

    pub fn major(&self) -> u32 {
        self.0[0]
    }

    fn component(&self, i: usize) -> u32 {
        self.0.get(i).copied().unwrap_or(0)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.0.len().max(other.0.len());
        (0..n)
            .map(|i| self.component(i).cmp(&other.component(i)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares two version strings; `None` if either does not parse.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(Version::parse(a)?.cmp(&Version::parse(b)?))
}

/// The date at the start of an ISO date or time string (`2026-08-22`, `2026-08-22T18:45:03Z`,
/// `2026-08-22 18:45:03.000000`).
pub fn parse_date(s: &str) -> Option<jiff::civil::Date> {
    s.trim().get(..10)?.parse().ok()
}

/// Whole days from `from` to `to` (negative when `to` is earlier).
pub fn days_between(from: jiff::civil::Date, to: jiff::civil::Date) -> i64 {
    from.until((jiff::Unit::Day, to))
        .map(|span| i64::from(span.get_days()))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(compare("18.7.10", "18.7.9"), Some(Ordering::Greater));
        assert_eq!(compare("18.7", "18.7.0"), Some(Ordering::Equal));
        assert_eq!(compare("15.8.5", "26.0"), Some(Ordering::Less));
        assert_eq!(compare("16.5.1 (a)", "16.5.1"), Some(Ordering::Equal));
        assert_eq!(compare("x", "1"), None);
        assert_eq!(Version::parse("26.6.1").unwrap().major(), 26);
    }

    #[test]
    fn dates() {
        let a = parse_date("2026-08-22T18:45:03Z").unwrap();
        let b = parse_date("2026-10-21").unwrap();
        assert_eq!(days_between(a, b), 60);
        assert_eq!(days_between(b, a), -60);
        assert!(parse_date("22/08/2026").is_none());
    }
}
