//! Packet captures, pcap and pcapng, read as a stream: every packet is sliced down to IPv4 or
//! IPv6 and TCP or UDP, and what it shows in the clear is checked: DNS questions and answers
//! (over UDP and TCP), TLS ClientHello server names, HTTP hosts and URLs, and the servers
//! clients reached. A packet that shows any of these is one record; hits are numbered by
//! packet (1-based, every packet of the file counted).
//!
//! Memory stays flat: `pcap-parser` reads through a buffer that grows only up to
//! [`MAX_BLOCK`], and the set of (client, server, port) already reported is capped at
//! [`MAX_FLOWS`]. Nothing is reassembled: each packet is read on its own, which is enough for
//! DNS, the first segment of a TLS handshake and an HTTP request's headers.

mod dns;
mod http;
mod tls;

use std::borrow::Cow;
use std::net::IpAddr;

use etherparse::err::Layer;
use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use hashbrown::HashSet;
use pcap_parser::pcapng::Block;
use pcap_parser::{Linktype, PcapBlockOwned, PcapError, create_reader};

use crate::check::{Check, Tally};
use crate::format::{Format, Head, Input, Module, Outcome};
use crate::line::{Line, Malformed, RawTime, Seen};

pub struct Pcap;

const PCAP: Module = Module {
    slug: "pcap",
    name: "Pcap",
};

/// The reader's first buffer: many packets per read, small beside the batches of text logs.
const BUFFER: usize = 256 * 1024;
/// The largest block (a packet with its headers, a pcapng block) read: far past any real
/// snaplen (262,144) so real captures pass, small enough that a forged length cannot make us
/// allocate much. A larger block ends the file with a note.
pub const MAX_BLOCK: usize = 16 * 1024 * 1024;
/// (client, server, port) connections remembered per file, so each is reported once; past
/// it, new connections are still checked, on every packet that opens one.
pub const MAX_FLOWS: usize = 100_000;
/// Interfaces remembered per pcapng section; packets on others are counted as malformed.
const MAX_INTERFACES: usize = 4_096;
/// DNS messages read from one TCP segment at most.
const MAX_TCP_MESSAGES: usize = 16;

/// File magic: pcap in both byte orders, with microsecond and nanosecond times, and pcapng's
/// section header block.
const MAGIC: &[[u8; 4]] = &[
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0x0a, 0x0d, 0x0d, 0x0a],
];

impl Format for Pcap {
    fn kind(&self) -> &'static str {
        "pcap"
    }

    fn recognise(&self, head: &Head<'_>) -> Option<Module> {
        let magic = head.bytes.get(..4)?;
        MAGIC.iter().any(|m| m == magic).then_some(PCAP)
    }

    fn read(&self, _module: Module, input: Input<'_>, check: &Check<'_>) -> Outcome {
        let mut capture = Capture {
            check,
            tally: Tally::default(),
            flows: HashSet::new(),
            flows_over: 0,
        };
        let stopped = capture.read(input.reader);
        if capture.flows_over > 0 {
            tracing::warn!(
                "more than {MAX_FLOWS} connections in one capture: {} packets opening others \
                 were checked one by one",
                capture.flows_over
            );
        }
        Outcome {
            tally: capture.tally,
            stopped,
        }
    }
}

/// How a link type's frames reach the IP header.
#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: Linktype,
    /// Timestamp units per second (pcapng `if_tsresol`; 10^6 or 10^9 for pcap); `None` when
    /// the capture gives an impossible one.
    resolution: Option<u64>,
    /// Seconds added to every timestamp (pcapng `if_tsoffset`).
    offset: i64,
}

/// Which transport a connection is on, for the set of those reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Proto {
    Tcp,
    Udp,
}

struct Capture<'c> {
    check: &'c Check<'c>,
    tally: Tally,
    /// (client, server, server port) already reported as a destination.
    flows: HashSet<(IpAddr, IpAddr, u16, Proto)>,
    flows_over: u64,
}

