//! Packet captures: pcap and pcapng files written here from real packet layouts (Ethernet,
//! VLAN, raw IP, Linux cooked, loopback; IPv4 and IPv6; DNS over UDP and TCP, a TLS
//! ClientHello, an HTTP GET), hostile ones (name loops, cut files, forged lengths), and the
//! real captures in ../shared.

mod common;

use common::{counts, hits, indicators, read, sample, write};
use etherparse::{PacketBuilder, VlanId};
use portcullis_indicators::Indicators;

// ---------------------------------------------------------------- writing captures

/// A little-endian pcap file: `magic` 0xa1b2c3d4 (microseconds) or 0xa1b23c4d (nanoseconds).
fn pcap_with(magic: u32, linktype: u32, packets: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&magic.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&0i32.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&linktype.to_le_bytes());
    for (secs, fraction, data) in packets {
        f.extend_from_slice(&secs.to_le_bytes());
        f.extend_from_slice(&fraction.to_le_bytes());
        f.extend_from_slice(&(data.len() as u32).to_le_bytes());
        f.extend_from_slice(&(data.len() as u32).to_le_bytes());
        f.extend_from_slice(data);
    }
    f
}

/// Ethernet pcap, microsecond times; packet `i` at 1_700_000_000 + i seconds.
fn pcap(packets: &[Vec<u8>]) -> Vec<u8> {
    let timed: Vec<_> = packets
        .iter()
        .enumerate()
        .map(|(i, p)| (1_700_000_000 + i as u32, 250_000, p.clone()))
        .collect();
    pcap_with(0xa1b2_c3d4, 1, &timed)
}

