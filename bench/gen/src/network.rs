//! Synthetic network logs and captures for the network benchmark: a Zeek `dns.log` (TSV, as
//! Zeek 6 writes it), a Suricata `eve.json` of DNS answers (v2 layout), and a pcap of DNS
//! queries and answers, TLS ClientHellos and HTTP requests. Logs may be written to standard
//! output, endlessly long, so memory can be measured on 10 GB without storing it.
//!
//! Names in the logs come from everyday sites, with one planted sub-domain of an indicator
//! every [`PLANT_EVERY`] records. Names in the capture come from a pool whose members are
//! never sub-domains of one another, written as a bundle of its own (`--names-bundle`), so
//! that every name a checker extracts is counted under exactly one indicator and can be set
//! beside what tshark extracts.

use std::io::{self, Write};

use crate::plants;
use crate::pools::{self, SITES, SUBDOMAINS};
use crate::rng::Rng;

/// One record in this many names the planted indicator.
pub const PLANT_EVERY: u64 = 10_000;
/// 2026-12-03 00:00:00 UTC.
const DAY: u64 = 1_796_256_000;

/// What to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Zeek dns.log, tab-separated with its header.
    Zeek,
    /// Suricata eve.json DNS answer events.
    Eve,
    /// A pcap of DNS, TLS and HTTP packets.
    Pcap,
}

/// The planted name: a sub-domain of an indicator every synthetic bundle holds.
pub fn planted() -> String {
    format!("mail.{}", plants::SMS_DOMAIN)
}

fn client(rng: &mut Rng) -> String {
    format!(
        "10.{}.{}.{}",
        rng.below(4),
        rng.below(250),
        1 + rng.below(250)
    )
}

fn answer(rng: &mut Rng) -> String {
    format!(
        "{}.{}.{}.{}",
        20 + rng.below(180),
        rng.below(256),
        rng.below(256),
        1 + rng.below(254)
    )
}

fn everyday(rng: &mut Rng, n: u64) -> String {
    if n % PLANT_EVERY == PLANT_EVERY / 2 {
        return planted();
    }
    let site = rng.pick(SITES);
    if rng.chance(0.5) {
        format!("{}.{site}", rng.pick(SUBDOMAINS))
    } else {
        site.to_string()
    }
}

/// Writes `records` log records of `kind` (Zeek or eve) to `out`; returns the bytes written.
pub fn write_log(out: &mut impl Write, kind: Kind, records: u64, seed: u64) -> io::Result<u64> {
    let mut rng = Rng::new(seed, "network-log");
    let mut out = Counting {
        inner: out,
        bytes: 0,
    };
    if kind == Kind::Zeek {
        out.write_all(
            b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n\
              #path\tdns\n#open\t2026-12-03-00-00-00\n\
              #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n\
              #types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool\n",
        )?;
    }
    for n in 0..records {
        let micros = DAY * 1_000_000 + n * 1_700;
        let (secs, frac) = (micros / 1_000_000, micros % 1_000_000);
        let name = everyday(&mut rng, n);
        let who = client(&mut rng);
        let port = 1024 + rng.below(60_000);
        let id = rng.below(65_536);
        let (a1, a2) = (answer(&mut rng), answer(&mut rng));
        match kind {
            Kind::Zeek => writeln!(
                out,
                "{secs}.{frac:06}\tC{n:x}k{id:x}\t{who}\t{port}\t10.0.0.53\t53\tudp\t{id}\t0.0{}\t{name}\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t{a1},{a2}\t300.000000,300.000000\tF",
                rng.below(90) + 10
            )?,
            Kind::Eve => writeln!(
                out,
                "{{\"timestamp\":\"2026-12-03T{:02}:{:02}:{:02}.{frac:06}+0000\",\"flow_id\":{},\"in_iface\":\"eth0\",\"event_type\":\"dns\",\"src_ip\":\"10.0.0.53\",\"src_port\":53,\"dest_ip\":\"{who}\",\"dest_port\":{port},\"proto\":\"UDP\",\"dns\":{{\"version\":2,\"type\":\"answer\",\"id\":{id},\"flags\":\"8180\",\"qr\":true,\"rd\":true,\"ra\":true,\"rrname\":\"{name}\",\"rrtype\":\"A\",\"rcode\":\"NOERROR\",\"answers\":[{{\"rrname\":\"{name}\",\"rrtype\":\"A\",\"ttl\":300,\"rdata\":\"{a1}\"}},{{\"rrname\":\"{name}\",\"rrtype\":\"A\",\"ttl\":300,\"rdata\":\"{a2}\"}}]}}}}",
                (secs - DAY) / 3600 % 24,
                (secs - DAY) / 60 % 60,
                (secs - DAY) % 60,
                1_000_000_000_000 + n
            )?,
            Kind::Pcap => unreachable!("captures are written by write_pcap"),
        }
    }
    Ok(out.bytes)
}