impl Capture<'_> {
    /// Reads every block; returns what stopped the file early, if anything did.
    fn read(&mut self, input: &mut (dyn std::io::Read + Send)) -> Option<String> {
        let mut reader = match create_reader(BUFFER, input) {
            Ok(reader) => reader,
            Err(PcapError::Incomplete(_) | PcapError::Eof) => {
                return Some("the capture ends inside its file header".to_string());
            }
            Err(e) => return Some(format!("not a capture this tool can read: {e}")),
        };
        let mut capacity = BUFFER;
        let mut interfaces: Vec<Interface> = Vec::new();
        let mut packets = 0u64;
        loop {
            let at = reader.consumed();
            match reader.next() {
                Ok((size, block)) => {
                    match block {
                        PcapBlockOwned::LegacyHeader(header) => {
                            interfaces.clear();
                            interfaces.push(Interface {
                                linktype: header.network,
                                resolution: Some(if header.is_nanosecond_precision() {
                                    1_000_000_000
                                } else {
                                    1_000_000
                                }),
                                // `thiszone` is 0 in practice, and times are UTC.
                                offset: 0,
                            });
                        }
                        PcapBlockOwned::Legacy(frame) => {
                            packets += 1;
                            let time = interfaces.first().and_then(|i| {
                                let units = i.resolution?;
                                let ticks = u64::from(frame.ts_sec) * units
                                    + u64::from(frame.ts_usec).min(units - 1);
                                micros(ticks, units, i.offset)
                            });
                            match interfaces.first().copied() {
                                Some(i) => self.packet(packets, time, i.linktype, frame.data),
                                None => self.no_interface(packets),
                            }
                        }
                        PcapBlockOwned::NG(Block::SectionHeader(_)) => interfaces.clear(),
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            if interfaces.len() < MAX_INTERFACES {
                                interfaces.push(Interface {
                                    linktype: idb.linktype,
                                    resolution: resolution(idb.if_tsresol),
                                    offset: idb.ts_offset(),
                                });
                            }
                        }
                        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                            packets += 1;
                            let interface = usize::try_from(epb.if_id)
                                .ok()
                                .and_then(|i| interfaces.get(i).copied());
                            match interface {
                                Some(i) => {
                                    let ticks =
                                        (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                                    let time =
                                        i.resolution.and_then(|r| micros(ticks, r, i.offset));
                                    self.packet(packets, time, i.linktype, epb.data);
                                }
                                None => self.no_interface(packets),
                            }
                        }
                        PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                            packets += 1;
                            // Simple packets belong to the first interface and carry no time.
                            match interfaces.first().copied() {
                                Some(i) => self.packet(packets, None, i.linktype, spb.data),
                                None => self.no_interface(packets),
                            }
                        }
                        PcapBlockOwned::NG(_) => {}
                    }
                    reader.consume(size);
                }
                Err(PcapError::Eof) => return None,
                Err(PcapError::Incomplete(_)) => {
                    let before = reader.data().len();
                    if reader.refill().is_err() {
                        return Some(format!(
                            "the file could not be read past byte {at}, after packet {packets}"
                        ));
                    }
                    // A refill that adds nothing to a full buffer: the block needs more room.
                    if reader.data().len() == before
                        && !reader.reader_exhausted()
                        && !grow(&mut *reader, &mut capacity)
                    {
                        return Some(too_large(at, packets));
                    }
                }
                Err(PcapError::BufferTooSmall) => {
                    if !grow(&mut *reader, &mut capacity) {
                        return Some(too_large(at, packets));
                    }
                    if reader.refill().is_err() {
                        return Some(format!(
                            "the file could not be read past byte {at}, after packet {packets}"
                        ));
                    }
                }
                Err(PcapError::UnexpectedEof) => {
                    return Some(format!(
                        "the capture is cut short: it ends inside the block at byte {at}, \
                         after packet {packets}"
                    ));
                }
                Err(e) => {
                    return Some(format!(
                        "the capture is damaged at byte {at}, after packet {packets}: {}",
                        describe(&e)
                    ));
                }
            }
        }
    }

    fn no_interface(&mut self, packet: u64) {
        self.tally.lines += 1;
        self.tally.malformed(
            packet,
            "",
            &Malformed::new("a packet on an interface the capture does not describe"),
        );
    }

    /// Slices one packet and checks what it shows.
    fn packet(&mut self, no: u64, time: Option<i64>, linktype: Linktype, data: &[u8]) {
        self.tally.lines += 1;
        let sliced = match slice(linktype, data) {
            Ok(sliced) => sliced,
            Err(reason) => {
                self.tally.malformed(no, "", &Malformed::new(reason));
                return;
            }
        };
        let (src, dst) = match &sliced.net {
            Some(LaxNetSlice::Ipv4(ip)) => (
                IpAddr::from(ip.header().source_addr()),
                IpAddr::from(ip.header().destination_addr()),
            ),
            Some(LaxNetSlice::Ipv6(ip)) => (
                IpAddr::from(ip.header().source_addr()),
                IpAddr::from(ip.header().destination_addr()),
            ),
            // ARP, LLDP and the like: nothing to check, nothing wrong.
            Some(LaxNetSlice::Arp(_)) => return,
            None => {
                if let Some((_, layer)) = &sliced.stop_err {
                    self.tally.malformed(no, "", &damaged(*layer));
                }
                return;
            }
        };
        let mut seen = Shown::default();
        match &sliced.transport {
            Some(TransportSlice::Udp(udp)) => {
                let (sport, dport) = (udp.source_port(), udp.destination_port());
                seen.ends(src, sport, dst, dport, "UDP");
                if sport == 53 || dport == 53 {
                    match dns::parse(udp.payload()) {
                        Ok(msg) => {
                            let response = msg.response;
                            seen.dns(msg);
                            if response {
                                seen.swap();
                            } else {
                                self.destination(&mut seen, Proto::Udp);
                            }
                        }
                        Err(reason) => {
                            self.tally.malformed(
                                no,
                                "",
                                &Malformed::new(format!("UDP port 53: {reason}")),
                            );
                            return;
                        }
                    }
                } else if !self.is_reply(src, sport, dst, dport, Proto::Udp) {
                    seen.what = "UDP";
                    self.destination(&mut seen, Proto::Udp);
                }
            }
            Some(TransportSlice::Tcp(tcp)) => {
                let (sport, dport) = (tcp.source_port(), tcp.destination_port());
                seen.ends(src, sport, dst, dport, "TCP");
                let payload = tcp.payload();
                if tcp.syn() && !tcp.ack() {
                    seen.what = "TCP SYN";
                    self.destination(&mut seen, Proto::Tcp);
                } else if payload.is_empty() {
                    return;
                } else if sport == 53 || dport == 53 {
                    if tcp_dns(payload, &mut seen) {
                        self.destination(&mut seen, Proto::Tcp);
                    }
                } else if let Some(sni) = tls::client_hello_sni(payload) {
                    seen.what = "TLS ClientHello";
                    seen.line.push(Seen::Sni, sni);
                    self.destination(&mut seen, Proto::Tcp);
                } else if let Some(request) = http::request(payload) {
                    seen.what = "HTTP request";
                    if let Some(host) = request.host {
                        seen.line.push(Seen::HttpHost, host);
                    }
                    if let Some(url) = request.url {
                        seen.line.push(Seen::HttpUrl, url);
                    }
                    self.destination(&mut seen, Proto::Tcp);
                }
            }
            _ => {
                if let Some((_, layer)) = &sliced.stop_err
                    && matches!(layer, Layer::TcpHeader | Layer::UdpHeader)
                {
                    self.tally.malformed(no, "", &damaged(*layer));
                }
                return;
            }
        }
        if seen.line.items.is_empty() {
            return;
        }
        if let Some(t) = time {
            seen.line.time = RawTime::Micros(t);
        }
        let raw = seen.raw();
        self.check.observe(&mut self.tally, no, &raw, &seen.line);
    }

    /// Adds the server of `seen` as a destination, the first time its client is seen
    /// reaching it on that port.
    fn destination(&mut self, seen: &mut Shown, proto: Proto) {
        let (Some(client), Some(server)) = (seen.client, seen.server) else {
            return;
        };
        let key = (client, server, seen.server_port, proto);
        if self.flows.contains(&key) {
            return;
        }
        if self.flows.len() < MAX_FLOWS {
            self.flows.insert(key);
        } else {
            self.flows_over += 1;
        }
        seen.line.push(Seen::Destination, server.to_string());
    }

    /// Whether a UDP packet answers one its destination sent (so its sender is the server).
    fn is_reply(&self, src: IpAddr, sport: u16, dst: IpAddr, dport: u16, proto: Proto) -> bool {
        if self.flows.contains(&(dst, src, sport, proto)) {
            return true;
        }
        // Past the cap the set no longer knows every flow: a reply from a well-known port
        // to an ephemeral one is taken for one.
        self.flows.len() >= MAX_FLOWS && sport < 1024 && dport >= 1024
    }
}

