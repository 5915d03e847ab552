//! Network, DNS and proxy logs and packet captures, checked against the same indicators as
//! phones: Zeek, Suricata, BIND, Unbound, dnsmasq, Pi-hole, Squid, pcap and pcapng.
//!
//! Every format turns its records into a [`line::Line`] (who asked, whom they reached, the
//! names and addresses seen); [`check::Check`] looks those up with the label-safe rules of
//! `docs/matching.md` and tallies the file. Text logs are read in batches of whole lines on
//! every core ([`text`]), so memory stays flat however large the log.

pub mod check;
pub mod devices;
pub mod format;
pub mod formats;
pub mod line;
pub mod run;
pub mod scan;
pub mod source;
pub mod text;
pub mod time;
