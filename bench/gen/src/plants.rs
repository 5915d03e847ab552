//! The known indicator hits planted in generated data, and the indicators that find them. The
//! same plants go into every scale, so a run at any scale must find exactly these.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// Synthetic indicator values planted in the data (they are also in the synthetic bundle).
pub const SMS_DOMAIN: &str = "account-verify-service.com";
pub const SMS_LINK: &str = "https://login.account-verify-service.com/session?id=7f3e9c21";
pub const SAFARI_URL: &str = "https://news-briefing-daily.info/2023/11/article-8841.html";
pub const PROCESS: &str = "netsvcagentd";
pub const MANIFEST_DOMAIN: &str = "cloud-photo-share.xyz";
pub const MANIFEST_PATH: &str =
    "Library/WebKit/WebsiteData/LocalStorage/https_www.cloud-photo-share.xyz_0.localstorage";
pub const ANDROID_APP_ID: &str = "com.system.update.service";

/// Values taken from the Pegasus bundle (when one is given) and planted too.
#[derive(Clone, Debug, Default)]
pub struct Pegasus {
    /// Every domain of the bundle, so everyday traffic can avoid them.
    pub domains: BTreeSet<String>,
    pub processes: Vec<String>,
    /// Planted in an SMS link.
    pub domain: Option<String>,
    /// Planted as a DataUsage process.
    pub process: Option<String>,
}

/// `value` of a `[type:field = 'value']` pattern whose left side is `lhs`.
fn pattern_value(pattern: &str, lhs: &str) -> Option<String> {
    let inner = pattern.trim().strip_prefix('[')?.strip_suffix(']')?;
    let (left, right) = inner.split_once('=')?;
    if left.trim() != lhs {
        return None;
    }
    let v = right.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    Some(v.to_string())
}

impl Pegasus {
    /// Reads domain and process indicators from a STIX2 bundle and picks the planted ones
    /// (by seed, so a seed always plants the same values).
    pub fn load(path: &Path, seed: u64) -> Result<Pegasus> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let bundle: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("parsing {}", path.display()))?;
        let mut domains = Vec::new();
        let mut processes = Vec::new();
        for obj in bundle["objects"].as_array().into_iter().flatten() {
            let Some(p) = obj["pattern"].as_str() else {
                continue;
            };
            if let Some(d) = pattern_value(p, "domain-name:value") {
                domains.push(d.to_lowercase());
            } else if let Some(name) = pattern_value(p, "process:name") {
                processes.push(name);
            }
        }
        // A plain daemon name (not 16 characters long: those also match by prefix).
        let plain: Vec<&String> = processes
            .iter()
            .filter(|p| !p.contains(['/', '.', ' ']) && p.chars().count() != 16)
            .collect();
        let domain = (!domains.is_empty()).then(|| domains[seed as usize % domains.len()].clone());
        let process = (!plain.is_empty()).then(|| plain[seed as usize % plain.len()].clone());
        Ok(Pegasus {
            domains: domains.into_iter().collect(),
            processes,
            domain,
            process,
        })
    }

    /// Whether `site` (or a parent of it) is a Pegasus domain.
    pub fn lists(&self, site: &str) -> bool {
        let mut s = site;
        loop {
            if self.domains.contains(s) {
                return true;
            }
            match s.split_once('.') {
                Some((_, rest)) if rest.contains('.') => s = rest,
                _ => return false,
            }
        }
    }
}

/// One planted hit: the module that must report it and the indicator value it must name.
pub fn expected(pegasus: &Pegasus, ios: bool) -> Vec<Value> {
    let mut out = Vec::new();
    if ios {
        out.push(json!({"module": "sms", "indicator": SMS_DOMAIN, "planted": SMS_LINK}));
        if let Some(d) = &pegasus.domain {
            out.push(json!({"module": "sms", "indicator": d, "planted": pegasus_link(d)}));
        }
        out.push(
            json!({"module": "safari_history", "indicator": SAFARI_URL, "planted": SAFARI_URL}),
        );
        out.push(json!({"module": "datausage", "indicator": PROCESS, "planted": PROCESS}));
        if let Some(p) = &pegasus.process {
            out.push(json!({"module": "datausage", "indicator": p, "planted": p}));
        }
        out.push(
            json!({"module": "manifest", "indicator": MANIFEST_DOMAIN, "planted": MANIFEST_PATH}),
        );
    } else {
        out.push(json!({"module": "dumpsys_packages", "indicator": ANDROID_APP_ID, "planted": ANDROID_APP_ID}));
    }
    out
}

/// The SMS link planted for a Pegasus domain.
pub fn pegasus_link(domain: &str) -> String {
    format!("https://{domain}/f/9c2d4a7e1b")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_parents() {
        assert_eq!(
            pattern_value("[domain-name:value='a.com']", "domain-name:value").as_deref(),
            Some("a.com")
        );
        assert_eq!(
            pattern_value("[process:name = 'bh']", "process:name").as_deref(),
            Some("bh")
        );
        assert_eq!(
            pattern_value("[process:name = 'bh']", "domain-name:value"),
            None
        );
        let p = Pegasus {
            domains: ["evil.com".to_string()].into(),
            ..Pegasus::default()
        };
        assert!(p.lists("www.evil.com"));
        assert!(p.lists("evil.com"));
        assert!(!p.lists("notevil.com"));
    }
}