/// What one packet showed, and who its client and server are.
#[derive(Default)]
struct Shown {
    line: Line<'static>,
    client: Option<IpAddr>,
    server: Option<IpAddr>,
    client_port: u16,
    server_port: u16,
    proto: &'static str,
    what: &'static str,
}

impl Shown {
    /// The packet's sender as the client, its receiver as the server, until told otherwise.
    fn ends(&mut self, src: IpAddr, sport: u16, dst: IpAddr, dport: u16, proto: &'static str) {
        self.client = Some(src);
        self.client_port = sport;
        self.server = Some(dst);
        self.server_port = dport;
        self.proto = proto;
    }

    /// The packet came from the server (a DNS response): its receiver is the client.
    fn swap(&mut self) {
        std::mem::swap(&mut self.client, &mut self.server);
        std::mem::swap(&mut self.client_port, &mut self.server_port);
    }

    fn dns(&mut self, msg: dns::Message) {
        self.what = if msg.response {
            "DNS response"
        } else {
            "DNS query"
        };
        for name in msg.questions {
            self.line.push(Seen::Query, name);
        }
        for name in msg.cnames {
            self.line.push(Seen::Cname, name);
        }
        for address in msg.addresses {
            self.line.push(Seen::Answer, address);
        }
    }

    /// The line's client and server, and the packet as an analyst reads it.
    fn raw(&mut self) -> String {
        let end = |ip: Option<IpAddr>, port: u16| match ip {
            Some(IpAddr::V6(v6)) => format!("[{v6}]:{port}"),
            Some(IpAddr::V4(v4)) => format!("{v4}:{port}"),
            None => String::new(),
        };
        self.line.client = self.client.map(|c| Cow::Owned(c.to_string()));
        self.line.server = self.server.map(|s| Cow::Owned(s.to_string()));
        self.line.client_port = Some(Cow::Owned(self.client_port.to_string()));
        self.line.server_port = Some(Cow::Owned(self.server_port.to_string()));
        let names: Vec<&str> = self.line.items.iter().map(|i| i.value.as_ref()).collect();
        format!(
            "{} {} → {} {}: {}",
            self.proto,
            end(self.client, self.client_port),
            end(self.server, self.server_port),
            self.what,
            names.join(" ")
        )
    }
}

