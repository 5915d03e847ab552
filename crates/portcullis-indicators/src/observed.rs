//! What a check saw, kept as keyed digests for the security office's re-check: when the
//! office's hub later gains an indicator, the server digests it the same way and finds the
//! earlier checks that saw it, without ever holding the values (`docs/matching.md`,
//! "Re-checking by digest").
//!
//! Both sides normalise as matching does, so a digest of what a check looked up equals the
//! digest of the indicator that would have matched it: host names (and each parent domain a
//! domain indicator could match), single IP addresses, process names (and the 16-character
//! start of a longer process indicator, as the kernel truncates names), app ids, and file,
//! app-certificate and TLS-certificate hashes. URL, e-mail, path and CIDR indicators are not
//! re-checked this way.

use std::net::IpAddr;
use std::sync::Mutex;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::normalize::{self, Host};
use crate::types::IocType;
use crate::{FastState, Indicators};

/// Bytes of HMAC-SHA256 kept per digest: 128 bits leaves no practical collision.
const DIGEST_BYTES: usize = 16;

/// The kind of a seen value: part of what is digested, so a process name never matches a
/// host of the same spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObservedKind {
    Host,
    Ip,
    Process,
    AppId,
    Hash,
}

impl ObservedKind {
    fn tag(self) -> &'static str {
        match self {
            ObservedKind::Host => "host",
            ObservedKind::Ip => "ip",
            ObservedKind::Process => "process",
            ObservedKind::AppId => "app",
            ObservedKind::Hash => "hash",
        }
    }
}

/// The values looked up while observing, normalised, once each.
#[derive(Default)]
pub(crate) struct Observer {
    seen: Mutex<hashbrown::HashSet<(ObservedKind, Box<str>), FastState>>,
}

impl Observer {
    fn record(&self, kind: ObservedKind, value: &str) {
        if value.is_empty() {
            return;
        }
        // A poisoned lock means a module panicked mid-insert; the set is still a set.
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.get_or_insert_with(&Seen(kind, value), |s| (s.0, s.1.into()));
    }
}

/// A lookup of the set without allocating: hashes as the tuple it stands for.
#[derive(Hash)]
struct Seen<'a>(ObservedKind, &'a str);

impl hashbrown::Equivalent<(ObservedKind, Box<str>)> for Seen<'_> {
    fn equivalent(&self, key: &(ObservedKind, Box<str>)) -> bool {
        self.0 == key.0 && self.1 == &*key.1
    }
}

/// An indicator value as the re-check digests it, with what an incident names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicatorDigest {
    pub digest: String,
    pub ioc_type: IocType,
    /// The value as its file writes it.
    pub value: String,
    /// The STIX id of the indicator holding it.
    pub id: String,
    pub collection: String,
}

/// The keyed digest of one normalised value.
fn digest(key: &[u8], kind: ObservedKind, value: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(kind.tag().as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..DIGEST_BYTES])
}

impl Indicators {
    /// Records, from now on, every host, address, process name, app id and hash the `check_*`
    /// methods are asked about, for [`Indicators::observed_digests`]. Off unless asked: a
    /// check that is not submitted keeps nothing.
    pub fn observe(&mut self) {
        self.observer = Some(Box::default());
    }

    pub(crate) fn observe_host(&self, host: &Host<'_>) {
        if let Some(observer) = &self.observer {
            match host {
                Host::Name(name) => observer.record(ObservedKind::Host, name),
                Host::Ip(ip) => observer.record(ObservedKind::Ip, &ip.to_string()),
            }
        }
    }

    pub(crate) fn observe_value(&self, kind: ObservedKind, value: &str) {
        if let Some(observer) = &self.observer {
            observer.record(kind, value);
        }
    }

    /// How many values were seen since [`Indicators::observe`].
    pub fn observed_count(&self) -> usize {
        self.observer.as_ref().map_or(0, |o| {
            o.seen.lock().unwrap_or_else(|e| e.into_inner()).len()
        })
    }

    /// The keyed digests of what was seen, sorted (so their order says nothing of the order
    /// of the records): each host with each parent domain, and every other value as seen.
    pub fn observed_digests(&self, key: &[u8]) -> Vec<String> {
        let Some(observer) = &self.observer else {
            return Vec::new();
        };
        let seen = observer.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut digests: Vec<String> = Vec::with_capacity(seen.len() * 2);
        for (kind, value) in seen.iter() {
            match kind {
                ObservedKind::Host => digests.extend(
                    normalize::suffixes(value).map(|(_, suffix)| digest(key, *kind, suffix)),
                ),
                _ => digests.push(digest(key, *kind, value)),
            }
        }
        digests.sort_unstable();
        digests.dedup();
        digests
    }