fn ng_block(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut padded = body.to_vec();
    while !padded.len().is_multiple_of(4) {
        padded.push(0);
    }
    let len = (padded.len() + 12) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(&kind.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&padded);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

/// A pcapng file: interfaces (link type, `if_tsresol`), then packets (interface, time in
/// the interface's units, frame).
fn pcapng(interfaces: &[(u16, Option<u8>)], packets: &[(u32, u64, Vec<u8>)]) -> Vec<u8> {
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut f = ng_block(0x0a0d_0d0a, &shb);
    for (linktype, tsresol) in interfaces {
        let mut idb = Vec::new();
        idb.extend_from_slice(&linktype.to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&65535u32.to_le_bytes());
        if let Some(r) = tsresol {
            idb.extend_from_slice(&9u16.to_le_bytes());
            idb.extend_from_slice(&1u16.to_le_bytes());
            idb.extend_from_slice(&[*r, 0, 0, 0]);
            idb.extend_from_slice(&[0, 0, 0, 0]);
        }
        f.extend(ng_block(1, &idb));
    }
    for (interface, time, data) in packets {
        let mut epb = Vec::new();
        epb.extend_from_slice(&interface.to_le_bytes());
        epb.extend_from_slice(&((time >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(*time as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(data);
        f.extend(ng_block(6, &epb));
    }
    f
}

// ---------------------------------------------------------------- building packets

const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
const PHONE: [u8; 4] = [192, 168, 1, 10];
const ROUTER: [u8; 4] = [192, 168, 1, 1];
const PHONE6: [u8; 16] = [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10];
const ROUTER6: [u8; 16] = [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01];

fn udp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4(src, dst, 64)
        .udp(sport, dport);
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

fn udp6(src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv6(src, dst, 64)
        .udp(sport, dport);
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

/// A TCP segment; `syn` for a connection's opening segment, else PSH+ACK with data.
fn tcp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, syn: bool, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4(src, dst, 64)
        .tcp(sport, dport, 1000, 64240);
    let b = if syn { b.syn() } else { b.psh().ack(1) };
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

fn tcp6(src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv6(src, dst, 64)
        .tcp(sport, dport, 1000, 64240)
        .psh()
        .ack(1);
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

fn vlan_udp4(vlans: &[u16], src: [u8; 4], dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    let eth = PacketBuilder::ethernet2(MAC_A, MAC_B);
    let mut out = Vec::new();
    match vlans {
        [one] => eth
            .single_vlan(VlanId::try_new(*one).unwrap())
            .ipv4(src, dst, 64)
            .udp(50_001, dport)
            .write(&mut out, payload)
            .unwrap(),
        [outer, inner] => eth
            .double_vlan(
                VlanId::try_new(*outer).unwrap(),
                VlanId::try_new(*inner).unwrap(),
            )
            .ipv4(src, dst, 64)
            .udp(50_001, dport)
            .write(&mut out, payload)
            .unwrap(),
        _ => unreachable!(),
    }
    out
}

/// A raw IPv4 UDP packet (no link layer).
fn raw_udp4(src: [u8; 4], dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .udp(50_002, dport)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// The wire form of a name, uncompressed.
fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// A recursive query for `name` (type A).
fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    m.extend(wire_name(name));
    m.extend_from_slice(&[0, 1, 0, 1]);
    m
}

/// An answer to `name`: records (type, rdata) whose owner is the question (pointer 0xc00c).
/// A CNAME's rdata is written uncompressed.
fn dns_response(id: u16, name: &str, answers: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x81, 0x80, 0, 1]);
    m.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    m.extend(wire_name(name));
    m.extend_from_slice(&[0, 1, 0, 1]);
    for (rrtype, rdata) in answers {
        m.extend_from_slice(&[0xc0, 0x0c]);
        m.extend_from_slice(&rrtype.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(rdata);
    }
    m
}

/// A TLS 1.3 ClientHello record as browsers send it: legacy version 1.2, a session id,
/// real cipher suites and extensions (SNI first, as Chrome does not, so put it after two).
fn client_hello(sni: &str) -> Vec<u8> {
    fn ext(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut e = kind.to_be_bytes().to_vec();
        e.extend_from_slice(&(data.len() as u16).to_be_bytes());
        e.extend_from_slice(data);
        e
    }
    let mut server_name = Vec::new();
    server_name.extend_from_slice(&((sni.len() + 3) as u16).to_be_bytes());
    server_name.push(0);
    server_name.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    server_name.extend_from_slice(sni.as_bytes());
    let mut exts = Vec::new();
    exts.extend(ext(0xff01, &[0])); // renegotiation_info
    exts.extend(ext(0x0017, &[])); // extended_master_secret
    exts.extend(ext(0x0000, &server_name));
    exts.extend(ext(0x000a, &[0, 6, 0, 0x1d, 0, 0x17, 0, 0x18])); // supported_groups
    exts.extend(ext(0x000b, &[1, 0])); // ec_point_formats
    exts.extend(ext(0x0010, b"\x00\x0c\x02h2\x08http/1.1")); // ALPN
    exts.extend(ext(0x002b, &[4, 3, 4, 3, 3])); // supported_versions 1.3, 1.2
    exts.extend(ext(0x000d, &[0, 4, 4, 3, 8, 4])); // signature_algorithms
    let mut key_share = vec![0, 36, 0, 0x1d, 0, 32];
    key_share.extend_from_slice(&[0x5a; 32]);
    exts.extend(ext(0x0033, &key_share));
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0x42; 32]);
    body.push(32);
    body.extend_from_slice(&[0x17; 32]);
    let suites = [
        0x1301u16, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0x009c,
    ];
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend(exts);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend(body);
    let mut record = vec![22, 3, 1];
    record.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    record.extend(hs);
    record
}

fn evil_indicators() -> Indicators {
    indicators(&[
        "[domain-name:value = 'evil.com']",
        "[ipv4-addr:value = '203.0.113.5']",
        "[ipv6-addr:value = '2001:db8::66']",
        "[url:value = 'http://tracker.example/collect?id=7']",
    ])
}

/// The main capture: one packet of each kind, with look-alikes that must not hit.
fn scenario() -> Vec<Vec<u8>> {
    let lan_dns = 53;
    let mut loop_msg = dns_query(9, "x");
    loop_msg.truncate(12);
    loop_msg.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
    let mut tcp_dns = Vec::new();
    let q = dns_query(7, "tcp.evil.com");
    tcp_dns.extend_from_slice(&(q.len() as u16).to_be_bytes());
    tcp_dns.extend(q);
    vec![
        // 1: the phone asks for www.evil.com.
        udp4(PHONE, ROUTER, 50_000, lan_dns, &dns_query(1, "www.evil.com")),
        // 2: the answer: a CNAME into evil.com and the address 203.0.113.5.
        udp4(
            ROUTER,
            PHONE,
            lan_dns,
            50_000,
            &dns_response(
                1,
                "www.evil.com",
                &[
                    (5, wire_name("cdn.evil.com")),
                    (1, vec![203, 0, 113, 5]),
                ],
            ),
        ),
        // 3, 4: look-alike names.
        udp4(PHONE, ROUTER, 50_003, lan_dns, &dns_query(3, "notevil.com")),
        udp4(PHONE, ROUTER, 50_004, lan_dns, &dns_query(4, "evil.com.attacker.net")),
        // 5: a look-alike address.
        tcp4(PHONE, [203, 0, 113, 50], 40_000, 443, true, &[]),
        // 6: the phone connects to 203.0.113.5; 7: again (reported once).
        tcp4(PHONE, [203, 0, 113, 5], 40_001, 443, true, &[]),
        tcp4(PHONE, [203, 0, 113, 5], 40_002, 443, true, &[]),
        // 8: the ClientHello on that connection.
        tcp4(PHONE, [203, 0, 113, 5], 40_001, 443, false, &client_hello("evil.com")),
        // 9: a ClientHello for a look-alike, mid-connection (its server reported).
        tcp4(PHONE, [198, 51, 100, 7], 40_003, 443, false, &client_hello("notevil.com")),
        // 10: plain HTTP.
        tcp4(
            PHONE,
            [198, 51, 100, 8],
            40_004,
            80,
            false,
            b"GET /payload.bin HTTP/1.1\r\nHost: evil.com\r\nUser-Agent: curl/8.4.0\r\nAccept: */*\r\n\r\n",
        ),
        // 11: a URL indicator through a proxy-style request.
        tcp4(
            PHONE,
            [198, 51, 100, 9],
            40_005,
            8080,
            false,
            b"GET http://tracker.example/collect?id=7 HTTP/1.1\r\nHost: tracker.example\r\n\r\n",
        ),
        // 12: 802.1Q, 13: QinQ.
        vlan_udp4(&[100], PHONE, ROUTER, lan_dns, &dns_query(12, "vlan.evil.com")),
        vlan_udp4(&[100, 200], PHONE, ROUTER, lan_dns, &dns_query(13, "qinq.evil.com")),
        // 14, 15: IPv6 question and AAAA answer.
        udp6(PHONE6, ROUTER6, 50_005, lan_dns, &dns_query(14, "v6.evil.com")),
        udp6(
            ROUTER6,
            PHONE6,
            lan_dns,
            50_005,
            &dns_response(
                14,
                "v6.evil.com",
                &[(28, vec![0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x66])],
            ),
        ),
        // 16: DNS over TCP.
        tcp4(PHONE, ROUTER, 40_006, lan_dns, false, &tcp_dns),
        // 17: a compression pointer to itself: malformed, and no hang.
        udp4(PHONE, ROUTER, 50_006, lan_dns, &loop_msg),
        // 18: five bytes of nothing: malformed.
        vec![1, 2, 3, 4, 5],
        // 19: an ordinary UDP packet to a look-alike; 20: its reply (not a destination).
        udp4(PHONE, [203, 0, 113, 50], 50_007, 443, b"quic"),
        udp4([203, 0, 113, 50], PHONE, 443, 50_007, b"quic"),
    ]
}

// ---------------------------------------------------------------- tests

#[test]
fn every_kind_of_packet_hits_and_look_alikes_do_not() {
    let (_dir, path) = write("capture.pcap", &pcap(&scenario()));
    let run = read(&path, &evil_indicators());
    assert_eq!(run.format.unwrap().0, "pcap");
    assert_eq!(run.format.unwrap().1.slug, "pcap");
    assert_eq!(run.format.unwrap().1.name, "Pcap");
    let outcome = run.outcome.as_ref().unwrap();
    assert_eq!(outcome.stopped, None);
    assert_eq!(
        hits(&run),
        [
            "1 query www.evil.com→evil.com 192.168.1.10",
            "2 query www.evil.com→evil.com 192.168.1.10",
            "2 cname cdn.evil.com→evil.com 192.168.1.10",
            "2 answer 203.0.113.5→203.0.113.5 192.168.1.10",
            "6 destination 203.0.113.5→203.0.113.5 192.168.1.10",
            "8 sni evil.com→evil.com 192.168.1.10",
            "10 http_host evil.com→evil.com 192.168.1.10",
            "10 http_url http://evil.com/payload.bin→evil.com 192.168.1.10",
            "11 http_url http://tracker.example/collect?id=7→http://tracker.example/collect?id=7 192.168.1.10",
            "12 query vlan.evil.com→evil.com 192.168.1.10",
            "13 query qinq.evil.com→evil.com 192.168.1.10",
            "14 query v6.evil.com→evil.com 2001:db8::10",
            "15 query v6.evil.com→evil.com 2001:db8::10",
            "15 answer 2001:db8::66→2001:db8::66 2001:db8::10",
            "16 query tcp.evil.com→evil.com 192.168.1.10",
        ]
    );
    // 20 packets; records all but the repeated SYN (7), the malformed two (17, 18) and the
    // reply (20), which show nothing new.
    assert_eq!(counts(&run), (20, 16, 2));
    let reasons: Vec<String> = outcome
        .tally
        .malformed_listed
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        reasons,
        [
            "line 17: UDP port 53: DNS name compression loops",
            "line 18: Ethernet header cut short",
        ]
    );
    let first = &outcome.tally.hits[0];
    assert_eq!(first.time, Some(1_700_000_000_250_000));
    assert_eq!(first.server.as_deref(), Some("192.168.1.1"));
    assert_eq!(first.client_port.as_deref(), Some("50000"));
    assert_eq!(first.server_port.as_deref(), Some("53"));
    assert_eq!(
        first.raw,
        "UDP 192.168.1.10:50000 → 192.168.1.1:53 DNS query: www.evil.com 192.168.1.1"
    );
    // The answer's client is the device that asked, its server the resolver.
    let answer = &outcome.tally.hits[3];
    assert_eq!(answer.server.as_deref(), Some("192.168.1.1"));
    assert_eq!(answer.client_port.as_deref(), Some("50000"));
}

#[test]
fn a_cut_capture_keeps_what_was_read() {
    let mut bytes = pcap(&scenario()[..8]);
    bytes.truncate(bytes.len() - 30);
    let (_dir, path) = write("cut.pcap", &bytes);
    let run = read(&path, &evil_indicators());
    let outcome = run.outcome.as_ref().unwrap();
    let stopped = outcome.stopped.as_deref().unwrap();
    assert!(
        stopped.starts_with("the capture is cut short: it ends inside the block at byte "),
        "{stopped}"
    );
    assert!(stopped.ends_with(", after packet 7"), "{stopped}");
    assert_eq!(counts(&run), (7, 6, 0));
    assert_eq!(hits(&run).len(), 5);
    // Cut inside the file header.
    let (_dir, path) = write("header.pcap", &bytes[..10]);
    let run = read(&path, &evil_indicators());
    assert_eq!(
        run.outcome.as_ref().unwrap().stopped.as_deref(),
        Some("the capture ends inside its file header")
    );
}

#[test]
fn forged_lengths_end_the_file_without_a_large_allocation() {
    let forged = |tail: usize| {
        let mut bytes = pcap(&scenario()[..1]);
        // A second record header claiming a 2 GiB packet, then `tail` bytes.
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&0x7fff_ffffu32.to_le_bytes());
        bytes.extend_from_slice(&0x7fff_ffffu32.to_le_bytes());
        bytes.resize(bytes.len() + tail, 0);
        bytes
    };
    // Past the end of a short file: cut short.
    let (_dir, path) = write("forged.pcap", &forged(64));
    let run = read(&path, &evil_indicators());
    let stopped = run.outcome.as_ref().unwrap().stopped.clone().unwrap();
    assert_eq!(
        stopped,
        "the capture is cut short: it ends inside the block at byte 112, after packet 1"
    );
    assert_eq!(counts(&run), (1, 1, 0));
    // Past the largest block read, in a file long enough to hold more: refused.
    let (_dir, path) = write("forged.pcap", &forged(17 << 20));
    let run = read(&path, &evil_indicators());
    let stopped = run.outcome.as_ref().unwrap().stopped.clone().unwrap();
    assert_eq!(
        stopped,
        "a block at byte 112 (after packet 1) claims more than 16 MiB: the rest of the file \
         is not read"
    );
    assert_eq!(counts(&run), (1, 1, 0));
    // A pcapng block claiming 4 GiB.
    let mut ng = pcapng(&[(1, None)], &[(0, 0, scenario()[0].clone())]);
    ng.extend_from_slice(&6u32.to_le_bytes());
    ng.extend_from_slice(&0xffff_fff0u32.to_le_bytes());
    ng.resize(ng.len() + (17 << 20), 0);
    let (_dir, path) = write("forged.pcapng", &ng);
    let run = read(&path, &evil_indicators());
    let stopped = run.outcome.as_ref().unwrap().stopped.clone().unwrap();
    assert!(stopped.contains("claims more than 16 MiB"), "{stopped}");
    assert_eq!(counts(&run), (1, 1, 0));
}

#[test]
fn mangled_captures_never_panic() {
    let clean = pcap(&scenario());
    let ng = pcapng(
        &[(1, None)],
        &scenario()
            .into_iter()
            .map(|p| (0, 0, p))
            .collect::<Vec<_>>(),
    );
    let ind = evil_indicators();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let dir = tempfile::tempdir().unwrap();
    // More rounds by hand: PORTCULLIS_FUZZ_ROUNDS=50000 cargo test -p portcullis-network.
    let rounds: u32 = std::env::var("PORTCULLIS_FUZZ_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(300);
    for round in 0..rounds {
        let mut bytes = if round % 2 == 0 {
            clean.clone()
        } else {
            ng.clone()
        };
        for _ in 0..(1 + next() % 8) {
            let at = 4 + (next() as usize) % (bytes.len() - 4);
            bytes[at] = next() as u8;
        }
        if round % 5 == 0 {
            let keep = 4 + (next() as usize) % (bytes.len() - 4);
            bytes.truncate(keep);
        }
        let path = dir.path().join(format!("m{round}.pcap"));
        std::fs::write(&path, &bytes).unwrap();
        let run = read(&path, &ind);
        assert!(run.outcome.is_ok(), "round {round}");
    }
}

#[test]
fn pcapng_interfaces_of_different_link_types_and_resolutions() {
    let raw = raw_udp4(PHONE, ROUTER, 53, &dns_query(1, "raw.evil.com"));
    let eth = udp4(PHONE, ROUTER, 50_000, 53, &dns_query(2, "eth.evil.com"));
    let bytes = pcapng(
        // Ethernet in microseconds (the default), raw IP in nanoseconds, raw IP in 2^-20 s.
        &[(1, None), (101, Some(9)), (101, Some(0x80 | 20))],
        &[
            (0, 1_700_000_000_000_001, eth),
            (1, 1_700_000_000_123_456_789, raw.clone()),
            (7, 0, vec![0; 20]),
            (2, (1_700_000_000 << 20) + (1 << 19), raw),
        ],
    );
    let (_dir, path) = write("multi.pcapng", &bytes);
    let run = read(&path, &evil_indicators());
    assert_eq!(
        hits(&run),
        [
            "1 query eth.evil.com→evil.com 192.168.1.10",
            "2 query raw.evil.com→evil.com 192.168.1.10",
            "4 query raw.evil.com→evil.com 192.168.1.10",
        ]
    );
    let tally = &run.outcome.as_ref().unwrap().tally;
    assert_eq!(tally.hits[0].time, Some(1_700_000_000_000_001));
    assert_eq!(tally.hits[1].time, Some(1_700_000_000_123_456));
    assert_eq!(tally.hits[2].time, Some(1_700_000_000_500_000));
    assert_eq!(counts(&run), (4, 3, 1));
    assert_eq!(
        tally.malformed_listed[0].reason,
        "a packet on an interface the capture does not describe"
    );
    // Cut inside its last block.
    let (_dir, path) = write("cut.pcapng", &bytes[..bytes.len() - 10]);
    let run = read(&path, &evil_indicators());
    let stopped = run.outcome.as_ref().unwrap().stopped.clone().unwrap();
    assert!(stopped.starts_with("the capture is cut short"), "{stopped}");
    assert!(stopped.ends_with("after packet 3"), "{stopped}");
    assert_eq!(counts(&run), (3, 2, 1));
}

#[test]
fn nanosecond_pcap_and_other_link_types() {
    let query = |name: &str| dns_query(1, name);
    let raw = raw_udp4(PHONE, ROUTER, 53, &query("raw.evil.com"));
    let nanos = pcap_with(
        0xa1b2_3c4d,
        101,
        &[(1_700_000_000, 999_999_999, raw.clone())],
    );
    let (_dir, path) = write("nanos.pcap", &nanos);
    let run = read(&path, &evil_indicators());
    let tally = &run.outcome.as_ref().unwrap().tally;
    assert_eq!(tally.hits[0].time, Some(1_700_000_000_999_999));
    // Big-endian file (magic a1b2c3d4 in file order).
    let mut be = Vec::new();
    be.extend_from_slice(&0xa1b2_c3d4u32.to_be_bytes());
    be.extend_from_slice(&2u16.to_be_bytes());
    be.extend_from_slice(&4u16.to_be_bytes());
    be.extend_from_slice(&[0; 8]);
    be.extend_from_slice(&65535u32.to_be_bytes());
    be.extend_from_slice(&101u32.to_be_bytes());
    for v in [1_700_000_000u32, 5, raw.len() as u32, raw.len() as u32] {
        be.extend_from_slice(&v.to_be_bytes());
    }
    be.extend_from_slice(&raw);
    let (_dir, path) = write("be.pcap", &be);
    assert_eq!(
        hits(&read(&path, &evil_indicators())),
        ["1 query raw.evil.com→evil.com 192.168.1.10"]
    );
    // Linux cooked v1 and v2, BSD loopback.
    let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0x0a, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&raw_udp4(PHONE, ROUTER, 53, &query("sll.evil.com")));
    let mut sll2 = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0x0a, 0, 0,
    ];
    sll2.extend_from_slice(&raw_udp4(PHONE, ROUTER, 53, &query("sll2.evil.com")));
    let mut null = vec![2, 0, 0, 0];
    null.extend_from_slice(&raw_udp4(PHONE, ROUTER, 53, &query("null.evil.com")));
    for (linktype, frame, name) in [
        (113, sll, "sll.evil.com"),
        (276, sll2, "sll2.evil.com"),
        (0, null, "null.evil.com"),
        (12, raw.clone(), "raw.evil.com"),
    ] {
        let (_dir, path) = write(
            "link.pcap",
            &pcap_with(0xa1b2_c3d4, linktype, &[(1, 0, frame)]),
        );
        assert_eq!(
            hits(&read(&path, &evil_indicators())),
            [format!("1 query {name}→evil.com 192.168.1.10")],
            "link type {linktype}"
        );
    }
    // A link type not read: each packet malformed, once explained.
    let (_dir, path) = write("odd.pcap", &pcap_with(0xa1b2_c3d4, 147, &[(1, 0, raw)]));
    let run = read(&path, &evil_indicators());
    assert_eq!(counts(&run), (1, 0, 1));
}

#[test]
fn tcp_answers_ipv6_hellos_cut_frames_simple_packets_and_gzip() {
    let server6 = [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x66];
    // A DNS answer over TCP: the device is its destination.
    let answer = dns_response(7, "tcp.evil.com", &[(1, vec![203, 0, 113, 5])]);
    let mut framed = (answer.len() as u16).to_be_bytes().to_vec();
    framed.extend(answer);
    // A ClientHello whose frame the snaplen cut after the server name.
    let mut cut = tcp4(
        PHONE,
        [198, 51, 100, 1],
        40_200,
        443,
        false,
        &client_hello("cut.evil.com"),
    );
    cut.truncate(54 + 140);
    let packets = vec![
        tcp4(ROUTER, PHONE, 53, 40_006, false, &framed),
        tcp6(PHONE6, server6, 40_100, 443, &client_hello("api.evil.com")),
        cut,
    ];
    let (_dir, path) = write("more.pcap", &pcap(&packets));
    let ind = evil_indicators();
    let run = read(&path, &ind);
    assert_eq!(
        hits(&run),
        [
            "1 query tcp.evil.com→evil.com 192.168.1.10",
            "1 answer 203.0.113.5→203.0.113.5 192.168.1.10",
            "2 sni api.evil.com→evil.com 2001:db8::10",
            "2 destination 2001:db8::66→2001:db8::66 2001:db8::10",
            "3 sni cut.evil.com→evil.com 192.168.1.10",
        ]
    );
    assert_eq!(counts(&run), (3, 3, 0));
    let tally = &run.outcome.as_ref().unwrap().tally;
    assert_eq!(tally.hits[0].server.as_deref(), Some("192.168.1.1"));
    assert_eq!(tally.hits[0].client_port.as_deref(), Some("40006"));
    assert_eq!(tally.hits[2].server.as_deref(), Some("2001:db8::66"));

    // pcapng simple packet blocks (no time) on the first interface.
    let mut ng = pcapng(&[(1, None)], &[]);
    let frame = udp4(PHONE, ROUTER, 50_000, 53, &dns_query(1, "simple.evil.com"));
    let mut spb = (frame.len() as u32).to_le_bytes().to_vec();
    spb.extend_from_slice(&frame);
    ng.extend(ng_block(3, &spb));
    let (_dir, path) = write("simple.pcapng", &ng);
    let run = read(&path, &ind);
    assert_eq!(
        hits(&run),
        ["1 query simple.evil.com→evil.com 192.168.1.10"]
    );
    assert_eq!(run.outcome.as_ref().unwrap().tally.hits[0].time, None);

    // A gzipped capture is read through.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &pcap(&scenario())).unwrap();
    let (_dir, path) = write("capture.pcap.gz", &gz.finish().unwrap());
    let run = read(&path, &ind);
    assert_eq!(run.format.unwrap().0, "pcap");
    assert_eq!(counts(&run), (20, 16, 2));
    assert_eq!(hits(&run).len(), 15);
}

#[test]
fn text_and_other_binaries_are_not_captures() {
    let (_dir, path) = write("notes.txt", b"a1b2c3d4 is the pcap magic\n");
    let run = read(&path, &evil_indicators());
    assert!(run.format.is_none());
}

// ---------------------------------------------------------------- the real captures

/// Every hit's value of `seen` kind, sorted and deduplicated.
fn values(run: &portcullis_network::run::FileRun, seen: &str) -> Vec<String> {
    let mut out: Vec<String> = run
        .outcome
        .as_ref()
        .unwrap()
        .tally
        .hits
        .iter()
        .filter(|h| h.seen.as_str() == seen)
        .map(|h| h.indicator.input.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// How many hits of `seen` kind a run has.
fn how_many(run: &portcullis_network::run::FileRun, seen: &str) -> usize {
    let tally = &run.outcome.as_ref().unwrap().tally;
    tally
        .hits
        .iter()
        .filter(|h| h.seen.as_str() == seen)
        .count()
}

/// What tshark decodes in each real capture (DNS over port 53, SNI, HTTP Host), by file:
/// (file, packets, records, questions, CNAME targets, server names, HTTP hosts).
type Expected = (
    &'static str,
    u64,
    u64,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

// Compared by hand with `tshark -r F -T fields -e dns.qry.name -e dns.cname
// -e tls.handshake.extensions_server_name -e http.host` (Wireshark 4.0.17): the same sets
// for every file, except that tshark also decodes mDNS and LLMNR (ports 5353 and 5355:
// `gemini._sftp-ssh._tcp.local`, `gomez._sftp-ssh._tcp.local`, `BRWC0CB383D1F42` in
// zeek_wikipedia.pcap), which this reader leaves alone: they are a LAN's own names, never
// sent to a resolver. Packet counts agree with `tshark -r F | wc -l` and SOURCES.md.
const REAL: &[Expected] = &[
    (
        "zeek_wikipedia.pcap",
        136,
        53,
        &[
            "meta.wikimedia.org",
            "upload.wikimedia.org",
            "upload.wikimedia.org.ncsa.uiuc.edu",
        ],
        &[
            "text.pmtpa.wikimedia.org",
            "text.wikimedia.org",
            "upload.pmtpa.wikimedia.org",
        ],
        &[],
        &[
            "bits.wikimedia.org",
            "meta.wikimedia.org",
            "upload.wikimedia.org",
            "www.wikipedia.org",
        ],
    ),
    (
        "zeek_tls_google-cert-repeat.pcap",
        116,
        5,
        &[],
        &[],
        &["www.google.com"],
        &[],
    ),
    (
        "zeek_tls_tls-conn-with-extensions.pcap",
        58,
        2,
        &[],
        &[],
        &["ssl.gstatic.com"],
        &[],
    ),
    (
        "zeek_tls_tls13-ech.pcap",
        69,
        3,
        &[],
        &[],
        &["cloudflare-ech.com"],
        &[],
    ),
    (
        "zeek_dns-edns-ecs.pcap",
        89,
        81,
        &[
            "atlas-ui.ripe.net",
            "atlas.ripe.net",
            "erfpop.de",
            "fg2-mgmt.weberlab.de",
            "fg2.weberlab.de",
            "formel1.de",
            "netflix.com",
            "ns-1372.awsdns-43.org",
            "ns-1489.awsdns-58.org",
            "ns-1606.awsdns-08.co.uk",
            "ns-1984.awsdns-56.co.uk",
            "ns-375.awsdns-46.com",
            "ns-659.awsdns-18.net",
            "ns-749.awsdns-29.net",
            "ns1.weberdns.de",
            "ns2.weberdns.de",
            "pa.weberlab.de",
            "pdns154.ultradns.biz",
            "pdns154.ultradns.com",
            "pdns154.ultradns.net",
            "pdns154.ultradns.org",
            "ripe.net",
            "sigfail.verteiltesysteme.net",
            "sigok.verteiltesysteme.net",
            "weberdns.de",
            "weberlab.de",
            "www.eu-west-1.prodaa.netflix.com",
            "www.geo.netflix.com",
            "www.netflix.com",
        ],
        &[
            "atlas-ui.ripe.net",
            "www.eu-west-1.prodaa.netflix.com",
            "www.geo.netflix.com",
        ],
        &[],
        &[],
    ),
    ("zeek_dhcp_dhcp.pcap", 9, 4, &[], &[], &[], &[]),
    (
        "zeek_pcapng-multi-interface.pcapng",
        6,
        6,
        &["google.com", "www.apple.com"],
        &[
            "e6858.dsce9.akamaiedge.net",
            "www-apple-com.v.aaplimg.com",
            "www.apple.com.edgekey.net",
        ],
        &[],
        &[],
    ),
    ("lnav_dhcp.pcapng", 4, 2, &[], &[], &[], &[]),
];

#[test]
fn real_captures_read_whole_and_name_what_tshark_names() {
    let Some(dir) = sample("pcap") else {
        return;
    };
    // Every name any capture shows, as an indicator: the hits then list every name read.
    let mut names: Vec<&str> = REAL
        .iter()
        .flat_map(|e| e.3.iter().chain(e.4).chain(e.5).chain(e.6))
        .copied()
        .collect();
    names.sort();
    names.dedup();
    let patterns: Vec<String> = names
        .iter()
        .map(|n| format!("[domain-name:value = '{n}']"))
        .collect();
    let ind = indicators(&patterns.iter().map(String::as_str).collect::<Vec<_>>());
    for &(file, packets, records, queries, cnames, snis, hosts) in REAL {
        let run = read(&dir.join(file), &ind);
        assert_eq!(run.format.unwrap().1.slug, "pcap", "{file}");
        let outcome = run.outcome.as_ref().unwrap();
        assert_eq!(outcome.stopped, None, "{file}");
        assert_eq!(
            counts(&run),
            (packets, records, 0),
            "{file}: {:?}",
            outcome.tally.malformed_listed
        );
        assert_eq!(values(&run, "query"), queries, "{file}");
        assert_eq!(values(&run, "cname"), cnames, "{file}");
        assert_eq!(values(&run, "sni"), snis, "{file}");
        assert_eq!(values(&run, "http_host"), hosts, "{file}");
    }
    // SNI www.google.com in 4 of the 8 ClientHellos (packets as tshark numbers them); ECH's
    // outer name in both of its connections' hellos.
    let google = read(&dir.join("zeek_tls_google-cert-repeat.pcap"), &ind);
    let lines = |run: &portcullis_network::run::FileRun| -> Vec<u64> {
        let tally = &run.outcome.as_ref().unwrap().tally;
        tally
            .hits
            .iter()
            .filter(|h| h.seen.as_str() == "sni")
            .map(|h| h.line)
            .collect()
    };
    assert_eq!(how_many(&google, "sni"), 4);
    assert_eq!(lines(&google), [60, 76, 90, 104]);
    let ech = read(&dir.join("zeek_tls_tls13-ech.pcap"), &ind);
    assert_eq!(lines(&ech), [7, 39]);
}