/// DNS over TCP: messages after their 2-byte length, as many as this one segment holds
/// whole. A message split across segments is not reassembled (its first segment is read
/// as far as it goes, which usually reaches the question). Returns whether the segment was
/// a query (its sender is the client).
fn tcp_dns(payload: &[u8], seen: &mut Shown) -> bool {
    let mut rest = payload;
    let mut query = false;
    let mut response = false;
    for _ in 0..MAX_TCP_MESSAGES {
        let Some((len, body)) = rest.split_first_chunk::<2>() else {
            break;
        };
        let len = usize::from(u16::from_be_bytes(*len));
        let (msg, next) = body.split_at(len.min(body.len()));
        match dns::parse(msg) {
            Ok(msg) if msg.response => {
                response = true;
                seen.dns(msg);
            }
            Ok(msg) => {
                query = true;
                seen.dns(msg);
            }
            Err(_) => break,
        }
        rest = next;
    }
    if response && !query {
        seen.swap();
    }
    query
}

/// The packet sliced from its link layer down, leniently: a packet cut by the snaplen still
/// gives the headers and the part of its payload that was captured.
fn slice(linktype: Linktype, data: &[u8]) -> Result<LaxSlicedPacket<'_>, String> {
    let cut = |what: &str| format!("{what} cut short");
    match linktype.0 {
        // Ethernet (VLAN and QinQ tags are read through).
        1 => LaxSlicedPacket::from_ethernet(data).map_err(|_| cut("Ethernet header")),
        // Raw IP.
        101 | 12 | 14 => LaxSlicedPacket::from_ip(data).map_err(|e| format!("IP header: {e}")),
        // BSD loopback (a 4-byte address family), host order (NULL) or network order (LOOP).
        0 | 108 => {
            let ip = data.get(4..).ok_or_else(|| cut("loopback header"))?;
            LaxSlicedPacket::from_ip(ip).map_err(|e| format!("IP header: {e}"))
        }
        // Linux cooked v1: 16 bytes, the protocol last.
        113 => {
            let (Some(proto), Some(rest)) = (data.get(14..16), data.get(16..)) else {
                return Err(cut("Linux cooked header"));
            };
            let ether_type = EtherType(u16::from_be_bytes([proto[0], proto[1]]));
            Ok(LaxSlicedPacket::from_ether_type(ether_type, rest))
        }
        // Linux cooked v2: 20 bytes, the protocol first.
        276 => {
            let (Some(proto), Some(rest)) = (data.get(..2), data.get(20..)) else {
                return Err(cut("Linux cooked v2 header"));
            };
            let ether_type = EtherType(u16::from_be_bytes([proto[0], proto[1]]));
            Ok(LaxSlicedPacket::from_ether_type(ether_type, rest))
        }
        other => Err(format!("link type {other} is not one this tool reads")),
    }
}