/// `n` names, no one a sub-domain of another (each has its own registrable part).
pub fn pool(seed: u64, n: usize) -> Vec<String> {
    let mut rng = Rng::new(seed, "network-pool");
    (0..n)
        .map(|i| {
            let host = rng.pick(SUBDOMAINS);
            format!(
                "{host}.{}{i}.{}",
                pools::made_up(&mut rng, 2),
                rng.pick(&["com", "net", "org", "io"])
            )
        })
        .collect()
}

/// Writes a pcap of `flows` exchanges, each a DNS query and its answer for a pool name,
/// then a TLS ClientHello (two in three) or an HTTP request (one in three) to that name.
pub fn write_pcap(
    out: &mut impl Write,
    flows: u64,
    names: &[String],
    seed: u64,
) -> io::Result<u64> {
    let mut rng = Rng::new(seed, "network-pcap");
    let mut out = Counting {
        inner: out,
        bytes: 0,
    };
    // Global header: microsecond pcap, version 2.4, snaplen 65535, Ethernet.
    let mut header = Vec::with_capacity(24);
    header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&4u16.to_le_bytes());
    header.extend_from_slice(&[0; 8]);
    header.extend_from_slice(&65_535u32.to_le_bytes());
    header.extend_from_slice(&1u32.to_le_bytes());
    out.write_all(&header)?;
    let resolver = [10, 0, 0, 53];
    let mut packet = Vec::with_capacity(2048);
    for n in 0..flows {
        let micros = DAY * 1_000_000 + n * 3_000;
        let name = &names[rng.below(names.len() as u64) as usize];
        let device = [
            10,
            rng.below(4) as u8,
            rng.below(250) as u8,
            1 + rng.below(250) as u8,
        ];
        let server = [
            93,
            rng.below(256) as u8,
            rng.below(256) as u8,
            1 + rng.below(254) as u8,
        ];
        let port = 1024 + rng.below(60_000) as u16;
        let id = rng.below(65_536) as u16;
        let query = dns(id, name, None);
        frame(
            &mut packet,
            device,
            resolver,
            Transport::Udp(port, 53),
            &query,
        );
        record(&mut out, micros, &packet)?;
        frame(
            &mut packet,
            resolver,
            device,
            Transport::Udp(53, port),
            &dns(id, name, Some(server)),
        );
        record(&mut out, micros + 900, &packet)?;
        let (dport, payload) = if rng.below(3) == 0 {
            (80, http(name, rng.below(100_000)))
        } else {
            (443, client_hello(name, &mut rng))
        };
        frame(
            &mut packet,
            device,
            server,
            Transport::Tcp(port, dport, n as u32),
            &payload,
        );
        record(&mut out, micros + 1_800, &packet)?;
    }
    Ok(out.bytes)
}

enum Transport {
    Udp(u16, u16),
    /// Source port, destination port, sequence number.
    Tcp(u16, u16, u32),
}

