//! What one log line (or packet, or database row) says, in the terms every format shares:
//! who asked, whom they reached, and the names and addresses seen on the way. Parsers fill a
//! [`Line`] borrowing from the text they read; the check decides what to look up.

use std::borrow::Cow;

use serde::Serialize;

/// Where in a record a name or address was seen, which decides how it is checked and how the
/// alert words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Seen {
    /// A name looked up in DNS.
    Query,
    /// A name on the CNAME chain of an answer.
    Cname,
    /// An address (or, where the log mixes them, a name) given in a DNS answer.
    Answer,
    /// The server name a TLS client asked for (ClientHello SNI).
    Sni,
    /// An HTTP request's `Host` (or a proxy's `CONNECT` target).
    HttpHost,
    /// An HTTP request's full URL.
    HttpUrl,
    /// The remote address of a connection.
    Destination,
    /// A name a TLS certificate is for (subject CN, subject alternative names).
    CertName,
    /// A certificate's SHA-1 fingerprint.
    CertSha1,
    /// A certificate's SHA-256 fingerprint.
    CertSha256,
    /// The MD5, SHA-1 or SHA-256 of a file carried over the network.
    FileHash,
}

impl Seen {
    /// How an alert says where the match was seen.
    pub fn describe(self) -> &'static str {
        match self {
            Seen::Query => "DNS query",
            Seen::Cname => "CNAME in a DNS answer",
            Seen::Answer => "DNS answer",
            Seen::Sni => "TLS server name (SNI)",
            Seen::HttpHost => "HTTP host",
            Seen::HttpUrl => "HTTP URL",
            Seen::Destination => "connection",
            Seen::CertName => "name in a TLS certificate",
            Seen::CertSha1 => "TLS certificate (SHA-1)",
            Seen::CertSha256 => "TLS certificate (SHA-256)",
            Seen::FileHash => "file transferred",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Seen::Query => "query",
            Seen::Cname => "cname",
            Seen::Answer => "answer",
            Seen::Sni => "sni",
            Seen::HttpHost => "http_host",
            Seen::HttpUrl => "http_url",
            Seen::Destination => "destination",
            Seen::CertName => "cert_name",
            Seen::CertSha1 => "cert_sha1",
            Seen::CertSha256 => "cert_sha256",
            Seen::FileHash => "file_hash",
        }
    }
}

/// One name or address to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item<'l> {
    pub seen: Seen,
    pub value: Cow<'l, str>,
}

/// When a line was written, as the log wrote it: converted only for lines that matter (a
/// hit, a lease), so the common line costs nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RawTime<'l> {
    #[default]
    Unknown,
    /// Microseconds since the Unix epoch, UTC (packet captures, databases).
    Micros(i64),
    /// Seconds since the epoch with an optional fraction: `1300475167.096535` (Zeek, Squid).
    Epoch(&'l str),
    /// RFC 3339 / ISO 8601 with an offset: `2019-03-18T08:36:08.442337+0000` (Suricata, Zeek
    /// JSON with ISO times). Without an offset it is taken as UTC.
    Iso(&'l str),
    /// BIND's `18-Mar-2019 08:36:08.442`, local time taken as UTC.
    Bind(&'l str),
    /// Syslog's `Mar 18 08:36:08` (no year: `year` is the file's), local time taken as UTC.
    Syslog { text: &'l str, year: i16 },
    /// The common log format's `03/Dec/2026:10:15:02 +0000` (Squid, web servers).
    Clf(&'l str),
}

/// A DHCP lease seen in a log: `address` was given to `mac` at the line's time.
#[derive(Debug, Clone, PartialEq)]
pub struct Lease<'l> {
    pub address: Cow<'l, str>,
    pub mac: Cow<'l, str>,
    pub host_name: Option<Cow<'l, str>>,
    /// How long the lease was granted for, in seconds, when the log says.
    pub seconds: Option<f64>,
}

/// One record of any format, as far as the check is concerned.
#[derive(Debug, Default)]
pub struct Line<'l> {
    pub time: RawTime<'l>,
    /// The device that asked (a DNS client, a connection's originator, a proxy's client).
    pub client: Option<Cow<'l, str>>,
    pub client_port: Option<Cow<'l, str>>,
    /// The server reached, when the log says (a connection's responder).
    pub server: Option<Cow<'l, str>>,
    pub server_port: Option<Cow<'l, str>>,
    /// Names, addresses and fingerprints to check, in the order the record gives them.
    pub items: Vec<Item<'l>>,
    pub lease: Option<Lease<'l>>,
}

impl<'l> Line<'l> {
    /// Empties the line for the next record, keeping the items' allocation.
    pub fn clear(&mut self) {
        self.time = RawTime::Unknown;
        self.client = None;
        self.client_port = None;
        self.server = None;
        self.server_port = None;
        self.items.clear();
        self.lease = None;
    }

    /// Adds a value to check; empty values and Zeek's unset `-` are left out.
    pub fn push(&mut self, seen: Seen, value: impl Into<Cow<'l, str>>) {
        let value = value.into();
        if !value.is_empty() && value != "-" {
            self.items.push(Item { seen, value });
        }
    }
}

/// Why a line could not be read; counted and reported with its file and line, never fatal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub Cow<'static, str>);

impl Malformed {
    pub fn new(reason: impl Into<Cow<'static, str>>) -> Self {
        Malformed(reason.into())
    }
}
