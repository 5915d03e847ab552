//! Which of today's indicators are newer than the earlier check, and which were withdrawn
//! since: read from each indicator's own STIX times (`created`, `modified`, `revoked`,
//! `valid_until`), so no record of the earlier indicator set is needed.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

/// Most bytes of one indicator file read for its times (the files were loaded already).
const MAX_FILE: u64 = 2 << 30;

#[derive(Deserialize)]
struct Bundle {
    #[serde(default)]
    objects: Vec<Object>,
}

#[derive(Deserialize)]
struct Object {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    pattern: String,
    #[serde(default)]
    created: String,
    #[serde(default)]
    modified: String,
    #[serde(default)]
    revoked: bool,
    #[serde(default)]
    valid_until: String,
}

/// What one indicator says of its own history.
#[derive(Debug, Clone)]
pub(crate) struct Dated {
    pub pattern: String,
    pub created: String,
    pub modified: String,
    pub revoked: bool,
    pub valid_until: String,
    pub file: String,
}

/// Every indicator of the files, by STIX id (the latest `modified` when an id repeats).
pub(crate) fn read(files: &[&Path]) -> (HashMap<String, Dated>, Vec<String>) {
    let mut by_id: HashMap<String, Dated> = HashMap::new();
    let mut warnings = Vec::new();
    for path in files {
        let bundle = std::fs::File::open(path)
            .and_then(|f| {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_FILE), &mut bytes)?;
                Ok(bytes)
            })
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Bundle>(&b).map_err(|e| e.to_string()));
        let bundle = match bundle {
            Ok(b) => b,
            Err(e) => {
                warnings.push(format!(
                    "{}: its indicators' dates could not be read ({e})",
                    path.display()
                ));
                continue;
            }
        };
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for o in bundle.objects.into_iter().filter(|o| o.kind == "indicator") {
            let newer = by_id
                .get(&o.id)
                .is_none_or(|held| stamp(&o.modified) > stamp(&held.modified));
            if newer {
                by_id.insert(
                    o.id,
                    Dated {
                        pattern: o.pattern,
                        created: o.created,
                        modified: o.modified,
                        revoked: o.revoked,
                        valid_until: o.valid_until,
                        file: file.clone(),
                    },
                );
            }
        }
    }
    (by_id, warnings)
}

/// A time as `YYYY-MM-DDTHH:MM:SS` for comparing: STIX writes `T…Z`, MVT and Portcullis
/// reports a space; fractions and zones are dropped (MVT's `date` is local time, so a
/// comparison with it is good to the time-zone offset).
pub(crate) fn stamp(time: &str) -> String {
    let t: String = time.chars().take(19).collect();
    t.replace(' ', "T")
}

impl Dated {
    /// Created after `since`.
    pub(crate) fn added_since(&self, since: &str) -> bool {
        !self.created.is_empty() && stamp(&self.created) > stamp(since)
    }

    /// Revoked, or past its `valid_until`, at `now`.
    pub(crate) fn withdrawn_at(&self, now: &str) -> Option<&'static str> {
        if self.revoked {
            Some("revoked by its author")
        } else if !self.valid_until.is_empty() && stamp(&self.valid_until) <= stamp(now) {
            Some("past its valid_until")
        } else {
            None
        }
    }

    /// Withdrawn after `since` (and by `now`).
    pub(crate) fn withdrawn_since(&self, since: &str, now: &str) -> bool {
        let since = stamp(since);
        if self.revoked {
            stamp(&self.modified) > since
        } else {
            self.withdrawn_at(now).is_some() && stamp(&self.valid_until) > since
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_compare_across_spellings() {
        let d = Dated {
            pattern: String::new(),
            created: "2026-03-01T10:00:00.000Z".into(),
            modified: "2026-06-01T00:00:00Z".into(),
            revoked: true,
            valid_until: String::new(),
            file: String::new(),
        };
        assert!(d.added_since("2026-02-28 23:59:59.000000"));
        assert!(!d.added_since("2026-03-01 10:00:00.000000"));
        assert!(d.withdrawn_since("2026-05-01 00:00:00", "2026-12-01T00:00:00"));
        assert!(!d.withdrawn_since("2026-07-01 00:00:00", "2026-12-01T00:00:00"));
        let expiring = Dated {
            revoked: false,
            valid_until: "2026-09-01T00:00:00Z".into(),
            ..d
        };
        assert_eq!(
            expiring.withdrawn_at("2026-12-01T00:00:00"),
            Some("past its valid_until")
        );
        assert_eq!(expiring.withdrawn_at("2026-08-01T00:00:00"), None);
        assert!(expiring.withdrawn_since("2026-08-01", "2026-12-01T00:00:00"));
    }
}