/// Ethernet, IPv4 and UDP or TCP around `payload`, into `packet`.
fn frame(packet: &mut Vec<u8>, src: [u8; 4], dst: [u8; 4], transport: Transport, payload: &[u8]) {
    packet.clear();
    packet.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00]);
    let (proto, l4) = match transport {
        Transport::Udp(..) => (17u8, 8usize),
        Transport::Tcp(..) => (6, 20),
    };
    let total = (20 + l4 + payload.len()) as u16;
    let ip_start = packet.len();
    packet.extend_from_slice(&[0x45, 0]);
    packet.extend_from_slice(&total.to_be_bytes());
    packet.extend_from_slice(&[0, 0, 0x40, 0, 64, proto, 0, 0]);
    packet.extend_from_slice(&src);
    packet.extend_from_slice(&dst);
    let checksum = ip_checksum(&packet[ip_start..]);
    packet[ip_start + 10..ip_start + 12].copy_from_slice(&checksum.to_be_bytes());
    match transport {
        Transport::Udp(sport, dport) => {
            packet.extend_from_slice(&sport.to_be_bytes());
            packet.extend_from_slice(&dport.to_be_bytes());
            packet.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            packet.extend_from_slice(&[0, 0]);
        }
        Transport::Tcp(sport, dport, seq) => {
            packet.extend_from_slice(&sport.to_be_bytes());
            packet.extend_from_slice(&dport.to_be_bytes());
            packet.extend_from_slice(&seq.wrapping_mul(7919).to_be_bytes());
            packet.extend_from_slice(&1u32.to_be_bytes());
            // Header length 5 words; PSH and ACK; window; no checksum; no urgent pointer.
            packet.extend_from_slice(&[0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
        }
    }
    packet.extend_from_slice(payload);
}

fn ip_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn record(out: &mut impl Write, micros: u64, packet: &[u8]) -> io::Result<()> {
    let mut head = [0u8; 16];
    head[0..4].copy_from_slice(&((micros / 1_000_000) as u32).to_le_bytes());
    head[4..8].copy_from_slice(&((micros % 1_000_000) as u32).to_le_bytes());
    head[8..12].copy_from_slice(&(packet.len() as u32).to_le_bytes());
    head[12..16].copy_from_slice(&(packet.len() as u32).to_le_bytes());
    out.write_all(&head)?;
    out.write_all(packet)
}

fn labels(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

/// A DNS query for `name` (type A), or with `answer` its response.
fn dns(id: u16, name: &str, answer: Option<[u8; 4]>) -> Vec<u8> {
    let mut m = Vec::with_capacity(64 + name.len());
    m.extend_from_slice(&id.to_be_bytes());
    let flags: u16 = if answer.is_some() { 0x8180 } else { 0x0100 };
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&[0, 1, 0, u8::from(answer.is_some()), 0, 0, 0, 0]);
    labels(&mut m, name);
    m.extend_from_slice(&[0, 1, 0, 1]);
    if let Some(address) = answer {
        // The owner is a pointer to the question's name (offset 12).
        m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4]);
        m.extend_from_slice(&address);
    }
    m
}

fn http(name: &str, page: u64) -> Vec<u8> {
    format!(
        "GET /articles/{page}.html HTTP/1.1\r\nHost: {name}\r\nUser-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X)\r\nAccept: */*\r\n\r\n"
    )
    .into_bytes()
}

/// A TLS 1.3-style ClientHello with a server_name extension for `name`.
fn client_hello(name: &str, rng: &mut Rng) -> Vec<u8> {
    let mut sni = Vec::new();
    let host = name.as_bytes();
    sni.extend_from_slice(&((host.len() + 3) as u16).to_be_bytes());
    sni.push(0);
    sni.extend_from_slice(&(host.len() as u16).to_be_bytes());
    sni.extend_from_slice(host);
    let mut extensions = Vec::new();
    extensions.extend_from_slice(&0u16.to_be_bytes());
    extensions.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    extensions.extend_from_slice(&sni);
    // supported_versions: TLS 1.3, 1.2.
    extensions.extend_from_slice(&[0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03]);
    let mut body = vec![0x03, 0x03];
    for _ in 0..4 {
        body.extend_from_slice(&rng.next_u64().to_be_bytes());
    }
    body.push(0);
    body.extend_from_slice(&[0x00, 0x04, 0x13, 0x01, 0x13, 0x02, 0x01, 0x00]);
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(&extensions);
    let mut handshake = vec![1];
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// A writer that counts what passes.
struct Counting<'w, W: Write> {
    inner: &'w mut W,
    bytes: u64,
}

impl<W: Write> Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
