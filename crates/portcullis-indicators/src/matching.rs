//! Looking values up: the `check_*` methods and the rules of `docs/matching.md`.

use std::borrow::Cow;

use crate::ObservedKind;
use crate::keys::{Entry, cert_hash, hash_type, ip_display, label_bit, lower};
use crate::normalize::Host;
use crate::types::{IndicatorMatch, IocType, MatchRule};
use crate::{Indicators, normalize};

impl Indicators {
    fn find(&self, ioc_type: IocType, key: &str) -> Option<(&str, &Entry)> {
        self.tables[ioc_type as usize].get_key_value(key)
    }

    fn hit(
        &self,
        input: &str,
        ioc_type: IocType,
        value: &str,
        entry: &Entry,
        rule: MatchRule,
    ) -> IndicatorMatch {
        let c = self.records.collection(entry.indicator);
        let (collection, file) = self
            .collections
            .get(c as usize)
            .map(|c| (c.name.clone(), c.file.clone()))
            .unwrap_or_default();
        IndicatorMatch {
            input: input.to_string(),
            value: value.to_string(),
            ioc_type,
            collection,
            file,
            rule,
            stix: self.records.info(entry.indicator),
        }
    }

    fn hit_entry(
        &self,
        input: &str,
        ioc_type: IocType,
        found: (&str, &Entry),
        rule: MatchRule,
    ) -> IndicatorMatch {
        let (key, entry) = found;
        self.hit(input, ioc_type, self.value(key, entry), entry, rule)
    }

    fn check_exact(&self, input: &str, ioc_type: IocType, key: &str) -> Option<IndicatorMatch> {
        let found = self.find(ioc_type, key)?;
        Some(self.hit_entry(input, ioc_type, found, MatchRule::Exact))
    }

    /// A URL, bare host name or IP address against URL, domain and IP indicators.
    pub fn check_url(&self, url: &str) -> Option<IndicatorMatch> {
        let s = url.trim();
        if s.is_empty() {
            return None;
        }
        if !self.tables[IocType::Urls as usize].is_empty() {
            if let Some(found) = self.check_exact(url, IocType::Urls, s) {
                return Some(found);
            }
            if let Some(canonical) = normalize::url(s)
                && let Some(found) = self.check_exact(url, IocType::Urls, &canonical)
            {
                return Some(found);
            }
        }
        if !self.tables[IocType::UrlPaths as usize].is_empty()
            && let Some(found) = normalize::url_path_candidates(s)
                .find_map(|path| self.find(IocType::UrlPaths, path))
        {
            return Some(self.hit_entry(url, IocType::UrlPaths, found, MatchRule::UrlPath));
        }
        // A bare host name in canonical form (most of what modules check) needs one pass.
        let plain =
            normalize::plain_host(s).or_else(|| normalize::plain_host(normalize::host_of(s)));
        let host = match plain {
            Some(plain) => Host::Name(Cow::Borrowed(plain)),
            None => normalize::host(normalize::host_of(s))?,
        };
        self.check_parsed_host(url, host)
    }

    /// A bare host name (a DNS query, a TLS server name, an HTTP Host header) or IP address
    /// against domain and IP indicators; URL indicators are not consulted.
    pub fn check_host(&self, host: &str) -> Option<IndicatorMatch> {
        let s = host.trim();
        if s.is_empty() {
            return None;
        }
        let parsed = match normalize::plain_host(s) {
            Some(plain) => Host::Name(Cow::Borrowed(plain)),
            None => normalize::host(s)?,
        };
        self.check_parsed_host(host, parsed)
    }

    /// An IP address (v4 or v6, optionally in brackets) against IP and CIDR indicators; a
    /// name is not an address and never matches.
    pub fn check_ip(&self, address: &str) -> Option<IndicatorMatch> {
        let s = address.trim();
        let bare = s
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(s);
        match normalize::host(bare)? {
            Host::Ip(ip) => self.check_parsed_host(address, Host::Ip(ip)),
            Host::Name(_) => None,
        }
    }

    fn check_parsed_host(&self, input: &str, host: Host<'_>) -> Option<IndicatorMatch> {
        self.observe_host(&host);
        match host {
            Host::Ip(ip) => {
                let ((net, prefix), entry) = self.ips.lookup(ip)?;
                let shown = ip_display(*net, *prefix);
                let value = self.value(&shown, entry);
                Some(self.hit(
                    input,
                    IocType::IpAddresses,
                    value,
                    entry,
                    MatchRule::IpAddress,
                ))
            }
            Host::Name(name) => {
                let domains = &self.tables[IocType::Domains as usize];
                if domains.is_empty() {
                    return None;
                }
                let depths = self.domain_label_counts;
                normalize::suffixes(&name).find_map(|(labels, suffix)| {
                    if depths & label_bit(labels) == 0 {
                        return None;
                    }
                    let found = self.find(IocType::Domains, suffix)?;
                    let rule = if suffix.len() == name.len() {
                        MatchRule::Domain
                    } else {
                        MatchRule::SubDomain
                    };
                    Some(self.hit_entry(input, IocType::Domains, found, rule))
                })
            }
        }
    }

