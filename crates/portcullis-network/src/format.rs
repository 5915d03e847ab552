//! The formats, behind one trait: each recognises its own files from their first lines and
//! reads them into the check. Adding a format is one file and one line in [`ALL`].

use std::io::Read;
use std::path::Path;

use crate::check::{Check, Tally};

/// The formats, in the order they are tried on a file.
pub static ALL: &[&dyn Format] = &[
    &crate::formats::pcap::Pcap,
    &crate::formats::zeek::Zeek,
    &crate::formats::suricata::Suricata,
    &crate::formats::pihole::Pihole,
    &crate::formats::bind::Bind,
    &crate::formats::unbound::Unbound,
    &crate::formats::dnsmasq::Dnsmasq,
    &crate::formats::squid::Squid,
];

/// Which module a file reports under: MVT-style slug and class name (`zeek_dns`, `ZeekDns`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Module {
    pub slug: &'static str,
    pub name: &'static str,
}

/// The start of a file (after decompression), for recognising its format.
pub struct Head<'a> {
    pub bytes: &'a [u8],
    /// The first lines that are text, up to 20, without line endings (the last may be cut).
    pub lines: Vec<&'a str>,
}

impl<'a> Head<'a> {
    pub fn new(bytes: &'a [u8]) -> Head<'a> {
        let lines = bytes
            .split(|&b| b == b'\n')
            .filter_map(|l| std::str::from_utf8(l).ok())
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .filter(|l| !l.trim().is_empty())
            .take(20)
            .collect();
        Head { bytes, lines }
    }
}

/// One file, ready to be read.
pub struct Input<'a> {
    /// The contents, decompressed, from the start.
    pub reader: &'a mut (dyn Read + Send),
    /// The first bytes of the contents (the reader gives them too), to tell a format's
    /// variants apart (Zeek TSV or JSON).
    pub head: &'a [u8],
    /// The file itself when it is a plain file on disk (a database must be opened by path).
    pub path: Option<&'a Path>,
    /// The year for times logged without one (syslog): the file's modification year.
    pub year: i16,
}

/// How reading a file ended.
pub struct Outcome {
    pub tally: Tally,
    /// What stopped the file early (a truncated capture, a damaged gzip stream); what was read
    /// before it is in the tally.
    pub stopped: Option<String>,
}

impl Outcome {
    /// How a text log's reading ended: a stream that broke off (a truncated gzip) ends the
    /// file with what was read before it.
    pub fn of_text(tally: Tally, error: Option<std::io::Error>) -> Outcome {
        Outcome {
            tally,
            stopped: error.map(|e| format!("the file ends early: {e}")),
        }
    }
}

/// A log or capture format.
pub trait Format: Sync {
    /// The name `--kind` takes: `zeek`, `suricata`, `bind`, `unbound`, `dnsmasq`, `pihole`,
    /// `squid`, `pcap`.
    fn kind(&self) -> &'static str;

    /// The module a file of this format reports under, if `head` is this format's.
    fn recognise(&self, head: &Head<'_>) -> Option<Module>;

    /// Reads the file to the end, checking every record.
    fn read(&self, module: Module, input: Input<'_>, check: &Check<'_>) -> Outcome;
}

/// The format and module of a file, from its head; `kind` limits the formats tried.
pub fn recognise(head: &Head<'_>, kind: Option<&str>) -> Option<(&'static dyn Format, Module)> {
    ALL.iter()
        .filter(|f| kind.is_none_or(|k| f.kind() == k))
        .find_map(|f| f.recognise(head).map(|m| (*f, m)))
}

/// Every `--kind` name.
pub fn kinds() -> Vec<&'static str> {
    ALL.iter().map(|f| f.kind()).collect()
}
