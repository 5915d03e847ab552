//! The log formats, one file each.

pub mod pcap;
pub mod suricata;
pub mod zeek;

/// A certificate subject's common name: `CN=www.google.com,O=…` (Zeek) or
/// `C=US, O=…, CN=www.google.com` (Suricata) → `www.google.com`.
fn common_name(subject: &str) -> Option<&str> {
    subject
        .split(',')
        .find_map(|part| part.trim().strip_prefix("CN="))
        .filter(|cn| !cn.is_empty())
}