    /// The first of several URLs (in order) that matches.
    pub fn check_urls<'a>(
        &self,
        urls: impl IntoIterator<Item = &'a str>,
    ) -> Option<IndicatorMatch> {
        urls.into_iter().find_map(|u| self.check_url(u))
    }

    /// A process name (or a path to an executable; its base name is compared).
    pub fn check_process(&self, name: &str) -> Option<IndicatorMatch> {
        let base = name.rsplit_once('/').map_or(name, |(_, base)| base);
        if base.is_empty() {
            return None;
        }
        self.observe_value(ObservedKind::Process, base);
        if let Some(found) = self.check_exact(name, IocType::Processes, base) {
            return Some(found);
        }
        // The kernel truncates process names to 16 characters: such a name may be the start
        // of a longer indicator.
        if base.chars().count() == 16 {
            let full = self.truncated.get(base)?;
            let found = self.find(IocType::Processes, full)?;
            return Some(self.hit_entry(
                name,
                IocType::Processes,
                found,
                MatchRule::TruncatedProcess,
            ));
        }
        None
    }

    pub fn check_email(&self, email: &str) -> Option<IndicatorMatch> {
        let e = email.trim();
        let e = match e.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => &e[7..],
            _ => e,
        };
        self.check_exact(email, IocType::Emails, &lower(e))
    }

    pub fn check_file_name(&self, name: &str) -> Option<IndicatorMatch> {
        self.check_exact(name, IocType::FileNames, name)
    }

    /// A path against file-name (its base name) and file-path (prefix) indicators.
    pub fn check_file_path(&self, path: &str) -> Option<IndicatorMatch> {
        let base = path.rsplit_once('/').map_or(path, |(_, base)| base);
        if !base.is_empty()
            && let Some(found) = self.find(IocType::FileNames, base)
        {
            return Some(self.hit_entry(path, IocType::FileNames, found, MatchRule::FileName));
        }
        if self.tables[IocType::FilePaths as usize].is_empty() {
            return None;
        }
        // The path itself, then each parent folder: a prefix match on component boundaries
        // only (`/a/b` matches `/a/b/c`, never `/a/bc`).
        let mut candidate = path.trim_end_matches('/');
        while !candidate.is_empty() {
            if let Some(found) = self.find(IocType::FilePaths, candidate) {
                return Some(self.hit_entry(
                    path,
                    IocType::FilePaths,
                    found,
                    MatchRule::PathPrefix,
                ));
            }
            candidate = match candidate.rfind('/') {
                Some(slash) => candidate[..slash].trim_end_matches('/'),
                None => "",
            };
        }
        None
    }

    /// Any `/`-separated component of a path against process indicators.
    pub fn check_path_contains_process(&self, path: &str) -> Option<IndicatorMatch> {
        path.split('/')
            .filter(|c| !c.is_empty())
            .find_map(|component| {
                let found = self.find(IocType::Processes, component)?;
                Some(self.hit_entry(path, IocType::Processes, found, MatchRule::PathComponent))
            })
    }

    pub fn check_profile_id(&self, uuid: &str) -> Option<IndicatorMatch> {
        self.check_exact(uuid, IocType::IosProfileIds, &lower(uuid.trim()))
    }

    /// An MD5, SHA-1 or SHA-256 hash (chosen by length).
    pub fn check_file_hash(&self, hash: &str) -> Option<IndicatorMatch> {
        let h = hash.trim();
        let key = lower(h);
        self.observe_value(ObservedKind::Hash, &key);
        self.check_exact(hash, hash_type(h), &key)
    }

    pub fn check_app_cert_hash(&self, hash: &str) -> Option<IndicatorMatch> {
        let key = cert_hash(hash);
        self.observe_value(ObservedKind::Hash, &key);
        self.check_exact(hash, IocType::AppCertHashes, &key)
    }

    /// A TLS certificate fingerprint (hex, with or without colons, any case) against
    /// `x509-certificate:hashes` indicators.
    pub fn check_cert_hash(&self, hash: &str) -> Option<IndicatorMatch> {
        let key = cert_hash(hash);
        self.observe_value(ObservedKind::Hash, &key);
        self.check_exact(hash, IocType::CertHashes, &key)
    }

    pub fn check_app_id(&self, app_id: &str) -> Option<IndicatorMatch> {
        let key = lower(app_id.trim());
        self.observe_value(ObservedKind::AppId, &key);
        self.check_exact(app_id, IocType::AppIds, &key)
    }

    pub fn check_android_property(&self, name: &str) -> Option<IndicatorMatch> {
        self.check_exact(name, IocType::AndroidPropertyNames, &lower(name.trim()))
    }
}
