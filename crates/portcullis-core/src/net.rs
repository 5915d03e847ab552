//! Network observations: a device (or a sensor on its network) looked up a name or connected to
//! an address. Android intrusion logs give them today, network logs next; every source turns
//! its records into a [`NetObservation`] and gets the same indicator checks and the same
//! timeline wording from here.

use portcullis_indicators::{IndicatorMatch, Indicators};

/// Addresses that never leave the device; they are never checked against indicators.
const LOCAL: [&str; 3] = ["::1", "127.0.0.1", "0.0.0.0"];

/// What kind of network event was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetKind {
    /// A name was looked up; `addresses` are the answers.
    DnsQuery,
    /// A connection was opened; `addresses` holds the remote address.
    Connection,
}

/// One network event, whatever recorded it.
#[derive(Debug, Clone)]
pub struct NetObservation {
    pub kind: NetKind,
    /// The name looked up or connected to, when known.
    pub host: Option<String>,
    /// Answered or remote addresses, as written (`/198.51.100.1` prefixes already removed).
    pub addresses: Vec<String>,
    pub port: Option<String>,
    /// The app (package name) or process that did it, when known.
    pub app: Option<String>,
}

/// What an observation matched: the hits, each with the field of the source record it came
/// from, and the addresses that matched.
#[derive(Debug, Default)]
pub struct NetHits {
    pub hits: Vec<(&'static str, IndicatorMatch)>,
    pub matched_addresses: Vec<String>,
}

/// Names of the source record's fields, for the alerts' `matched_field`.
#[derive(Debug, Clone, Copy)]
pub struct NetFields {
    pub host: &'static str,
    pub addresses: &'static str,
    pub app: &'static str,
}

impl NetObservation {
    /// The addresses worth checking: not empty, not local.
    pub fn remote_addresses(&self) -> impl Iterator<Item = &str> {
        self.addresses
            .iter()
            .map(String::as_str)
            .filter(|a| !a.is_empty() && !LOCAL.contains(a))
    }

    /// Checks the host, every remote address and the app against `indicators`.
    pub fn check(&self, indicators: &Indicators, fields: NetFields) -> NetHits {
        let mut out = NetHits::default();
        if let Some(hit) = self
            .host
            .as_deref()
            .filter(|h| !h.is_empty())
            .and_then(|h| indicators.check_host(h))
        {
            out.hits.push((fields.host, hit));
        }
        for address in self.remote_addresses() {
            if let Some(hit) = indicators.check_ip(address) {
                out.hits.push((fields.addresses, hit));
                out.matched_addresses.push(address.to_string());
            }
        }
        if let Some(hit) = self
            .app
            .as_deref()
            .filter(|a| !a.is_empty())
            .and_then(|a| indicators.check_app_id(a))
        {
            out.hits.push((fields.app, hit));
        }
        out
    }

    /// The timeline text, as MVT writes it: `DNS query for <host> by <app> [IPs: …]` or
    /// `Connection to <address>:<port> by <app> [Matched IP: …]`.
    pub fn describe(&self, matched: &[String]) -> String {
        let app = self.app.as_deref().unwrap_or_default();
        match self.kind {
            NetKind::DnsQuery => {
                let host = self.host.as_deref().unwrap_or_default();
                let mut data = format!("DNS query for {host} by {app}");
                let shown: Vec<&str> = self
                    .addresses
                    .iter()
                    .map(String::as_str)
                    .filter(|a| !a.is_empty() && *a != "0.0.0.0")
                    .collect();
                if !matched.is_empty() {
                    data.push_str(&format!(" [Matched IPs: {}]", matched.join(", ")));
                } else if !shown.is_empty() {
                    data.push_str(&format!(" [IPs: {}]", shown.join(", ")));
                }
                data
            }
            NetKind::Connection => {
                let address = self.addresses.first().map_or("", String::as_str);
                let port = self.port.as_deref().unwrap_or("0");
                let mut data = format!("Connection to {address}:{port} by {app}");
                if let Some(m) = matched.first() {
                    data.push_str(&format!(" [Matched IP: {m}]"));
                }
                data
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: NetFields = NetFields {
        host: "hostname",
        addresses: "ip_addresses",
        app: "package_name",
    };

    fn indicators() -> Indicators {
        let mut ind = Indicators::new();
        ind.load_bundle(
            portcullis_indicators::test_bundle_json(
                "Net",
                &[
                    "[domain-name:value = 'evil.example']",
                    "[ipv4-addr:value = '198.51.100.1']",
                    "[app:id = 'com.evil.app']",
                ],
            )
            .as_bytes(),
            std::path::Path::new("net.stix2"),
        )
        .unwrap();
        ind
    }

    #[test]
    fn hosts_addresses_and_apps_are_checked_local_addresses_never() {
        let dns = NetObservation {
            kind: NetKind::DnsQuery,
            host: Some("c2.evil.example".into()),
            addresses: vec!["198.51.100.1".into(), "127.0.0.1".into(), "0.0.0.0".into()],
            port: None,
            app: Some("com.evil.app".into()),
        };
        let hits = dns.check(&indicators(), FIELDS);
        let fields: Vec<&str> = hits.hits.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["hostname", "ip_addresses", "package_name"]);
        assert_eq!(hits.matched_addresses, ["198.51.100.1"]);
        assert_eq!(
            dns.describe(&hits.matched_addresses),
            "DNS query for c2.evil.example by com.evil.app [Matched IPs: 198.51.100.1]"
        );
        assert_eq!(
            dns.describe(&[]),
            "DNS query for c2.evil.example by com.evil.app [IPs: 198.51.100.1, 127.0.0.1]"
        );
        let local = NetObservation {
            kind: NetKind::Connection,
            host: None,
            addresses: vec!["::1".into()],
            port: Some("80".into()),
            app: Some("com.example.app".into()),
        };
        assert!(local.check(&indicators(), FIELDS).hits.is_empty());
        assert_eq!(
            local.describe(&[]),
            "Connection to ::1:80 by com.example.app"
        );
    }
}