    /// Every loaded value the re-check can find by digest, digested with `key`.
    pub fn indicator_digests(&self, key: &[u8]) -> Vec<IndicatorDigest> {
        let mut out = Vec::new();
        let mut push = |kind: ObservedKind,
                        normalised: &str,
                        ioc_type,
                        entry: &crate::keys::Entry,
                        shown: &str| {
            let c = self.records.collection(entry.indicator);
            out.push(IndicatorDigest {
                digest: digest(key, kind, normalised),
                ioc_type,
                value: shown.to_string(),
                id: self.records.id(entry.indicator),
                collection: self
                    .collections
                    .get(c as usize)
                    .map_or_else(String::new, |c| c.name.clone()),
            });
        };
        for t in IocType::ALL {
            let kind = match t {
                IocType::Domains => ObservedKind::Host,
                IocType::Processes => ObservedKind::Process,
                IocType::AppIds => ObservedKind::AppId,
                IocType::FilesMd5
                | IocType::FilesSha1
                | IocType::FilesSha256
                | IocType::AppCertHashes
                | IocType::CertHashes => ObservedKind::Hash,
                _ => continue,
            };
            for (stored, entry) in self.tables[t as usize].iter() {
                let shown = self.value(stored, entry);
                push(kind, stored, t, entry, shown);
                if kind == ObservedKind::Process
                    && let Some((cut, _)) = stored.char_indices().nth(16)
                {
                    push(kind, &stored[..cut], t, entry, shown);
                }
            }
        }
        for (&(ip, prefix), entry) in &self.ips.map {
            if prefix == full_prefix(ip) {
                let text = ip.to_string();
                let shown = self
                    .originals
                    .get(entry.original as usize)
                    .map_or(text.as_str(), |o| o);
                push(ObservedKind::Ip, &text, IocType::IpAddresses, entry, shown);
            }
        }
        out
    }
}

fn full_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::test_bundle_json;

    const KEY: &[u8] = b"organisation key for the tests";

    fn hub() -> Indicators {
        let mut ind = Indicators::new();
        let json = test_bundle_json(
            "Campaign",
            &[
                "[domain-name:value = 'Evil.example.']",
                "[ipv4-addr:value = '203.0.113.7']",
                "[ipv4-addr:value = '198.51.100.0/24']",
                "[process:name = 'com.spyware.agentd.long']",
                "[app:id = 'Com.Spy.App']",
                "[file:hashes.sha256 = 'AA00000000000000000000000000000000000000000000000000000000000001']",
                "[url:value = 'https://shared.example.org/payload']",
            ],
        );
        ind.load_bundle(json.as_bytes(), Path::new("hub.stix2"))
            .expect("test bundle loads");
        ind
    }

    /// The hub values whose digests a check's observations contain, as written.
    fn found(check: &Indicators) -> Vec<String> {
        let seen: std::collections::HashSet<String> =
            check.observed_digests(KEY).into_iter().collect();
        let mut values: Vec<String> = hub()
            .indicator_digests(KEY)
            .into_iter()
            .filter(|d| seen.contains(&d.digest))
            .map(|d| d.value)
            .collect();
        values.sort();
        values.dedup();
        values
    }

    #[test]
    fn what_a_check_looked_up_finds_the_indicators_that_would_have_matched() {
        // The check ran before the hub had these indicators: it matched nothing.
        let mut check = Indicators::new();
        check.observe();
        assert!(check.check_url("https://cdn.EVIL.example./x?y=1").is_none());
        assert!(check.check_ip("203.0.113.7").is_none());
        assert!(check.check_ip("198.51.100.9").is_none());
        assert!(
            check
                .check_process("/system/bin/com.spyware.agen")
                .is_none()
        );
        assert!(check.check_app_id(" com.spy.app ").is_none());
        assert!(
            check
                .check_file_hash("aa00000000000000000000000000000000000000000000000000000000000001")
                .is_none()
        );
        assert!(
            check
                .check_url("https://shared.example.org/payload")
                .is_none()
        );
        assert!(check.check_host("benign.example.net").is_none());
        assert_eq!(
            found(&check),
            [
                "203.0.113.7",
                "AA00000000000000000000000000000000000000000000000000000000000001",
                "Com.Spy.App",
                "Evil.example.",
                "com.spyware.agentd.long",
            ]
        );
        // cdn.evil.example and evil.example, two addresses, a process, an app id, a hash,
        // shared.example.org and its parent, benign.example.net and its parent.
        assert_eq!(check.observed_count(), 8);
        assert_eq!(check.observed_digests(KEY).len(), 11);
    }

    #[test]
    fn kinds_keys_and_observing_keep_digests_apart() {
        let mut check = Indicators::new();
        check.observe();
        // A process spelled like the domain is not the domain.
        check.check_process("evil.example");
        assert!(found(&check).is_empty());
        let other: std::collections::HashSet<String> =
            check.observed_digests(b"another key").into_iter().collect();
        assert!(
            check
                .observed_digests(KEY)
                .iter()
                .all(|d| !other.contains(d))
        );
        assert_eq!(check.observed_digests(KEY)[0].len(), 2 * DIGEST_BYTES);

        let quiet = Indicators::new();
        quiet.check_host("evil.example");
        assert!(quiet.observed_digests(KEY).is_empty());
        assert_eq!(quiet.observed_count(), 0);
    }
}
