//! Hostile input for the DNS-server, proxy and Pi-hole formats: every cut of a real-looking
//! line, bytes of noise, a damaged database. Nothing may panic; what cannot be read is
//! counted.

mod common;

use portcullis_network::check::Check;
use portcullis_network::run;
use portcullis_network::source::Source;

const LINES: &[(&str, &str)] = &[
    (
        "bind",
        "Dec  3 10:15:05 ns1 named[812]: 03-Dec-2026 10:15:02.123 queries: info: client @0x7f2c3c0a1b68 [2001:db8::5]#53211 (c2.evil.com): view v: query: c2.evil.com IN A +E(0)K (192.0.2.1) [ECS 1.2.3.0/24/0]",
    ),
    (
        "bind",
        "2026-12-03T10:15:07.000Z security: info: client 192.0.2.14#1 (x.evil.com): query (cache) 'x.evil.com/A/IN' denied",
    ),
    (
        "unbound",
        "[1796292902] unbound[1234:0] info: ads.evil.com. always_nxdomain 192.0.2.14@53211 ads.evil.com. A IN",
    ),
    (
        "unbound",
        "Dec  3 10:15:06 resolver1 unbound: [1234:0] info: 192.0.2.13 deep.sub.evil.com. HTTPS IN",
    ),
    (
        "dnsmasq",
        "Dec  3 10:15:02 host dnsmasq[812]: 42 192.0.2.10/53211 query[A] www.example.com from 192.0.2.10",
    ),
    (
        "dnsmasq",
        "dnsmasq[812]: 42 reply x.evil.com is 1.2.3.4 (EDE: x)",
    ),
    (
        "dnsmasq",
        "Dec  3 10:15:08 dnsmasq-dhcp[812]: 99 DHCPACK(eth0) 192.168.1.50 aa:bb:cc:dd:ee:ff phone",
    ),
    (
        "squid",
        "1796292902.123    120 192.0.2.10 TCP_MISS/200 1520 GET http://u@[2001:db8::1]:8080/a?b#c - HIER_DIRECT/203.0.113.5 text/html",
    ),
    (
        "squid",
        "192.0.2.17 - bob [03/Dec/2026:11:15:09 +0100] \"CONNECT a.evil.com:443 HTTP/1.1\" 200 43 TCP_MISS:HIER_DIRECT",
    ),
];

fn read_as(kind: &str, bytes: &[u8]) -> run::FileRun {
    let (_dir, path) = common::write("hostile.log", bytes);
    let ind = common::indicators(&["[domain-name:value = 'evil.com']"]);
    run::read(&Source::File(path), Some(kind), &Check { indicators: &ind })
}

/// A fixed pseudo-random byte stream (xorshift), so a failure can be replayed.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn every_cut_of_every_line_is_read_or_counted() {
    for (kind, line) in LINES {
        let mut log = String::new();
        for (end, _) in line.char_indices().chain([(line.len(), ' ')]) {
            log.push_str(&line[..end]);
            log.push('\n');
            // The line with each later part missing, too.
            log.push_str(&line[end..]);
            log.push('\n');
        }
        // The first line decides the format; a whole line first.
        let log = format!("{line}\n{log}");
        let run = read_as(kind, log.as_bytes());
        let outcome = run.outcome.as_ref().expect(kind);
        let tally = &outcome.tally;
        assert!(tally.records + tally.malformed <= tally.lines, "{kind}");
        assert!(tally.records >= 1, "{kind}: {line}");
    }
}

#[test]
fn noise_is_counted_not_fatal() {
    for kind in ["bind", "unbound", "dnsmasq", "squid"] {
        for seed in 1..20u64 {
            let mut bytes = LINES
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, l)| format!("{l}\n").into_bytes())
                .unwrap();
            bytes.extend(noise(seed, 4096));
            // Noise made of printable characters and separators the parsers split on.
            let alphabet = b" :#@/[]()'\".-_0123456789abcdefDecINA\n";
            bytes.extend(
                noise(seed + 100, 4096)
                    .into_iter()
                    .map(|b| alphabet[b as usize % alphabet.len()]),
            );
            let run = read_as(kind, &bytes);
            assert!(run.outcome.is_ok(), "{kind} {seed}");
        }
    }
}

#[test]
fn a_damaged_database_is_stopped_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(
        "CREATE TABLE queries (id INTEGER PRIMARY KEY, timestamp INTEGER, domain, client);
         INSERT INTO queries VALUES (1, 'not a time', X'FFFE', 42), (2, 1e300, 'a.evil.com', NULL),
           (3, -99999999999999999, 'b.evil.com', X'00');",
    )
    .unwrap();
    db.execute_batch("BEGIN").unwrap();
    for i in 0..2000 {
        db.execute(
            "INSERT INTO queries (timestamp, domain, client) VALUES (?1, ?2, '10.0.0.1')",
            rusqlite::params![i, format!("q{i}.example")],
        )
        .unwrap();
    }
    db.execute_batch("COMMIT").unwrap();
    drop(db);
    let whole = std::fs::read(&path).unwrap();
    let run = read_as("pihole", &whole);
    let tally = &run.outcome.as_ref().unwrap().tally;
    // Row 1 has a domain that is not text; rows 2 and 3 have times that cannot be read.
    assert_eq!(
        (tally.lines, tally.records, tally.malformed),
        (2003, 2002, 1)
    );
    assert!(tally.hits.iter().all(|h| h.time.is_none()));
    // Cut short, and with noise in its pages.
    for cut in [100, 1024, 4096, whole.len() / 2] {
        let run = read_as("pihole", &whole[..cut.min(whole.len())]);
        assert!(run.outcome.is_ok());
    }
    let mut damaged = whole.clone();
    for (i, b) in noise(7, damaged.len()).into_iter().enumerate().skip(100) {
        if i % 3 == 0 {
            damaged[i] = b;
        }
    }
    let run = read_as("pihole", &damaged);
    assert!(run.outcome.is_ok());
}

#[test]
fn each_line_is_claimed_by_its_own_format_only() {
    use portcullis_network::format::{ALL, Head};
    for (kind, line) in LINES {
        let text = format!("{line}\n");
        let head = Head::new(text.as_bytes());
        let claimed: Vec<_> = ALL
            .iter()
            .filter(|f| f.recognise(&head).is_some())
            .map(|f| f.kind())
            .collect();
        assert_eq!(claimed, [*kind], "{line}");
    }
}