fn damaged(layer: Layer) -> Malformed {
    Malformed::new(format!("packet cut short or damaged in its {layer}"))
}

/// Timestamp units per second from pcapng's `if_tsresol`: 10^n, or 2^n with the top bit
/// set. Computed here because pcap-parser 0.17's `ts_resolution` refuses every power of two
/// (it tests the byte, top bit included, against 63).
fn resolution(tsresol: u8) -> Option<u64> {
    let n = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(n)
    } else {
        1u64.checked_shl(n).filter(|_| n < 64)
    }
}

/// Microseconds since the epoch of `ticks` units of `1/units` s, plus `offset` seconds.
fn micros(ticks: u64, units: u64, offset: i64) -> Option<i64> {
    if units == 0 {
        return None;
    }
    let seconds = i128::from(ticks / units) + i128::from(offset);
    let fraction = i128::from(ticks % units) * 1_000_000 / i128::from(units);
    i64::try_from(seconds.checked_mul(1_000_000)?.checked_add(fraction)?).ok()
}

/// Doubles the reader's buffer, up to [`MAX_BLOCK`]; false when it is already that large.
fn grow(reader: &mut dyn pcap_parser::traits::PcapReaderIterator, capacity: &mut usize) -> bool {
    if *capacity >= MAX_BLOCK {
        return false;
    }
    *capacity = (*capacity * 2).min(MAX_BLOCK);
    reader.grow(*capacity)
}

fn too_large(at: usize, packets: u64) -> String {
    format!(
        "a block at byte {at} (after packet {packets}) claims more than {} MiB: the rest of \
         the file is not read",
        MAX_BLOCK / (1024 * 1024)
    )
}

/// A parser error without the bytes it quotes.
fn describe(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("unreadable block ({kind:?})")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_resolution() {
        assert_eq!(micros(1_500_000_001, 1_000_000_000, 0), Some(1_500_000));
        assert_eq!(micros(3_000_007, 1_000_000, 0), Some(3_000_007));
        assert_eq!(micros(5, 1, -2), Some(3_000_000));
        assert_eq!(micros(u64::MAX, 1, i64::MAX), None);
        assert_eq!(micros(1, 0, 0), None);
        assert_eq!(resolution(6), Some(1_000_000));
        assert_eq!(resolution(0x80 | 20), Some(1 << 20));
        assert_eq!(resolution(20), None);
        assert_eq!(resolution(0x80 | 64), None);
    }

    /// Mangled DNS, TLS and HTTP payloads: every parser returns, whatever the bytes.
    #[test]
    fn payload_parsers_survive_mangling() {
        let mut dns = vec![0, 1, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        dns.extend_from_slice(b"\x03www\x04evil\x03com\x00\x00\x01\x00\x01");
        dns.extend_from_slice(b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x06\x03cdn\xc0\x10");
        dns.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x01\x02\x03\x04");
        let mut hello = vec![22, 3, 1, 0, 60, 1, 0, 0, 56, 3, 3];
        hello.extend_from_slice(&[0; 32]);
        hello.extend_from_slice(&[0, 0, 2, 0x13, 1, 1, 0, 0, 13, 0, 0, 0, 9, 0, 7, 0, 0, 4]);
        hello.extend_from_slice(b"evil");
        let http = b"GET /x HTTP/1.1\r\nHost: [::1]:80\r\n\r\n".to_vec();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            for base in [&dns, &hello, &http] {
                let mut bytes = base.clone();
                for _ in 0..(1 + next() % 4) {
                    let at = (next() as usize) % bytes.len();
                    bytes[at] = next() as u8;
                }
                bytes.truncate((next() as usize) % (bytes.len() + 1));
                let _ = dns::parse(&bytes);
                let _ = tls::client_hello_sni(&bytes);
                let _ = http::request(&bytes);
                let mut seen = Shown::default();
                let _ = tcp_dns(&bytes, &mut seen);
            }
        }
    }
}
